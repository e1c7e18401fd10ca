"""Sizing probe for issue 15: AlexNet digit on a held-out FSDD speaker, trained from scratch
(the real profile's recipe) or fine-tuned from the embedded run's model.

``--init embedded`` first trains (or loads) the embedded quick profile's AlexNet digit model
(48 voices x 5, 600 steps, the real recipe) and starts the fold's training from its weights
(no unit-input scaling then); ``--init scratch`` is the real run's own recipe. Both train on
the fold's 4 FSDD speakers beside the 48 embedded voices (``mix_embedded``) and print one JSON
line: accuracy on the validation and the held-out test speaker, wall time and the CPU.

A probe, not the book's code path: the package has no fine-tuning option yet, so the start
weights are put in by replacing ``training.build_model``, and the cache key of the fine-tuned
model does not name them. ``--data-dir`` is therefore required and must not be the book's.

Run: ``.venv/bin/python benchmarks/real_speech_finetune.py --init embedded --fold 1
--data-dir /tmp/probe-data``
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from common import machine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--init", choices=("embedded", "scratch"), required=True)
    parser.add_argument("--fold", type=int, default=1)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--data-dir", type=Path, required=True,
                        help="a data folder of its own (the fine-tuned model's cache key does "
                             "not name its start weights)")
    args = parser.parse_args()
    if args.data_dir.resolve() == Path("data").resolve():
        parser.error("--data-dir must not be the book's data folder")
    os.environ["SPEECHXAI_DATA_DIR"] = str(args.data_dir)

    from speechxai import training
    from speechxai.datasets import open_corpus
    from speechxai.experiments import audiomnist as study
    from speechxai.inputs import load_signals
    from speechxai.profiles import REAL_RECIPE
    from speechxai.training import native_bf16

    started = time.perf_counter()
    extras = study.extra_training(study.extra_corpora("real", ["digit"], 48, 5, 0),
                                  progress=False)
    recipe = {"steps": args.steps, **REAL_RECIPE}
    row = {"init": args.init, "fold": args.fold, "steps": args.steps}
    if args.init == "embedded":
        embedded = open_corpus("embedded", task="digit", seed=0, n_speakers=48, per_digit=5)
        pretrained = study.run_fold(embedded, "alexnet", "digit", 0,
                                    {"steps": 600, **REAL_RECIPE}, 0,
                                    signals=extras["digit"].signals, progress=False)
        row["pretrained_heldout_synthetic"] = round(pretrained.accuracy, 4)
        state = pretrained.trained.model.state_dict()
        build = training.build_model

        def from_pretrained(architecture, task, width=1.0):
            model = build(architecture, task, width)
            model.load_state_dict(state)
            return model

        training.build_model = from_pretrained
        recipe["unit_input_init"] = False
    corpus = open_corpus("real", task="digit", seed=0)
    signals = load_signals(corpus, corpus.speakers, progress=False)
    run = study.run_fold(corpus, "alexnet", "digit", args.fold, recipe, 0, signals=signals,
                         progress=False, extra=extras["digit"])
    row.update({"test_speakers": sorted(set(run.test.speakers)),
                "validation": round(run.trained.history["val_accuracy"][-1], 4),
                "heldout": round(run.accuracy, 4),
                "seconds": round(time.perf_counter() - started),
                "cpu": machine()["cpu"], "native_bf16": native_bf16()})
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
