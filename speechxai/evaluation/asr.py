"""What Markert et al. (2021) read off DeepSpeech's attributions A (N, 19, 26): the paper's
displays as numbers (per relative frame, summed per frame and per window) and the findings
measured on them (shares of the low MFCCs and of the later frames, rank correlations between
methods, letters against the space and the blank)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import spearmanr

from speechxai.attribution.asr import LETTERS
from speechxai.attribution.explanation import Explanation
from speechxai.attribution.lstm_lrp import as_index
from speechxai.ctc import ALPHABET, BLANK
from speechxai.errors import AttributionError
from speechxai.features import MFCC_CONTEXT
from speechxai.models.deepspeech import WINDOW

# The paper's displays (Sec. 3, "Displaying audio data") of A (N, 19, 26), as numbers.


def _values(attributions: Explanation | np.ndarray) -> np.ndarray:
    if isinstance(attributions, Explanation):
        return attributions.values
    values = np.asarray(attributions, dtype=float)
    if values.ndim != 3 or values.shape[1:] != WINDOW:
        raise AttributionError(f"attributions must be an Explanation or an array (N, 19, 26), "
                               f"got shape {values.shape}")
    return values


def per_relative_frame(attributions: Explanation | np.ndarray, j: int) -> np.ndarray:
    """Attribution per relative frame: ``A^i_{j,k}`` (N, 26) for a fixed position j in
    0..18 of the window (j = 9 is the frame itself, j < 9 the past)."""
    values = _values(attributions)
    if as_index(j, WINDOW[0]) is None:
        raise AttributionError(f"j must be a relative frame in 0..{WINDOW[0] - 1}, got {j!r}")
    return values[:, j]


def frame_profile(attributions: Explanation | np.ndarray) -> np.ndarray:
    """Attribution per relative frame summed over the MFCCs: (N, 19)."""
    return _values(attributions).sum(2)


def summed_per_window(attributions: Explanation | np.ndarray) -> np.ndarray:
    """Attribution summed per window: ``sum_j A^i_{j,k}`` (N, 26), everything frame i's
    window contributes to frame i's output."""
    return _values(attributions).sum(1)


def summed_per_frame(
    attributions: Explanation | np.ndarray,
    frames: Sequence[int] | np.ndarray | None = None,
    n_frames: int | None = None,
) -> np.ndarray:
    """Attribution summed per frame (the paper's diagonal sum): the influence (n_frames, 26)
    of each absolute frame m on all explained outputs, ``sum of A^i_{j,k}`` over the
    explanations i and window positions j with ``frames[i] - 9 + j == m``. Window positions
    before frame 0 or from ``n_frames`` on count zero.

    ``frames`` defaults to the Explanation's (0..N-1 for an array), ``n_frames`` to
    ``max(frames) + 1``.
    """
    values = _values(attributions)
    if frames is None:
        frames = (attributions.frames if isinstance(attributions, Explanation)
                  else np.arange(len(values)))
    frames = np.asarray(frames)
    if frames.shape != (len(values),) or not np.issubdtype(frames.dtype, np.integer):
        raise AttributionError(f"frames must hold one int per explanation ({len(values)}), got "
                               f"{frames!r}")
    n_frames = int(frames.max()) + 1 if n_frames is None else n_frames
    result = np.zeros((n_frames, WINDOW[1]))
    for j in range(WINDOW[0]):
        absolute = frames - MFCC_CONTEXT + j
        inside = (absolute >= 0) & (absolute < n_frames)
        np.add.at(result, absolute[inside], values[inside, j])
    return result


# The paper's findings (Sec. 4), measured.


def _share(part: float, total: float) -> float:
    if total == 0:
        raise AttributionError("all attributions are zero: no share to measure")
    return float(part / total)


def share_low_mfcc(attributions: Explanation | np.ndarray, n: int = 10) -> float:
    """Share of |A| in the lowest ``n`` MFCCs (LRP puts most in the lowest ten, Sec. 4)."""
    if as_index(n, WINDOW[1] + 1) is None:
        raise AttributionError(f"n must be an int in 0..{WINDOW[1]}, got {n!r}")
    magnitude = np.abs(_values(attributions))
    return _share(magnitude[..., :n].sum(), magnitude.sum())


def share_late_frames(attributions: Explanation | np.ndarray) -> float:
    """Share of |A| in the later half of the window, relative frames 10..18 (the future),
    against the earlier half 0..8; the frame itself (j = 9) counts in neither. Above 0.5,
    later frames weigh more, as the paper finds for the gradient methods (Sec. 4)."""
    magnitude = np.abs(_values(attributions)).sum((0, 2))
    late = magnitude[MFCC_CONTEXT + 1:].sum()
    return _share(late, late + magnitude[:MFCC_CONTEXT].sum())


def rank_correlation(
    first: Explanation | np.ndarray, second: Explanation | np.ndarray, absolute: bool = False
) -> float:
    """Spearman's rank correlation between two attributions of the same outputs, over all
    values; ``absolute`` compares magnitudes (saliency is a magnitude, |dS/dx|)."""
    a, b = _values(first), _values(second)
    if a.shape != b.shape:
        raise AttributionError(f"attributions of shapes {a.shape} and {b.shape} explain different "
                               f"outputs")
    if isinstance(first, Explanation) and isinstance(second, Explanation) and not (
            np.array_equal(first.frames, second.frames)
            and np.array_equal(first.targets, second.targets)):
        raise AttributionError("the two explanations explain different frames or characters")
    if absolute:
        a, b = np.abs(a), np.abs(b)
    return float(spearmanr(a.ravel(), b.ravel()).statistic)


def letters_vs_space(explanation: Explanation) -> dict[str, float]:
    """Mean |A| over the explanations of letters (a-z), of the space and of the CTC blank
    (NaN for a kind not explained): SHAP answers letters and whitespace differently (Sec. 4)."""
    if not isinstance(explanation, Explanation):
        raise AttributionError(f"letters_vs_space needs an Explanation (its targets say which "
                               f"frames are letters), got {type(explanation).__name__}")
    magnitude = np.abs(explanation.values).mean((1, 2))
    kinds = {"letter": np.isin(explanation.targets, LETTERS),
             "space": explanation.targets == ALPHABET.index(" "),
             "blank": explanation.targets == BLANK}
    return {kind: float(magnitude[chosen].mean()) if chosen.any() else float("nan")
            for kind, chosen in kinds.items()}
