"""Pixel-flipping for waveforms (Becker et al. 2018/2024, Fig. 3; Samek et al. 2017).

Set a growing fraction of each input's non-zero samples to zero - chosen at random, by
largest |amplitude| or by largest LRP relevance - and watch the accuracy fall. If the
model relies on what LRP marks as relevant, the LRP curve falls first. Curves are
compared by their area over log10(fraction), with bootstrap intervals over utterances.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from speechxai.evaluation.bootstrap import paired_bootstrap
from speechxai.evaluation.curves import curve_area

STRATEGIES = ("random", "amplitude", "lrp")
DEFAULT_FRACTIONS = np.unique(np.append(np.geomspace(0.001, 1.0, 13), 0.6))
"""0.1 % to 100 % of the samples on a log scale, through 1 % (where Becker et al. 2018 report
the accuracies) and 60 % (where the sex model's random curve starts to fall, Fig. 3b)."""


def _flat(array, name: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim < 2 or array.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty batch shaped (N, ...), got {array.shape}")
    return array.reshape(len(array), -1)


def flip_order(waveforms, strategy: str, relevance=None, seed: int = 0) -> list[np.ndarray]:
    """For each input of the batch ``waveforms`` (N, ...), the flat indices of its
    non-zero samples in the order they get set to zero.

    ``"random"``: a permutation from a numpy Generator seeded with ``seed``;
    ``"amplitude"``: largest ``|x|`` first; ``"lrp"``: largest signed relevance first
    (most positive first; ``relevance`` shaped like ``waveforms``). Ties keep the
    order of the samples (stable sort). Samples that are already zero are never chosen.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}; got {strategy!r}")
    flat = _flat(waveforms, "waveforms")
    if strategy == "lrp":
        if relevance is None:
            raise ValueError('strategy "lrp" needs the relevance')
        keys = -_flat(relevance, "relevance").astype(np.float64)
        if keys.shape != flat.shape:
            raise ValueError(f"relevance {np.shape(relevance)} and waveforms "
                             f"{np.shape(waveforms)} differ in shape")
    elif strategy == "amplitude":
        keys = -np.abs(flat.astype(np.float64))
    rng = np.random.default_rng(seed)
    orders = []
    for i, row in enumerate(flat):
        nonzero = np.flatnonzero(row)
        if strategy == "random":
            orders.append(rng.permutation(nonzero))
        else:
            orders.append(nonzero[np.argsort(keys[i, nonzero], kind="stable")])
    return orders


def flipping_curve(
    predict: Callable[[np.ndarray], np.ndarray],
    inputs,
    labels,
    relevance=None,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    strategy: str = "lrp",
    seed: int = 0,
    batch_size: int = 64,
) -> np.ndarray:
    """Per-input correctness after flipping each fraction of the non-zero samples.

    For fraction ``f`` the first ``rint(f * n)`` samples of ``flip_order`` are set to
    zero, ``n`` being the input's number of non-zero samples, so the curves are nested.
    ``predict`` maps a float32 numpy batch shaped like ``inputs[:k]`` to ``k`` predicted
    classes (wrap a torch model yourself, under ``torch.no_grad()``).

    Returns
    -------
    correct : int array (n_fractions, N) of 0/1; ``correct.mean(axis=1)`` is the
        accuracy curve of Becker et al. (2018), Fig. 3.
    """
    inputs = np.asarray(inputs, dtype=np.float32)
    labels = np.asarray(labels)
    fractions = np.asarray(fractions, dtype=np.float64)
    if labels.shape != inputs.shape[:1]:
        raise ValueError(f"{inputs.shape[0]} inputs but labels of shape {labels.shape}")
    if fractions.ndim != 1 or fractions.size == 0 or np.any((fractions < 0) | (fractions > 1)):
        raise ValueError(f"fractions must be a non-empty 1-D list in [0, 1], got {fractions}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    orders = flip_order(inputs, strategy, relevance, seed)
    correct = np.zeros((fractions.size, len(inputs)), dtype=np.int64)
    for start in range(0, len(inputs), batch_size):
        batch = slice(start, start + batch_size)
        chunk = inputs[batch]
        for j, fraction in enumerate(fractions):
            flipped = chunk.reshape(len(chunk), -1).copy()
            for row, order in zip(flipped, orders[batch], strict=True):
                row[order[: int(np.rint(fraction * order.size))]] = 0.0
            predicted = np.asarray(predict(flipped.reshape(chunk.shape)))
            if predicted.shape != labels[batch].shape:
                raise ValueError(f"predict returned shape {predicted.shape} for a batch of "
                                 f"{len(chunk)}; it must return one class per input")
            correct[j, batch] = predicted == labels[batch]
    return correct


def accuracy_at(fractions: Sequence[float], correct, fraction: float) -> float:
    """Accuracy after flipping ``fraction`` of the samples, from :func:`flipping_curve`'s
    ``correct`` (n_fractions, N) over ``fractions``, which must contain it."""
    fractions = np.asarray(fractions, dtype=np.float64)
    matches = np.flatnonzero(np.isclose(fractions, fraction, rtol=1e-9, atol=0))
    if matches.size != 1:
        raise ValueError(f"fraction {fraction} is not one of {fractions.tolist()}")
    return float(np.asarray(correct, dtype=float)[matches[0]].mean())


def bootstrap_difference(correct_a, correct_b, fractions: Sequence[float], n_boot: int = 1000,
                         seed: int = 0) -> tuple[float, float, float]:
    """``auc(a) - auc(b)`` of two flipping curves over the same N inputs, with a 95 %
    percentile bootstrap interval over inputs (resampled with replacement, paired).

    ``correct_a`` and ``correct_b`` are (n_fractions, N) 0/1 arrays from
    ``flipping_curve``. Returns ``(estimate, lo, hi)``.
    """
    correct_a, correct_b = np.asarray(correct_a), np.asarray(correct_b)
    if correct_a.ndim != 2 or correct_a.shape != correct_b.shape:
        raise ValueError(f"need two (n_fractions, N) arrays of one shape, got "
                         f"{correct_a.shape} and {correct_b.shape}")
    # the area is linear in the curve: the mean of per-input areas is the area of the mean
    difference = (curve_area(fractions, correct_a, log_fractions=True)
                  - curve_area(fractions, correct_b, log_fractions=True))
    return paired_bootstrap(difference, n_boot, seed)
