"""Sizing runs for issue 15: the recognisers (DeepSpeech, Wav2Letter) on real speech, and
what channel copies of the training sequences buy in transfer to FSDD.

Trains one recogniser per call through the chapters' own code (``experiments.deepspeech``,
``experiments.navai``; ``--recognizer`` holds config fields over the quick profile's, e.g.
``'{"augment": 2, "steps": 1200}'``; a ``seed`` there trains on the corpus of ``--seed``) and
prints one JSON line: CER on the held-out speakers' sequences (the chapter's ``asr.cer``),
CER on single FSDD digits (``transfer.fsdd.cer``, ``--n-transfer`` of them spread evenly; 0:
skip), wall time and the CPU. Models land in the book's cache, so a chapter run with the same
configuration reuses them.

Run: ``.venv/bin/python benchmarks/real_speech_recognizers.py --model deepspeech --dataset
embedded --recognizer '{"augment": 1}'``
"""

from __future__ import annotations

import argparse
import json
import time

from common import machine

from speechxai.datasets import open_corpus
from speechxai.datasets.real import digit_utterances
from speechxai.device import native_bf16
from speechxai.experiments import deepspeech, navai
from speechxai.profiles import chapter_parameters

CHAPTERS = {"deepspeech": "deepspeech", "wav2letter": "navai"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=tuple(CHAPTERS), required=True)
    parser.add_argument("--dataset", default="embedded")
    parser.add_argument("--recognizer", type=json.loads, default={},
                        help="config fields over the quick profile's (JSON)")
    parser.add_argument("--n-speakers", type=int, help="embedded corpus voices")
    parser.add_argument("--per-digit", type=int, help="embedded corpus repetitions")
    parser.add_argument("--n-transfer", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    sizes = chapter_parameters(CHAPTERS[args.model], "quick", {"dataset": args.dataset})
    corpus = open_corpus(args.dataset, seed=args.seed,
                         n_speakers=args.n_speakers or sizes["n_speakers"],
                         per_digit=args.per_digit or sizes["per_digit"])
    train_set, test_set = deepspeech.sequence_split(
        corpus, (sizes["n_train"], sizes["n_test"]), seed=args.seed)
    train_items = [train_set[i] for i in range(len(train_set))]
    test_items = [test_set[i] for i in range(len(test_set))]
    fields = {**sizes["recognizer"], "seed": args.seed, **args.recognizer}
    started = time.perf_counter()
    if args.model == "deepspeech":
        model = deepspeech.train_recognizer(deepspeech.CTCConfig(**fields), train_items,
                                            progress=False).model

        def recognise(items):
            return deepspeech.evaluate(model, items)
    else:
        config = navai.Wav2LetterConfig(**fields)
        model = navai.train_wav2letter(config, train_items, progress=False).model

        def recognise(items):
            return navai.evaluate_wav2letter(model, items, config.padding)
    row = {"model": args.model, "dataset": args.dataset, "recognizer": fields,
           "n_speakers": len(corpus.speakers), "cer": round(recognise(test_items).cer, 4),
           "seconds": round(time.perf_counter() - started), "cpu": machine()["cpu"],
           "native_bf16": native_bf16()}
    if args.n_transfer:
        row["transfer.fsdd.cer"] = round(recognise(digit_utterances(args.n_transfer)).cer, 4)
        row["n_transfer"] = args.n_transfer
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
