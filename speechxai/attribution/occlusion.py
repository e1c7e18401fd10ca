"""Word-level leave-one-out explanations of black-box speech classifiers (Pastor et al., 2024,
"Explaining speech classification models via word-level audio segments and paralinguistic
features", Sec. 2.1).

The relevance of word ``i`` for the explained class ``k`` of a slot is

    r(x_i) = f(y=k | x) - f(y=k | x without word i),

where the word's samples are masked: zeroed, as in the paper (after Wu et al., 2023), or
replaced by white or pink noise, the alternatives of the reference implementation. The
reference also widens each cut by 100 ms before and 40 ms after the word
(:data:`REFERENCE_PADDING`); here the default is the bare word span.

Noise level: the reference pastes a stored noise recording attenuated by 30 dB, whose level
does not depend on the utterance. Here the noise has an RMS :data:`NOISE_LEVEL_DB` (30 dB)
below the whole utterance's RMS, a fixed fraction (about 0.032) of it, so a masked word
becomes a faint background whatever the recording level. One seeded noise track spans the
utterance and each masked span is cut from it at its own position, so masking several words
at once or one at a time puts the same noise at the same samples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from speechxai.attribution.blackbox import PredictProba, slot_probabilities
from speechxai.attribution.explanation import (
    Axis,
    Explanation,
    output_slot,
    slot_output_name,
    slot_rows,
)
from speechxai.attribution.mutation import mutated
from speechxai.audio import validate

MASKINGS = ("zeros", "white", "pink")
REFERENCE_PADDING = (0.10, 0.04)  # seconds before / after the word (reference implementation)
NOISE_LEVEL_DB = -30.0  # noise RMS relative to the utterance's RMS


def as_signal(waveform: torch.Tensor | np.ndarray, sample_rate: int) -> torch.Tensor:
    """One waveform as a 1-D float32 tensor (a copy; never the caller's storage), checked by
    :func:`speechxai.audio.validate` (AudioError for NaN, integer, complex, multi-channel or
    empty samples, peaks above 1.0 and a bad sample rate; silence is allowed)."""
    return validate(waveform, sample_rate, require_signal=False).detach().clone()


def check_boundaries(boundaries: Sequence[tuple[int, int]], n_samples: int
                     ) -> list[tuple[int, int]]:
    """Word spans ``(start, end)`` in samples, checked: at least one, each non-empty and inside
    ``[0, n_samples]``, in time order without overlap."""
    spans = [(int(start), int(end)) for start, end in boundaries]
    if not spans:
        raise ValueError("boundaries is empty: give one (start, end) sample span per word")
    for index, (start, end) in enumerate(spans):
        if not 0 <= start < end <= n_samples:
            raise ValueError(f"word {index}: span ({start}, {end}) must satisfy 0 <= start < end "
                             f"<= {n_samples} (the waveform's length)")
        if index and start < spans[index - 1][1]:
            raise ValueError(f"word {index}: span ({start}, {end}) overlaps or precedes word "
                             f"{index - 1}'s span {spans[index - 1]}; give the words in time "
                             f"order without overlap")
    return spans


def noise(n_samples: int, masking: str, seed: int = 0) -> torch.Tensor:
    """A seeded noise track of unit RMS: ``"white"`` (flat spectrum) or ``"pink"`` (power
    falling as 1/f: white noise whose rFFT amplitudes are scaled by 1/sqrt(f), DC removed)."""
    if masking not in ("white", "pink"):
        raise ValueError(f"noise is 'white' or 'pink', got {masking!r}")
    track = torch.randn(n_samples, generator=torch.Generator().manual_seed(seed),
                        dtype=torch.float64)
    if masking == "pink":
        frequencies = torch.fft.rfftfreq(n_samples, dtype=torch.float64)
        shaping = torch.zeros_like(frequencies)
        shaping[1:] = frequencies[1:].rsqrt()
        track = torch.fft.irfft(torch.fft.rfft(track) * shaping, n=n_samples)
    rms = track.pow(2).mean().sqrt()
    return track / rms if rms > 0 else track


def mask_segments(
    waveform: torch.Tensor | np.ndarray,
    sample_rate: int,
    segments: Sequence[tuple[int, int]],
    masking: str = "zeros",
    padding: tuple[float, float] = (0.0, 0.0),
    seed: int = 0,
) -> torch.Tensor:
    """A copy of ``waveform`` with the ``(start, end)`` sample spans replaced.

    Each span is widened by ``padding`` = (seconds before, seconds after), clipped to the
    signal, and replaced by zeros, white or pink noise (``masking``, one of
    :data:`MASKINGS`) at :data:`NOISE_LEVEL_DB` relative to the utterance's RMS, drawn from
    ``seed``. Spans may overlap (padding often makes neighbours do).
    """
    signal = as_signal(waveform, sample_rate)
    if masking not in MASKINGS:
        raise ValueError(f"unknown masking {masking!r}; choose one of {', '.join(MASKINGS)}")
    if sample_rate <= 0 or len(padding) != 2 or min(padding) < 0:
        raise ValueError(f"need a positive sample rate and padding = (before, after) >= 0 "
                         f"seconds, got {sample_rate} and {padding}")
    before, after = (round(seconds * sample_rate) for seconds in padding)
    spans = []
    for start, end in segments:
        if not 0 <= start < end <= signal.numel():
            raise ValueError(f"segment ({start}, {end}) must satisfy 0 <= start < end <= "
                             f"{signal.numel()} (the waveform's length)")
        spans.append((max(0, start - before), min(signal.numel(), end + after)))
    if masking == "zeros":
        fill = torch.zeros_like(signal)
    else:
        level = signal.double().pow(2).mean().sqrt() * 10 ** (NOISE_LEVEL_DB / 20)
        fill = (noise(signal.numel(), masking, seed) * level).float()
    for start, end in spans:
        signal[start:end] = fill[start:end]
    return signal


def resolve_targets(original: Mapping[str, np.ndarray], targets: Mapping[str, int] | None
                    ) -> dict[str, int]:
    """The explained class of every slot: ``targets`` where given, else the class predicted on
    the full utterance (``original``: slot -> class probabilities of the utterance)."""
    targets = dict(targets or {})
    unknown = sorted(set(targets) - set(original))
    if unknown:
        raise ValueError(f"unknown target slot(s) {unknown}; the model has slots "
                         f"{sorted(original)}")
    resolved = {}
    for slot, probabilities in original.items():
        target = int(targets.get(slot, np.argmax(probabilities)))
        if not 0 <= target < len(probabilities):
            raise ValueError(f"slot {slot!r}: target class {target} is not one of its "
                             f"{len(probabilities)} classes")
        resolved[slot] = target
    return resolved


def word_labels(words: Sequence[str]) -> list[str]:
    """Distinct column labels: a repeated word gets its 1-based position, "one", "one (4)"."""
    seen: set[str] = set()
    labels = []
    for position, word in enumerate(words, start=1):
        labels.append(word if word not in seen else f"{word} ({position})")
        seen.add(word)
    return labels


WORD_METHOD = "leave one word out"


@dataclass(frozen=True, eq=False)
class WordImportance(Explanation):
    """Leave-one-out relevance of each word for the explained class of each slot: an
    :class:`~speechxai.attribution.explanation.Explanation` with one output per slot
    (``slot=class``) and one feature per word (axis ``word``, a repeated word labelled by its
    position, "one (4)"), ``data`` NaN (a word is removed, not scaled).

    ``scores[s, i]`` (its ``values``) is r(x_i) for slot ``slots[s]`` and its class
    ``slot_targets[slots[s]]``; ``words`` the words in spoken order.
    """

    words: tuple[str, ...] = ()

    @classmethod
    def of(cls, words: Sequence[str], targets: Mapping[str, int], scores: np.ndarray
           ) -> WordImportance:
        """The scores (slots, words) of the slots ``targets`` names (slot -> class), in its
        order."""
        slots = tuple(targets)
        scores = np.asarray(scores)
        if scores.shape != (len(slots), len(words)):
            raise ValueError(f"scores must have shape (slots, words) = ({len(slots)}, "
                             f"{len(words)}), got {scores.shape}")
        return cls(values=scores, data=np.full(scores.shape, np.nan), method=WORD_METHOD,
                   targets=[targets[slot] for slot in slots],
                   axes=(Axis("word", "", np.array(word_labels(words))),),
                   output_names=tuple(slot_output_name(slot, targets[slot]) for slot in slots),
                   words=tuple(words))

    @classmethod
    def from_explanation(cls, explanation: Explanation) -> WordImportance:
        """A leave-one-word-out explanation (e.g. pooled by
        :func:`~speechxai.attribution.explanation.concatenate`) as a WordImportance again
        (a repeated word keeps its label, "one (4)"); AttributionError for an explanation of
        anything else."""
        slots = slot_rows(explanation, WORD_METHOD, "word", "leave-one-word-out")
        return cls.of(tuple(str(word) for word in explanation.axes[0].coords),
                      dict(zip(slots, explanation.targets.tolist(), strict=True)),
                      explanation.values)

    @property
    def scores(self) -> np.ndarray:
        """(slots, words) r(x_i): the values."""
        return self.values

    @property
    def slots(self) -> tuple[str, ...]:
        return tuple(output_slot(name) for name in self.output_names)

    @property
    def slot_targets(self) -> dict[str, int]:
        """slot -> the explained class."""
        return dict(zip(self.slots, self.targets.tolist(), strict=True))

    def _row(self, slot: str) -> np.ndarray:
        if slot not in self.slots:
            raise ValueError(f"unknown slot {slot!r}; explained slots are {list(self.slots)}")
        return self.scores[self.slots.index(slot)]

    def top_word(self, slot: str) -> int:
        """Index of the most relevant word for ``slot`` (the first one on ties)."""
        return int(np.argmax(self._row(slot)))

    def ranking(self, slot: str) -> np.ndarray:
        """Word indices from the most to the least relevant for ``slot`` (stable on ties)."""
        return np.argsort(-self._row(slot), kind="stable")

    def table(self, class_names: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
        """The paper's Table 1: one row per slot, its explained class under "prediction"
        (a name from ``class_names[slot]`` if given, else the class index), then one column
        per word in spoken order."""
        names = class_names or {}
        frame = pd.DataFrame(self.scores, index=pd.Index(self.slots, name="slot"),
                             columns=self.axes[0].coords.tolist())
        frame.insert(0, "prediction", [names[slot][target] if slot in names else target
                                       for slot, target in self.slot_targets.items()])
        return frame


def word_importance(
    predict_proba: PredictProba,
    waveform: torch.Tensor | np.ndarray,
    sample_rate: int,
    boundaries: Sequence[tuple[int, int]],
    words: Sequence[str] | None = None,
    targets: Mapping[str, int] | None = None,
    masking: str = "zeros",
    padding: tuple[float, float] = (0.0, 0.0),
    seed: int = 0,
    batched: bool = True,
) -> WordImportance:
    """Leave-one-out word relevance r(x_i) = f(y=k|x) - f(y=k|x without word i) (Pastor et
    al., 2024, Eq. 1) for every slot of ``predict_proba``.

    Parameters
    ----------
    predict_proba
        Black-box classifier (:mod:`speechxai.attribution.blackbox`).
    waveform, sample_rate
        The utterance.
    boundaries
        ``(start, end)`` samples of each word, in time order, not overlapping.
    words
        The words' text (default "word 1", "word 2", ...).
    targets
        ``slot -> class index`` to explain; slots left out (by default all) explain the class
        the model predicts on the full utterance.
    masking, padding, seed
        How a word is removed, see :func:`mask_segments`.
    batched
        Classify the utterance and its ``n_words`` masked copies in one ``predict_proba``
        call (default), or one call each (the slow reference; same scores).
    """
    signal = as_signal(waveform, sample_rate)
    spans = check_boundaries(boundaries, signal.numel())
    words = tuple(words) if words is not None else tuple(f"word {i + 1}"
                                                         for i in range(len(spans)))
    if len(words) != len(spans):
        raise ValueError(f"{len(words)} words for {len(spans)} boundaries")
    variants = [signal] + [mask_segments(signal, sample_rate, [span], masking, padding, seed)
                           for span in spans]
    if batched:
        probabilities = slot_probabilities(predict_proba, variants)
    else:
        single = [slot_probabilities(predict_proba, [variant]) for variant in variants]
        probabilities = {slot: np.concatenate([p[slot] for p in single]) for slot in single[0]}
    chosen = resolve_targets({slot: p[0] for slot, p in probabilities.items()}, targets)
    scores = mutated("occlusion", np.array([probabilities[slot][0, target]
                                            - probabilities[slot][1:, target]
                                            for slot, target in chosen.items()]))
    scores.setflags(write=False)
    return WordImportance.of(words, chosen, scores)
