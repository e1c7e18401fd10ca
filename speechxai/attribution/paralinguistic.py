"""Paralinguistic explanations of speech classifiers (Pastor et al., 2024, Sec. 2.2): how the
prediction changes when the pitch, the speaking rate, the room or the background noise of an
utterance changes. For a feature p perturbed into the versions x~ (Eq. 2),

    r(p) = f(y=k|x) - mean over x~ of f(y=k|x~),

and a heatmap shows f(y=k|x) - f(y=k|x~) for every level (Fig. 2). The perturbation families
and their levels (:data:`FAMILIES`) are the paper's reference ranges (the noise ladder is the
one of the authors' code):

=============  ==================================  =========================================
family         level                               levels
=============  ==================================  =========================================
pitch_down     pitch shift in semitones            -5 .. -0.5, step 0.5
pitch_up       pitch shift in semitones            0.5 .. 5, step 0.5
stretch_down   duration factor (new / old length)  0.55 .. 0.95, step 0.05 (faster speech)
stretch_up     duration factor (new / old length)  1.05 .. 1.45, step 0.05 (slower speech)
reverb         edge of a cubic room in metres      3 .. 7, walls absorbing 10 %
noise          white-noise SNR in dB               40, 20, 10, 7.5, 5, 4, 3, 2, 1, 0.5, 0.1
=============  ==================================  =========================================

The stretch level is a duration factor, as in the paper: "stretch down" shrinks the utterance
and increases the speed (levels 0.55-0.7 in Fig. 2); the phase vocoder's rate is its inverse.
Pitch shift and time stretch keep the other property (phase vocoder on an STFT of about 25 ms);
only time stretch changes the length.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pandas as pd
import torch
import torchaudio.functional as AF
from torch.nn.utils.rnn import pad_sequence

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
from speechxai.augment import reverberate
from speechxai.errors import AudioError

FAMILIES: dict[str, tuple[float, ...]] = {
    "pitch_down": tuple(k / 2 for k in range(-10, 0)),
    "pitch_up": tuple(k / 2 for k in range(1, 11)),
    "stretch_down": tuple(k / 100 for k in range(55, 100, 5)),
    "stretch_up": tuple(k / 100 for k in range(105, 150, 5)),
    "reverb": (3.0, 4.0, 5.0, 6.0, 7.0),
    "noise": (40.0, 20.0, 10.0, 7.5, 5.0, 4.0, 3.0, 2.0, 1.0, 0.5, 0.1),
}
UNITS = {"pitch_down": "semitones", "pitch_up": "semitones", "stretch_down": "duration factor",
         "stretch_up": "duration factor", "reverb": "room edge in m", "noise": "SNR in dB"}
FEATURES: dict[str, tuple[str, ...]] = {
    "pitch": ("pitch_down", "pitch_up"), "stretch": ("stretch_down", "stretch_up"),
    "reverb": ("reverb",), "noise": ("noise",),
}
REFERENCE = {"pitch": 0.0, "stretch": 1.0, "reverb": 0.0, "noise": math.inf}  # unperturbed
ABSORPTION = 0.1  # absorption coefficient of the walls of the reverberant rooms
MAX_DENOMINATOR = 100  # pitch ratios 2^(n/12) as fractions p/q, q <= 100: within 2 cents

_FEATURE_OF = {family: feature for feature, families in FEATURES.items() for family in families}


def _n_fft(sample_rate: int) -> int:
    """STFT size of the phase vocoder: the power of two nearest to 25 ms (512 at 16-22 kHz)."""
    return 2 ** round(math.log2(0.025 * sample_rate))


def _check_waveform(waveform: torch.Tensor | np.ndarray, sample_rate: int) -> torch.Tensor:
    """``waveform`` as a 1-D float32 tensor, checked with ``sample_rate`` by
    :func:`speechxai.audio.validate` (silence allowed) and long enough to perturb."""
    signal = validate(waveform, sample_rate, require_signal=False).detach()
    minimum = _n_fft(sample_rate)
    if signal.numel() < minimum:
        raise AudioError(f"waveform of {signal.numel()} samples is too short to perturb: need "
                         f"at least {minimum} ({1000 * minimum / sample_rate:.0f} ms at "
                         f"{sample_rate} Hz)")
    return signal


def _check_family(family: str) -> tuple[float, ...]:
    if family not in FAMILIES:
        raise ValueError(f"unknown perturbation family {family!r}; choose from "
                         f"{', '.join(FAMILIES)}")
    return FAMILIES[family]


def _plan(families: str | Sequence[str] | None) -> dict[str, tuple[float, ...]]:
    """Family -> levels of the requested families (default: all), in the given order."""
    if families is None:
        families = tuple(FAMILIES)
    elif isinstance(families, str):
        families = (families,)
    plan = {family: _check_family(family) for family in families}
    if not plan:
        raise ValueError("no perturbation family requested")
    return plan


def reverberation_time(room_size: float, absorption: float = ABSORPTION) -> float:
    """Sabine's RT60 in seconds of a cubic room of edge ``room_size`` metres whose walls absorb
    ``absorption``: 0.161 V / (S a) = 0.161 L / (6 a)."""
    if not room_size > 0 or not 0 < absorption <= 1:
        raise ValueError(f"need room_size > 0 m and 0 < absorption <= 1, got {room_size} and "
                         f"{absorption}")
    return 0.161 * room_size / (6 * absorption)


def room_impulse_response(room_size: float, sample_rate: int, absorption: float = ABSORPTION,
                          seed: int = 0) -> torch.Tensor:
    """Synthetic impulse response of a cubic room (the reverberation of Pastor et al., 2024).

    A direct path at lag 0 (words keep their timestamps) and a diffuse tail of seeded Gaussian
    noise whose energy decays by 60 dB over Sabine's RT60 (:func:`reverberation_time`), where it
    ends. By diffuse-field theory the tail carries (d / r_c)^2 = 16 pi d^2 / A times the direct
    energy (critical distance r_c, absorption area A = 6 L^2 a); with source and microphone
    d = L / 2 apart that is 2 pi / (3 a), about 21 (13 dB) for a = 0.1, in every room. The
    response has unit energy, so reverberation keeps the RMS of signals longer than it.
    """
    rt60 = reverberation_time(room_size, absorption)
    length = max(2, math.ceil(rt60 * sample_rate))
    time = torch.arange(1, length) / sample_rate
    generator = torch.Generator().manual_seed(seed)
    tail = torch.randn(length - 1, generator=generator) * torch.exp(-3 * math.log(10) * time
                                                                    / rt60)
    reverberant = 2 * math.pi / (3 * absorption)
    tail *= math.sqrt(reverberant) / tail.norm()
    return torch.cat([torch.ones(1), tail]) / math.sqrt(1 + reverberant)


def _pitch_ratio(semitones: float) -> Fraction:
    """2^(semitones / 12) as a fraction with a denominator <= 100 (within 2 cents), so that
    resampling by it needs a small kernel (torchaudio's ``pitch_shift`` resamples from
    int(sr * ratio) to sr, usually coprime: a kernel of about sr x sr taps)."""
    return Fraction(2 ** (semitones / 12)).limit_denominator(MAX_DENOMINATOR)


def _advance(spectrogram: torch.Tensor, hop: int) -> torch.Tensor:
    """Expected phase advance per hop of each frequency bin, (freq, 1)."""
    return torch.linspace(0, math.pi * hop, spectrogram.shape[-2])[:, None]


def _vocoder(spectrogram: torch.Tensor, rates: Sequence[float], hop: int
             ) -> list[torch.Tensor]:
    """``torchaudio.functional.phase_vocoder`` at each rate, one call per rate."""
    advance = _advance(spectrogram, hop)
    return [AF.phase_vocoder(spectrogram, rate, advance) for rate in rates]


def _shared_vocoder(spectrogram: torch.Tensor, rates: Sequence[float], hop: int
                    ) -> list[torch.Tensor]:
    """The same as :func:`_vocoder` (allclose), computing the phases, magnitudes and unwrapped
    phase advances of the frames once for all rates."""
    padded = torch.nn.functional.pad(spectrogram, [0, 2])
    angle, norm = padded.angle(), padded.abs()
    advance = _advance(spectrogram, hop)
    step = angle[:, 1:] - angle[:, :-1] - advance
    step = step - 2 * math.pi * torch.round(step / (2 * math.pi)) + advance
    stretched = []
    for rate in rates:
        time = torch.arange(0, spectrogram.shape[-1], rate, dtype=norm.dtype)
        index = time.long()
        magnitude = torch.lerp(norm.index_select(-1, index), norm.index_select(-1, index + 1),
                               time % 1.0)
        phase = torch.cat([angle[:, :1], step.index_select(-1, index[:-1])], -1).cumsum(-1)
        phase = torch.remainder(phase.double(), 2 * math.pi).float()  # exact, faster cos/sin
        stretched.append(torch.complex(magnitude * phase.cos(), magnitude * phase.sin()))
    return stretched


def _reverberate(signal: torch.Tensor, responses: Sequence[torch.Tensor], fast: bool
                 ) -> torch.Tensor:
    """``signal`` convolved with each room response, cut to its length: (rooms, T). With
    ``fast``, the channel augmentation's :func:`~speechxai.augment.reverberate` (responses cut
    to the signal, one fast FFT size for all rooms)."""
    if fast:
        return reverberate(signal[None], responses)
    padded = pad_sequence(list(responses), batch_first=True)
    return AF.fftconvolve(signal[None], padded)[:, :signal.numel()]


def _add_noise(signal: torch.Tensor, snr: torch.Tensor, seed: int) -> torch.Tensor:
    """``signal`` plus seeded white noise at each SNR (dB) of ``snr``: (levels, T)."""
    noise = torch.randn(signal.numel(), generator=torch.Generator().manual_seed(seed))
    return AF.add_noise(signal.expand(len(snr), -1), noise.expand(len(snr), -1), snr)


def _variants(signal: torch.Tensor, sample_rate: int, plan: Mapping[str, Sequence[float]],
              seed: int, shared: bool) -> list[tuple[str, float, torch.Tensor]]:
    """The perturbed versions of a checked ``signal``: one STFT, one noise draw, one room
    response per level. ``shared`` analyses the STFT frames once for every pitch and stretch
    level (:func:`_shared_vocoder`) and convolves all rooms with one fast FFT size; without it
    (:func:`perturb`, one level per call) every step is plain torchaudio."""
    n_fft, length = _n_fft(sample_rate), signal.numel()
    hop, window = n_fft // 4, torch.hann_window(n_fft)
    spectrogram = None
    if {"pitch", "stretch"} & {_FEATURE_OF[family] for family in plan}:
        spectrogram = torch.stft(signal, n_fft, hop, window=window, return_complex=True)
    vocoder = _shared_vocoder if shared else _vocoder
    variants = []
    for family, levels in plan.items():
        feature = _FEATURE_OF[family]
        if feature == "pitch":
            ratios = [_pitch_ratio(level) for level in levels]
            slow = vocoder(spectrogram, [float(1 / ratio) for ratio in ratios], hop)
            waves = []
            for ratio, frames in zip(ratios, slow, strict=True):
                stretched = torch.istft(frames, n_fft, hop, window=window,
                                        length=round(length * ratio))
                shifted = AF.resample(stretched, ratio.numerator, ratio.denominator)
                waves.append(torch.nn.functional.pad(
                    shifted, (0, max(0, length - shifted.numel())))[:length])
        elif feature == "stretch":
            fast = vocoder(spectrogram, [1 / level for level in levels], hop)
            waves = [torch.istft(frames, n_fft, hop, window=window, length=round(length * level))
                     for level, frames in zip(levels, fast, strict=True)]
        elif feature == "reverb":
            waves = _reverberate(signal, [room_impulse_response(level, sample_rate, seed=seed)
                                          for level in levels], shared)
        else:
            waves = _add_noise(signal, torch.tensor(levels, dtype=torch.float32), seed)
        variants += [(family, level, wave) for level, wave in zip(levels, waves, strict=True)]
    return variants


def perturb(waveform: torch.Tensor | np.ndarray, sample_rate: int, family: str, level: float,
            seed: int = 0) -> torch.Tensor:
    """One perturbed version (1-D float32, same sample rate) of ``waveform`` at ``level`` of
    ``family`` (units in :data:`UNITS`); ``seed`` draws the room response and the noise.

    Pitch shift and time stretch use ``torchaudio.functional.phase_vocoder`` (pitch: stretch
    by the ratio 2^(n/12), then ``resample`` back), reverberation ``fftconvolve`` with
    :func:`room_impulse_response`, noise ``add_noise``. Raises ``ValueError`` for an unknown
    family, a level outside the family's reference range, a waveform shorter than the STFT
    window (about 25 ms) or with non-finite samples.
    """
    signal = _check_waveform(waveform, sample_rate)
    levels = _check_family(family)
    if not min(levels) <= level <= max(levels):
        raise ValueError(f"{family} level {level} ({UNITS[family]}) is outside the reference "
                         f"range [{min(levels)}, {max(levels)}]")
    return _variants(signal, sample_rate, {family: (float(level),)}, seed, shared=False)[0][2]


def perturbations(waveform: torch.Tensor | np.ndarray, sample_rate: int,
                  families: str | Sequence[str] | None = None, seed: int = 0
                  ) -> list[tuple[str, float, torch.Tensor]]:
    """``(family, level, perturbed waveform)`` for every level of ``families`` (default: all of
    :data:`FAMILIES`): equal (allclose) to :func:`perturb` level by level, but sharing one STFT
    and its phase-vocoder analysis across the pitch and stretch levels and batching the rooms
    and the noise levels."""
    return _variants(_check_waveform(waveform, sample_rate), sample_rate, _plan(families), seed,
                     shared=True)


def _class_name(slot: str, index: int, class_names: Mapping[str, Sequence[str]] | None
                ) -> str | int:
    return class_names[slot][index] if class_names and slot in class_names else index


PARALINGUISTIC_METHOD = "paralinguistic"


@dataclass(frozen=True, eq=False)
class ParalinguisticImportance(Explanation):
    """A paralinguistic explanation of one utterance (Pastor et al., 2024, Sec. 2.2): an
    :class:`~speechxai.attribution.explanation.Explanation` with one output per slot
    (``slot=class``, ``outputs`` f(y=k|x)) and one feature per perturbed version x~ (axis
    ``perturbation``, ``"<family> <level>"``), ``data`` NaN.

    ``variants``: (family, level) of each perturbed version, in order; ``differences``:
    slot -> f(y=k|x) - f(y=k|x~) per variant (the cells of Fig. 2, its ``values``);
    ``slot_targets``: slot -> explained class k; ``probabilities``: slot -> f(y=k|x).
    """

    variants: tuple[tuple[str, float], ...] = ()

    @classmethod
    def of(cls, targets: Mapping[str, int], probabilities: Mapping[str, float],
           variants: Sequence[tuple[str, float]], differences: Mapping[str, np.ndarray]
           ) -> ParalinguisticImportance:
        """The explanation of the slots ``targets`` names (slot -> class k), in its order."""
        slots = list(targets)
        values = np.stack([np.asarray(differences[slot]) for slot in slots])
        variants = tuple((family, float(level)) for family, level in variants)
        return cls(values=values, data=np.full(values.shape, np.nan),
                   method=PARALINGUISTIC_METHOD, targets=[targets[s] for s in slots],
                   outputs=[probabilities[s] for s in slots],
                   axes=(Axis("perturbation", "", np.array([f"{family} {level:g}"
                                                            for family, level in variants])),),
                   output_names=tuple(slot_output_name(slot, targets[slot]) for slot in slots),
                   variants=variants)

    @classmethod
    def from_explanation(cls, explanation: Explanation) -> ParalinguisticImportance:
        """A paralinguistic explanation (e.g. pooled by
        :func:`~speechxai.attribution.explanation.concatenate`) as a ParalinguisticImportance
        again; AttributionError for an explanation of anything else."""
        slots = slot_rows(explanation, PARALINGUISTIC_METHOD, "perturbation", "paralinguistic")
        variants = tuple((family, float(level)) for family, _, level
                         in (str(name).rpartition(" ") for name in explanation.axes[0].coords))
        return cls.of(dict(zip(slots, explanation.targets.tolist(), strict=True)),
                      dict(zip(slots, explanation.outputs.tolist(), strict=True)), variants,
                      {slot: explanation.values[k] for k, slot in enumerate(slots)})

    @property
    def slot_targets(self) -> dict[str, int]:
        """slot -> the explained class k."""
        return dict(zip((output_slot(name) for name in self.output_names),
                        self.targets.tolist(), strict=True))

    @property
    def probabilities(self) -> dict[str, float]:
        """slot -> f(y=k|x)."""
        return dict(zip(self.slot_targets, self.outputs.tolist(), strict=True))

    @property
    def differences(self) -> dict[str, np.ndarray]:
        """slot -> f(y=k|x) - f(y=k|x~) per variant."""
        return dict(zip(self.slot_targets, self.values, strict=True))

    def table(self, class_names: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
        """Table 2 of the paper: one row per slot with the explained class (``target``, named
        by ``class_names[slot]`` if given), f(y=k|x) (``probability``) and r(p) per family
        (the mean difference over its levels)."""
        names = [family for family, _ in self.variants]
        families = np.array(names)
        probabilities, differences = self.probabilities, self.differences
        rows = {slot: {"target": _class_name(slot, target, class_names),
                       "probability": probabilities[slot],
                       **{family: float(differences[slot][families == family].mean())
                          for family in dict.fromkeys(names)}}
                for slot, target in self.slot_targets.items()}
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis("slot")

    def levels_table(self, feature: str, class_names: Mapping[str, Sequence[str]] | None = None
                     ) -> pd.DataFrame:
        """The Fig. 2 heatmap of ``feature`` ("pitch", "stretch", "reverb" or "noise"): rows
        "slot=class", columns its levels in order of strength with the unperturbed reference
        (:data:`REFERENCE`, difference 0), cells f(y=k|x) - f(y=k|x~)."""
        if feature not in FEATURES:
            raise ValueError(f"unknown feature {feature!r}; choose from {', '.join(FEATURES)}")
        columns = [index for index, (family, _) in enumerate(self.variants)
                   if _FEATURE_OF[family] == feature]
        if not columns:
            raise ValueError(f"this explanation has no {feature} perturbations")
        levels = [self.variants[index][1] for index in columns] + [REFERENCE[feature]]
        order = np.argsort(levels)[::-1 if feature == "noise" else 1]
        differences = self.differences
        rows = {slot_output_name(slot, _class_name(slot, target, class_names)):
                np.append(differences[slot][columns], 0.0)[order]
                for slot, target in self.slot_targets.items()}
        return pd.DataFrame.from_dict(rows, orient="index",
                                      columns=pd.Index(np.array(levels)[order], name=feature))


def paralinguistic_importance(predict_proba: PredictProba, waveform: torch.Tensor | np.ndarray,
                              sample_rate: int, families: str | Sequence[str] | None = None,
                              targets: Mapping[str, int] | None = None, seed: int = 0,
                              batched: bool = True) -> ParalinguisticImportance:
    """Paralinguistic explanation (Eq. 2 of Pastor et al., 2024) of a black-box classifier
    (:mod:`speechxai.attribution.blackbox`) on one utterance.

    ``targets`` maps slots to the explained class (default: every slot's prediction on x).
    ``batched=True`` computes all perturbations together (:func:`perturbations`) and classifies
    them with the original in one call; ``batched=False`` perturbs and classifies one version
    at a time (:func:`perturb`), the reference of the benchmark, with the same numbers.
    """
    signal = _check_waveform(waveform, sample_rate)
    plan = _plan(families)
    pairs = tuple((family, level) for family, levels in plan.items() for level in levels)
    if batched:
        variants = _variants(signal, sample_rate, plan, seed, shared=True)
        tables = slot_probabilities(predict_proba, [signal] + [wave for *_, wave in variants])
        original = {slot: table[0] for slot, table in tables.items()}
        perturbed = {slot: table[1:] for slot, table in tables.items()}
    else:
        original = {slot: table[0] for slot, table in
                    slot_probabilities(predict_proba, [signal]).items()}
        rows = [slot_probabilities(predict_proba, [perturb(signal, sample_rate, family, level,
                                                           seed)])
                for family, level in pairs]
        perturbed = {slot: np.concatenate([row[slot] for row in rows]) for slot in original}
    chosen = ({slot: int(row.argmax()) for slot, row in original.items()} if targets is None
              else {slot: int(target) for slot, target in targets.items()})
    for slot, target in chosen.items():
        if slot not in original:
            raise ValueError(f"target slot {slot!r} is not among the classifier's slots "
                             f"{', '.join(original)}")
        if not 0 <= target < original[slot].size:
            raise ValueError(f"target {target} of slot {slot!r} is not one of its "
                             f"{original[slot].size} classes")
    return ParalinguisticImportance.of(
        chosen, {slot: float(original[slot][k]) for slot, k in chosen.items()}, pairs,
        {slot: mutated("paralinguistic", original[slot][k] - perturbed[slot][:, k])
         for slot, k in chosen.items()})
