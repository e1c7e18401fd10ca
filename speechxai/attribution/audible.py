"""Audible explanations (Becker et al. 2024, Eq. 4): the input weighted by its relevance.

``ReLU(R) * x`` keeps the sound where the model found evidence for its decision;
``ReLU(-R) * x`` the sound that spoke against it.
"""

from __future__ import annotations

import numpy as np

SIGNS = {"positive": 1.0, "negative": -1.0}


def audible_explanation(waveform: np.ndarray, relevance: np.ndarray, sign: str = "positive"):
    """``ReLU(R) * x`` (``sign="positive"``) or ``ReLU(-R) * x``, not normalised."""
    if sign not in SIGNS:
        raise ValueError(f"sign must be one of {', '.join(SIGNS)}, not {sign!r}")
    waveform, relevance = np.asarray(waveform, np.float32), np.asarray(relevance, np.float32)
    if waveform.shape != relevance.shape:
        raise ValueError(f"waveform {waveform.shape} and relevance {relevance.shape} differ")
    return np.maximum(SIGNS[sign] * relevance, 0.0) * waveform
