"""How far a smoke model moves when its training inputs move by 1e-7 (another CPU's rounding).

Trains the smoke AudioMNIST model of ``--architecture`` / ``--task`` (fold 0, the profile's
recipe) twice in ``float32`` and twice in ``float64``: once on the inputs as computed, once on
inputs times ``1 + p * N(0, 1)``, ``p = --perturbation`` (default 1e-7, the size of the
differences between CPUs' float32 features). Prints, per precision, how many held-out
predictions the two models share and their largest logit difference: whether float64 training
would make the smoke records the same on every CPU (issue 16). Not part of ``make bench``
(it trains four models).

    .venv/bin/python benchmarks/smoke_training_chaos.py --architecture alexnet --task digit
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from speechxai import device, training  # noqa: E402
from speechxai.datasets import open_corpus  # noqa: E402
from speechxai.experiments.audiomnist import fold_speakers, load_signals  # noqa: E402
from speechxai.profiles import chapter_parameters  # noqa: E402


def train_once(config, parts, dtype: torch.dtype, perturbation: float):
    """``training._train`` with the network and its inputs in ``dtype`` and the inputs
    perturbed; returns the held-out logits (float64) and the seconds."""
    noise = torch.Generator().manual_seed(1)
    model_inputs, build_model = training.model_inputs, training.build_model

    def inputs(*args, **kwargs):
        x = model_inputs(*args, **kwargs).to(dtype)
        if perturbation:  # in dtype: a float32 1 + 1e-10 is 1
            x = x * (1 + perturbation * torch.randn(x.shape, generator=noise, dtype=dtype))
        return x

    training.model_inputs = inputs
    training.build_model = lambda *args, **kwargs: build_model(*args, **kwargs).to(dtype)
    try:
        started = time.perf_counter()
        saved = training._train(config, parts[0], parts[1], progress=False)
        seconds = time.perf_counter() - started
    finally:
        training.model_inputs, training.build_model = model_inputs, build_model
    model = build_model(config.architecture, config.task, config.width).to(dtype)
    model.load_state_dict(saved["state"])
    test = parts[2]
    x = model_inputs(config.architecture, test, training.placement_seeds(len(test), 0),
                     saved["mean"]).to(dtype)
    with torch.no_grad():
        return model.eval()(x).double(), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--architecture", default="alexnet", choices=("alexnet", "audionet"))
    parser.add_argument("--task", default="digit", choices=("digit", "sex"))
    parser.add_argument("--perturbation", type=float, default=1e-7,
                        help="relative size of the input perturbation (default 1e-7)")
    args = parser.parse_args()
    smoke = chapter_parameters("audiomnist", "smoke")
    corpus = open_corpus("embedded", n_speakers=smoke["n_speakers"],
                         per_digit=smoke["per_digit"], seed=0)
    signals = load_signals(corpus, corpus.speakers, progress=False)
    parts = [signals.of_speakers(s) for s in fold_speakers(corpus, args.task, 0)]
    recipe = smoke["training"][args.architecture][args.task]
    config = training.TrainingConfig(args.architecture, args.task, "chaos-probe", **recipe)
    labels = torch.as_tensor(parts[2].labels(args.task))
    print(f"CPU native bf16: {device.native_bf16()}")
    for dtype in (torch.float32, torch.float64):
        plain, seconds = train_once(config, parts, dtype, 0.0)
        moved, _ = train_once(config, parts, dtype, args.perturbation)
        agree = (plain.argmax(1) == moved.argmax(1)).double().mean()
        print(f"{str(dtype):>13}: {seconds:.0f} s per training; predictions shared "
              f"{agree:.3f}; max |logit difference| {(plain - moved).abs().max():.1e} "
              f"(logits up to {plain.abs().max():.2f}); accuracy "
              f"{(plain.argmax(1) == labels).double().mean():.3f} / "
              f"{(moved.argmax(1) == labels).double().mean():.3f}")


if __name__ == "__main__":
    main()
