"""AOPC comprehensiveness / sufficiency (DeYoung et al., 2020, as in Pastor et al., 2024) and
top-1 plausibility on synthetic classifiers with hand-computable answers."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from test_occlusion import RATE, Counting, energy_classifier, utterance

from speechxai.attribution.occlusion import word_importance
from speechxai.evaluation.aopc import (
    FRACTIONS,
    aopc,
    aopc_table,
    comprehensiveness,
    k_values,
    random_rankings,
    sufficiency,
    top1_plausibility,
)


def presence_classifier(spans, weights=(0.6, 0.2), base=0.1):
    """p(class 1) = base + sum of the weights of the spans that still carry energy."""
    def predict_proba(waveforms):
        p = torch.tensor([base + sum(weight * float(w[a:b].pow(2).mean() > 0.01)
                                     for weight, (a, b) in zip(weights, spans, strict=True))
                          for w in waveforms])
        return torch.stack([1 - p, p], dim=1)
    return predict_proba


def test_k_values_round_up_with_one_term_per_fraction():
    assert FRACTIONS == (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    assert k_values(10) == list(range(1, 11))
    assert k_values(2) == [1] * 5 + [2] * 5
    assert k_values(5) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert k_values(3, (0.5, 1.0)) == [2, 3]
    with pytest.raises(ValueError, match="fractions"):
        k_values(3, (0.0, 1.0))


def test_two_words_by_hand():
    waveform, boundaries = utterance(2)
    model = presence_classifier(boundaries)
    # p(x) = 0.9, without A 0.3, without both 0.1, only A 0.7, only B 0.3.
    good, bad = {"label": [0, 1]}, {"label": [1, 0]}
    args = (model, waveform, RATE, boundaries)
    assert comprehensiveness(*args, good)["label"] == pytest.approx(0.5 * 0.6 + 0.5 * 0.8)
    assert sufficiency(*args, good)["label"] == pytest.approx(0.5 * (0.9 - 0.7))
    assert comprehensiveness(*args, bad)["label"] == pytest.approx(0.5 * 0.2 + 0.5 * 0.8)
    assert sufficiency(*args, bad)["label"] == pytest.approx(0.5 * (0.9 - 0.3))
    assert comprehensiveness(*args, good, fractions=(1.0,))["label"] == pytest.approx(0.8)
    assert sufficiency(*args, good, fractions=(1.0,))["label"] == pytest.approx(0.0)
    # explaining class 0 flips the signs
    assert comprehensiveness(*args, good, targets={"label": 0})["label"] == pytest.approx(-0.7)


def test_every_distinct_masked_copy_goes_through_one_call():
    waveform, boundaries = utterance(5)
    model = Counting(energy_classifier(boundaries[0]))
    rankings = {"label": np.vstack([np.arange(5), random_rankings(5, 5, seed=1)])}
    scores = aopc(model, waveform, RATE, boundaries, rankings)
    assert len(model.calls) == 1 and model.calls[0] <= 2 ** 5  # distinct masked sets
    assert set(scores) == {"comprehensiveness", "sufficiency"}
    assert scores["comprehensiveness"]["label"].shape == (6,)
    # the first ranking puts the only relevant word first: every term is the full drop
    drop = scores["comprehensiveness"]["label"][0]
    assert drop > 0.5 and scores["sufficiency"]["label"][0] == pytest.approx(0.0, abs=1e-9)
    assert (scores["comprehensiveness"]["label"][1:] <= drop + 1e-9).all()


def test_random_rankings_are_seeded_permutations():
    a, b, c = random_rankings(6, 5, 0), random_rankings(6, 5, 0), random_rankings(6, 5, 1)
    assert a.shape == (5, 6)
    np.testing.assert_array_equal(np.sort(a, axis=1), np.tile(np.arange(6), (5, 1)))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert len({tuple(row) for row in random_rankings(6, 20, 0)}) > 10


def items_and_importances(model, deciding, amplitudes=(0.5, 0.4, 0.6, 0.3)):
    items, importances = [], []
    for amplitude, word in zip(amplitudes, deciding, strict=True):
        waveform, boundaries = utterance(5, amplitude)
        items.append(SimpleNamespace(waveform=waveform, sample_rate=RATE, boundaries=boundaries,
                                     deciding_word={"label": word}))
        importances.append(word_importance(model, waveform, RATE, boundaries))
    return items, importances


def test_faithful_explanations_beat_the_random_explainer():
    _, boundaries = utterance(5)
    model = Counting(energy_classifier(boundaries[1]))
    items, importances = items_and_importances(model, [1, 1, 1, 1])
    model.calls.clear()
    table = aopc_table(model, items, importances, ["label"], rounds=5, seed=0, progress=False)
    assert len(model.calls) == len(items)
    assert list(table.columns) == ["comprehensiveness", "comprehensiveness_random",
                                   "comprehensiveness_random_std", "sufficiency",
                                   "sufficiency_random", "sufficiency_random_std"]
    row = table.loc["label"]
    assert row.comprehensiveness > row.comprehensiveness_random + 0.1
    assert row.sufficiency < row.sufficiency_random - 0.1
    assert row.sufficiency == pytest.approx(0.0, abs=1e-6)
    assert row.comprehensiveness_random_std > 0
    again = aopc_table(model, items, importances, ["label"], seed=0, progress=False)
    np.testing.assert_array_equal(table.to_numpy(), again.to_numpy())


def test_a_misleading_explanation_loses_to_random():
    _, boundaries = utterance(5)
    model = energy_classifier(boundaries[1])
    items, importances = items_and_importances(model, [1, 1, 1, 1])
    reversed_ = [replace(i, values=-i.scores) for i in importances]
    table = aopc_table(model, items, reversed_, ["label"], progress=False)
    row = table.loc["label"]
    assert row.comprehensiveness < row.comprehensiveness_random
    assert row.sufficiency > row.sufficiency_random


def test_top1_plausibility_counts_the_deciding_word():
    _, boundaries = utterance(5)
    model = energy_classifier(boundaries[1])
    items, importances = items_and_importances(model, [1, 3, 1, 0])
    assert top1_plausibility(importances, items, ["label"]) == {"label": 0.5}
    # an utterance without a deciding word for the slot does not count
    undecided = [SimpleNamespace(boundaries=item.boundaries, deciding_word={}) for item in items]
    assert top1_plausibility(importances, undecided[:1] + items[1:], ["label"]) == {
        "label": pytest.approx(1 / 3)}
    assert np.isnan(top1_plausibility(importances, undecided, ["label"])["label"])


def test_bad_input_raises():
    waveform, boundaries = utterance(3)
    model = energy_classifier(boundaries[0])
    with pytest.raises(ValueError, match="each ranking must order all 3"):
        comprehensiveness(model, waveform, RATE, boundaries, {"label": [0, 1]})
    with pytest.raises(ValueError, match="each ranking must order all 3"):
        sufficiency(model, waveform, RATE, boundaries, {"label": [0, 1, 1]})
    with pytest.raises(ValueError, match="unknown slot"):
        comprehensiveness(model, waveform, RATE, boundaries, {"action": [0, 1, 2]})
    with pytest.raises(ValueError, match="measures"):
        aopc(model, waveform, RATE, boundaries, {"label": [[0, 1, 2]]}, measures=("recall",))
    with pytest.raises(ValueError, match="unknown masking"):
        sufficiency(model, waveform, RATE, boundaries, {"label": [0, 1, 2]}, masking="brown")
    items, importances = items_and_importances(model, [0, 0], amplitudes=(0.5, 0.4))
    with pytest.raises(ValueError, match="one importance per item"):
        aopc_table(model, items, importances[:1], ["label"], progress=False)
    with pytest.raises(ValueError, match="lacks slot"):
        aopc_table(model, items, importances, ["action"], progress=False)
    with pytest.raises(ValueError, match="rounds"):
        aopc_table(model, items, importances, ["label"], rounds=0, progress=False)
    with pytest.raises(ValueError, match="boundaries"):
        top1_plausibility(importances, [items[0], SimpleNamespace(
            boundaries=boundaries[:2], deciding_word={"label": 0})], ["label"])
