"""The "Comparing explanations" chapter: six attribution methods on the same inputs of three
speech models, under the same faithfulness test and the same sanity check.

- Methods (:func:`speechxai.explain`): saliency (Simonyan et al. 2014), gradient x input,
  integrated gradients (Sundararajan et al. 2017), LRP (Bach et al. 2015), SHAP (expected
  gradients, Lundberg & Lee 2017) and occlusion (Zeiler & Fergus 2014); IG, SHAP and
  occlusion measure against one *reference* input per model (what "absent" means).
- Deletion (Samek et al. 2017) with two masking operators against a random attribution
  (:mod:`speechxai.evaluation.feature_deletion`).
- Model-parameter randomisation (Adebayo et al. 2018): Spearman's correlation of each
  method's |attribution| of the trained model with that of the fully randomised model.
- For the waveform model, each method's audible explanation scored by the listenable-
  explanation metrics of L-MAC (:mod:`speechxai.evaluation.listenable`) against random masks
  of the same size.

A model is given as a :data:`Subject`: a function from a network (the trained one or its
randomised copy) to the :class:`Group` s it explains, so that the recogniser, whose
explained output depends on the windows before it, is rebuilt around the randomised weights.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy.stats import kendalltau
from torch import nn

from speechxai.attribution.asr import OwnWindow, attribute
from speechxai.attribution.explain import explain
from speechxai.attribution.sanity import (
    RANDOMIZED_CORRELATION,
    randomized_copy,
    row_rank_correlation,
)
from speechxai.device import device_of, to_numpy
from speechxai.evaluation.bootstrap import paired_bootstrap
from speechxai.evaluation.curves import curve_area
from speechxai.evaluation.feature_deletion import (
    FRACTIONS,
    OPERATORS,
    deletion_curves,
    random_attribution,
)
from speechxai.evaluation.listenable import (
    HIGHER_IS_BETTER,
    METRICS,
    listenable_metrics,
    relevance_masks,
    shuffled_masks,
)

METHODS = ("saliency", "gradient_x_input", "integrated_gradients", "lrp", "shap", "occlusion")
RANDOM = "random"
"""The random attribution every method's deletion curve is compared with."""


@dataclass
class Group:
    """Inputs one network explains together: ``network`` maps (n, ...) inputs to (n, classes)
    logits; ``lrp`` computes their LRP where zennit cannot follow the network (the
    recogniser's LSTM steps), else ``None``."""

    network: nn.Module
    inputs: torch.Tensor
    targets: np.ndarray
    lrp: Callable[[], np.ndarray] | None = None


Subject = Callable[[nn.Module], list[Group]]
"""A model under comparison: its groups, built from the trained network or its randomised
copy (:func:`classifier` and :func:`recognizer` make them)."""


def readable(name: str) -> str:
    """A method's name for a reader: ``integrated_gradients`` -> ``integrated gradients``."""
    return name.replace("_", " ")


