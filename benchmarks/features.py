"""Benchmark: load and featurise AudioMNIST-like recordings into AlexNet spectrograms.

Target: 3,000 utterances read from 48-kHz int16 WAV files, resampled to 8 kHz, padded
(``audiomnist_waveform``) and turned into 227 x 227 dB spectrograms (``audiomnist_spectrogram``,
in batches) in at most 30 s on 2 cores.

The WAV files are written to a temporary folder outside the repository: copies of the real
recordings in ``../shared/data/audiomnist-sample/data`` (relative to the repository root) when
that folder exists, else seeded synthetic digits (0.4-0.9 s of tone and noise). Only reading and
featurising are timed: one pass after a warm-up utterance (``repeats`` does not apply).
Not one of issue 8's figures; the suite lists it after them.

Run: ``.venv/bin/python benchmarks/features.py [--n 3000] [--batch 32] [--threads 2]``
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from common import ROOT, finish, parser, torch_threads

from speechxai.features import audiomnist_spectrogram, audiomnist_waveform

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


def run(repeats: int = 1, threads: int | None = TARGET_THREADS, n: int = TARGET_N,
        batch: int = 32) -> dict:
    """Seconds to read and featurise ``n`` utterances; the 30-s budget scales with ``n``."""
    with torch_threads(threads) as used, tempfile.TemporaryDirectory(
            prefix="speechxai-bench-") as tmp:
        paths, source = write_recordings(Path(tmp), n)
        audio_seconds = sum(sf.info(path).duration for path in paths)
        audiomnist_spectrogram(audiomnist_waveform(sf.read(paths[0])[0], RATE, seed=0))  # warm-up
        start = time.perf_counter()
        spectrograms, steps = featurise(paths, batch)
        total = time.perf_counter() - start

    assert spectrograms.shape == (n, 227, 227)
    assert torch.isfinite(spectrograms).all()
    budget = TARGET_S * n / TARGET_N
    return {
        "figure": "features: read + resample + AlexNet spectrograms", "value": total,
        "unit": "s", "target": f"<= {budget:g} s", "holds": total <= budget,
        "note": f"{n} utterances ({audio_seconds:.0f} s of audio), "
                + ", ".join(f"{name} {value:.1f} s" for name, value in steps.items()),
        "utterances": n, "audio_seconds": round(audio_seconds, 1), "source": source,
        "batch": batch, "threads": used, "total_s": total, "steps_s": steps,
        "utterances_per_s": n / total, "target_s": budget,
    }


def main() -> int:
    arguments = parser(__doc__, threads=TARGET_THREADS)
    arguments.add_argument("--n", type=int, default=TARGET_N, help="utterances (default 3000)")
    arguments.add_argument("--batch", type=int, default=32, help="spectrogram batch size")
    args = arguments.parse_args()
    return finish("features", run(threads=args.threads, n=args.n, batch=args.batch))


if __name__ == "__main__":
    raise SystemExit(main())
