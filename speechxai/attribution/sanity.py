"""Checks that an attribution is what its method defines, on the model it explains.

A gradient (saliency, Simonyan et al. 2014; NAvAI's sensitivity, Krug & Stober 2018, Eq. 1)
must agree with central finite differences of the model's output; SHAP values must add up
to the output minus the base value (local accuracy, Lundberg & Lee 2017, Eq. 5); LRP's
relevances to the output (conservation, :func:`speechxai.attribution.conservation_error`);
a word's leave-one-out score and a perturbation's paralinguistic relevance (Pastor et al.
2024, Eqs. 1-2) to the drop of the class probability when that one word is masked or that
one perturbation applied, classified alone.
The chapters record these errors, so that ``speechxai book check`` fails when a method
returns something else - zeros, noise, a wrong sign or scale (issue 16) - whether or not the
model has learned anything.

:func:`cascading_randomization` is the model-parameter randomisation test of Adebayo et al.
(2018, "Sanity checks for saliency maps"): an explanation that stays the same when the
model's weights are replaced by random ones does not explain the model.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr
from torch import nn

from speechxai.attribution.blackbox import PredictProba, slot_probabilities
from speechxai.attribution.explanation import Explanation
from speechxai.attribution.occlusion import WordImportance, mask_segments
from speechxai.attribution.paralinguistic import ParalinguisticImportance, perturb


def _ratio(mismatch: float, magnitude: float) -> float:
    """``mismatch / magnitude``; 0 when both vanish, infinite for a mismatch of nothing."""
    if magnitude == 0:
        return 0.0 if mismatch == 0 else float("inf")
    return float(mismatch / magnitude)


def finite_difference_error(
    outputs_of: Callable[[int, torch.Tensor], torch.Tensor],
    inputs: torch.Tensor,
    gradients: torch.Tensor | np.ndarray,
    n_coordinates: int = 8,
    step: float = 1e-4,
    absolute: bool = False,
    seed: int = 0,
) -> float:
    """Relative error of ``gradients`` (N, ...) of an output at ``inputs`` (N, ...).

    For each input, on its ``n_coordinates`` coordinates of largest |gradient| and as many
    seeded random ones, the central difference ``(f(x + h e_i) - f(x - h e_i)) / 2h`` with
    ``h = step`` is compared with the gradient (with its magnitude when ``absolute``, as
    saliency reports ``|df/dx|``). ``outputs_of(n, variants)`` returns the explained output of
    input ``n`` for each of a batch of its variants, in float64 for a clean difference.
    Returns ``sum |difference - gradient| / sum |difference|`` over all coordinates checked
    (0 when both vanish): near 0 for the true gradient, about 1 or more for zeros or noise.
    """
    x = torch.as_tensor(inputs, dtype=torch.float64)
    claimed = torch.as_tensor(gradients, dtype=torch.float64)
    if claimed.shape != x.shape:
        raise ValueError(f"gradients must have the inputs' shape {tuple(x.shape)}, got "
                         f"{tuple(claimed.shape)}")
    flat, claimed = x.reshape(len(x), -1), claimed.reshape(len(x), -1)
    rng = np.random.default_rng(seed)
    k = min(n_coordinates, flat.shape[1])
    mismatch = magnitude = 0.0
    for n in range(len(x)):
        largest = torch.topk(claimed[n].abs(), k).indices.numpy()
        coordinates = np.unique(np.concatenate([largest, rng.choice(flat.shape[1], k, False)]))
        m = len(coordinates)
        variants = flat[n].repeat(2 * m, 1)
        variants[np.arange(m), coordinates] += step
        variants[m + np.arange(m), coordinates] -= step
        with torch.no_grad():
            outputs = outputs_of(n, variants.reshape(2 * m, *x.shape[1:])).double()
        difference = (outputs[:m] - outputs[m:]) / (2 * step)
        if absolute:
            difference = difference.abs()
        mismatch += float((difference - claimed[n, coordinates]).abs().sum())
        magnitude += float(difference.abs().sum())
    return _ratio(mismatch, magnitude)


def local_accuracy_error(explanation: Explanation) -> float:
    """Mean ``|sum of values - (output - base value)|`` over the explained outputs, relative to
    the mean ``|output - base value|``: 0 up to rounding for SHAP's values."""
    values = np.asarray(explanation.values, dtype=np.float64).reshape(len(explanation.values), -1)
    gap = np.asarray(explanation.outputs, dtype=np.float64) - np.asarray(
        explanation.base_values, dtype=np.float64)
    return _ratio(np.abs(values.sum(1) - gap).mean(), np.abs(gap).mean())


def _relative(claimed: np.ndarray, actual: np.ndarray) -> float:
    return _ratio(np.abs(claimed - actual).sum(), np.abs(actual).sum())


def _probability(predict_proba: PredictProba, waveform: torch.Tensor, slot: str,
                 target: int) -> float:
    return float(slot_probabilities(predict_proba, [waveform])[slot][0, target])


