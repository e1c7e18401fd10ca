"""Benchmark: word leave-one-out on a 5-word command, batched against one copy at a time.

Target (word-level chapter, Pastor et al. 2024): explaining one 5-word utterance with
:func:`speechxai.attribution.occlusion.word_importance`, which classifies the utterance and
its 5 masked copies in one ``predict_proba`` call, is at least 3x faster than the reference
loop that classifies them one at a time (``batched=False``). The utterance is the first
5-word ``DigitSequences`` item over the embedded corpus (2 speakers, 1 recording per digit,
cached under ``data/embedded``); the model a freshly initialised ``CommandClassifier`` (the
cost does not depend on the weights). Medians over ``--repeats`` interleaved rounds after a
warm-up. On a loaded machine, torch's intra-op threads wait for each other on every large
operation; ``--threads 1`` shows the cost without that.

Run: ``.venv/bin/python benchmarks/word_loo.py [--repeats 5] [--masking zeros] [--threads 2]``
"""

from __future__ import annotations

import numpy as np
import torch
from common import finish, medians, parser, timings, torch_threads

from speechxai.attribution.occlusion import MASKINGS, word_importance
from speechxai.datasets import DigitSequences, open_corpus
from speechxai.models import CommandClassifier

TARGET_RATIO = 3.0


def run(repeats: int = 5, threads: int | None = 2, masking: str = "zeros") -> dict:
    """Figure 3a: one-at-a-time seconds / batched seconds."""
    corpus = open_corpus("embedded", n_speakers=2, per_digit=1, seed=0)
    item = DigitSequences(corpus, n_words=(5, 5), seed=0, n_sequences=1)[0]
    torch.manual_seed(0)
    model = CommandClassifier(item.sample_rate).eval()

    def explain(batched: bool):
        return word_importance(model.predict_proba, item.waveform, item.sample_rate,
                               item.boundaries, item.words, masking=masking, batched=batched)

    with torch_threads(threads) as used:
        times = timings({"batched": lambda: explain(True),
                         "unbatched": lambda: explain(False)}, repeats)
        fast, slow = explain(True), explain(False)
    seconds = medians(times)
    ratio = seconds["unbatched"] / seconds["batched"]
    difference = float(np.abs(fast.scores - slow.scores).max())
    return {
        "figure": "3a word leave-one-out, batched vs loop", "value": ratio, "unit": "x",
        "target": f">= {TARGET_RATIO:g}x", "holds": ratio >= TARGET_RATIO,
        "note": f"{len(item.words)} words, batched {seconds['batched'] * 1e3:.0f} ms, loop "
                f"{seconds['unbatched'] * 1e3:.0f} ms; max score difference {difference:.1e}",
        "words": list(item.words), "seconds_audio": item.waveform.numel() / item.sample_rate,
        "sample_rate": item.sample_rate, "masking": masking, "repeats": repeats,
        "batched_s": times["batched"], "unbatched_s": times["unbatched"],
        "batched_median_s": seconds["batched"], "unbatched_median_s": seconds["unbatched"],
        "max_score_difference": difference, "threads": used,
    }


def main() -> int:
    arguments = parser(__doc__, repeats=5, threads=2)
    arguments.add_argument("--masking", choices=MASKINGS, default="zeros")
    args = arguments.parse_args()
    return finish("word_loo", run(args.repeats, args.threads, args.masking))


if __name__ == "__main__":
    raise SystemExit(main())
