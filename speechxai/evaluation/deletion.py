"""Deletion curves for explanations of one output frame of a CTC recognizer.

Beyond Markert et al. (2021), who only show their attributions: an explanation of the
character score of frame ``i`` ranks the 19 x 26 = 494 values of that frame's MFCC window.
Replacing the highest-ranked values by a background (e.g. the median of frames transcribed
as letters, SHAP's background) should lower the character's probability faster than
replacing them in random order (Samek et al. 2017, "Evaluating the visualization of what a
deep neural network has learned"); a smaller area under the curve is a more faithful ranking.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from speechxai.ctc import N_CLASSES
from speechxai.device import device_of, to_numpy
from speechxai.models.deepspeech import WINDOW

DEFAULT_FRACTIONS = np.linspace(0.0, 1.0, 11)
ORDERS = ("relevance", "random")


def deletion_order(values, order: str = "relevance", seed: int = 0) -> np.ndarray:
    """Flat indices (494,) of a (19, 26) window in the order they are removed: largest
    signed value first (ties keep their position: stable sort), or a permutation drawn by
    ``numpy.random.default_rng(seed)``."""
    values = np.asarray(values, dtype=np.float64)
    if values.shape != WINDOW:
        raise ValueError(f"values must have the window's shape {WINDOW}, got {values.shape}")
    if order == "relevance":
        return np.argsort(-values.ravel(), kind="stable")
    if order == "random":
        return np.random.default_rng(seed).permutation(values.size)
    raise ValueError(f"order must be one of {', '.join(ORDERS)}; got {order!r}")


def deletion_curve(
    model: nn.Module,
    windows: torch.Tensor,
    frame: int,
    character: int,
    values,
    background,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    order: str = "relevance",
    seed: int = 0,
) -> np.ndarray:
    """Probability of ``character`` at ``frame`` while a growing share of that frame's window
    is set to ``background``, relative to the unperturbed probability.

    Parameters
    ----------
    model : nn.Module
        Maps (N, T, 19, 26) windows to (N, T, 29) logits and is causal (frame ``i`` reads
        windows ``0..i`` only; :class:`speechxai.models.DeepSpeech` is), so the windows after
        ``frame`` are left out of the one batched forward pass.
    windows : torch.Tensor, shape (T, 19, 26)
        The utterance's MFCC windows, as the model reads them.
    frame, character : int
        The explained output: frame index and class index (:data:`speechxai.ctc.ALPHABET`).
    values : array (19, 26)
        The explanation of that output on window ``frame``.
    background : float or array broadcastable to (19, 26)
        The value a removed feature takes.
    fractions : sequence of float in [0, 1]
        Shares of the 494 features removed; ``rint(fraction * 494)`` features each, taken
        from the front of :func:`deletion_order`, so the perturbations are nested.
    order, seed
        ``"relevance"`` (largest value first) or ``"random"`` (seeded), see
        :func:`deletion_order`.

    Returns
    -------
    numpy.ndarray, shape (len(fractions),)
        ``p(fraction) / p(unperturbed)`` (softmax probability; 1 at fraction 0).
    """
    windows = torch.as_tensor(windows, dtype=torch.float32)
    if windows.ndim != 3 or tuple(windows.shape[1:]) != WINDOW:
        raise ValueError(f"expected windows (T, 19, 26), got {tuple(windows.shape)}")
    if not 0 <= frame < len(windows):
        raise ValueError(f"frame {frame} is outside the utterance's {len(windows)} frames")
    if not 0 <= character < N_CLASSES:
        raise ValueError(f"character must be a class index 0..{N_CLASSES - 1}, got {character}")
    fractions = np.asarray(fractions, dtype=np.float64)
    if fractions.ndim != 1 or fractions.size == 0 or np.any((fractions < 0) | (fractions > 1)):
        raise ValueError(f"fractions must be a non-empty 1-D list in [0, 1], got {fractions}")
    try:
        background = torch.as_tensor(background, dtype=torch.float32).broadcast_to(WINDOW)
    except RuntimeError as error:
        raise ValueError(f"background must broadcast to {WINDOW}: {error}") from None
    ranking = deletion_order(values, order, seed)
    removed = torch.zeros(fractions.size, ranking.size, dtype=torch.bool)
    for row, count in zip(removed, np.rint(fractions * ranking.size).astype(int), strict=True):
        row[ranking[:count]] = True
    variants = windows[: frame + 1].repeat(fractions.size + 1, 1, 1, 1)
    variants[1:, frame] = torch.where(removed.reshape(-1, *WINDOW), background,
                                      variants[1:, frame])
    with torch.no_grad():
        probability = model(variants.to(device_of(model)))[:, frame].softmax(-1)[:, character]
    probability = to_numpy(probability, np.float64)
    return probability[1:] / probability[0]