def leave_one_out_error(predict_proba: PredictProba, waveform: torch.Tensor, sample_rate: int,
                        boundaries: Sequence[tuple[int, int]], importance: WordImportance,
                        masking: str = "zeros", padding: tuple[float, float] = (0.0, 0.0),
                        seed: int = 0) -> float:
    """Relative error of ``importance``'s scores against ``f(y=k|x) - f(y=k|x without word
    i)``, each masked copy (:func:`~speechxai.attribution.occlusion.mask_segments` with the
    explanation's ``masking`` and ``padding``) classified alone: 0 up to rounding for
    leave-one-out, about 1 for zeros or noise."""
    claimed, actual = [], []
    for row, slot in enumerate(importance.slots):
        target = importance.slot_targets[slot]
        original = _probability(predict_proba, waveform, slot, target)
        for index, span in enumerate(boundaries):
            masked = mask_segments(waveform, sample_rate, [span], masking, padding, seed)
            actual.append(original - _probability(predict_proba, masked, slot, target))
            claimed.append(importance.scores[row, index])
    return _relative(np.array(claimed), np.array(actual))


def paralinguistic_error(predict_proba: PredictProba, waveform: torch.Tensor,
                         sample_rate: int, importance: ParalinguisticImportance,
                         seed: int = 0) -> float:
    """Relative error of ``importance``'s differences against ``f(y=k|x) - f(y=k|x~)``, each
    perturbed version (:func:`~speechxai.attribution.paralinguistic.perturb`) classified
    alone: 0 up to rounding for the method, about 1 for zeros or noise."""
    claimed, actual = [], []
    for slot, target in importance.slot_targets.items():
        original = _probability(predict_proba, waveform, slot, target)
        for index, (family, level) in enumerate(importance.variants):
            perturbed = perturb(waveform, sample_rate, family, level, seed)
            actual.append(original - _probability(predict_proba, perturbed, slot, target))
            claimed.append(importance.differences[slot][index])
    return _relative(np.array(claimed), np.array(actual))


def parameter_layers(model: nn.Module) -> list[str]:
    """Names of the modules that hold parameters of their own, from the output back to the
    input (registration order reversed): the order of Adebayo et al.'s cascade."""
    return [name for name, module in model.named_modules()
            if next(module.parameters(recurse=False), None) is not None][::-1]


def row_rank_correlation(first: np.ndarray, second: np.ndarray) -> float:
    """Mean over the N rows of ``first`` and ``second`` (N, ...) of Spearman's correlation of
    their flattened values, leaving out rows where one is constant (no ranks); NaN when every
    row is (an all-zero attribution)."""
    first, second = (np.asarray(a, dtype=np.float64).reshape(len(a), -1) for a in (first, second))
    return finite_mean([spearmanr(a, b).statistic
                             for a, b in zip(first, second, strict=True)])


def finite_mean(values: Sequence[float]) -> float:
    """The mean of the finite ``values``; NaN when there is none."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    return float(finite.mean()) if finite.size else float("nan")


def _randomize_layer(module: nn.Module, generator: torch.Generator) -> None:
    """Replace the parameters ``module`` holds itself by seeded Gaussian noise of their own
    standard deviation (Adebayo et al. 2018)."""
    with torch.no_grad():
        for parameter in module.parameters(recurse=False):
            scale = parameter.std() if parameter.numel() > 1 else parameter.abs()
            noise = torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype)
            parameter.copy_(scale * noise.to(parameter.device))  # drawn on the CPU: seeded



def cascading_randomization(model: nn.Module, attribution: Callable[[nn.Module], np.ndarray],
                            seed: int = 0) -> pd.Series:
    """Spearman correlation of ``|attribution(model)|`` (N, ...) with the same attribution of
    a copy of ``model`` whose layers are randomised one more at a time from the output down
    (:func:`parameter_layers`): each parameter replaced by seeded Gaussian noise of its own
    standard deviation. Index: ``"none"`` (1 by definition), then the name of the last layer
    randomised; the last value is the fully randomised model's (:func:`randomized_copy`)."""
    original = np.abs(np.asarray(attribution(model), dtype=np.float64))
    randomised = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(seed)
    correlations = {"none": 1.0}
    for name in parameter_layers(randomised):
        _randomize_layer(randomised.get_submodule(name), generator)
        correlations[name] = row_rank_correlation(original, np.abs(attribution(randomised)))
    return pd.Series(correlations, name="rank correlation with the trained model")


def randomized_copy(model: nn.Module, seed: int = 0) -> nn.Module:
    """A copy of ``model`` with every layer randomised as :func:`cascading_randomization`'s
    last step randomises them (the same ``seed`` gives the same weights)."""
    randomised = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(seed)
    for name in parameter_layers(randomised):
        _randomize_layer(randomised.get_submodule(name), generator)
    return randomised


RANDOMIZED_CORRELATION = 0.5
"""Rank correlation after full randomisation above which an explanation reads as explaining
the input more than the model (Adebayo et al. 2018 show edge detectors near 1)."""


def describe_randomization(cascades: dict[str, dict[str, pd.Series]]) -> str:
    """One sentence per model from :func:`cascading_randomization` per method: what is left
    of each explanation once every layer is random."""
    lines = []
    for model, methods in cascades.items():
        left = {method: float(cascade.iloc[-1]) for method, cascade in methods.items()}
        kept = [method for method, value in left.items() if value > RANDOMIZED_CORRELATION]
        if not kept:
            verdict = "every method's explanation changes with the weights"
        else:
            verdict = (f"{' and '.join(kept)} still resemble{'s' if len(kept) == 1 else ''} "
                       "the trained model's map: explaining the input as much as the model")
        lines.append(f"- **{model}**, every layer randomised: rank correlation "
                     + ", ".join(f"{method} {value:.2f}" for method, value in left.items())
                     + f" - {verdict}.")
    return "\n".join(lines)
