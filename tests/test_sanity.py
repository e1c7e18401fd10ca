"""The method checks the chapters record: finite differences for gradients, local accuracy for
SHAP - near zero for the methods as defined, about one for zeros, noise or a wrong sign."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from speechxai.attribution import attribute, sensitivity
from speechxai.attribution.asr import saliency_error
from speechxai.attribution.explanation import Explanation
from speechxai.attribution.navai import sensitivity_error
from speechxai.attribution.sanity import finite_difference_error, local_accuracy_error
from speechxai.models import DeepSpeech, Wav2Letter

WEIGHTS = torch.linspace(-2, 3, 12, dtype=torch.float64).reshape(3, 4)


def quadratic(n: int, variants: torch.Tensor) -> torch.Tensor:
    """f(x) = sum(w * x^2), the same for every input; gradient 2 w x."""
    return (WEIGHTS * variants**2).flatten(1).sum(1)


@pytest.fixture
def inputs() -> torch.Tensor:
    return torch.randn(5, 3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))


def test_the_true_gradient_passes_and_broken_ones_fail(inputs):
    gradient = 2 * WEIGHTS * inputs
    assert finite_difference_error(quadratic, inputs, gradient) < 1e-6
    assert finite_difference_error(quadratic, inputs, torch.zeros_like(gradient)) == 1.0
    assert finite_difference_error(quadratic, inputs, -gradient) == pytest.approx(2.0)
    noise = torch.randn(inputs.shape, generator=torch.Generator().manual_seed(1)) \
        * gradient.std()
    assert finite_difference_error(quadratic, inputs, noise) > 0.5


def test_absolute_compares_magnitudes_as_saliency_reports_them(inputs):
    gradient = 2 * WEIGHTS * inputs
    assert finite_difference_error(quadratic, inputs, gradient.abs(), absolute=True) < 1e-6
    assert finite_difference_error(quadratic, inputs, gradient.abs()) > 0.1  # signs lost


def test_a_gradient_of_another_shape_is_refused(inputs):
    with pytest.raises(ValueError, match="shape"):
        finite_difference_error(quadratic, inputs, torch.zeros(5, 12, 1))


def explanation(values: np.ndarray, outputs: np.ndarray, base_values: np.ndarray
                ) -> Explanation:
    n = len(values)
    return Explanation(values=values, base_values=base_values, data=np.zeros((n, 19, 26)),
                       frames=np.arange(n), targets=np.zeros(n, int), outputs=outputs,
                       method="shap")


def test_local_accuracy_of_values_that_add_up_and_of_zeros():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(3, 19, 26))
    base = rng.normal(size=3)
    outputs = base + values.reshape(3, -1).sum(1)
    assert local_accuracy_error(explanation(values, outputs, base)) < 1e-12
    assert local_accuracy_error(explanation(np.zeros_like(values), outputs, base)) \
        == pytest.approx(1.0)


@pytest.fixture(scope="module")
def deepspeech() -> tuple[DeepSpeech, torch.Tensor]:
    torch.manual_seed(0)
    windows = 5 * torch.randn(6, 19, 26, generator=torch.Generator().manual_seed(1))
    return DeepSpeech(hidden=8).eval(), windows


def test_deepspeech_saliency_is_its_gradient_and_shap_adds_up(deepspeech):
    model, windows = deepspeech
    targets = [(1, "a"), (4, "o"), (5, 0)]
    saliency = attribute(model, windows, targets, "saliency")
    assert saliency_error(model, windows, saliency) < 1e-3
    broken = explanation(np.zeros_like(saliency.values), saliency.outputs,
                         saliency.base_values)
    broken = Explanation(**{**broken.__dict__, "frames": saliency.frames,
                            "targets": saliency.targets})
    assert saliency_error(model, windows, broken) == pytest.approx(1.0)
    assert local_accuracy_error(attribute(model, windows, targets, "shap")) < 1e-4


def test_navai_sensitivity_is_the_letters_gradient():
    torch.manual_seed(0)
    model = Wav2Letter(channels=[8, 8], kernels=[5, 5]).eval()
    windows = torch.randn(4, model.layers[0].in_channels, 9)
    letters = ["a", "b", "c", "a"]
    gradients = sensitivity(model, windows, letters)
    assert sensitivity_error(model, windows, letters, gradients) < 1e-3
    assert sensitivity_error(model, windows, letters, -gradients.values) \
        == pytest.approx(2.0, rel=1e-2)


def two_word_utterance() -> tuple[torch.Tensor, list[tuple[int, int]]]:
    generator = torch.Generator().manual_seed(2)
    # uniform in [-0.85, 0.85] (energy 0.24, peaks inside [-1, 1]), then quiet noise
    waveform = torch.cat([0.85 * (2 * torch.rand(800, generator=generator) - 1),
                          0.05 * torch.randn(800, generator=generator)])
    return waveform, [(0, 800), (800, 1600)]


def energy_classifier(waveforms):
    """Two classes; p(class 1) rises with the energy of the first 800 samples."""
    energy = torch.stack([w[:800].pow(2).mean() for w in waveforms])
    p = torch.sigmoid(20 * (energy - 0.1))
    return torch.stack([1 - p, p], dim=1)


def test_leave_one_out_and_paralinguistic_scores_are_the_drops_they_define():
    from speechxai.attribution.occlusion import word_importance
    from speechxai.attribution.paralinguistic import paralinguistic_importance
    from speechxai.attribution.sanity import leave_one_out_error, paralinguistic_error

    waveform, boundaries = two_word_utterance()
    words = word_importance(energy_classifier, waveform, 8000, boundaries)
    assert abs(words.scores).max() > 0.05
    assert leave_one_out_error(energy_classifier, waveform, 8000, boundaries, words) < 1e-6
    zeroed = replace(words, values=0 * words.scores)
    assert leave_one_out_error(energy_classifier, waveform, 8000, boundaries, zeroed) == 1.0

    perturbed = paralinguistic_importance(energy_classifier, waveform, 8000, seed=3)
    assert paralinguistic_error(energy_classifier, waveform, 8000, perturbed, seed=3) < 1e-5
    flipped = replace(perturbed, values=-perturbed.values)
    assert paralinguistic_error(energy_classifier, waveform, 8000, flipped, seed=3) \
        == pytest.approx(2.0)


def test_cascading_randomization_separates_a_model_dependent_method_from_an_edge_detector():
    from speechxai.attribution.sanity import cascading_randomization, parameter_layers

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(20, 16), torch.nn.ReLU(),
                                torch.nn.Linear(16, 3)).eval()
    inputs = torch.randn(6, 20, generator=torch.Generator().manual_seed(3))
    weights = model[0].weight.detach().clone()
    assert parameter_layers(model) == ["2", "0"]

    def gradient(network):
        x = inputs.clone().requires_grad_()
        (grad,) = torch.autograd.grad(network(x)[:, 1].sum(), x)
        return grad.numpy()

    cascade = cascading_randomization(model, gradient, seed=1)
    assert list(cascade.index) == ["none", "2", "0"] and cascade["none"] == 1.0
    assert abs(cascade.iloc[-1]) < 0.5  # the gradient follows the weights
    assert cascading_randomization(model, gradient, seed=1).equals(cascade)
    untouched = cascading_randomization(model, lambda network: inputs.numpy() ** 2)
    assert (untouched == 1.0).all()  # an explanation of the input alone fails the test
    assert torch.equal(model[0].weight, weights)  # the model itself is not changed


def test_randomization_prose_names_the_methods_that_survive():
    from speechxai.attribution.sanity import describe_randomization

    def cascade(last):
        return pd.Series({"none": 1.0, "fc": 0.7, "conv": last})

    text = describe_randomization({"AudioNet": {"saliency": cascade(0.1), "LRP": cascade(0.8)}})
    assert "saliency 0.10, LRP 0.80" in text and "LRP still resembles" in text
    assert "changes with the weights" in describe_randomization({"X": {"a": cascade(0.2)}})
