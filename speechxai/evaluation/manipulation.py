"""Relevance-guided manipulation of spectrograms (Becker et al. 2018/2024, Sec. 3.3).

LRP on the AlexNet sex classifier points at the low frequencies (fundamental and
formants). Stretching the frequency axis of male speakers by 1.5 and compressing that
of female speakers by 0.66 should then make the classifier predict the opposite sex:
the paper reports 20.3 +- 12.6 % accuracy after the manipulation.
"""

from __future__ import annotations

import numpy as np

SEX_SCALING = {"male": 1.5, "female": 0.66}
SEX_CODES = ("female", "male")  # 0 and 1, as ``speechxai.datasets`` labels the sex task


def scale_frequency_axis(spectrogram, factor: float, floor: float | None = None) -> np.ndarray:
    """Move the content of frequency row ``f`` to row ``f * factor``, for spectrograms
    shaped (..., F, T) with row 0 the lowest frequency.

    Output row ``g`` is the linear interpolation of the input at ``g / factor``; content
    moved above the top row is dropped, and rows with no source (``g / factor > F - 1``)
    are filled with ``floor`` (default: each spectrogram's minimum, i.e. silence in dB).
    Apply it to dB spectrograms before subtracting a training mean. For factors below 1
    the input is sampled, not averaged: a line one row wide may come out weaker.
    """
    spectrogram = np.asarray(spectrogram)
    if spectrogram.ndim < 2 or 0 in spectrogram.shape[-2:]:
        raise ValueError(f"spectrogram must be shaped (..., F, T), got {spectrogram.shape}")
    if not np.isfinite(factor) or factor <= 0:
        raise ValueError(f"factor must be a positive number, got {factor}")
    spectrogram = spectrogram.astype(np.result_type(spectrogram.dtype, np.float32))
    rows = spectrogram.shape[-2]
    source = np.arange(rows) / factor
    below = np.minimum(np.floor(source).astype(int), rows - 1)
    above = np.minimum(below + 1, rows - 1)
    weight = (source - below)[:, None].astype(spectrogram.dtype)
    scaled = (1 - weight) * spectrogram[..., below, :] + weight * spectrogram[..., above, :]
    if floor is None:
        floor = spectrogram.min(axis=(-2, -1), keepdims=True)
    return np.where((source > rows - 1)[:, None], floor, scaled)


def scale_by_sex(spectrograms, sexes, floor: float | None = None,
                 scaling: dict[str, float] = SEX_SCALING) -> np.ndarray:
    """``scale_frequency_axis`` per item with the factor ``scaling`` gives its sex (default
    ``SEX_SCALING``: male x1.5, female x0.66, Becker et al. 2018): ``spectrograms``
    (N, ..., F, T), ``sexes`` N values, 0 female and 1 male."""
    spectrograms, sexes = np.asarray(spectrograms), np.asarray(sexes)
    if sexes.shape != spectrograms.shape[:1] or sexes.size == 0:
        raise ValueError(f"need one sex per spectrogram, got {spectrograms.shape[:1]} spectrograms "
                         f"and sexes of shape {sexes.shape}")
    if not np.isin(sexes, (0, 1)).all():
        raise ValueError(f"sexes must be 0 (female) or 1 (male), got {np.unique(sexes).tolist()}")
    return np.stack([
        scale_frequency_axis(item, scaling[SEX_CODES[sex]], floor)
        for item, sex in zip(spectrograms, sexes.tolist(), strict=True)
    ])
