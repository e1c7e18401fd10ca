"""Audio signals: numbers to listen-check a waveform by."""

from __future__ import annotations

import numpy as np


def summary(waveform: np.ndarray, sample_rate: int) -> dict[str, float]:
    """Duration (s), sample rate (Hz), RMS and peak level (dB full scale) of a signal."""
    signal = np.asarray(waveform, dtype=np.float64)
    rms = float(np.sqrt(np.mean(signal**2)))
    peak = float(np.max(np.abs(signal)))
    return {
        "duration_s": signal.size / sample_rate,
        "sample_rate_hz": float(sample_rate),
        "rms_dbfs": 20 * np.log10(max(rms, 1e-10)),
        "peak_dbfs": 20 * np.log10(max(peak, 1e-10)),
    }
