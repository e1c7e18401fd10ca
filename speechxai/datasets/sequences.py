"""Digit sequences: single-digit utterances of one speaker joined with random gaps.

One corpus serves every chapter: exact word boundaries (we place the words), character
transcripts for the recognisers, and multi-slot spoken commands for the word-level
chapter.

Command grammar (like Fluent Speech Commands' action / object / location). Each slot is
decided by exactly one word at a known position, so the deciding words are ground truth
for explanations; the words in between are distractors:

========  =============  ====================================================
slot      decided by     classes
========  =============  ====================================================
action    first word     zero-two: increase, three-six: decrease, seven-nine: toggle
object    second word    zero-three: lamp, four-six: music, seven-nine: heating
location  last word      zero-two: kitchen, three-six: bedroom, seven-nine: washroom
========  =============  ====================================================

With two words the second decides both object and location.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from speechxai.datasets.corpus import DIGIT_WORDS, DigitCorpus

SLOTS = {
    "action": (0, ("increase",) * 3 + ("decrease",) * 4 + ("toggle",) * 3),
    "object": (1, ("lamp",) * 4 + ("music",) * 3 + ("heating",) * 3),
    "location": (-1, ("kitchen",) * 3 + ("bedroom",) * 4 + ("washroom",) * 3),
}


def slot_classes(slot: str) -> list[str]:
    """The classes of ``slot`` in a fixed order."""
    return list(dict.fromkeys(SLOTS[slot][1]))


def command(digits: list[int]) -> tuple[dict[str, str], dict[str, int]]:
    """Slot labels of a digit sequence and the position of the word deciding each slot."""
    labels, deciding = {}, {}
    for slot, (position, classes) in SLOTS.items():
        index = position % len(digits)
        labels[slot], deciding[slot] = classes[digits[index]], index
    return labels, deciding


def trim_silence(
    waveform: torch.Tensor,
    sample_rate: int,
    threshold_db: float = -40.0,
    frame_seconds: float = 0.01,
) -> tuple[int, int]:
    """Sample span from the first to the last 10 ms frame within ``threshold_db`` of the
    loudest frame (RMS)."""
    frame = max(1, int(frame_seconds * sample_rate))
    n_frames = max(1, waveform.numel() // frame)
    frames = waveform[: n_frames * frame].reshape(n_frames, frame)
    level = 20 * torch.log10(frames.pow(2).mean(dim=1).sqrt() + 1e-10)
    loud = torch.nonzero(level >= level.max() + threshold_db).flatten()
    return int(loud[0]) * frame, min(waveform.numel(), (int(loud[-1]) + 1) * frame)


@dataclass(frozen=True)
class DigitSequence:
    """A spoken digit sequence with exact word boundaries and command labels."""

    waveform: torch.Tensor
    sample_rate: int
    words: tuple[str, ...]
    transcript: str
    boundaries: tuple[tuple[int, int], ...]  # (start, end) samples per word
    speaker: str
    sex: str
    command: dict[str, str]
    deciding_word: dict[str, int]  # slot -> index of the word that decides it


class DigitSequences(Dataset):
    """Sequences of ``n_words`` digits from one speaker of ``base``, deterministic per index.

    Parameters
    ----------
    base
        A digit corpus (``SpokenDigits``, ``AudioMNIST``, ``FSDD``) or a subset of its
        speakers given by ``speakers``.
    n_words
        Inclusive range of words per sequence.
    seed
        Seed of every draw; item ``i`` depends only on ``seed`` and ``i``.
    n_sequences
        Length of the dataset.
    gap_seconds
        Range of the silent gap between words (also before the first and after the last).
    speakers
        Restrict to these speakers of ``base`` (default: all).
    """

    def __init__(
        self,
        base: DigitCorpus,
        n_words: tuple[int, int] = (2, 5),
        seed: int = 0,
        n_sequences: int = 1000,
        gap_seconds: tuple[float, float] = (0.05, 0.3),
        speakers: list[str] | None = None,
    ):
        if not 2 <= n_words[0] <= n_words[1]:
            raise ValueError(
                f"n_words must be a range (low, high) with 2 <= low <= high, got {n_words}"
            )
        self.base, self.n_words, self.seed = base, n_words, seed
        self.n_sequences, self.gap_seconds = n_sequences, gap_seconds
        self.speakers = sorted(speakers or base.speakers)
        self._items = defaultdict(list)  # (speaker, digit) -> indices in base
        for index, entry in enumerate(base.entries):
            self._items[entry.speaker, entry.digit].append(index)
        missing = [(s, d) for s in self.speakers for d in range(10) if not self._items[s, d]]
        if missing:
            raise ValueError(f"{base.name} lacks digits for some speakers, e.g. {missing[:3]}")

    def __len__(self) -> int:
        return self.n_sequences

    def __getitem__(self, index: int) -> DigitSequence:
        if not 0 <= index < self.n_sequences:
            raise IndexError(f"{self.n_sequences} sequences, not index {index}")
        rng = np.random.default_rng([self.seed, index])
        speaker = self.speakers[rng.integers(len(self.speakers))]
        digits = [
            int(d) for d in rng.integers(0, 10, rng.integers(self.n_words[0], self.n_words[1] + 1))
        ]
        pieces, boundaries, position, sample_rate = [], [], 0, None
        for digit in digits:
            choices = self._items[speaker, digit]
            recording = self.base[choices[rng.integers(len(choices))]]
            sample_rate = recording.sample_rate
            gap = torch.zeros(int(rng.uniform(*self.gap_seconds) * sample_rate))
            start, end = trim_silence(recording.waveform, sample_rate)
            word = recording.waveform[start:end]
            pieces += [gap, word]
            boundaries.append((position + gap.numel(), position + gap.numel() + word.numel()))
            position += gap.numel() + word.numel()
        pieces.append(torch.zeros(int(rng.uniform(*self.gap_seconds) * sample_rate)))
        words = tuple(DIGIT_WORDS[d] for d in digits)
        labels, deciding = command(digits)
        return DigitSequence(
            torch.cat(pieces),
            sample_rate,
            words,
            " ".join(words),
            tuple(boundaries),
            speaker,
            self.base.sex(speaker),
            labels,
            deciding,
        )
