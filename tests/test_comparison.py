"""The "Comparing explanations" chapter's parts, checked against their definitions on models
whose answers are known: deletion with two masking operators, the listenable-explanation
metrics, the recogniser's one-window classifier, full randomisation and the comparison."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from speechxai import explain
from speechxai.attribution.asr import OwnWindow
from speechxai.attribution.sanity import cascading_randomization, randomized_copy
from speechxai.evaluation.curves import curve_area
from speechxai.evaluation.feature_deletion import (
    FRACTIONS,
    deletion_curves,
    random_attribution,
    replacement,
)
from speechxai.evaluation.listenable import listenable_metrics, relevance_masks, shuffled_masks
from speechxai.experiments import comparison as study
from speechxai.models import DeepSpeech


def linear_classifier(n_features: int = 40, n_classes: int = 3, seed: int = 0) -> nn.Linear:
    torch.manual_seed(seed)
    layer = nn.Linear(n_features, n_classes, bias=False)
    return layer.eval()


@pytest.fixture
def linear():
    model = linear_classifier()
    inputs = torch.randn(6, 40, generator=torch.Generator().manual_seed(1))
    targets = model(inputs).argmax(1).detach().numpy()
    return model, inputs, targets


def softmax(model):
    return lambda x: model(x).softmax(-1)


def test_zero_deletion_removes_exactly_the_highest_ranked_features(linear):
    model, inputs, targets = linear
    values = np.arange(40, dtype=float)[None].repeat(len(inputs), 0)  # the last feature first
    curves = deletion_curves(softmax(model), inputs, targets, values, "zero", [0.0, 0.25, 1.0])
    kept = inputs.clone()
    kept[:, 30:] = 0  # rint(0.25 * 40) = 10 features: the ten largest values
    with torch.no_grad():
        p = model(inputs).softmax(-1)[range(6), targets]
        expected = model(kept).softmax(-1)[range(6), targets] / p
        uniform = 1 / 3 / p  # everything removed: all logits 0
    np.testing.assert_allclose(curves[0], 1.0, rtol=1e-6)
    np.testing.assert_allclose(curves[1], expected.numpy(), rtol=1e-5)
    np.testing.assert_allclose(curves[2], uniform.numpy(), rtol=1e-5)


def test_the_true_contributions_delete_faster_than_random_under_both_operators(linear):
    model, inputs, targets = linear
    with torch.no_grad():
        contributions = (model.weight[targets] * inputs).numpy()
    for operator in ("zero", "noise"):
        own = curve_area(FRACTIONS, deletion_curves(softmax(model), inputs, targets,
                                                    contributions, operator))
        chance = curve_area(FRACTIONS, deletion_curves(softmax(model), inputs, targets,
                                                       random_attribution((6, 40), 3), operator))
        assert own.mean() < chance.mean() - 0.1, operator


def test_noise_has_each_inputs_mean_and_spread_and_follows_its_seed():
    inputs = torch.stack([torch.full((4000,), 3.0) + torch.randn(4000), 10 * torch.randn(4000)])
    noise = replacement(inputs, "noise", seed=7)
    np.testing.assert_allclose(noise.mean(1), inputs.mean(1), atol=0.5)
    np.testing.assert_allclose(noise.std(1), inputs.std(1), rtol=0.05)
    assert torch.equal(noise, replacement(inputs, "noise", seed=7))
    assert not torch.equal(noise, replacement(inputs, "noise", seed=8))
    with pytest.raises(ValueError, match="operator must be one of zero, noise"):
        replacement(inputs, "blur")


def test_deletion_refuses_values_of_another_shape(linear):
    model, inputs, targets = linear
    with pytest.raises(ValueError, match="values"):
        deletion_curves(softmax(model), inputs, targets, np.zeros((6, 39)))
    with pytest.raises(ValueError, match="one target per input"):
        deletion_curves(softmax(model), inputs, targets[:2], np.zeros((6, 40)))


def test_relevance_masks_scale_positive_relevance_to_one_and_shuffles_keep_their_values():
    values = np.array([[-1.0, 0.5, 2.0, 0.0], [-3.0, -1.0, 0.0, 0.0]])
    masks = relevance_masks(values)
    np.testing.assert_allclose(masks, [[0, 0.25, 1, 0], [0, 0, 0, 0]])
    shuffled = shuffled_masks(masks, seed=2)
    np.testing.assert_allclose(np.sort(shuffled, 1), np.sort(masks, 1))
    np.testing.assert_array_equal(shuffled, shuffled_masks(masks, seed=2))


def test_listenable_metrics_follow_their_definitions(linear):
    model, inputs, _ = linear
    masks = np.random.default_rng(4).uniform(size=(6, 40))
    scores = listenable_metrics(softmax(model), inputs, masks)
    with torch.no_grad():
        table = model(inputs).softmax(-1).numpy()
        kept = model(inputs * torch.tensor(masks, dtype=torch.float32)).softmax(-1).numpy()
        out = model(inputs * torch.tensor(1 - masks, dtype=torch.float32)).softmax(-1).numpy()
    c = table.argmax(1)
    p, q, r = table[range(6), c], kept[range(6), c], out[range(6), c]
    assert scores["ff"] == pytest.approx(np.mean(p - r), abs=1e-6)
    assert scores["ai"] == pytest.approx(np.mean(q > p))
    assert scores["ad"] == pytest.approx(np.mean(np.maximum(0, p - q) / p), abs=1e-6)
    assert scores["ag"] == pytest.approx(np.mean(np.maximum(0, q - p) / (1 - p)), abs=1e-6)
    assert scores["fid_in"] == pytest.approx(np.mean(kept.argmax(1) == c))
    whole = listenable_metrics(softmax(model), inputs, np.ones((6, 40)))
    assert whole["fid_in"] == 1 and whole["ad"] == pytest.approx(0, abs=1e-6)
    assert whole["ff"] == pytest.approx(np.mean(p - 1 / 3), abs=1e-6)  # nothing left: uniform


def test_own_window_is_the_recogniser_at_that_frame_with_that_window_replaced():
    torch.manual_seed(0)
    model = DeepSpeech(hidden=16).eval()
    windows = torch.randn(7, 19, 26)
    step = OwnWindow(model, windows, 4)
    variant = torch.randn(1, 19, 26)
    changed = windows.clone()
    changed[4] = variant[0]
    with torch.no_grad():
        torch.testing.assert_close(step(windows[4][None])[0], model(windows)[4], atol=1e-5,
                                   rtol=1e-5)
        torch.testing.assert_close(step(variant)[0], model(changed)[4], atol=1e-5, rtol=1e-5)


def test_a_randomized_copy_is_the_cascades_last_step_and_leaves_the_model_alone(linear):
    model, inputs, _ = linear
    before = model.weight.detach().clone()
    copy = randomized_copy(model, seed=3)
    assert torch.equal(model.weight, before)
    assert not torch.allclose(copy.weight, before)
    assert torch.equal(copy.weight, randomized_copy(model, seed=3).weight)
    cascade = cascading_randomization(model, lambda m: m.weight.detach().numpy()[None], seed=3)
    assert cascade.iloc[-1] == pytest.approx(
        np.corrcoef(np.argsort(np.argsort(np.abs(before.numpy()).ravel())),
                    np.argsort(np.argsort(np.abs(copy.weight.detach().numpy()).ravel())))[0, 1])


def test_occlusion_takes_an_array_baseline(linear):
    model, inputs, targets = linear
    same = explain(model, inputs, targets, "occlusion", baseline=inputs[0]).values
    assert np.abs(same[0]).max() == 0  # occluding the input with itself changes nothing
    assert np.abs(same[1:]).max() > 0
    with pytest.raises(Exception, match="broadcastable"):
        explain(model, inputs, targets, "occlusion", baseline=torch.zeros(3))


def test_the_comparison_of_a_linear_model_matches_the_theory(linear):
    model, inputs, targets = linear
    compared = study.compare("linear", study.classifier(inputs, targets), model,
                             torch.zeros(40), seed=0)
    # a linear model without bias: gradient x input = integrated gradients = SHAP from zero
    np.testing.assert_allclose(compared.values["gradient_x_input"],
                               compared.values["integrated_gradients"], atol=1e-5)
    table = compared.table()
    assert set(table.index) == {*study.METHODS, study.RANDOM}
    for operator in ("zero", "noise"):
        assert table.loc["gradient_x_input", f"minus_random_hi.{operator}"] < 0
    # saliency of a linear model is |W_c|, the same for every input: random weights change it
    assert table.loc["saliency", "randomized_rank_corr"] < 0.5
    # gradient x input keeps the input's magnitude pattern (Adebayo et al.'s point)
    assert table.loc["gradient_x_input", "randomized_rank_corr"] > (
        table.loc["saliency", "randomized_rank_corr"])
    text = study.describe({"linear": table})
    assert "**linear**" in text and "zero" in text and "noise" in text


def test_audible_scores_put_each_method_against_its_shuffled_masks(linear):
    model, inputs, targets = linear
    values = {"exact": (model.weight[targets] * inputs).detach().numpy(),
              study.RANDOM: random_attribution((6, 40))}
    scores = study.audible_scores(model, inputs, values, seed=0)
    assert list(scores.index) == ["exact"]
    assert {"ff", "ff.random", "fid_in.random"} <= set(scores.columns)
    assert scores.loc["exact", "ff"] > scores.loc["exact", "ff.random"]
    assert "ff" in study.describe_audible(scores)
    assert isinstance(scores, pd.DataFrame)