def predicted_classes(network: nn.Module, inputs: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return to_numpy(network(inputs.to(device_of(network))).argmax(1))


def classifier(inputs: torch.Tensor, targets: np.ndarray) -> Subject:
    """A classifier's :data:`Subject`: one group of ``inputs`` explained for ``targets`` (the
    trained model's predictions, kept for the randomised one, as Adebayo et al. do)."""
    return lambda network: [Group(network.eval(), inputs, targets)]


def recognizer(utterances: Sequence[torch.Tensor],
               targets: Sequence[Sequence[tuple[int, int]]]) -> Subject:
    """The DeepSpeech recogniser's :data:`Subject`: per utterance's windows (T, 19, 26) and
    each of its (frame, character) targets, the frame's own window explained
    (:class:`~speechxai.attribution.asr.OwnWindow`); LRP through the whole recogniser
    (:func:`~speechxai.attribution.asr.attribute`)."""
    def groups(network: nn.Module) -> list[Group]:
        network = network.eval()
        return [Group(OwnWindow(network, windows, frame), windows[frame][None],
                      np.array([character]),
                      lambda windows=windows, target=(frame, character): attribute(
                          network, windows, [target], "lrp").values)
                for windows, pairs in zip(utterances, targets, strict=True)
                for frame, character in pairs]
    return groups


IG_STEPS = 50
"""Integrated gradients' steps (Captum's default)."""


def method_options(method: str, reference: torch.Tensor, seed: int,
                   ig_steps: int = IG_STEPS) -> dict:
    """The options of ``method`` that make it measure against ``reference`` (one input)."""
    if method == "integrated_gradients":
        return {"baseline": reference, "n_steps": ig_steps}
    if method == "occlusion":
        return {"baseline": reference}
    if method == "shap":
        return {"background": reference[None], "seed": seed}
    return {}


def attributions(groups: Sequence[Group], method: str, reference: torch.Tensor,
                 seed: int = 0, ig_steps: int = IG_STEPS) -> np.ndarray:
    """``method``'s attributions of every group's inputs, concatenated (N, ...)."""
    values = []
    for group in groups:
        if method == "lrp" and group.lrp is not None:
            values.append(np.asarray(group.lrp()))
        else:
            values.append(explain(group.network, group.inputs, group.targets, method,
                                  **method_options(method, reference, seed, ig_steps)).values)
    return np.concatenate(values)


def softmax_of(network: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda inputs: network(inputs.to(device_of(network))).softmax(-1).cpu()


def deletion_areas(groups: Sequence[Group], values: np.ndarray, operator: str,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per input of the groups: the deletion curve (n_fractions, N) of ``values`` under
    ``operator`` and its area (N,)."""
    curves, start = [], 0
    for group in groups:
        stop = start + len(group.inputs)
        curves.append(deletion_curves(softmax_of(group.network), group.inputs, group.targets,
                                      values[start:stop], operator, FRACTIONS, seed))
        start = stop
    curves = np.concatenate(curves, axis=1)
    return curves, curve_area(FRACTIONS, curves)


@dataclass
class Comparison:
    """One model's comparison: per method (and :data:`RANDOM`) its attributions, per operator
    its mean deletion curve and per-input areas, and its randomisation correlation."""

    model: str
    inputs: torch.Tensor
    values: dict[str, np.ndarray]
    curves: dict[str, dict[str, np.ndarray]]
    areas: dict[str, dict[str, np.ndarray]]
    randomized: dict[str, float]

    def table(self, seed: int = 0) -> pd.DataFrame:
        """Per method: deletion AUC per operator, its difference to random with a 95 %
        bootstrap interval over inputs, and the randomisation correlation."""
        rows = {}
        for method in (*self.randomized, RANDOM):
            row = {}
            for operator in OPERATORS:
                area = self.areas[operator]
                row[f"deletion_auc.{operator}"] = float(area[method].mean())
                estimate, lo, hi = (paired_bootstrap(area[method] - area[RANDOM], seed=seed)
                                    if method != RANDOM else (0.0, 0.0, 0.0))
                row[f"minus_random.{operator}"] = estimate
                row[f"minus_random_hi.{operator}"] = hi
                row[f"minus_random_lo.{operator}"] = lo
            row["randomized_rank_corr"] = self.randomized.get(method, np.nan)
            rows[method] = row
        return pd.DataFrame.from_dict(rows, orient="index")


def compare(model: str, subject: Subject, network: nn.Module, reference: torch.Tensor,
            seed: int = 0, methods: Sequence[str] = METHODS, ig_steps: int = IG_STEPS
            ) -> Comparison:
    """Every method of ``methods`` on ``subject`` built from ``network``: attributions,
    deletion with each operator against a random attribution (seeded), and the rank
    correlation with the attributions of ``network``'s fully randomised copy."""
    groups = subject(network)
    values = {method: attributions(groups, method, reference, seed, ig_steps)
              for method in methods}
    values[RANDOM] = random_attribution(values[methods[0]].shape, seed)
    curves, areas = {}, {}
    for operator in OPERATORS:
        curves[operator], areas[operator] = {}, {}
        for method, attribution in values.items():
            curve, area = deletion_areas(groups, attribution, operator, seed)
            curves[operator][method], areas[operator][method] = curve.mean(1), area
    randomised = subject(randomized_copy(network, seed))
    randomized = {method: row_rank_correlation(
        np.abs(values[method]),
        np.abs(attributions(randomised, method, reference, seed, ig_steps)))
        for method in methods}
    inputs = torch.cat([group.inputs for group in groups])
    return Comparison(model, inputs, values, curves, areas, randomized)


def audible_scores(network: nn.Module, inputs: torch.Tensor, values: dict[str, np.ndarray],
                   seed: int = 0) -> pd.DataFrame:
    """Per method: the listenable-explanation metrics of its audible explanation, and of
    random masks of the same size (each mask's values shuffled), as ``<metric>`` and
    ``<metric>.random`` columns."""
    probabilities = softmax_of(network.eval())
    rows = {}
    for method, attribution in values.items():
        if method == RANDOM:
            continue
        masks = relevance_masks(attribution)
        own = listenable_metrics(probabilities, inputs, masks)
        shuffled = listenable_metrics(probabilities, inputs, shuffled_masks(masks, seed))
        rows[method] = {**own, **{f"{metric}.random": shuffled[metric] for metric in METRICS}}
    return pd.DataFrame.from_dict(rows, orient="index")


def audible_table(scores: pd.DataFrame) -> pd.DataFrame:
    """:func:`audible_scores` for reading: one column pair (own mask, random masks) per
    metric, the methods' names with spaces."""
    return pd.DataFrame({(metric.replace("_", "-").upper(), kind): scores[column]
                         for metric in METRICS
                         for kind, column in (("own", metric), ("random", f"{metric}.random"))}
                        ).rename(index=readable)


def ranking(table: pd.DataFrame, operator: str) -> list[str]:
    """The methods of a :meth:`Comparison.table`, fastest deletion (smallest area) first."""
    return table[f"deletion_auc.{operator}"].drop(RANDOM).sort_values(kind="stable").index.tolist()


def describe(comparisons: dict[str, pd.DataFrame]) -> str:
    """Per model, from its :meth:`Comparison.table`: the methods ranked by deletion with each
    operator, which beat random (interval below 0), whether the ranking changes with the
    operator (Kendall's tau), and which methods survive randomisation."""
    lines = []
    for model, table in comparisons.items():
        table = table.rename(index=readable)
        orders = {operator: ranking(table, operator) for operator in OPERATORS}
        parts = []
        for operator, order in orders.items():
            beat = [m for m in order if table.loc[m, f"minus_random_hi.{operator}"] < 0]
            parts.append(f"with **{operator}** masking {' > '.join(order)} "
                         f"({len(beat)} of {len(order)} delete faster than random"
                         + (f": {', '.join(beat)})" if beat else ")"))
        first, second = (orders[op] for op in OPERATORS)
        tau = kendalltau([first.index(m) for m in first], [second.index(m) for m in first])[0]
        if first == second:
            change = "the ranking is the same under both operators"
        else:
            moved = [m for m in first if first.index(m) != second.index(m)]
            best = (f"the fastest stays {first[0]}" if first[0] == second[0] else
                    f"the fastest is {first[0]} with {OPERATORS[0]}, {second[0]} with "
                    f"{OPERATORS[1]}")
            change = (f"the operator reorders {', '.join(moved)} (Kendall's tau {tau:.2f}); "
                      f"{best}")
        kept = table["randomized_rank_corr"].drop(RANDOM)
        survivors = kept[kept > RANDOMIZED_CORRELATION].index.tolist()
        sanity = (f"{', '.join(survivors)} keep{'s' if len(survivors) == 1 else ''} a rank "
                  f"correlation above {RANDOMIZED_CORRELATION} with the randomised model's map "
                  f"(explaining the input "
                  f"more than the model)" if survivors else
                  "every method's map changes when the weights are randomised (all rank "
                  f"correlations at most {kept.max():.2f})")
        lines.append(f"- **{model}**: fastest deletion first, " + "; ".join(parts)
                     + f"; {change}. Randomisation: {sanity}.")
    return "\n".join(lines)


def describe_audible(scores: pd.DataFrame) -> str:
    """Which audible explanations beat random masks of their own size on each metric."""
    scores = scores.rename(index=readable)
    lines = []
    for metric in METRICS:
        sign = 1 if HIGHER_IS_BETTER[metric] else -1
        better = [m for m in scores.index
                  if sign * (scores.loc[m, metric] - scores.loc[m, f"{metric}.random"]) > 0]
        best = (scores[metric] * sign).idxmax()
        leader = (f"every method {scores[metric].iloc[0]:.2f}" if scores[metric].nunique() == 1
                  else f"best {best} ({scores.loc[best, metric]:.2f})")
        lines.append(f"- **{metric}** ({'higher' if sign > 0 else 'lower'} is better): {leader}; "
                     f"better than its random masks: {', '.join(better) or 'none'} "
                     f"({len(better)} of {len(scores)}).")
    return "\n".join(lines)
