"""Audible explanations (Becker et al. 2024, Eq. 4): the input weighted by its relevance.

``ReLU(R) * x`` keeps the sound where the model found evidence for its decision;
``ReLU(-R) * x`` the sound that spoke against it.
"""

from __future__ import annotations

import numpy as np

from speechxai.errors import AudioError

SIGNS = {"positive": 1.0, "negative": -1.0}


def audible_explanation(waveform: np.ndarray, relevance: np.ndarray, sign: str = "positive"):
    """``ReLU(R) * x`` (``sign="positive"``) or ``ReLU(-R) * x``, not normalised."""
    if sign not in SIGNS:
        raise ValueError(f"sign must be one of {', '.join(SIGNS)}, not {sign!r}")
    waveform, relevance = np.asarray(waveform), np.asarray(relevance)
    if not np.issubdtype(waveform.dtype, np.floating) or not np.isfinite(waveform).all():
        raise AudioError(f"the waveform must hold finite floating-point samples (integer PCM: "
                         f"divide by 32768), got a {waveform.dtype} array (NaN, inf or not "
                         f"float)")
    waveform, relevance = waveform.astype(np.float32), relevance.astype(np.float32)
    if waveform.shape != relevance.shape:
        raise ValueError(f"waveform {waveform.shape} and relevance {relevance.shape} differ")
    return np.maximum(SIGNS[sign] * relevance, 0.0) * waveform
