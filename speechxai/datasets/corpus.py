"""What every spoken-digit corpus shares: items, speakers, speaker subsets, labels."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Subset

from speechxai.paths import from_project

DATA_DIR_ENV = "SPEECHXAI_DATA_DIR"
TASKS = ("digit", "sex")
SEXES = ("female", "male")
NO_DIGIT = -1  # the digit of an item that is not a spoken digit (a speaker corpus's crop)
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def data_root() -> Path:
    """Where datasets live: ``$SPEECHXAI_DATA_DIR``, else ``data/``; a relative path is
    relative to the project root (:func:`speechxai.paths.from_project`)."""
    return from_project(os.environ.get(DATA_DIR_ENV) or "data")


def evenly_spaced(n: int, limit: int | None) -> list[int]:
    """Indices 0..n-1, or ``limit`` of them spread evenly from the first to the last."""
    if limit is None or limit >= n:
        return list(range(n))
    return np.linspace(0, n - 1, limit).round().astype(int).tolist()


@dataclass(frozen=True)
class DigitRecording:
    """One spoken digit: mono float32 waveform and who said what."""

    waveform: torch.Tensor
    sample_rate: int
    digit: int
    speaker: str
    sex: str
    metadata: Mapping[str, object] = field(default_factory=dict)

    @property
    def word(self) -> str:
        """The digit's word (``"seven"``), or ``""`` for an item without one (`NO_DIGIT`)."""
        return "" if self.digit == NO_DIGIT else DIGIT_WORDS[self.digit]


@dataclass(frozen=True)
class Entry:
    """Index row of a corpus: enough to label an item without loading its audio."""

    digit: int
    speaker: str
    repetition: int


class DigitCorpus(Dataset):
    """A corpus of spoken digits by speaker, as a ``torch.utils.data.Dataset``.

    Subclasses fill ``entries`` and ``speaker_metadata`` and implement ``_load(index)``.
    """

    name = "digits"

    def __init__(self, entries: Sequence[Entry], speaker_metadata: Mapping[str, Mapping]):
        self.entries = list(entries)
        self.speaker_metadata = {key: dict(value) for key, value in speaker_metadata.items()}

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> DigitRecording:
        if not -len(self) <= index < len(self):
            raise IndexError(f"{self.name} has {len(self)} items, not index {index}")
        entry = self.entries[index]
        waveform, sample_rate = self._load(index % len(self))
        return DigitRecording(
            waveform,
            sample_rate,
            entry.digit,
            entry.speaker,
            self.sex(entry.speaker),
            self.speaker_metadata.get(entry.speaker, {}),
        )

    def _load(self, index: int) -> tuple[torch.Tensor, int]:
        raise NotImplementedError

    @property
    def description(self) -> str:
        """The corpus's name for a reader (a synthesised corpus adds its voices)."""
        return self.name

    @property
    def speakers(self) -> list[str]:
        """Speakers that have at least one item, sorted."""
        return sorted({entry.speaker for entry in self.entries})

    def sex(self, speaker: str) -> str:
        """``"female"``, ``"male"`` or ``"unknown"`` from the speaker's metadata."""
        value = str(self.speaker_metadata.get(speaker, {}).get("gender", "")).strip().lower()
        return value if value in SEXES else "unknown"

    def labels(self, task: str) -> np.ndarray:
        """Per item: the digit (``task="digit"``) or 0 female / 1 male (``"sex"``)."""
        if task == "digit":
            digits = np.array([entry.digit for entry in self.entries])
            if (digits == NO_DIGIT).any():
                raise ValueError(
                    f"{self.name} has no digits (its items are not spoken digits): it serves "
                    f"the sex task only; use task='sex'"
                )
            return digits
        if task == "sex":
            sexes = [self.sex(entry.speaker) for entry in self.entries]
            return np.array([SEXES.index(sex) if sex in SEXES else -1 for sex in sexes])
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")

    def find(self, digit: int | None = None, speaker: str | None = None) -> int:
        """Index of the first item with this digit and/or speaker."""
        for index, entry in enumerate(self.entries):
            if digit in (None, entry.digit) and speaker in (None, entry.speaker):
                return index
        raise KeyError(f"{self.name} has no item with digit={digit}, speaker={speaker}")

    def indices(self, speakers: Sequence[str]) -> list[int]:
        """Items spoken by ``speakers``."""
        wanted = set(speakers)
        return [i for i, entry in enumerate(self.entries) if entry.speaker in wanted]

    def subset(self, speakers: Sequence[str]) -> Subset:
        """The items of ``speakers`` as a ``torch.utils.data.Subset``."""
        return Subset(self, self.indices(speakers))


class WavCorpus(DigitCorpus):
    """A real corpus of ``<digit>_<speaker>_<rep>.wav`` files in a folder, fetched from
    its public archive on request.

    Subclasses set ``name``, ``default_folder`` (under ``data_root()``), ``wav_folder``
    (inside ``root``), ``glob``, ``file_pattern`` (named groups digit, speaker, rep) and
    ``archive`` (the name of a constant in ``speechxai.datasets.download``).
    """

    default_folder: str
    wav_folder: str
    glob: str
    file_pattern: re.Pattern
    archive: str

    def __init__(self, root: str | Path | None, download: bool, size_hint: str = ""):
        self.root = from_project(root) if root is not None else data_root() / self.default_folder
        folder = self.root / self.wav_folder
        if not folder.is_dir() and download:
            from speechxai.datasets import download as downloads

            downloads.fetch_into(getattr(downloads, self.archive), self.root, self.wav_folder)
        if not folder.is_dir():
            raise FileNotFoundError(
                f"{self.name} not found: no folder {folder}. Pass download=True to fetch it"
                f"{size_hint}, or point ${DATA_DIR_ENV} at a folder holding "
                f"{self.default_folder}/"
            )
        self.paths = sorted(folder.glob(self.glob))
        if not self.paths:
            raise FileNotFoundError(f"{self.name} folder {folder} holds no {self.glob} files")
        entries = []
        for path in self.paths:
            match = self.file_pattern.fullmatch(path.name)
            if match is None:
                raise ValueError(f"{path}: not a {self.name} file name <digit>_<speaker>_<rep>")
            entries.append(Entry(int(match["digit"]), match["speaker"], int(match["rep"])))
        super().__init__(entries, self.read_metadata(folder, entries))

    def read_metadata(self, folder: Path, entries: list[Entry]) -> dict[str, dict]:
        raise NotImplementedError

    def _load(self, index: int) -> tuple[torch.Tensor, int]:
        from speechxai import audio

        return audio.load(self.paths[index])
