"""Sizing runs for issue 15: the word-level chapter's command classifier on real speech,
chosen by a validation speaker.

The chapter trains on the commands of the first digit fold's training and validation speakers
and tests on its test speakers (``experiments.deepspeech.sequence_split``). Here the classifier
trains on the training speakers' commands only (as many as the chapter's), and is scored on
commands of the validation speakers - what a recipe is chosen by - and of the test speakers (the
chapter's ``classifier.accuracy.<slot>``, reported, never chosen by). ``--classifier`` holds
config fields over the quick profile's, e.g. ``'{"steps": 800}'``. Prints one JSON line with
the CPU.

Run: ``.venv/bin/python benchmarks/real_speech_commands.py --dataset real --classifier
'{"steps": 800}'``
"""

from __future__ import annotations

import argparse
import json
import time

from common import machine

from speechxai.datasets import DigitCommands, folds, open_corpus
from speechxai.device import native_bf16
from speechxai.experiments import wordlevel
from speechxai.profiles import chapter_parameters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="real")
    parser.add_argument("--classifier", type=json.loads, default={},
                        help="config fields over the quick profile's (JSON)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    sizes = chapter_parameters("wordlevel", "quick", {"dataset": args.dataset})
    corpus = open_corpus(args.dataset, seed=args.seed, n_speakers=sizes["n_speakers"],
                         per_digit=sizes["per_digit"])
    fold = folds(corpus, "digit")[0]

    def commands(speakers, n, seed):
        chosen = DigitCommands(corpus, seed=seed, n_sequences=n, speakers=speakers)
        return [chosen[i] for i in range(len(chosen))]

    train_items = commands(fold.train, sizes["n_train"], args.seed)
    fields = {**sizes["classifier"], **args.classifier, "seed": args.seed}
    started = time.perf_counter()
    model = wordlevel.train_command_classifier(wordlevel.CommandConfig(**fields), train_items,
                                               progress=False).model
    seconds = time.perf_counter() - started
    row = {"dataset": args.dataset, "classifier": fields, "train_speakers": fold.train,
           "validation_speakers": fold.val, "test_speakers": fold.test}
    for name, speakers, seed in (("validation", fold.val, args.seed + 2),
                                 ("test", fold.test, args.seed + 1)):
        accuracy = wordlevel.slot_accuracy(model, commands(speakers, 300, seed))
        row[name] = {slot: round(value, 4) for slot, value in accuracy.items()}
    row.update(seconds=round(seconds), cpu=machine()["cpu"], native_bf16=native_bf16())
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
