"""Expected-gradients SHAP (speechxai.attribution.gradient_shap) against its definition."""

import numpy as np
import pytest
import torch
from torch import nn

from speechxai.attribution import AttributionError
from speechxai.attribution.gradient_shap import gradient_shap_values
from speechxai.errors import AudioError


@pytest.fixture
def linear():
    torch.manual_seed(0)
    return nn.Linear(12, 3)


def test_a_linear_model_gets_its_weight_times_input_minus_background(linear):
    # the gradient of a linear output is its weight row everywhere, so each draw gives
    # w * (x - x'): with one background row exactly w * (x - background)
    inputs, background = torch.randn(4, 12), torch.randn(1, 12)
    targets = np.array([0, 2, 1, 2])
    values = gradient_shap_values(linear, inputs, targets, background, n_samples=8)
    expected = linear.weight.detach()[targets] * (inputs - background)
    np.testing.assert_allclose(values, expected.numpy(), rtol=1e-5, atol=1e-6)


def test_values_add_up_to_the_output_minus_the_background_mean(linear):
    # local accuracy in expectation: for a linear model exact per draw, so the sum over
    # features is f(x) minus the mean output over the drawn background rows
    model = nn.Sequential(linear, nn.Tanh(), nn.Linear(3, 2))
    inputs, background = torch.randn(3, 12) * 0.1, torch.zeros(1, 12)
    values = gradient_shap_values(model, inputs, [1, 1, 0], background, n_samples=400)
    with torch.no_grad():
        outputs = model(inputs)[torch.arange(3), torch.tensor([1, 1, 0])]
        base = model(background)[0, torch.tensor([1, 1, 0])]
    np.testing.assert_allclose(values.reshape(3, -1).sum(1), (outputs - base).numpy(),
                               atol=2e-3)


def test_the_same_seed_gives_the_same_values_and_numpy_state_is_kept(linear):
    model = nn.Sequential(linear, nn.ReLU(), nn.Linear(3, 2))
    inputs, background = torch.randn(2, 12), torch.randn(5, 12)
    np.random.seed(7)
    before = np.random.get_state()[1].copy()
    first = gradient_shap_values(model, inputs, [0, 1], background, seed=3)
    np.testing.assert_array_equal(np.random.get_state()[1], before)
    again = gradient_shap_values(model, inputs, [0, 1], background, seed=3)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, gradient_shap_values(model, inputs, [0, 1], background, seed=4))


def test_a_background_of_another_shape_or_not_finite_is_refused(linear):
    with pytest.raises(AttributionError, match=r"background must be inputs of shape \(B, 12\)"):
        gradient_shap_values(linear, torch.randn(2, 12), 0, torch.randn(3, 11))
    with pytest.raises(AudioError, match="NaN or infinite"):
        gradient_shap_values(linear, torch.full((2, 12), float("nan")), 0, torch.randn(3, 12))
    with pytest.raises(AudioError, match="background inputs contain NaN"):
        gradient_shap_values(linear, torch.randn(2, 12), 0, torch.full((3, 12), float("inf")))
    with pytest.raises(AudioError, match="floating-point"):
        gradient_shap_values(linear, torch.ones(2, 12, dtype=torch.int16), 0, torch.randn(3, 12))
