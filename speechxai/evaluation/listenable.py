"""Faithfulness of listenable explanations (Paissan, Ravanelli & Subakan 2024, L-MAC, Sec. 4).

An audible explanation plays ``x * M``: the input through a mask ``M`` in [0, 1] - here
``ReLU(R) / max ReLU(R)`` of a relevance map ``R``, the audible explanation of Becker et
al. (2024, Eq. 4) scaled to a mask. With ``p`` the classifier's probability of the
explained class ``c`` (its prediction on ``x``), over N inputs:

- **FF**, faithfulness on spectra (Parekh et al. 2022): mean ``p(x) - p(x * (1 - M))``, the
  probability lost when the explanation is taken *out*; higher is better;
- **AI**, average increase (Chattopadhyay et al. 2018): share of inputs with
  ``p(x * M) > p(x)``; higher is better;
- **AD**, average drop: mean ``max(0, p(x) - p(x * M)) / p(x)``; lower is better;
- **AG**, average gain (Zhang et al. 2023): mean ``max(0, p(x * M) - p(x)) / (1 - p(x))``;
  higher is better;
- **Fid-In**, input fidelity: share of inputs whose explanation alone is classified as the
  input, ``argmax f(x * M) = argmax f(x)``; higher is better.

The book reports them as fractions (L-MAC as percentages), each method against random masks
of the same size: its own mask's values in a seeded random order (:func:`shuffled_masks`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

METRICS = ("ff", "ai", "ad", "ag", "fid_in")
HIGHER_IS_BETTER = {"ff": True, "ai": True, "ad": False, "ag": True, "fid_in": True}


def relevance_masks(values) -> np.ndarray:
    """``ReLU(R) / max ReLU(R)`` per input of ``values`` (N, ...): masks in [0, 1]; an input
    without positive relevance gets an all-zero mask."""
    positive = np.maximum(np.asarray(values, dtype=np.float64), 0.0)
    peak = positive.reshape(len(positive), -1).max(1)
    peak = peak.reshape((-1,) + (1,) * (positive.ndim - 1))
    return np.divide(positive, peak, out=np.zeros_like(positive), where=peak > 0)


def shuffled_masks(masks, seed: int = 0) -> np.ndarray:
    """Each mask of ``masks`` (N, ...) with its values permuted by
    ``numpy.random.default_rng(seed)``: a random mask of the same size and value spread."""
    masks = np.asarray(masks, dtype=np.float64)
    rng = np.random.default_rng(seed)
    flat = masks.reshape(len(masks), -1)
    return np.stack([rng.permutation(row) for row in flat]).reshape(masks.shape)


def listenable_metrics(probabilities: Callable[[torch.Tensor], torch.Tensor],
                       inputs: torch.Tensor, masks) -> dict[str, float]:
    """:data:`METRICS` of the masks (N, ...) on ``inputs`` (N, ...), for the class each input
    is predicted as; ``probabilities`` maps a batch to (N, classes) class probabilities."""
    inputs = torch.as_tensor(inputs)
    masks = torch.as_tensor(np.asarray(masks), dtype=inputs.dtype)
    if masks.shape != inputs.shape:
        raise ValueError(f"masks {tuple(masks.shape)} and inputs {tuple(inputs.shape)} differ")
    with torch.no_grad():
        original = probabilities(inputs).double()
        kept = probabilities(inputs * masks).double()
        removed = probabilities(inputs * (1 - masks)).double()
    predicted = original.argmax(1)
    rows = torch.arange(len(inputs))
    p, p_kept, p_removed = (table[rows, predicted].numpy() for table in (original, kept, removed))
    return {
        "ff": float(np.mean(p - p_removed)),
        "ai": float(np.mean(p_kept > p)),
        "ad": float(np.mean(np.maximum(0.0, p - p_kept) / p)),
        "ag": float(np.mean(np.maximum(0.0, p_kept - p) / np.maximum(1 - p, 1e-12))),
        "fid_in": float(np.mean((kept.argmax(1) == predicted).numpy())),
    }
