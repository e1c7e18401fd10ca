"""Deletion curves for any classifier and any attribution, with a choice of masking operator.

Samek et al. (2017, "Evaluating the visualization of what a deep neural network has
learned"): remove the input features an explanation ranks highest, a growing share at a
time, and watch the explained class's probability fall; a ranking that matters to the model
makes it fall faster than a random ranking (a smaller area under the curve). What "remove"
means is a choice - the masking operator - and it can change which method looks best
(Hooker et al. 2019; Hase et al. 2021): ``"zero"`` sets the features to 0 (silence for a
waveform, the training mean for a mean-subtracted spectrogram), ``"noise"`` draws them from
a seeded Gaussian with the input's own mean and standard deviation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

OPERATORS = ("zero", "noise")
FRACTIONS = np.array([0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0])
"""Shares of the features removed: finer where a good ranking already changes the decision."""


def random_attribution(shape: Sequence[int], seed: int = 0) -> np.ndarray:
    """Standard normal values of ``shape`` from ``numpy.random.default_rng(seed)``: the
    random explainer every method is compared with."""
    return np.random.default_rng(seed).standard_normal(tuple(shape))


def replacement(inputs: torch.Tensor, operator: str, seed: int = 0) -> torch.Tensor:
    """What each feature of ``inputs`` (N, ...) becomes when it is removed by ``operator``:
    zeros, or per input seeded Gaussian noise with that input's mean and standard deviation."""
    if operator == "zero":
        return torch.zeros_like(inputs)
    if operator == "noise":
        flat = inputs.reshape(len(inputs), -1)
        generator = torch.Generator().manual_seed(seed)
        noise = torch.randn(flat.shape, generator=generator, dtype=inputs.dtype)
        return (flat.mean(1, keepdim=True) + flat.std(1, keepdim=True) * noise).reshape(
            inputs.shape)
    raise ValueError(f"operator must be one of {', '.join(OPERATORS)}, got {operator!r}")


def deletion_curves(
    probabilities: Callable[[torch.Tensor], torch.Tensor],
    inputs: torch.Tensor,
    targets: Sequence[int],
    values,
    operator: str = "zero",
    fractions: Sequence[float] = FRACTIONS,
    seed: int = 0,
) -> np.ndarray:
    """The probability of each input's ``targets`` class while a growing share of its
    features, largest ``values`` first (ties in the order of the features), is removed by
    ``operator`` (:func:`replacement`), relative to the unperturbed probability.

    ``probabilities`` maps a batch shaped like ``inputs`` (N, ...) to (N, classes) class
    probabilities; ``values`` (N, ...) is the attribution. For a fraction ``f`` the first
    ``rint(f * n_features)`` features are removed, so the perturbations are nested.
    Returns (n_fractions, N): 1 at fraction 0, like every curve of
    :func:`speechxai.evaluation.curves.curve_area`.
    """
    inputs = torch.as_tensor(inputs)
    values = np.asarray(values, dtype=np.float64)
    if values.shape != tuple(inputs.shape):
        raise ValueError(f"values {values.shape} and inputs {tuple(inputs.shape)} differ")
    targets = torch.as_tensor(np.asarray(targets), dtype=torch.long)
    if targets.shape != (len(inputs),):
        raise ValueError(f"need one target per input, got {tuple(targets.shape)}")
    fractions = np.asarray(fractions, dtype=np.float64)
    if fractions.ndim != 1 or np.any((fractions < 0) | (fractions > 1)):
        raise ValueError(f"fractions must be a 1-D list in [0, 1], got {fractions}")
    flat = inputs.reshape(len(inputs), -1)
    refill = replacement(inputs, operator, seed).reshape(flat.shape)
    order = torch.from_numpy(np.argsort(-values.reshape(len(inputs), -1), axis=1, kind="stable"))
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(flat.shape[1]).expand_as(order))
    rows = torch.arange(len(inputs))
    with torch.no_grad():
        unperturbed = probabilities(inputs)[rows, targets].double()
        curves = [probabilities(torch.where(rank < int(np.rint(f * flat.shape[1])), refill, flat)
                                .reshape(inputs.shape))[rows, targets].double()
                  for f in fractions]
    return (torch.stack(curves) / unperturbed).numpy()
