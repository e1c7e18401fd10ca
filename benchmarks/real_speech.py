"""Sizing runs for issue 15: AudioMNIST classifiers on real speech, and the ablation of the
channel augmentation.

Trains one model per call (``--architecture``, ``--task``, ``--dataset``, ``--fold``,
``--steps``, ``--augment``) through the book's own code (``experiments.audiomnist``) and
prints, as one JSON line: accuracy on the fold's validation speaker (the 128 recordings scored
during training, and all of them) and on its held-out test speaker,
transfer accuracy to every FSDD recording (digit) or to the LibriSpeech crops (balanced,
sex), wall time and the CPU. Models land in the book's cache, so a chapter run with the
same configuration reuses them.

Run: ``.venv/bin/python benchmarks/real_speech.py --architecture alexnet --task digit
--dataset real --steps 600 --augment``
"""

from __future__ import annotations

import argparse
import json
import time

from common import machine

from speechxai.datasets import open_corpus
from speechxai.datasets.synthetic import DEFAULT_VOICES, VOICE_SETS
from speechxai.device import native_bf16
from speechxai.experiments import audiomnist as study
from speechxai.inputs import load_signals
from speechxai.training import accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architecture", choices=study.ARCHITECTURES, required=True)
    parser.add_argument("--task", choices=study.TASKS, required=True)
    parser.add_argument("--dataset", default="real")
    parser.add_argument("--fold", type=int, default=0)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--width", type=float, default=1.0, help="scales every hidden size")
    parser.add_argument("--augment", nargs="?", const="channel", choices=("channel", "speed"),
                        help="perturb every training clip: its whole channel (the default "
                             "with the flag) or its speed alone")
    parser.add_argument("--unit-input-init", action="store_true")
    parser.add_argument("--n-speakers", type=int, default=24, help="embedded corpus voices")
    parser.add_argument("--per-digit", type=int, default=10, help="embedded corpus repetitions")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--voices", choices=tuple(VOICE_SETS), default=DEFAULT_VOICES,
                        help="the embedded corpus's eSpeak NG variants")
    parser.add_argument("--spec-augment", type=int, nargs=2, metavar=("BINS", "FRAMES"),
                        help="AlexNet: SpecAugment masks of up to BINS frequency bins and "
                             "FRAMES frames")
    parser.add_argument("--mix-embedded", action="store_true",
                        help="the embedded corpus (--n-speakers x --per-digit) joins training")
    parser.add_argument("--no-transfer", action="store_true")
    args = parser.parse_args()

    corpus = open_corpus(args.dataset, task=args.task, seed=args.seed,
                         n_speakers=args.n_speakers, per_digit=args.per_digit,
                         voices=args.voices)
    signals = load_signals(corpus, corpus.speakers, progress=False)
    training = {"steps": args.steps, "batch_size": args.batch_size,
                "learning_rate": args.learning_rate, "cosine": True, "augment": args.augment,
                "width": args.width,
                "unit_input_init": args.unit_input_init, "spec_augment": args.spec_augment}
    started = time.perf_counter()
    extras = study.extra_training(study.extra_corpora(
        args.dataset, [args.task] if args.mix_embedded else [], args.n_speakers, args.per_digit,
        args.seed), progress=False)
    run = study.run_fold(corpus, args.architecture, args.task, args.fold, training,
                         args.seed, signals=signals, progress=False, extra=extras.get(args.task))
    validation = signals.of_speakers(study.fold_speakers(corpus, args.task, args.fold)[1])
    row = {"architecture": args.architecture, "task": args.task, "dataset": args.dataset,
           "fold": args.fold, "steps": args.steps, "width": args.width, "augment": args.augment,
           "unit_input_init": args.unit_input_init, "seed": args.seed,
           "learning_rate": args.learning_rate, "n_speakers": args.n_speakers,
           "mix_embedded": args.mix_embedded, "spec_augment": args.spec_augment,
           "voices": args.voices,
           "test_speakers": sorted(set(run.test.speakers)),
           # the validation speaker's accuracy at the end of training: what a recipe is chosen by
           "validation": round(run.trained.history["val_accuracy"][-1], 4),
           # every recording of the validation speaker (about 500): a steadier basis for a choice
           "validation_full": round(accuracy(run.trained.model, run.trained.inputs(
               validation, args.seed), validation.labels(args.task)), 4),
           "heldout": round(run.accuracy, 4), "seconds": round(time.perf_counter() - started),
           "history": run.trained.history,
           "cpu": machine()["cpu"], "native_bf16": native_bf16()}
    if not args.no_transfer:
        for name, value in study.transfer(run.trained, args.seed).items():
            row[name] = round(value, 4)
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
