"""Digit sequences: single-digit utterances of one speaker joined with random gaps.

One corpus serves every chapter: exact word boundaries (we place the words), character
transcripts for the recognisers (:class:`DigitSequences`: random digits), and multi-slot
spoken commands for the word-level chapter (:class:`DigitCommands`).

Command grammar (like Fluent Speech Commands' action / object / location, where "heat" alone
makes the object whatever else is said): a command holds one action keyword, at most one
object and at most one location keyword (a missing one makes the slot "none", as in Fluent
Speech Commands), in random order among filler words ("nine"). A keyword decides its slot
wherever it stands and nothing else does, so the deciding words are ground truth for
explanations:

========  ==========================================================  ===========
slot      keywords                                                    if missing
========  ==========================================================  ===========
action    zero: increase, one: decrease, two: toggle                  (never)
object    three: lamp, four: music, five: heating                     none
location  six: kitchen, seven: bedroom, eight: washroom               none
========  ==========================================================  ===========

Why "none": were every slot always filled, a model could learn "heating = neither three nor
four" and ignore "five"; removing "five" would then change nothing. Why not by position
(e.g. "the second word decides the object"): removing the first word makes the third word
the second, so two words would decide.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import Dataset

from speechxai.datasets.corpus import DIGIT_WORDS, DigitCorpus

KEYWORDS: dict[str, dict[int, str]] = {
    "action": {0: "increase", 1: "decrease", 2: "toggle"},
    "object": {3: "lamp", 4: "music", 5: "heating"},
    "location": {6: "kitchen", 7: "bedroom", 8: "washroom"},
}
SLOTS = tuple(KEYWORDS)
OPTIONAL = ("object", "location")  # slots a command may leave out ("none")
NONE = "none"
FILLER = 9  # "nine": a word that decides nothing
KEYWORD_RATE = 0.75  # chance that a command names its object (its location)


def slot_classes(slot: str) -> list[str]:
    """The classes of ``slot`` in a fixed order ("none" last, for the optional slots)."""
    return list(KEYWORDS[slot].values()) + ([NONE] if slot in OPTIONAL else [])


def command(digits: list[int]) -> tuple[dict[str, str], dict[str, int]]:
    """Slot labels of a command's digits and the position of the keyword deciding each slot
    (optional slots without a keyword are "none" and have no deciding word); ``ValueError``
    for a missing action or a slot named twice."""
    labels, deciding = {}, {}
    for slot, keywords in KEYWORDS.items():
        positions = [i for i, digit in enumerate(digits) if digit in keywords]
        if len(positions) > 1 or (not positions and slot not in OPTIONAL):
            raise ValueError(f"a command needs {'at most' if slot in OPTIONAL else 'exactly'} "
                             f"one {slot} keyword ({', '.join(DIGIT_WORDS[d] for d in keywords)})"
                             f", got digits {digits}")
        if positions:
            labels[slot], deciding[slot] = keywords[digits[positions[0]]], positions[0]
        else:
            labels[slot] = NONE
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
    """A spoken digit sequence with exact word boundaries (and, for a command, its labels)."""

    waveform: torch.Tensor
    sample_rate: int
    words: tuple[str, ...]
    transcript: str
    boundaries: tuple[tuple[int, int], ...]  # (start, end) samples per word
    speaker: str
    sex: str
    command: dict[str, str] = field(default_factory=dict)  # slot -> class (commands only)
    deciding_word: dict[str, int] = field(default_factory=dict)  # slot -> index of its word


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

    MIN_WORDS = 2

    def __init__(
        self,
        base: DigitCorpus,
        n_words: tuple[int, int] = (2, 5),
        seed: int = 0,
        n_sequences: int = 1000,
        gap_seconds: tuple[float, float] = (0.05, 0.3),
        speakers: list[str] | None = None,
    ):
        if not self.MIN_WORDS <= n_words[0] <= n_words[1]:
            raise ValueError(f"n_words must be a range (low, high) with {self.MIN_WORDS} <= low "
                             f"<= high, got {n_words}")
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
        digits = self._digits(rng)
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
        return DigitSequence(torch.cat(pieces), sample_rate, words, " ".join(words),
                             tuple(boundaries), speaker, self.base.sex(speaker),
                             *self._command(digits))

    def _digits(self, rng: np.random.Generator) -> list[int]:
        """The digits of one sequence: ``n_words`` uniformly random digits."""
        count = rng.integers(self.n_words[0], self.n_words[1] + 1)
        return [int(d) for d in rng.integers(0, 10, count)]

    def _command(self, digits: list[int]) -> tuple[dict[str, str], dict[str, int]]:
        return {}, {}


class DigitCommands(DigitSequences):
    """Spoken commands of the module's grammar: an action keyword, an object and a location
    keyword each with probability :data:`KEYWORD_RATE`, in random order among fillers,
    ``n_words`` (at least 3) words in all; items carry ``command`` and ``deciding_word``.
    Parameters as :class:`DigitSequences` (default 3-5 words)."""

    MIN_WORDS = 3

    def __init__(self, base: DigitCorpus, n_words: tuple[int, int] = (3, 5), **kwargs):
        super().__init__(base, n_words, **kwargs)

    def _digits(self, rng: np.random.Generator) -> list[int]:
        keywords = [int(rng.choice(list(keywords))) for slot, keywords in KEYWORDS.items()
                    if slot not in OPTIONAL or rng.random() < KEYWORD_RATE]
        count = rng.integers(self.n_words[0], self.n_words[1] + 1)
        fillers = [FILLER] * int(count - len(keywords))
        return [int(d) for d in rng.permutation(keywords + fillers)]

    def _command(self, digits: list[int]) -> tuple[dict[str, str], dict[str, int]]:
        return command(digits)
