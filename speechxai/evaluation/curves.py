"""Areas under the curves of every deletion-style test in the book - pixel-flipping
(Becker et al. 2018), feature deletion (Markert et al. 2021) - with one name, one argument
order and one orientation: ``curve_area(fractions, values)``, values indexed by fraction first.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def curve_area(fractions: Sequence[float], values, *, log_fractions: bool = False
               ) -> float | np.ndarray:
    """Area under ``values`` sampled at increasing ``fractions`` (trapezoid), divided by the
    range of the x axis, so that a constant curve ``c`` has area ``c``.

    ``values`` is (n_fractions,) or (n_fractions, M): then one area per column (per input or
    explanation). The x axis is the fractions, or ``log10`` of them with ``log_fractions``
    (pixel-flipping's fractions span decades; they must then be positive).
    """
    fractions, values = np.asarray(fractions, dtype=np.float64), np.asarray(values, float)
    if fractions.ndim != 1 or fractions.size < 2 or np.any(np.diff(fractions) <= 0):
        raise ValueError(f"need at least two increasing fractions, got {fractions}")
    if log_fractions and np.any(fractions <= 0):
        raise ValueError(f"log_fractions needs positive fractions, got {fractions}")
    if values.shape[:1] != fractions.shape:
        raise ValueError(f"values {values.shape} do not match {fractions.size} fractions")
    x = np.log10(fractions) if log_fractions else fractions
    return np.trapezoid(values, x=x, axis=0) / (x[-1] - x[0])
