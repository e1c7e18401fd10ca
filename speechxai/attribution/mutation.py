"""A test-only hook that breaks one attribution method on purpose (issue 16).

A regression check is only worth having if it fails when an explainer breaks. With
``SPEECHXAI_MUTATE=<method>:<kind>`` in the environment (the book's kernels inherit it),
every attribution the named method returns is replaced by zeros (``kind="zeros"``) or by
seeded Gaussian noise of the same shape and spread (``kind="random"``); several methods are
separated by commas (``lrp:zeros,shap:zeros``). ``make test`` then runs the chapters at
``smoke`` and asserts that ``speechxai book check`` fails on each broken method's own check.
Never set it otherwise.
"""

from __future__ import annotations

import os
from typing import TypeVar

import numpy as np
import torch

MUTATION_ENV = "SPEECHXAI_MUTATE"
MUTABLE_METHODS = ("saliency", "lrp", "shap", "occlusion", "paralinguistic", "navai")
KINDS = ("zeros", "random")
SEED = 20181207  # seeds the random attributions of a process; any fixed number
_generator: list[np.random.Generator] = []  # created on first use, then drawn from in turn

Values = TypeVar("Values", torch.Tensor, np.ndarray)


def active_mutations() -> dict[str, str]:
    """``{method: kind}`` from ``$SPEECHXAI_MUTATE`` (empty when unset). Anything else than
    comma-separated ``<method>:<kind>`` with methods of :data:`MUTABLE_METHODS` (each at most
    once) and kinds of :data:`KINDS` raises ``ValueError``: a typo must not silently test
    nothing."""
    text = os.environ.get(MUTATION_ENV, "")
    if not text:
        return {}
    pairs = [item.partition(":") for item in text.split(",")]
    methods = [method for method, _, _ in pairs]
    if (any(method not in MUTABLE_METHODS or kind not in KINDS for method, _, kind in pairs)
            or len(set(methods)) < len(methods)):
        raise ValueError(f"${MUTATION_ENV}={text!r}: expected comma-separated <method>:<kind>, "
                         f"each method once, methods of {', '.join(MUTABLE_METHODS)} and kinds "
                         f"of {', '.join(KINDS)}")
    return {method: kind for method, _, kind in pairs}


def mutated(method: str, values: Values) -> Values:
    """``values`` (an attribution of ``method``), or their replacement when the active
    mutation names ``method``: zeros, or seeded standard normal noise times their standard
    deviation (so that a check on the scale alone cannot tell it apart), drawn in turn from
    one generator per process seeded with :data:`SEED`: the same run gives the same noise."""
    kind = active_mutations().get(method)
    if kind is None:
        return values
    array = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else values
    array = np.asarray(array, dtype=np.float64)
    if kind == "zeros":
        replacement = np.zeros_like(array)
    else:
        spread = float(array.std()) or 1.0
        if not _generator:
            _generator.append(np.random.default_rng(SEED))
        replacement = _generator[0].standard_normal(array.shape) * spread
    if isinstance(values, torch.Tensor):
        return torch.as_tensor(replacement, dtype=values.dtype, device=values.device)
    return replacement.astype(np.asarray(values).dtype, copy=False)
