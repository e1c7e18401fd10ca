"""One result object for DeepSpeech's attributions, in the spirit of shap's ``Explanation``
(values, base values, data, feature names) that every plot of the book accepts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from speechxai.errors import AttributionError
from speechxai.models.deepspeech import WINDOW


@dataclass(frozen=True, eq=False)
class Explanation:
    """Attributions A (N, 19, 26) of N outputs S_c(x^i) of DeepSpeech to the MFCC window
    x^i of their own frame (Markert et al. 2021, Sec. 3): explanation n explains the logit of
    character ``targets[n]`` at frame ``frames[n]``.

    Attributes
    ----------
    values : numpy.ndarray
        (N, 19, 26) attributions; relative frame j = 9 of a window is the frame itself.
    base_values : numpy.ndarray
        (N,) reference outputs the values explain the difference from: ``f(background)``
        for SHAP, NaN for saliency and LRP (not additive over one window).
    data : numpy.ndarray
        (N, 19, 26) the explained input windows.
    frames : numpy.ndarray
        (N,) index of the explained frame in the utterance.
    targets : numpy.ndarray
        (N,) explained class (:data:`speechxai.ctc.ALPHABET` index, or the CTC blank).
    outputs : numpy.ndarray
        (N,) the explained outputs ``S_c(x)``: logits, or probabilities for saliency of the
        probability.
    method : str
        Name of the attribution method.
    feature_names : sequence of str, optional
        494 names of the window's features, row-major (relative frame, MFCC).
    """

    values: np.ndarray
    base_values: np.ndarray
    data: np.ndarray
    frames: np.ndarray
    targets: np.ndarray
    outputs: np.ndarray
    method: str
    feature_names: Sequence[str] | None = None

    def __post_init__(self):
        arrays = {"values": float, "base_values": float, "data": float, "frames": int,
                  "targets": int, "outputs": float}
        for name, kind in arrays.items():
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=kind))
        n = len(self.values)
        for name in arrays:
            shape = (n, *WINDOW) if name in ("values", "data") else (n,)
            if getattr(self, name).shape != shape:
                raise AttributionError(f"Explanation.{name} must have shape {shape}, got "
                                       f"{getattr(self, name).shape}")
        size = WINDOW[0] * WINDOW[1]
        if self.feature_names is not None and len(self.feature_names) != size:
            raise AttributionError(f"feature_names must name the {size} features of a window, got "
                                   f"{len(self.feature_names)}")

    def __len__(self) -> int:
        return len(self.values)


def concatenate(explanations: Sequence[Explanation]) -> Explanation:
    """One Explanation of all the outputs that ``explanations`` (of one method) explain,
    e.g. frames of several utterances pooled for corpus-level statistics."""
    if not explanations:
        raise AttributionError("nothing to concatenate")
    methods = {e.method for e in explanations}
    if len(methods) > 1:
        raise AttributionError(f"cannot pool explanations of different methods: {methods}")
    fields = ("values", "base_values", "data", "frames", "targets", "outputs")
    return Explanation(**{name: np.concatenate([getattr(e, name) for e in explanations])
                          for name in fields}, method=explanations[0].method,
                       feature_names=explanations[0].feature_names)
