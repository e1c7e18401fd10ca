"""Real human speech for every chapter (``dataset="real"``): digits from FSDD, speaker sex
from LibriSpeech speakers.

Both are read from a folder of real corpora as it is - ``$SPEECHXAI_REAL_DATA``, by default
``../shared/data`` beside the project (``fsdd/`` and ``librispeech-speakers/``) - and,
where a corpus is missing there, downloaded into ``data_root()`` (progress bar, verified,
extracted atomically: :mod:`speechxai.datasets.download`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from speechxai.datasets.corpus import DigitCorpus, evenly_spaced
from speechxai.datasets.fsdd import FSDD
from speechxai.paths import from_project

REAL_DATA_ENV = "SPEECHXAI_REAL_DATA"
DEFAULT_REAL_DATA = "../shared/data"
REAL_CORPORA = {"digit": "fsdd", "sex": "librispeech-speakers"}
"""Which folder of the real-data root serves each task."""


def real_data_root() -> Path:
    """``$SPEECHXAI_REAL_DATA``, else ``../shared/data``; a relative path is relative to the
    project root (:func:`speechxai.paths.from_project`)."""
    return from_project(os.environ.get(REAL_DATA_ENV) or DEFAULT_REAL_DATA)


def real_corpus(task: str, seed: int = 0, download: bool = True) -> DigitCorpus:
    """The real corpus of ``task``: FSDD for ``"digit"`` (6 male speakers, also the source
    of digit sequences and commands), LibriSpeech speakers cut into 1-s crops for
    ``"sex"``. A corpus missing from :func:`real_data_root` is downloaded when
    ``download`` (else ``FileNotFoundError``)."""
    from speechxai.datasets.librispeech import LibriSpeechSpeakers

    if task not in REAL_CORPORA:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(REAL_CORPORA)}")
    folder = real_data_root() / REAL_CORPORA[task]
    if task == "digit":
        return FSDD(folder) if (folder / FSDD.wav_folder).is_dir() else FSDD(download=download)
    if folder.is_dir():
        return LibriSpeechSpeakers(folder, seed=seed)
    return LibriSpeechSpeakers(download=download, seed=seed)


def transfer_unavailable(dataset: str, tasks: tuple[str, ...] = tuple(REAL_CORPORA)) -> str | None:
    """Why a chapter's models cannot be tried on real speech they never heard (``None``:
    they can): they were trained on real speech, or a real corpus of ``tasks`` is missing
    (nothing is downloaded for this)."""
    if dataset in ("real", "fsdd"):
        return f"the models of dataset={dataset!r} were trained on real speech"
    for task in tasks:
        try:
            real_corpus(task, download=False)
        except FileNotFoundError as error:
            return f"{error}".split(". ")[0]
    return None


@dataclass(frozen=True)
class Utterance:
    """A recording and its transcript: what the recognisers' evaluation reads."""

    waveform: torch.Tensor
    sample_rate: int
    transcript: str


def digit_utterances(limit: int | None = None) -> list[Utterance]:
    """FSDD's recordings as one-word utterances (the transcript is the digit's word), all
    3,000 or ``limit`` of them spread evenly over the corpus."""
    corpus = real_corpus("digit", download=False)
    return [Utterance(item.waveform, item.sample_rate, item.word)
            for item in (corpus[i] for i in evenly_spaced(len(corpus), limit))]
