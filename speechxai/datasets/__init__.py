"""Spoken-digit corpora behind every chapter, with one interface.

``SpokenDigits`` (embedded, synthesized offline), ``AudioMNIST`` and ``FSDD`` (real,
downloaded on request) are ``torch.utils.data.Dataset``s of ``DigitRecording`` items;
``folds`` gives speaker-independent splits; ``DigitSequences`` joins digits into
sentences with exact word boundaries and command labels.
"""

from speechxai.datasets.audiomnist import AudioMNIST
from speechxai.datasets.corpus import DATA_DIR_ENV, DigitCorpus, DigitRecording, data_root
from speechxai.datasets.folds import Fold, folds
from speechxai.datasets.fsdd import FSDD
from speechxai.datasets.librispeech import LibriSpeechSpeakers
from speechxai.datasets.real import REAL_DATA_ENV, real_corpus, real_data_root
from speechxai.datasets.sequences import DigitCommands, DigitSequence, DigitSequences
from speechxai.datasets.synthetic import DEFAULT_VOICES, SpokenDigits
from speechxai.profiles import DATASETS


def open_corpus(
    dataset: str,
    n_speakers: int = 24,
    per_digit: int = 10,
    seed: int = 0,
    download: bool = False,
    root: str | None = None,
    task: str = "digit",
    voices: str = DEFAULT_VOICES,
) -> DigitCorpus:
    """The corpus a chapter's ``dataset`` parameter names for ``task``.

    ``"embedded"`` synthesizes ``SpokenDigits(n_speakers, per_digit, seed, voices=voices)``
    (cached);
    ``"real"`` is FSDD for digits and LibriSpeech speakers for sex
    (:func:`~speechxai.datasets.real.real_corpus`, downloaded where absent);
    ``"audiomnist"`` and ``"fsdd"`` open those corpora from ``root`` (default: under
    ``data_root()``) for every task.
    """
    if dataset == "real":
        return real_corpus(task, seed=seed)
    if dataset == "embedded":
        return SpokenDigits(n_speakers=n_speakers, per_digit=per_digit, seed=seed,
                            voices=voices)
    if dataset == "audiomnist":
        return AudioMNIST(root, download=download)
    if dataset == "fsdd":
        return FSDD(root, download=download)
    raise ValueError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")


__all__ = [
    "DATASETS",
    "DATA_DIR_ENV",
    "REAL_DATA_ENV",
    "FSDD",
    "AudioMNIST",
    "DigitCorpus",
    "DigitRecording",
    "DigitSequence",
    "DigitCommands",
    "DigitSequences",
    "LibriSpeechSpeakers",
    "Fold",
    "SpokenDigits",
    "data_root",
    "folds",
    "open_corpus",
    "real_corpus",
    "real_data_root",
]
