"""Benchmark: the cost of LRP relative to a plain input gradient, AudioNet and AlexNet.

Target (issue 8, figure 1): the relevances of a batch of 64 with the book's composite
(z^B, gamma, epsilon; :func:`speechxai.attribution.lrp.lrp_composite`) cost at most 1.5
times one plain input gradient of the same model on the same batch: one forward and one
backward pass to the inputs only (``torch.autograd.grad``). The fast path
(:func:`speechxai.attribution.lrp_onepass.fast_outputs_and_relevance`, one forward and one
backward pass in the modified-gradient form of Montavon et al. 2019, Sec. 10.2.2) is measured
against it, with zennit's hooks
(:func:`speechxai.attribution.lrp.outputs_and_relevance`) and the gradient that also fills
the weights' ``.grad`` (``.backward()``) for comparison, and the largest difference of its
relevances from zennit's. Full-width freshly initialised models (the cost does not depend on
the weights) on seeded noise scaled like their inputs (waveforms ~ N(0, 1), dB
spectrograms minus the mean ~ N(0, 10^2)). ``--repeats`` interleaved rounds after a
warm-up, on 2 threads by default; the figure is the larger of the two models' median over
the rounds of fast / gradient, the two run back to back (their ratio of medians is in the
JSON too).

Run: ``.venv/bin/python benchmarks/lrp_cost.py [--repeats 5] [--threads 2]``
"""

from __future__ import annotations

import statistics

import torch
from common import finish, medians, parser, timings, torch_threads

from speechxai.attribution.lrp import outputs_and_relevance
from speechxai.attribution.lrp_onepass import fast_outputs_and_relevance
from speechxai.training import build_model

TARGET_RATIO = 1.5
INPUTS = {"audionet": ((1, 8000), 1.0), "alexnet": ((1, 227, 227), 10.0)}


def measure(architecture: str, repeats: int, batch: int) -> dict:
    """Median seconds of the input gradient, the fast path and zennit on one model."""
    torch.manual_seed(0)
    model = build_model(architecture, "digit").eval()
    shape, scale = INPUTS[architecture]
    inputs = torch.randn(batch, *shape) * scale
    targets = torch.randint(0, 10, (batch,))
    rows = torch.arange(batch)

    def gradient():
        x = inputs.clone().requires_grad_()
        return torch.autograd.grad(model(x)[rows, targets].sum(), x)[0]

    def gradient_backward():
        x = inputs.clone().requires_grad_()
        model(x)[rows, targets].sum().backward()
        model.zero_grad(set_to_none=True)

    results = {}

    def keep(name, explain):
        def run():
            results[name] = explain(model, inputs, targets)[1]  # the relevance tensor
        return run

    # the fast path right after the gradient: each round's ratio sees one machine load
    times = timings({"gradient": gradient, "fast": keep("fast", fast_outputs_and_relevance),
                     "gradient_backward": gradient_backward,
                     "zennit": keep("zennit", outputs_and_relevance)}, repeats)
    seconds = medians(times)
    rounds = [f / g for f, g in zip(times["fast"], times["gradient"], strict=True)]
    difference = (results["fast"] - results["zennit"]).abs().max() / results["zennit"].abs().max()
    return {
        "ratio": statistics.median(rounds), "round_ratios": rounds,
        "ratio_of_medians": seconds["fast"] / seconds["gradient"],
        "zennit_ratio": seconds["zennit"] / seconds["gradient"],
        "ratio_to_backward": seconds["fast"] / seconds["gradient_backward"],
        "median_s": seconds, "seconds": times, "max_relative_difference": difference.item(),
    }


def run(repeats: int = 5, threads: int | None = 2, batch: int = 64) -> dict:
    """Figure 1: fast LRP seconds / input-gradient seconds, the larger of the two models."""
    with torch_threads(threads) as used:
        models = {name: measure(name, repeats, batch) for name in INPUTS}
    ratio = max(m["ratio"] for m in models.values())
    note = "; ".join(
        f"{name} {m['ratio']:.2f}x (gradient {m['median_s']['gradient']:.2f} s, fast "
        f"{m['median_s']['fast']:.2f} s, zennit {m['zennit_ratio']:.1f}x, difference "
        f"{m['max_relative_difference']:.0e})" for name, m in models.items())
    return {
        "figure": "1 LRP / input-gradient cost", "value": ratio, "unit": "x",
        "target": f"<= {TARGET_RATIO:g}x", "holds": ratio <= TARGET_RATIO, "note": note,
        "batch": batch, "repeats": repeats, "threads": used, "models": models,
    }


def main() -> int:
    arguments = parser(__doc__, repeats=5, threads=2)
    arguments.add_argument("--batch", type=int, default=64)
    args = arguments.parse_args()
    result = run(args.repeats, args.threads, args.batch)
    for name, m in result["models"].items():
        seconds = m["median_s"]
        verdict = "HOLDS" if m["ratio"] <= TARGET_RATIO else "FAILS"
        print(f"{name}: input gradient {seconds['gradient']:.3f} s (with weight gradients "
              f"{seconds['gradient_backward']:.3f} s), fast LRP {seconds['fast']:.3f} s, zennit "
              f"{seconds['zennit']:.3f} s; fast/gradient {m['ratio']:.2f} (target <= "
              f"{TARGET_RATIO:g}: {verdict}), zennit/gradient {m['zennit_ratio']:.2f}; "
              f"relevances differ by {m['max_relative_difference']:.1e} of the largest")
    return finish("lrp_cost", result)


if __name__ == "__main__":
    raise SystemExit(main())
