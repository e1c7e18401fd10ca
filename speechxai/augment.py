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
from dataclasses import dataclass

import numpy as np
import torch
import torchaudio.functional as AF

from speechxai.datasets.real import Utterance
from speechxai.features import resample


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

    def frame(self, signal: torch.Tensor, sample_rate: int, length: int,
              rng: np.random.Generator) -> torch.Tensor:
        """``signal`` (1-D) perturbed and placed at a random offset in ``length`` samples."""
        signal = self.speed_change(signal, sample_rate, rng)[:length]
        offset = int(rng.integers(0, length - signal.numel() + 1))
        frame = torch.zeros(length)
        frame[offset:offset + signal.numel()] = signal
        return self.channel(frame, sample_rate, rng, slice(offset, offset + signal.numel()))

    def recording(self, signal: torch.Tensor, sample_rate: int,
                  rng: np.random.Generator) -> torch.Tensor:
        """``signal`` (1-D, any length: a digit sequence for the recognisers) at a random
        speed and through a random channel; its noise fills the gaps between words too."""
        signal = self.speed_change(signal, sample_rate, rng)
        return self.channel(signal, sample_rate, rng, slice(0, signal.numel()))

    def speed_change(self, signal: torch.Tensor, sample_rate: int,
                     rng: np.random.Generator) -> torch.Tensor:
        """``signal`` at a random speed with probability ``p_speed``."""
        if rng.random() < self.p_speed:
            return change_speed(signal, sample_rate, rng.uniform(*self.speed))
        return signal

    def channel(self, frame: torch.Tensor, sample_rate: int, rng: np.random.Generator,
                speech: slice) -> torch.Tensor:
        """``frame`` through a random room, microphone, background noise (its SNR measured
        over ``speech``) and level."""
        if rng.random() < self.p_reverb:
            rooms = room_bank(sample_rate, self.rt60, self.rooms)
            frame = reverberate(frame, rooms[int(rng.integers(len(rooms)))][1])
        if rng.random() < self.p_microphone:
            frame = self.colour(frame, sample_rate, rng)
        if rng.random() < self.p_noise:
            noise = coloured_noise(frame.numel(), rng.uniform(*self.noise_exponent), rng)
            frame = add_noise(frame, noise, rng.uniform(*self.snr_db), speech)
        return at_peak(frame, rng.uniform(*self.peak_dbfs))

    def colour(self, frame: torch.Tensor, sample_rate: int,
               rng: np.random.Generator) -> torch.Tensor:
        """A random microphone and line: band limits, a tilt and ``n_peaks`` resonances."""
        nyquist = sample_rate / 2
        frame = AF.highpass_biquad(frame, sample_rate, rng.uniform(*self.highpass_hz))
        lowpass = min(rng.uniform(*self.lowpass_hz), 0.95 * nyquist)
        frame = AF.lowpass_biquad(frame, sample_rate, lowpass)
        for _ in range(self.n_peaks):
            centre = math.exp(rng.uniform(math.log(200.0), math.log(0.9 * nyquist)))
            frame = AF.equalizer_biquad(frame, sample_rate, centre, rng.uniform(*self.peaks_db),
                                        Q=rng.uniform(0.7, 3.0))
        return tilt(frame, rng.uniform(*self.tilt_db))


def change_speed(signal: torch.Tensor, sample_rate: int, factor: float) -> torch.Tensor:
    """``signal`` played ``factor`` times faster (and higher), by resampling to a rate
    rounded to 100 Hz, so the resampling kernel stays small (a rate pair with a large
    common factor)."""
    slower_rate = int(round(sample_rate / factor / 100.0)) * 100
    return resample(signal, sample_rate, slower_rate)


@functools.lru_cache(maxsize=4)
def room_bank(sample_rate: int, rt60: tuple[float, float], size: int
              ) -> tuple[tuple[float, torch.Tensor], ...]:
    """``size`` room impulse responses of shoebox rooms simulated with pyroomacoustics'
    image-source method (Allen & Berkley 1979), with reverberation times spread over
    ``rt60`` and random room sizes, source and microphone positions, from a fixed seed.
    Returns (measured rt60 (:func:`reverberation_time`), impulse response normalised to a
    unit direct path) pairs. Sabine's formula, which sets the walls' absorption, misses the
    simulated room's decay by up to 40 %, so each room carries its measured time."""
    import pyroomacoustics as pra

    rng = np.random.default_rng(20_241_205)
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


def reverberate(frame: torch.Tensor, response: torch.Tensor) -> torch.Tensor:
    """``frame`` convolved with a room ``response`` from its direct path on, cut to the
    frame's length (the tail past it is lost, as in a recording that stops)."""
    start = int(torch.argmax(response.abs()))  # the direct path arrives at time zero
    return AF.fftconvolve(frame, response[start:])[: frame.numel()]


def tilt(frame: torch.Tensor, db_at_nyquist: float) -> torch.Tensor:
    """A linear spectral tilt: gain 0 dB at DC rising (or falling) to ``db_at_nyquist``."""
    spectrum = torch.fft.rfft(frame)
    gain_db = torch.linspace(0.0, db_at_nyquist, spectrum.numel())
    return torch.fft.irfft(spectrum * 10 ** (gain_db / 20), n=frame.numel())


def coloured_noise(length: int, exponent: float, rng: np.random.Generator) -> torch.Tensor:
    """Gaussian noise whose power falls as 1/f^``exponent`` (0 white, 1 pink, 2 brown)."""
    white = torch.from_numpy(rng.standard_normal(length)).float()
    spectrum = torch.fft.rfft(white)
    frequencies = torch.arange(spectrum.numel(), dtype=torch.float32).clamp(min=1.0)
    return torch.fft.irfft(spectrum / frequencies ** (exponent / 2), n=length)


def add_noise(frame: torch.Tensor, noise: torch.Tensor, snr_db: float,
              speech: slice) -> torch.Tensor:
    """``frame`` plus ``noise`` over the whole frame at ``snr_db`` measured over ``speech``
    (so a short word in a long frame is not drowned by a level set for the frame)."""
    signal_power = frame[speech].pow(2).mean()
    noise_power = noise.pow(2).mean()
    if signal_power == 0 or noise_power == 0:
        return frame
    return frame + noise * torch.sqrt(signal_power / noise_power / 10 ** (snr_db / 10))


def at_peak(frame: torch.Tensor, peak_dbfs: float) -> torch.Tensor:
    """``frame`` scaled so its peak magnitude is ``peak_dbfs`` dB below full scale."""
    peak = frame.abs().max()
    return frame if peak == 0 else frame * (10 ** (peak_dbfs / 20) / peak)


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
