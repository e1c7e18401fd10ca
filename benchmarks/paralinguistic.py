"""Benchmark: paralinguistic explanation of one utterance, batched vs sequential.

Target (word-level and paralinguistic chapter, Pastor et al. 2024): explaining one utterance at
22050 Hz with every perturbation family and level (54 versions) is at least 2x faster with
``paralinguistic_importance(batched=True)`` (perturbations computed together, classified with
the original in one call) than with the sequential reference (``batched=False``: one
perturbation and one call at a time). The classifier is a randomly initialised
``CommandClassifier`` (the cost does not depend on the weights); the utterance is the first
five-word sequence of the embedded corpus (3.2 s). Medians over ``--repeats`` interleaved
rounds after a warm-up, on one thread by default (on a shared 2-core machine, two threads make
small torch operations erratic).

Run: ``.venv/bin/python benchmarks/paralinguistic.py [--repeats 5] [--threads 1]``
"""

from __future__ import annotations

import numpy as np
import torch
from common import finish, medians, parser, timings, torch_threads

from speechxai.attribution.paralinguistic import (
    FAMILIES,
    paralinguistic_importance,
    perturb,
    perturbations,
)
from speechxai.datasets import DigitSequences, open_corpus
from speechxai.models import CommandClassifier

TARGET_RATIO = 2.0


def run(repeats: int = 5, threads: int | None = 1) -> dict:
    """Figure 3b: sequential seconds / batched seconds."""
    corpus = open_corpus("embedded", n_speakers=2, per_digit=2, seed=0)
    utterance = DigitSequences(corpus, n_words=(5, 5), seed=0)[0]
    waveform, rate = utterance.waveform, utterance.sample_rate
    torch.manual_seed(0)
    model = CommandClassifier(rate).eval()

    def explain(batched: bool):
        return paralinguistic_importance(model.predict_proba, waveform, rate, batched=batched)

    with torch_threads(threads) as used:
        times = timings({
            "batched": lambda: explain(True),
            "sequential": lambda: explain(False),
            "shared": lambda: perturbations(waveform, rate),
            "one_by_one": lambda: [perturb(waveform, rate, family, level)
                                   for family, levels in FAMILIES.items() for level in levels],
        }, repeats)
        fast, slow = explain(True), explain(False)
    seconds = medians(times)
    ratio = seconds["sequential"] / seconds["batched"]
    same = all(np.allclose(fast.differences[slot], slow.differences[slot], atol=1e-5)
               for slot in fast.targets)
    n_variants = sum(map(len, FAMILIES.values()))
    return {
        "figure": "3b paralinguistic, batched vs sequential", "value": ratio, "unit": "x",
        "target": f">= {TARGET_RATIO:g}x", "holds": ratio >= TARGET_RATIO,
        "note": f"{n_variants} versions, batched {seconds['batched']:.2f} s, sequential "
                f"{seconds['sequential']:.2f} s; perturbations alone {seconds['shared']:.2f} s "
                f"shared vs {seconds['one_by_one']:.2f} s one by one; same numbers: {same}",
        "utterance": utterance.transcript, "samples": waveform.numel(), "sample_rate": rate,
        "seconds_audio": waveform.numel() / rate, "n_variants": n_variants, "repeats": repeats,
        "classifier": "CommandClassifier (random weights)",
        "batched_s": seconds["batched"], "sequential_s": seconds["sequential"],
        "perturbations_shared_s": seconds["shared"],
        "perturbations_one_by_one_s": seconds["one_by_one"], "times_s": times,
        "same_numbers": same, "threads": used,
    }


def main() -> int:
    args = parser(__doc__, repeats=5, threads=1).parse_args()
    return finish("paralinguistic", run(args.repeats, args.threads))


if __name__ == "__main__":
    raise SystemExit(main())
