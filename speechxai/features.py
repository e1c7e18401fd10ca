"""Time-frequency features computed with torchaudio."""

from __future__ import annotations

import numpy as np
import torch
import torchaudio


def spectrogram_db(
    waveform: np.ndarray | torch.Tensor,
    sample_rate: int,
    window_ms: float = 25.0,
    hop_ms: float = 10.0,
    top_db: float = 80.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Power spectrogram in dB (Hann window) for display.

    Returns ``(power_db, frequencies_hz, frame_times_s)`` with ``power_db`` shaped
    (frequencies, frames), 0 dB at its maximum and clipped ``top_db`` below it.
    """
    signal = torch.as_tensor(np.asarray(waveform, dtype=np.float32))
    n_fft = int(round(window_ms * sample_rate / 1000))
    hop = int(round(hop_ms * sample_rate / 1000))
    power = torchaudio.transforms.Spectrogram(n_fft=n_fft, hop_length=hop, power=2.0)(signal)
    reference = float(power.max().clamp_min(1e-10).log10())
    power_db = torchaudio.functional.amplitude_to_DB(
        power, multiplier=10.0, amin=1e-10, db_multiplier=reference
    )
    power_db = power_db.clamp_min(-top_db).numpy()
    frequencies = np.fft.rfftfreq(n_fft, 1 / sample_rate)
    times = np.arange(power_db.shape[1]) * hop / sample_rate
    return power_db, frequencies, times


def long_term_spectrum_db(
    waveform: np.ndarray | torch.Tensor, sample_rate: int, window_ms: float = 50.0
) -> tuple[np.ndarray, np.ndarray]:
    """Long-term average power spectrum in dB (mean over frames), and its frequencies (Hz).

    Two voices differ in it by their pitch and formants; repeated syntheses of one voice
    hardly do.
    """
    power_db, frequencies, _ = spectrogram_db(
        waveform, sample_rate, window_ms=window_ms, top_db=200.0
    )
    mean_power = np.mean(10 ** (power_db / 10), axis=1)
    return 10 * np.log10(np.maximum(mean_power, 1e-20)), frequencies


def spectral_distance_db(
    waveform_a: np.ndarray | torch.Tensor,
    waveform_b: np.ndarray | torch.Tensor,
    sample_rate: int,
    band_hz: tuple[float, float] = (80.0, 5000.0),
) -> float:
    """RMS difference (dB) between two signals' long-term spectra within ``band_hz``."""
    spectrum_a, frequencies = long_term_spectrum_db(waveform_a, sample_rate)
    spectrum_b, _ = long_term_spectrum_db(waveform_b, sample_rate)
    in_band = (frequencies >= band_hz[0]) & (frequencies <= band_hz[1])
    return float(np.sqrt(np.mean((spectrum_a - spectrum_b)[in_band] ** 2)))
