"""Model inputs for the AudioMNIST tasks (Becker et al. 2018).

Recordings are resampled to 8 kHz once (``DigitSignals``); every batch then places each
signal into a 1-s frame at a fresh seeded random offset - the paper's placement
augmentation - and turns it into AudioNet's scaled waveform or AlexNet's dB spectrogram.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from speechxai.datasets.corpus import SEXES, DigitCorpus, evenly_spaced
from speechxai.datasets.sequences import trim_silence
from speechxai.features import (
    AUDIOMNIST_LENGTH,
    AUDIOMNIST_RATE,
    audiomnist_spectrogram,
    audiomnist_waveform,
    fold_mean,
    resample,
    subtract_mean,
)
from speechxai.progress import tqdm

INT16_SCALE = 32768.0  # the paper's code scaled int16 samples; ours are floats in [-1, 1]
ARCHITECTURE_INPUTS = {"audionet": "waveform", "alexnet": "spectrogram"}


@dataclass
class DigitSignals:
    """8-kHz recordings of a corpus (at most 1 s each) with their labels."""

    signals: list[torch.Tensor]
    digits: np.ndarray
    sexes: np.ndarray  # 0 female, 1 male
    speakers: list[str]

    def __len__(self) -> int:
        return len(self.signals)

    def __add__(self, other: DigitSignals) -> DigitSignals:
        """These signals followed by ``other``'s."""
        return DigitSignals(self.signals + other.signals,
                            np.concatenate([self.digits, other.digits]),
                            np.concatenate([self.sexes, other.sexes]),
                            self.speakers + other.speakers)

    def labels(self, task: str) -> np.ndarray:
        if task not in ("digit", "sex"):
            raise ValueError(f"unknown task {task!r}; choose digit or sex")
        return self.digits if task == "digit" else self.sexes

    def select(self, indices: Sequence[int]) -> DigitSignals:
        return DigitSignals(
            [self.signals[i] for i in indices],
            self.digits[list(indices)],
            self.sexes[list(indices)],
            [self.speakers[i] for i in indices],
        )

    def of_speakers(self, speakers: Sequence[str]) -> DigitSignals:
        """The signals spoken by ``speakers``, in their original order."""
        wanted = set(speakers)
        return self.select([i for i, s in enumerate(self.speakers) if s in wanted])


def load_signals(
    corpus: DigitCorpus, speakers: Sequence[str], progress: bool = True,
    limit: int | None = None,
) -> DigitSignals:
    """The recordings of ``speakers`` as :func:`frame_signal` makes them (at most ``limit``
    of them, evenly spread over the corpus's order)."""
    indices = corpus.indices(speakers)
    indices = [indices[i] for i in evenly_spaced(len(indices), limit)]
    signals, digits, sexes, who = [], [], [], []
    for index in tqdm(indices, desc=f"{corpus.name} at 8 kHz", disable=not progress):
        item = corpus[index]
        signals.append(frame_signal(item.waveform, item.sample_rate))
        digits.append(item.digit)
        sexes.append(SEXES.index(item.sex) if item.sex in SEXES else -1)
        who.append(item.speaker)
    return DigitSignals(signals, np.array(digits), np.array(sexes), who)


def augmented(signals: DigitSignals, augmentation, rng: np.random.Generator) -> DigitSignals:
    """``signals`` each through a random channel of ``augmentation`` (an
    :class:`~speechxai.augment.Augmentation`) and placed at a random offset in the 1-s
    frame, drawn from ``rng``."""
    frames = augmentation.frames(signals.signals, AUDIOMNIST_RATE, AUDIOMNIST_LENGTH, rng)
    return DigitSignals(list(frames), signals.digits, signals.sexes, signals.speakers)


def frame_signal(waveform: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """One recording as the AudioMNIST models take it before placement: resampled to 8 kHz,
    without its DC offset (real recordings carry up to a quarter of full scale of it, which
    breaks AudioNet's percentile scaling when no padding zeros are left), and cropped to the
    second around its speech when longer (:func:`crop_around_speech`)."""
    signal = resample(waveform, sample_rate, AUDIOMNIST_RATE)
    return crop_around_speech(signal - signal.mean(), AUDIOMNIST_RATE, AUDIOMNIST_LENGTH)


def crop_around_speech(signal: torch.Tensor, sample_rate: int, length: int) -> torch.Tensor:
    """``signal`` if it has at most ``length`` samples, else the ``length`` samples centred
    on its speech: the span from the first to the last 10-ms frame within 40 dB of the
    loudest (:func:`~speechxai.datasets.sequences.trim_silence`), shifted inside the signal.
    A word longer than the frame loses its edges equally on both sides."""
    if signal.numel() <= length:
        return signal
    start, end = trim_silence(signal, sample_rate)
    first = min(max(0, (start + end - length) // 2), signal.numel() - length)
    return signal[first:first + length]


def placement_seeds(n: int, seed: int) -> np.ndarray:
    """One offset seed per signal, drawn from ``seed``."""
    return np.random.default_rng(seed).integers(0, 2**31, n)


def padded(signals: DigitSignals, seeds: Sequence[int]) -> torch.Tensor:
    """(N, 8000) signals placed at their seeded offsets, int16 scale, unscaled."""
    return torch.stack([
        audiomnist_waveform(signal * INT16_SCALE, AUDIOMNIST_RATE, int(seed), normalise=False)
        for signal, seed in zip(signals.signals, seeds, strict=True)
    ])


def waveform_inputs(signals: DigitSignals, seeds: Sequence[int]) -> torch.Tensor:
    """AudioNet inputs (N, 1, 8000): placed and divided by their 95th percentile + 0.001
    on the int16 scale of the paper's code."""
    return torch.stack([
        audiomnist_waveform(signal * INT16_SCALE, AUDIOMNIST_RATE, int(seed))
        for signal, seed in zip(signals.signals, seeds, strict=True)
    ]).unsqueeze(1)


def spectrogram_inputs(
    signals: DigitSignals, seeds: Sequence[int], mean: torch.Tensor | None
) -> torch.Tensor:
    """AlexNet inputs (N, 1, 227, 227): dB spectrograms of the placed signals, minus the
    training fold's mean (``None``: not subtracted)."""
    spectrograms = audiomnist_spectrogram(padded(signals, seeds))
    return (spectrograms if mean is None else subtract_mean(spectrograms, mean)).unsqueeze(1)


def training_mean(signals: DigitSignals, seed: int) -> torch.Tensor:
    """Element-wise mean spectrogram of a training fold (one seeded placement each)."""
    return fold_mean(audiomnist_spectrogram(padded(signals, placement_seeds(len(signals), seed))))


def model_inputs(
    architecture: str, signals: DigitSignals, seeds: Sequence[int], mean: torch.Tensor | None
) -> torch.Tensor:
    """The inputs ``architecture`` ("audionet" or "alexnet") takes."""
    if architecture == "audionet":
        return waveform_inputs(signals, seeds)
    if architecture == "alexnet":
        return spectrogram_inputs(signals, seeds, mean)
    raise ValueError(f"unknown architecture {architecture!r}; choose audionet or alexnet")
