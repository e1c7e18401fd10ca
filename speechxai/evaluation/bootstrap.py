"""Percentile bootstrap intervals for paired comparisons of explanation methods (Efron &
Tibshirani 1993): two methods scored on the same inputs differ by one number per input, and
the inputs are resampled with replacement."""

from __future__ import annotations

import numpy as np


def paired_bootstrap(differences, n_boot: int = 1000, seed: int = 0
                     ) -> tuple[float, float, float]:
    """Mean of per-input ``differences`` (N,) with a 95 % percentile bootstrap interval over
    the inputs: ``(estimate, lo, hi)``, the same for the same ``seed``."""
    differences = np.asarray(differences, dtype=np.float64)
    if differences.ndim != 1 or differences.size == 0:
        raise ValueError(f"need a non-empty 1-D array of per-input differences, got shape "
                         f"{differences.shape}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be positive, got {n_boot}")
    samples = np.random.default_rng(seed).integers(0, differences.size,
                                                   (n_boot, differences.size))
    lo, hi = np.percentile(differences[samples].mean(axis=1), [2.5, 97.5])
    return float(differences.mean()), float(lo), float(hi)
