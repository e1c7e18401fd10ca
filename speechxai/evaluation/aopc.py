"""Faithfulness of word-level explanations: AOPC comprehensiveness and sufficiency (DeYoung
et al., 2020, ERASER) over word audio segments, as Pastor et al. (2024, Sec. 3.3) use them,
and top-1 plausibility against the word that decides a command slot.

For a ranking of the words (most relevant first) and each fraction q in ``fractions``
(default 0.1, 0.2, ..., 1.0), the top k = ceil(q * n_words) words are taken. With f the
probability of the explained class k:

* comprehensiveness = mean over q of f(x) - f(x without the top-k words) (higher is better),
* sufficiency = mean over q of f(x) - f(x with only the top-k words; the other words
  masked) (lower is better; the silence between words is never masked).

Each fraction contributes one term, even when several fractions give the same k for a short
utterance (as ERASER's and ferret's averages over fixed bins do), so the 2-word utterance
weighs k=1 and k=2 equally. ferret rounds k down and skips fractions with k=0; rounding up
keeps every term defined. Masking is :func:`speechxai.attribution.occlusion.mask_segments`.
The random baseline follows the paper: a random explainer scores each word uniformly in
[-1, 1]; 5 rounds, each averaged over the utterances, reported as mean and standard
deviation over the rounds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from speechxai.attribution.blackbox import PredictProba, slot_probabilities
from speechxai.attribution.occlusion import (
    WordImportance,
    as_signal,
    check_boundaries,
    mask_segments,
    resolve_targets,
)
from speechxai.progress import tqdm

FRACTIONS = tuple(k / 10 for k in range(1, 11))
MEASURES = ("comprehensiveness", "sufficiency")
PAPER_AOPC = pd.DataFrame(
    {"comprehensiveness": [0.619, 0.623, 0.465],
     "comprehensiveness_random": [0.294, 0.246, 0.195],
     "comprehensiveness_random_std": [0.005, 0.003, 0.006],
     "sufficiency": [0.158, 0.083, 0.065],
     "sufficiency_random": [0.474, 0.444, 0.339],
     "sufficiency_random_std": [0.004, 0.008, 0.006]},
    index=pd.Index(["action", "object", "location"], name="slot"))
"""Table 4 of Pastor et al. (2024): wav2vec 2.0 on Fluent Speech Commands, in the columns of
:func:`aopc_table`."""


def k_values(n_words: int, fractions: Sequence[float] = FRACTIONS) -> list[int]:
    """Number of top words, ceil(q * n_words), for each fraction q in (0, 1]."""
    if n_words < 1 or not fractions or not all(0 < q <= 1 for q in fractions):
        raise ValueError(f"need n_words >= 1 and fractions in (0, 1], got {n_words} and "
                         f"{list(fractions)}")
    return [math.ceil(round(q * n_words, 9)) for q in fractions]  # 0.6 * 5 is 3, not 4


def random_rankings(n_words: int, rounds: int, seed: int | Sequence[int] = 0) -> np.ndarray:
    """(rounds, n_words) rankings of a random explainer that scores every word uniformly in
    [-1, 1] (Pastor et al., 2024), most relevant first; ``seed`` goes to
    ``numpy.random.default_rng``."""
    scores = np.random.default_rng(seed).uniform(-1, 1, (rounds, n_words))
    return np.argsort(-scores, axis=1, kind="stable")


def _masked_sets(ranking: np.ndarray, ks: list[int], measure: str) -> list[frozenset[int]]:
    """The words masked for each k: the top k (comprehensiveness) or all but them."""
    if measure == "comprehensiveness":
        return [frozenset(ranking[:k].tolist()) for k in ks]
    return [frozenset(ranking[k:].tolist()) for k in ks]


def aopc(
    predict_proba: PredictProba,
    waveform: torch.Tensor | np.ndarray,
    sample_rate: int,
    boundaries: Sequence[tuple[int, int]],
    rankings: Mapping[str, Sequence[Sequence[int]]],
    targets: Mapping[str, int] | None = None,
    measures: Sequence[str] = MEASURES,
    fractions: Sequence[float] = FRACTIONS,
    masking: str = "zeros",
    padding: tuple[float, float] = (0.0, 0.0),
    seed: int = 0,
) -> dict[str, dict[str, np.ndarray]]:
    """``measure -> slot -> (R,)`` AOPC scores of R rankings per slot of one utterance.

    ``rankings[slot]`` holds R permutations of the word indices (most relevant first);
    ``targets`` as in :func:`speechxai.attribution.occlusion.resolve_targets` (default: the
    predicted class). Every distinct masked copy, with the utterance itself, goes through one
    ``predict_proba`` call (a set of masked words is classified once however many rankings
    and fractions ask for it).
    """
    signal = as_signal(waveform, sample_rate)
    spans = check_boundaries(boundaries, signal.numel())
    unknown = sorted(set(measures) - set(MEASURES))
    if unknown or not measures:
        raise ValueError(f"measures must be among {', '.join(MEASURES)}, got {list(measures)}")
    ks = k_values(len(spans), fractions)
    orders = {}
    for slot, slot_rankings in rankings.items():
        orders[slot] = np.atleast_2d(np.asarray(slot_rankings, dtype=int))
        if any(sorted(order) != list(range(len(spans))) for order in orders[slot]):
            raise ValueError(f"slot {slot!r}: each ranking must order all {len(spans)} word "
                             f"indices, got {orders[slot].tolist()}")
    masked = {measure: {slot: [_masked_sets(order, ks, measure) for order in slot_orders]
                        for slot, slot_orders in orders.items()} for measure in measures}
    subsets = {frozenset(): 0}
    for by_slot in masked.values():
        for per_ranking in by_slot.values():
            for sets in per_ranking:
                for words in sets:
                    subsets.setdefault(words, len(subsets))
    variants = [mask_segments(signal, sample_rate, [spans[i] for i in sorted(words)], masking,
                              padding, seed) if words else signal for words in subsets]
    probabilities = slot_probabilities(predict_proba, variants)
    missing = sorted(set(orders) - set(probabilities))
    if missing:
        raise ValueError(f"rankings for unknown slot(s) {missing}; the model has slots "
                         f"{sorted(probabilities)}")
    chosen = resolve_targets({slot: p[0] for slot, p in probabilities.items()}, targets)
    result = {}
    for measure, by_slot in masked.items():
        result[measure] = {}
        for slot, per_ranking in by_slot.items():
            p = probabilities[slot][:, chosen[slot]]
            result[measure][slot] = np.array([np.mean([p[0] - p[subsets[words]]
                                                       for words in sets])
                                              for sets in per_ranking])
    return result


def _one_ranking(measure: str, predict_proba: PredictProba, waveform, sample_rate: int,
                 boundaries: Sequence[tuple[int, int]], rankings: Mapping[str, Sequence[int]],
                 **options) -> dict[str, float]:
    scores = aopc(predict_proba, waveform, sample_rate, boundaries,
                  {slot: [ranking] for slot, ranking in rankings.items()},
                  measures=(measure,), **options)
    return {slot: float(values[0]) for slot, values in scores[measure].items()}


def comprehensiveness(predict_proba: PredictProba, waveform: torch.Tensor | np.ndarray,
                      sample_rate: int, boundaries: Sequence[tuple[int, int]],
                      rankings: Mapping[str, Sequence[int]], **options) -> dict[str, float]:
    """``slot -> comprehensiveness`` of one ranking per slot for one utterance: mean over the
    fractions of f(x) - f(x without the top-k words); ``options`` (targets, fractions,
    masking, padding, seed) as in :func:`aopc`."""
    return _one_ranking("comprehensiveness", predict_proba, waveform, sample_rate, boundaries,
                        rankings, **options)


def sufficiency(predict_proba: PredictProba, waveform: torch.Tensor | np.ndarray,
                sample_rate: int, boundaries: Sequence[tuple[int, int]],
                rankings: Mapping[str, Sequence[int]], **options) -> dict[str, float]:
    """``slot -> sufficiency`` of one ranking per slot for one utterance: mean over the
    fractions of f(x) - f(x with only the top-k words); ``options`` as in :func:`aopc`."""
    return _one_ranking("sufficiency", predict_proba, waveform, sample_rate, boundaries,
                        rankings, **options)


def _check_pairs(items: Sequence, importances: Sequence[WordImportance], slots: Sequence[str]):
    if len(items) != len(importances) or not items:
        raise ValueError(f"need one importance per item and at least one item, got "
                         f"{len(importances)} importances for {len(items)} items")
    for index, (item, importance) in enumerate(zip(items, importances, strict=True)):
        if len(importance.words) != len(item.boundaries):
            raise ValueError(f"item {index}: {len(importance.words)} scored words but "
                             f"{len(item.boundaries)} boundaries")
        missing = sorted(set(slots) - set(importance.slots))
        if missing:
            raise ValueError(f"item {index}: importance lacks slot(s) {missing}")


def aopc_table(
    predict_proba: PredictProba,
    items: Sequence,
    importances: Sequence[WordImportance],
    slots: Sequence[str],
    rounds: int = 5,
    seed: int = 0,
    masking: str = "zeros",
    padding: tuple[float, float] = (0.0, 0.0),
    fractions: Sequence[float] = FRACTIONS,
    progress: bool = True,
) -> pd.DataFrame:
    """The paper's Table 4: AOPC of the explanations against a random explainer, per slot.

    ``items`` have ``waveform``, ``sample_rate`` and ``boundaries``; ``importances[i]``
    explains ``items[i]`` and fixes the explained class of each slot. Columns:
    comprehensiveness, comprehensiveness_random, comprehensiveness_random_std, sufficiency,
    sufficiency_random, sufficiency_random_std; the explanation's scores are means over the
    items, the random ones the mean and (population) standard deviation over ``rounds``
    rounds of per-round means. ``seed`` draws the random rankings (per item and slot) and the
    masking noise. One ``predict_proba`` call per item.
    """
    _check_pairs(items, importances, slots)
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    scores = {measure: {slot: [] for slot in slots} for measure in MEASURES}
    for index, (item, importance) in enumerate(tqdm(list(zip(items, importances, strict=True)),
                                                    desc="AOPC", disable=not progress)):
        n_words = len(item.boundaries)
        rankings = {slot: np.vstack([importance.ranking(slot)[None],
                                     random_rankings(n_words, rounds, (seed, index, number))])
                    for number, slot in enumerate(slots)}
        result = aopc(predict_proba, item.waveform, item.sample_rate, item.boundaries, rankings,
                      {slot: importance.slot_targets[slot] for slot in slots}, MEASURES, fractions,
                      masking, padding, seed)
        for measure, by_slot in result.items():
            for slot, values in by_slot.items():
                scores[measure][slot].append(values)
    rows = {}
    for slot in slots:
        row = {}
        for measure in MEASURES:
            values = np.array(scores[measure][slot])  # (items, 1 + rounds)
            per_round = values[:, 1:].mean(0)
            row |= {measure: values[:, 0].mean(), f"{measure}_random": per_round.mean(),
                    f"{measure}_random_std": per_round.std()}
        rows[slot] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("slot")


def top1_plausibility(importances: Sequence[WordImportance], items: Sequence,
                      slots: Sequence[str]) -> dict[str, float]:
    """``slot -> share of utterances`` whose most relevant word for the slot is the word that
    decides it (``item.deciding_word[slot]``), among the utterances where a word decides the
    slot (a command without an object keyword has no deciding word for "object"); NaN if
    none does."""
    _check_pairs(items, importances, slots)
    pairs = list(zip(importances, items, strict=True))
    return {slot: float(np.mean([importance.top_word(slot) == item.deciding_word[slot]
                                 for importance, item in pairs if slot in item.deciding_word]
                                or [np.nan]))
            for slot in slots}
