"""Benchmark: dataset-wide LRP on AudioNet, streamed in batches.

Target (AudioMNIST chapter): relevance for 1,000 waveforms (N, 1, 8000) with the chapter's
composite streams in batches with a peak resident memory under 4 GB. The model is a
freshly initialised full-width AudioNet (the cost does not depend on the weights); the
waveforms are seeded noise. One warm-up batch, then one timed pass over all waveforms (it
averages over its batches: ``repeats`` does not apply); memory is sampled during the pass.

Run: ``.venv/bin/python benchmarks/lrp_stream.py [--n 1000] [--batch 32] [--threads N]``
"""

from __future__ import annotations

import time

import numpy as np
import torch
from common import finish, parser, peak_memory, torch_threads

from speechxai.attribution import relevance_stream
from speechxai.models import AudioNet

TARGET_GB = 4.0


def run(repeats: int = 1, threads: int | None = None, n: int = 1000, batch: int = 32) -> dict:
    """Figure 2: waveforms per second, and whether the peak memory stays under 4 GB."""
    torch.manual_seed(0)
    model = AudioNet(10).eval()
    waveforms = torch.randn(n, 1, 8000, generator=torch.Generator().manual_seed(0))
    targets = torch.randint(0, 10, (n,), generator=torch.Generator().manual_seed(1))
    with torch_threads(threads) as used:
        relevance_stream(model, waveforms[:batch], targets[:batch], batch_size=batch,
                         progress=False)
        with peak_memory() as memory:
            start = time.perf_counter()
            relevances = relevance_stream(model, waveforms, targets, batch_size=batch,
                                          progress=False)
            seconds = time.perf_counter() - start
    peak = memory["peak_gb"]
    return {
        "figure": "2 dataset-wide LRP, AudioNet", "value": n / seconds, "unit": "waveforms/s",
        "target": f"peak memory < {TARGET_GB:g} GB", "holds": peak < TARGET_GB,
        "note": f"peak {peak:.2f} GB ({memory['start_gb']:.2f} GB before); {n} waveforms in "
                f"batches of {batch}, {seconds:.0f} s",
        "n": n, "batch": batch, "seconds": seconds, "waveforms_per_s": n / seconds,
        "peak_rss_gb": peak, "rss_before_gb": memory["start_gb"],
        "finite": bool(np.isfinite(relevances.values).all()), "threads": used,
    }


def main() -> int:
    arguments = parser(__doc__, threads=None)
    arguments.add_argument("--n", type=int, default=1000)
    arguments.add_argument("--batch", type=int, default=32)
    args = arguments.parse_args()
    return finish("lrp_stream", run(threads=args.threads, n=args.n, batch=args.batch))


if __name__ == "__main__":
    raise SystemExit(main())
