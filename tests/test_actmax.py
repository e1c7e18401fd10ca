"""Activation maximisation with Krug & Stober's (2018) settings, on a tiny recognizer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from speechxai.attribution import Explanation
from speechxai.attribution.actmax import activation_maximisation
from speechxai.models import Wav2Letter, receptive_field


@pytest.fixture
def model():
    torch.manual_seed(0)
    return Wav2Letter(channels=(8, 4), kernels=(3, 3), in_channels=6).eval()


@pytest.mark.parametrize(("layer", "channel"), [(0, 1), (1, 2), (-1, 5)])
def test_activation_increases_and_shapes(model, layer, channel):
    state = {key: value.clone() for key, value in model.state_dict().items()}
    result = activation_maximisation(model, layer, channel, steps=50)
    assert result.input.shape == (6, receptive_field(model))
    assert result.activations.shape == (51,)
    assert result.activations[-1] > result.activations[0] + 0.05
    assert all(torch.equal(state[key], value) for key, value in model.state_dict().items())
    assert all(parameter.grad is None for parameter in model.parameters())
    assert not any(module._forward_hooks for module in model.modules())


def test_seeded_start_is_xavier_uniform_and_deterministic(model):
    start = activation_maximisation(model, 0, 0, steps=1, learning_rate=1e-12).input
    bound = np.sqrt(6 / (6 + receptive_field(model)))
    assert start.abs().max() <= bound and start.abs().max() > 0.8 * bound
    first = activation_maximisation(model, 1, 2, steps=10, seed=3)
    again = activation_maximisation(model, 1, 2, steps=10, seed=3)
    other = activation_maximisation(model, 1, 2, steps=10, seed=4)
    assert torch.equal(first.input, again.input)
    assert np.array_equal(first.activations, again.activations)
    assert not torch.equal(first.input, other.input)


def test_bad_neurons_and_settings(model):
    with pytest.raises(ValueError, match="3 Conv1d layers"):
        activation_maximisation(model, 3, 0, steps=1)
    with pytest.raises(ValueError, match="4 channels"):
        activation_maximisation(model, 1, 4, steps=1)
    with pytest.raises(ValueError, match="frames"):
        activation_maximisation(model, -1, 0, frame=1, steps=1)
    with pytest.raises(ValueError, match="steps"):
        activation_maximisation(model, 0, 0, steps=0)


def test_the_optimised_input_is_an_explanation_of_its_neuron(model):
    result = activation_maximisation(model, -1, 5, steps=5)
    assert isinstance(result, Explanation) and result.method == "activation maximisation"
    assert result.output_names == ("layer -1, channel 5",)
    assert result.outputs[0] == pytest.approx(result.activations[-1])
    np.testing.assert_array_equal(result.values[0], result.input.numpy())
    assert [axis.name for axis in result.axes] == ["mel band", "frame"]
