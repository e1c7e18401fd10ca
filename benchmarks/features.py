"""Benchmark: load and featurise AudioMNIST-like recordings into AlexNet spectrograms.

Target: 3,000 utterances read from 48-kHz int16 WAV files, resampled to 8 kHz, padded
(``audiomnist_waveform``) and turned into 227 x 227 dB spectrograms (``audiomnist_spectrogram``,
in batches) in at most 30 s on 2 cores.

The WAV files are written to a temporary folder outside the repository: copies of the real
recordings in ``../shared/data/audiomnist-sample/data`` (relative to the repository root) when
that folder exists, else seeded synthetic digits (0.4-0.9 s of tone and noise). Only reading and
featurising are timed. The numbers go to ``_build/bench/features.json``.

Run: ``.venv/bin/python benchmarks/features.py [--n 3000] [--batch 32] [--threads 2]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from speechxai.features import audiomnist_spectrogram, audiomnist_waveform  # noqa: E402

SAMPLE_DIR = ROOT.parent / "shared" / "data" / "audiomnist-sample" / "data"
RATE = 48000
TARGET_S = 30.0
TARGET_N = 3000
TARGET_THREADS = 2


def write_recordings(folder: Path, count: int, seed: int = 0) -> tuple[list[Path], str]:
    """``count`` 48-kHz int16 WAV files in ``folder``, and a description of their source."""
    real = sorted(SAMPLE_DIR.glob("*/*.wav")) if SAMPLE_DIR.is_dir() else []
    paths = [folder / f"{i:05d}.wav" for i in range(count)]
    if real:
        for i, path in enumerate(paths):
            shutil.copyfile(real[i % len(real)], path)
        return paths, f"copies of {len(real)} real AudioMNIST recordings from {SAMPLE_DIR}"
    rng = np.random.default_rng(seed)
    for path in paths:
        t = np.arange(int(rng.uniform(0.4, 0.9) * RATE)) / RATE
        envelope = np.sin(np.pi * t / t[-1]) ** 2
        pitch = rng.uniform(90, 250)
        voiced = sum(np.sin(2 * np.pi * k * pitch * t) / k for k in range(1, 6))
        signal = rng.uniform(0.05, 0.5) * envelope * (voiced + 0.2 * rng.standard_normal(t.size))
        pcm = np.clip(np.round(signal / 3 * 32767), -32768, 32767).astype(np.int16)
        sf.write(path, pcm, RATE, subtype="PCM_16")
    return paths, "seeded synthetic 48-kHz int16 digits (0.4-0.9 s)"


def featurise(paths: list[Path], batch: int) -> tuple[torch.Tensor, dict[str, float]]:
    """Spectrograms (N, 227, 227) of ``paths`` and the seconds spent in each step."""
    seconds = {"read": 0.0, "resample_and_pad": 0.0, "spectrogram": 0.0}
    out = torch.empty(len(paths), 227, 227)
    pending: list[torch.Tensor] = []
    done = 0
    for index, path in enumerate(paths):
        start = time.perf_counter()
        waveform, rate = sf.read(path, dtype="float32")
        middle = time.perf_counter()
        pending.append(audiomnist_waveform(waveform, rate, seed=index))
        end = time.perf_counter()
        seconds["read"] += middle - start
        seconds["resample_and_pad"] += end - middle
        if len(pending) == batch or index == len(paths) - 1:
            start = time.perf_counter()
            out[done : done + len(pending)] = audiomnist_spectrogram(torch.stack(pending))
            seconds["spectrogram"] += time.perf_counter() - start
            done += len(pending)
            pending = []
    return out, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=TARGET_N, help="utterances (default 3000)")
    parser.add_argument("--batch", type=int, default=32, help="spectrogram batch size")
    parser.add_argument("--threads", type=int, default=TARGET_THREADS, help="torch threads")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "_build" / "bench" / "features.json", help="JSON"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory(prefix="speechxai-bench-") as tmp:
        paths, source = write_recordings(Path(tmp), args.n)
        audio_seconds = sum(sf.info(path).duration for path in paths)
        audiomnist_spectrogram(audiomnist_waveform(sf.read(paths[0])[0], RATE, seed=0))  # warm-up
        start = time.perf_counter()
        spectrograms, steps = featurise(paths, args.batch)
        total = time.perf_counter() - start

    assert spectrograms.shape == (args.n, 227, 227)
    assert torch.isfinite(spectrograms).all()
    # The target is stated for 3,000 utterances: scale the budget to other counts.
    budget = TARGET_S * args.n / TARGET_N
    passed = total <= budget
    result = {
        "benchmark": "features: read + resample 48k->8k + pad + AudioMNIST spectrogram",
        "utterances": args.n,
        "audio_seconds": round(audio_seconds, 1),
        "source": source,
        "batch": args.batch,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "torch": torch.__version__,
        "total_s": round(total, 3),
        "steps_s": {name: round(value, 3) for name, value in steps.items()},
        "utterances_per_s": round(args.n / total, 1),
        "target_s": round(budget, 3),
        "target": f"{TARGET_N} utterances in at most {TARGET_S:.0f} s on {TARGET_THREADS} cores",
        "passed": passed,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")

    print(f"{args.n} utterances ({audio_seconds:.0f} s of audio; {source})")
    print(f"  torch threads {torch.get_num_threads()}, batch {args.batch}")
    for name, value in steps.items():
        print(f"  {name:<17} {value:7.2f} s")
    print(f"  total             {total:7.2f} s  ({args.n / total:.0f} utterances/s)")
    print(f"  target            {budget:7.2f} s  -> {'PASS' if passed else 'FAIL'}")
    print(f"  wrote {args.out}")
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
