"""Channel augmentation: what a recording goes through between a mouth and a model.

Models trained on clean synthetic voices (or on one corpus's microphones) fail on other
recordings because they learn the channel along with the speech. ``Augmentation`` draws,
per clip and from a seeded generator, the perturbations of everyday recordings, in this
order: speed/pitch change by resampling, placement in the 1-s frame (the AudioMNIST
augmentation, Becker et al. 2018), room reverberation (a simulated shoebox room,
``pyroomacoustics``' image-source method, Allen & Berkley 1979), microphone colouring
(band limits, spectral tilt, resonances), coloured background noise at a random SNR over
the whole frame, and a random level. Each step has a probability, so the clean signal
stays in the training distribution. The measured effect of each step on real speech is in
``benchmarks/README.md`` (the ablation table).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torchaudio
import torchaudio.functional as AF
from scipy.fft import next_fast_len
from torch import nn
from torch.nn.utils.rnn import pad_sequence

from speechxai.datasets.real import Utterance
from speechxai.features import resample
from speechxai.locking import exclusive_lock


@dataclass(frozen=True)
class Augmentation:
    """Probabilities and ranges of each step; ``Augmentation()`` is the book's recipe.

    Ranges are (low, high), drawn uniformly. ``speed``: factor on duration and pitch;
    ``rt60``: target reverberation times in s of ``rooms`` simulated rooms; ``highpass_hz`` /
    ``lowpass_hz``: microphone band edges; ``tilt_db``: gain at the Nyquist frequency
    against DC; ``peaks_db``: gain of each of ``n_peaks`` resonances or notches;
    ``noise_exponent``: ``a`` of 1/f^a noise (0 white, 1 pink, 2 brown); ``snr_db``: signal
    to noise ratio over the speech; ``peak_dbfs``: the clip's peak level.
    """

    p_speed: float = 0.8
    speed: tuple[float, float] = (0.9, 1.1)
    p_reverb: float = 0.7
    rt60: tuple[float, float] = (0.2, 0.8)
    rooms: int = 32
    p_microphone: float = 0.9
    highpass_hz: tuple[float, float] = (60.0, 400.0)
    lowpass_hz: tuple[float, float] = (2000.0, 3900.0)
    tilt_db: tuple[float, float] = (-6.0, 6.0)
    n_peaks: int = 3
    peaks_db: tuple[float, float] = (-8.0, 8.0)
    p_noise: float = 0.9
    noise_exponent: tuple[float, float] = (0.0, 2.0)
    snr_db: tuple[float, float] = (5.0, 30.0)
    peak_dbfs: tuple[float, float] = (-20.0, -1.0)

    def frames(self, signals: Sequence[torch.Tensor], sample_rate: int, length: int,
               rng: np.random.Generator) -> torch.Tensor:
        """(N, ``length``) frames: each 1-D signal perturbed and placed at a random offset.

        Every clip's random choices are drawn in turn from ``rng`` (speed, offset, then
        :meth:`draw_channel`), then each step runs once on the whole batch
        (:func:`apply_channels`)."""
        frames = torch.zeros(len(signals), length)
        speech = torch.zeros(len(signals), length, dtype=torch.bool)
        draws = []
        for row, signal in enumerate(signals):
            signal = self.speed_change(signal, sample_rate, rng)[:length]
            offset = int(rng.integers(0, length - signal.numel() + 1))
            frames[row, offset:offset + signal.numel()] = signal
            speech[row, offset:offset + signal.numel()] = True
            draws.append(self.draw_channel(sample_rate, length, rng))
        return apply_channels(frames, speech, draws, sample_rate, self.room_responses(sample_rate))

    def recording(self, signal: torch.Tensor, sample_rate: int,
                  rng: np.random.Generator) -> torch.Tensor:
        """``signal`` (1-D, any length: a digit sequence for the recognisers) at a random
        speed and through a random channel; its noise fills the gaps between words too."""
        signal = self.speed_change(signal, sample_rate, rng)[None]
        draw = self.draw_channel(sample_rate, signal.shape[1], rng)
        return apply_channels(signal, torch.ones_like(signal, dtype=torch.bool), [draw],
                              sample_rate, self.room_responses(sample_rate))[0]

    def speed_change(self, signal: torch.Tensor, sample_rate: int,
                     rng: np.random.Generator) -> torch.Tensor:
        """``signal`` at a random speed with probability ``p_speed``."""
        if rng.random() < self.p_speed:
            return change_speed(signal, sample_rate, rng.uniform(*self.speed))
        return signal

    def room_responses(self, sample_rate: int) -> tuple[torch.Tensor, ...]:
        """The impulse responses of the simulated rooms from their direct paths on
        (:func:`direct_path_responses`)."""
        return direct_path_responses(sample_rate, self.rt60, self.rooms)

    def draw_channel(self, sample_rate: int, length: int,
                     rng: np.random.Generator) -> ChannelDraw:
        """One clip's random room, microphone, background noise and level; a step is
        skipped (None) with one minus its probability."""
        room = int(rng.integers(self.rooms)) if rng.random() < self.p_reverb else None
        microphone = (self.draw_microphone(sample_rate, rng)
                      if rng.random() < self.p_microphone else None)
        noise = None
        if rng.random() < self.p_noise:
            exponent = rng.uniform(*self.noise_exponent)
            noise = (exponent, rng.standard_normal(length), rng.uniform(*self.snr_db))
        return ChannelDraw(room, microphone, noise, rng.uniform(*self.peak_dbfs))

    def draw_microphone(self, sample_rate: int, rng: np.random.Generator) -> Microphone:
        """A random microphone and line: band limits, ``n_peaks`` resonances and a tilt."""
        nyquist = sample_rate / 2
        highpass = rng.uniform(*self.highpass_hz)
        lowpass = min(rng.uniform(*self.lowpass_hz), 0.95 * nyquist)
        peaks = []
        for _ in range(self.n_peaks):
            centre = math.exp(rng.uniform(math.log(200.0), math.log(0.9 * nyquist)))
            peaks.append((centre, rng.uniform(*self.peaks_db), rng.uniform(0.7, 3.0)))
        return Microphone(highpass, lowpass, tuple(peaks), rng.uniform(*self.tilt_db))


TRAINING_AUGMENTATIONS = {
    "channel": Augmentation(),
    "speed": Augmentation(p_reverb=0.0, p_microphone=0.0, p_noise=0.0),
}
"""What ``TrainingConfig.augment`` names: every step of the channel, or the speed
perturbation alone (Ko et al. 2015; with the random level, which AudioNet's percentile scaling
undoes). AudioNet's digit model on FSDD learns through the second, not the first, within the
quick budget (``benchmarks/README.md``, 2026-12-08)."""


@dataclass(frozen=True)
class Microphone:
    """Band edges in Hz, resonances (centre Hz, gain dB, Q) and the tilt in dB at Nyquist."""

    highpass_hz: float
    lowpass_hz: float
    peaks: tuple[tuple[float, float, float], ...]
    tilt_db: float


@dataclass(frozen=True)
class ChannelDraw:
    """One clip's channel: room index, microphone, noise (exponent, white samples, SNR in dB)
    and peak level in dBFS; None skips a step."""

    room: int | None
    microphone: Microphone | None
    noise: tuple[float, np.ndarray, float] | None
    peak_dbfs: float


def apply_channels(frames: torch.Tensor, speech: torch.Tensor, draws: Sequence[ChannelDraw],
                   sample_rate: int, rooms: Sequence[torch.Tensor]) -> torch.Tensor:
    """(N, L) ``frames`` through their channels, each step once for the rows it applies to:
    room (:func:`reverberate`), microphone (:func:`colour`), noise at an SNR measured over
    the ``speech`` mask (:func:`add_noise`), peak level (:func:`at_peak`)."""
    frames = frames.clone()

    def rows(step: str) -> list[int]:
        return [row for row, draw in enumerate(draws) if getattr(draw, step) is not None]

    if reverberated := rows("room"):
        frames[reverberated] = reverberate(
            frames[reverberated], [rooms[draws[row].room] for row in reverberated])
    if coloured := rows("microphone"):
        frames[coloured] = colour(frames[coloured], sample_rate,
                                  [draws[row].microphone for row in coloured])
    if noisy := rows("noise"):
        noise = coloured_noise(
            torch.from_numpy(np.stack([draws[row].noise[1] for row in noisy])).float(),
            torch.tensor([draws[row].noise[0] for row in noisy]))
        frames[noisy] = add_noise(frames[noisy], noise,
                                  torch.tensor([draws[row].noise[2] for row in noisy]),
                                  speech[noisy])
    return at_peak(frames, torch.tensor([draw.peak_dbfs for draw in draws]))


def change_speed(signal: torch.Tensor, sample_rate: int, factor: float) -> torch.Tensor:
    """``signal`` played ``factor`` times faster (and higher), by resampling to a rate
    rounded to 100 Hz, so the resampling kernel stays small (a rate pair with a large
    common factor)."""
    slower_rate = int(round(sample_rate / factor / 100.0)) * 100
    return resample(signal, sample_rate, slower_rate)


ROOM_SEED = 20_241_205


@functools.lru_cache(maxsize=4)
def room_bank(sample_rate: int, rt60: tuple[float, float], size: int
              ) -> tuple[tuple[float, torch.Tensor], ...]:
    """:func:`simulate_rooms`' bank, simulated once per data folder: the first process to
    ask writes it to ``data_root()/rooms`` (keyed by the arguments, :data:`ROOM_SEED`,
    pyroomacoustics' version and the simulating code; written atomically under a lock, with
    a checksum), every later one reads it back bit for bit (the simulation takes about 9 s
    of one core for 32 rooms at 8 kHz, in each chapter that augments). A damaged file is
    reported and simulated again."""
    import pyroomacoustics as pra

    from speechxai.datasets.corpus import data_root
    from speechxai.model_cache import CorruptModel, cache_file, code_version, load, save

    path = cache_file(data_root() / "rooms", "rooms", sample_rate, tuple(rt60), size,
                      ROOM_SEED, pra.__version__, code_version(simulate_rooms,
                                                               reverberation_time))
    with exclusive_lock(path):
        if path.exists():
            try:
                saved = load(path)
                return tuple(zip(saved["rt60"], saved["responses"], strict=True))
            except CorruptModel as error:
                print(f"room bank: {error}; simulating the rooms again")
        rooms = simulate_rooms(sample_rate, rt60, size)
        save({"rt60": [rt for rt, _ in rooms], "responses": [r for _, r in rooms]}, path)
        return rooms


@functools.lru_cache(maxsize=4)
def direct_path_responses(sample_rate: int, rt60: tuple[float, float], size: int
                          ) -> tuple[torch.Tensor, ...]:
    """:func:`room_bank`'s impulse responses, each from its direct path (its largest
    magnitude) on: convolved with one, a sound keeps its place in the frame."""
    return tuple(response[int(torch.argmax(response.abs())):]
                 for _, response in room_bank(sample_rate, rt60, size))


def simulate_rooms(sample_rate: int, rt60: tuple[float, float], size: int
                   ) -> tuple[tuple[float, torch.Tensor], ...]:
    """``size`` room impulse responses of shoebox rooms simulated with pyroomacoustics'
    image-source method (Allen & Berkley 1979), with reverberation times spread over
    ``rt60`` and random room sizes, source and microphone positions, from a fixed seed.
    Returns (measured rt60 (:func:`reverberation_time`), impulse response normalised to a
    unit direct path) pairs. Sabine's formula, which sets the walls' absorption, misses the
    simulated room's decay by up to 40 %, so each room carries its measured time.

    The randomised image sources draw from pyroomacoustics' package-wide generator, which
    is seeded here (and left seeded): unseeded, every process simulated other rooms."""
    import pyroomacoustics as pra

    rng = np.random.default_rng(ROOM_SEED)
    pra.random.seed(numpy=ROOM_SEED, libroom=ROOM_SEED)
    rooms = []
    for target in np.linspace(*rt60, size):
        dimensions = rng.uniform([3.0, 3.0, 2.4], [10.0, 8.0, 4.0])
        absorption, max_order = pra.inverse_sabine(float(target), dimensions)
        room = pra.ShoeBox(dimensions, fs=sample_rate, materials=pra.Material(absorption),
                           max_order=max_order, use_rand_ism=True,
                           max_rand_disp=0.05)
        room.add_source(rng.uniform(0.5, dimensions - 0.5))
        room.add_microphone(rng.uniform(0.5, dimensions - 0.5))
        room.compute_rir()
        response = np.asarray(room.rir[0][0], dtype=np.float64)
        response = response / np.abs(response).max()
        response = torch.from_numpy(response).float()
        rooms.append((reverberation_time(response, sample_rate), response))
    return tuple(rooms)


def reverberation_time(response: torch.Tensor, sample_rate: int) -> float:
    """RT60 of an impulse response by Schroeder's backward integration: three times the
    time its energy decay curve takes from -5 to -25 dB (T20, ISO 3382)."""
    energy = torch.flip(torch.cumsum(torch.flip(response.double() ** 2, [0]), 0), [0])
    decay_db = 10 * torch.log10(energy / energy[0])
    first, last = (int(torch.nonzero(decay_db < level)[0]) for level in (-5.0, -25.0))
    return 3 * (last - first) / sample_rate


def reverberate(frames: torch.Tensor, responses: Sequence[torch.Tensor]) -> torch.Tensor:
    """(N, L) ``frames``, each convolved with its room response (starting at its direct
    path: :func:`direct_path_responses`), or one frame (1, L) with each of the responses, cut
    to the frame's length (the tail past it is lost, as in a recording that stops).

    Taps past L cannot reach the kept samples, so the responses are cut to L, and the FFT
    takes the fast length (scipy's ``next_fast_len``) at or above L + M - 1 (M the longest
    cut response), where no wrap-around reaches them: e.g. 16,000 instead of 25,778 = 2 x
    12,889 (a prime, pocketfft's slow path) for a 1-s frame at 8 kHz and the longest
    simulated room."""
    length = frames.shape[-1]
    stacked = pad_sequence([response[:length] for response in responses], batch_first=True)
    size = next_fast_len(length + stacked.shape[-1] - 1, real=True)
    spectrum = torch.fft.rfft(frames, n=size) * torch.fft.rfft(stacked, n=size)
    return torch.fft.irfft(spectrum, n=size)[..., :length]


def colour(frames: torch.Tensor, sample_rate: int,
           microphones: Sequence[Microphone]) -> torch.Tensor:
    """(N, L) ``frames``, row ``i`` through ``microphones[i]``: high-pass and low-pass
    biquads, its peaking biquads, then its tilt (the filters of torchaudio's
    ``highpass_biquad``, ``lowpass_biquad`` and ``equalizer_biquad``, one ``lfilter`` call per
    stage for the whole batch)."""
    stages = [biquad_coefficients("highpass", sample_rate, [m.highpass_hz for m in microphones]),
              biquad_coefficients("lowpass", sample_rate, [m.lowpass_hz for m in microphones])]
    for peak in range(len(microphones[0].peaks)):
        centres, gains, qs = zip(*(m.peaks[peak] for m in microphones), strict=True)
        stages.append(biquad_coefficients("peaking", sample_rate, centres, gains, qs))
    for a, b in stages:
        frames = AF.lfilter(frames, a, b, batching=True)
    return tilt(frames, torch.tensor([m.tilt_db for m in microphones]))


def biquad_coefficients(kind: str, sample_rate: int, frequencies: Sequence[float],
                        gains_db: Sequence[float] | None = None,
                        qs: Sequence[float] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 3) denominator and numerator coefficients of N biquads of one ``kind``
    ("highpass", "lowpass" with Q 0.707, "peaking" with ``gains_db`` and ``qs``), by the
    Audio EQ Cookbook (R. Bristow-Johnson) formulas that torchaudio's biquad functions use,
    for :func:`torchaudio.functional.lfilter` with ``batching=True``."""
    w0 = 2 * math.pi * torch.tensor(frequencies, dtype=torch.float64) / sample_rate
    cos, sin = torch.cos(w0), torch.sin(w0)
    if kind == "peaking":
        gain = torch.exp(torch.tensor(gains_db, dtype=torch.float64) / 40.0 * math.log(10))
        alpha = sin / 2 / torch.tensor(qs, dtype=torch.float64)
        b = [1 + alpha * gain, -2 * cos, 1 - alpha * gain]
        a = [1 + alpha / gain, -2 * cos, 1 - alpha / gain]
    elif kind in ("highpass", "lowpass"):
        alpha = sin / 2 / 0.707
        edge = (1 + cos) / 2 if kind == "highpass" else (1 - cos) / 2
        b = [edge, -1 - cos if kind == "highpass" else 1 - cos, edge]
        a = [1 + alpha, -2 * cos, 1 - alpha]
    else:
        raise ValueError(f"unknown biquad {kind!r}; choose highpass, lowpass or peaking")
    return torch.stack(a, 1).float(), torch.stack(b, 1).float()


def tilt(frames: torch.Tensor, db_at_nyquist: torch.Tensor) -> torch.Tensor:
    """(N, L) ``frames`` with linear spectral tilts: gain 0 dB at DC rising (or falling) to
    ``db_at_nyquist`` (N,)."""
    spectrum = torch.fft.rfft(frames)
    gain_db = db_at_nyquist[:, None] * torch.linspace(0.0, 1.0, spectrum.shape[1])
    return torch.fft.irfft(spectrum * 10 ** (gain_db / 20), n=frames.shape[1])


def coloured_noise(white: torch.Tensor, exponents: torch.Tensor) -> torch.Tensor:
    """(N, L) Gaussian ``white`` noise shaped so its power falls as 1/f^``exponents`` (N,)
    (0 white, 1 pink, 2 brown)."""
    spectrum = torch.fft.rfft(white)
    frequencies = torch.arange(spectrum.shape[1], dtype=torch.float32).clamp(min=1.0)
    return torch.fft.irfft(spectrum / frequencies ** (exponents[:, None] / 2), n=white.shape[1])


def add_noise(frames: torch.Tensor, noise: torch.Tensor, snr_db: torch.Tensor,
              speech: torch.Tensor) -> torch.Tensor:
    """(N, L) ``frames`` plus ``noise`` over the whole frame at ``snr_db`` (N,) measured over
    the ``speech`` mask (so a short word in a long frame is not drowned by a level set for the
    frame); a silent frame or noise is left as it is."""
    signal_power = (frames.pow(2) * speech).sum(1) / speech.sum(1).clamp(min=1)
    noise_power = noise.pow(2).mean(1)
    scale = torch.sqrt(signal_power / noise_power.clamp(min=1e-30) / 10 ** (snr_db / 10))
    scale[(signal_power == 0) | (noise_power == 0)] = 0.0
    return frames + noise * scale[:, None]


def at_peak(frames: torch.Tensor, peak_dbfs: torch.Tensor) -> torch.Tensor:
    """(N, L) ``frames`` scaled so each peak magnitude is ``peak_dbfs`` (N,) dB below full
    scale (a silent frame stays silent)."""
    peaks = frames.abs().amax(1)
    gain = torch.where(peaks > 0, 10 ** (peak_dbfs / 20) / peaks.clamp(min=1e-30), 1.0)
    return frames * gain[:, None]


CHANNEL_RATE = 8000
"""Sample rate of the recordings :func:`with_channel_copies` adds: the room bank and the
microphone ranges are the AudioMNIST classifiers' (8 kHz), and the recognisers' features
end at 4 kHz (DeepSpeech's MFCC filters) or lose little above it."""


def with_channel_copies(items: list, copies: int, seed: int,
                        augmentation: Augmentation | None = None) -> list:
    """``items`` (with ``waveform``, ``sample_rate``, ``transcript``) followed by ``copies``
    versions of each through :meth:`Augmentation.recording` at :data:`CHANNEL_RATE`, drawn
    from a generator seeded by ``seed``: the recognisers' training sets, whose features are
    computed once per recording, so each copy is one fixed random channel."""
    if copies < 0:
        raise ValueError(f"copies must be >= 0, got {copies}")
    augmentation = augmentation or Augmentation()
    rng = np.random.default_rng(seed)
    extra = [Utterance(augmentation.recording(resample(item.waveform, item.sample_rate,
                                                       CHANNEL_RATE), CHANNEL_RATE, rng),
                       CHANNEL_RATE, item.transcript)
             for _ in range(copies) for item in items]
    return list(items) + extra


def spec_augment_masks(masks: Sequence[int] | None) -> tuple[int, int] | None:
    """``masks`` as a (max frequency bins, max frames) tuple of SpecAugment (Park et al.
    2019), or None; anything else than two counts >= 0 raises ``ValueError``."""
    if masks is None:
        return None
    masks = tuple(int(v) for v in masks)
    if len(masks) != 2 or min(masks) < 0:
        raise ValueError(f"spec_augment must be (max frequency bins, max frames) >= 0, got "
                         f"{masks}")
    return masks


def spec_augment_transform(masks: tuple[int, int] | None) -> nn.Module:
    """SpecAugment (Park et al. 2019) of a (..., frequency, time) batch: one random band of
    up to ``masks[0]`` frequency bins and one random span of up to ``masks[1]`` frames set
    to zero, drawn independently per example from torch's global generator (seeded with the
    training run)."""
    if masks is None or not any(masks):
        return nn.Identity()
    bins, frames = masks
    return nn.Sequential(torchaudio.transforms.FrequencyMasking(bins, iid_masks=True),
                         torchaudio.transforms.TimeMasking(frames, iid_masks=True))
