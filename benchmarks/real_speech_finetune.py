"""Sizing run for issue 15: a digit model on a held-out FSDD speaker, trained from scratch
(the real profile's recipe) or fine-tuned from the embedded run's model.

``--start embedded`` first trains (or loads from the book's cache) the embedded quick
profile's model of the same network (``experiments.audiomnist.embedded_starts``: the model
``make book`` caches) and starts the fold's training from its weights
(``TrainingConfig.start``; ``fold_config`` drops the unit-input scaling then);
``--start scratch`` is the real run's own recipe. Both train on the fold's 4 FSDD speakers
beside the embedded voices (``mix_embedded``) with the real quick profile's recipe and print
one JSON line: accuracy on the validation speaker (by which alone a recipe may be chosen) and
on the held-out test speaker, wall time and the CPU. The models land in the book's cache
under keys that name their start.

Run: ``.venv/bin/python benchmarks/real_speech_finetune.py --architecture audionet
--start embedded --fold 0``
"""

from __future__ import annotations

import argparse
import json
import time

from common import machine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architecture", choices=("alexnet", "audionet"), default="alexnet")
    parser.add_argument("--start", choices=("embedded", "scratch"), required=True)
    parser.add_argument("--fold", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, help="default: the real quick profile's")
    args = parser.parse_args()

    from speechxai.datasets import open_corpus
    from speechxai.device import native_bf16
    from speechxai.experiments import audiomnist as study
    from speechxai.inputs import load_signals
    from speechxai.profiles import chapter_parameters

    started = time.perf_counter()
    real = chapter_parameters("audiomnist", "quick", {"dataset": "real"})
    embedded = chapter_parameters("audiomnist", "quick")
    extras = study.extra_training(study.extra_corpora(
        "real", ["digit"], real["n_speakers"], real["per_digit"], args.seed), progress=False)
    recipe = dict(real["training"][args.architecture]["digit"])
    if args.steps:
        recipe["steps"] = args.steps
    row = {"architecture": args.architecture, "start": args.start, "fold": args.fold,
           "seed": args.seed, "steps": recipe["steps"]}
    start = None
    if args.start == "embedded":
        start = study.embedded_starts(extras, [f"{args.architecture}.digit"],
                                      embedded["training"], args.seed, progress=False
                                      )[args.architecture, "digit"]
        row["start_validation_synthetic"] = round(start.history["val_accuracy"][-1], 4)
    corpus = open_corpus("real", task="digit", seed=args.seed)
    signals = load_signals(corpus, corpus.speakers, progress=False)
    run = study.run_fold(corpus, args.architecture, "digit", args.fold, recipe, args.seed,
                         signals=signals, progress=False, extra=extras["digit"], start=start)
    row.update({"test_speakers": sorted(set(run.test.speakers)),
                "validation": round(run.trained.history["val_accuracy"][-1], 4),
                "heldout": round(run.accuracy, 4),
                "seconds": round(time.perf_counter() - started),
                "cpu": machine()["cpu"], "native_bf16": native_bf16()})
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
