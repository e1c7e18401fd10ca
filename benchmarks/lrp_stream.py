"""Benchmark: dataset-wide LRP on AudioNet, streamed in batches.

Target (AudioMNIST chapter): relevance for 1,000 waveforms (N, 1, 8000) with the chapter's
composite streams in batches with a peak resident memory under 4 GB. The model is a
freshly initialised full-width AudioNet (the cost does not depend on the weights); the
waveforms are seeded noise. Prints throughput and peak memory, and writes them to
``_build/bench/lrp_stream.json``.

Run: ``.venv/bin/python benchmarks/lrp_stream.py [--n 1000] [--batch 32]``
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time
from pathlib import Path

import torch

from speechxai.attribution import relevance_stream
from speechxai.models import AudioNet

ROOT = Path(__file__).resolve().parents[1]
TARGET_GB = 4.0


def peak_rss_gb() -> float:
    """Peak resident set size of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()

    torch.manual_seed(0)
    model = AudioNet(10).eval()
    waveforms = torch.randn(args.n, 1, 8000, generator=torch.Generator().manual_seed(0))
    targets = torch.randint(0, 10, (args.n,), generator=torch.Generator().manual_seed(1))
    before = peak_rss_gb()
    start = time.perf_counter()
    relevances = relevance_stream(model, waveforms, targets, batch_size=args.batch)
    seconds = time.perf_counter() - start
    peak = peak_rss_gb()
    result = {
        "n": args.n, "batch": args.batch, "seconds": seconds,
        "waveforms_per_s": args.n / seconds, "peak_rss_gb": peak,
        "peak_rss_before_gb": before, "target_gb": TARGET_GB, "holds": peak < TARGET_GB,
        "finite": bool(torch.isfinite(relevances).all()), "machine": platform.processor()
        or platform.machine(), "threads": torch.get_num_threads(),
    }
    out = ROOT / "_build" / "bench" / "lrp_stream.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    verdict = "holds" if result["holds"] else "FAILS"
    print(f"LRP on {args.n} AudioNet waveforms in batches of {args.batch}: {seconds:.1f} s, "
          f"{result['waveforms_per_s']:.1f} waveforms/s; peak memory {peak:.2f} GB "
          f"(target < {TARGET_GB:.0f} GB: {verdict})")


if __name__ == "__main__":
    main()
