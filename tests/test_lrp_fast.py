"""fast_relevance (speechxai.attribution.lrp) against zennit's composite: the same relevances
on both architectures and on every branch of the rules, conservation, hand-computed rules,
clear errors for layers without a rule, and no side effects on the model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from oracles import values
from torch import nn

from speechxai.attribution import Explanation
from speechxai.attribution.lrp import (
    AttributionError,
    lrp_composite,
    relevance,
    relevance_stream,
    without_biases,
)
from speechxai.attribution.lrp_onepass import _phase_transposed, fast_relevance
from speechxai.features import audiomnist_spectrogram, audiomnist_waveform, fold_mean
from speechxai.models import AlexNet, AudioNet

STABILISER = 1e-6  # zennit's default for z^B and gamma, added to each denominator


def assert_same(fast: torch.Tensor | Explanation, reference: torch.Tensor | Explanation
                ) -> None:
    """Equal within 1e-5 relative, scaled by the largest relevance (the issue's criterion)."""
    fast, reference = (values(r) if isinstance(r, Explanation) else r for r in (fast, reference))
    assert fast.shape == reference.shape and fast.dtype == reference.dtype
    assert fast.stride() == reference.stride()
    assert reference.abs().max() > 0
    torch.testing.assert_close(fast, reference, rtol=1e-5,
                               atol=1e-5 * reference.abs().max().item())


def random_biases(model: nn.Module, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("bias"):
                parameter.normal_(0.0, 0.1)
    return model


def voices(n: int, seed: int = 0) -> list[np.ndarray]:
    """Seeded synthetic 8-kHz digits (0.4-0.9 s of harmonics and noise), int16 scale."""
    rng = np.random.default_rng(seed)
    signals = []
    for _ in range(n):
        t = np.arange(int(rng.uniform(0.4, 0.9) * 8000)) / 8000
        pitch = rng.uniform(90, 250)
        voiced = sum(np.sin(2 * np.pi * k * pitch * t) / k for k in range(1, 6))
        envelope = np.sin(np.pi * t / t[-1]) ** 2
        signals.append(3000 * envelope * (voiced + 0.2 * rng.standard_normal(t.size)))
    return signals


def waveforms(n: int) -> torch.Tensor:
    """AudioNet inputs (n, 1, 8000) through the book's preprocessing (placement, scaling)."""
    return torch.stack([audiomnist_waveform(s, 8000, seed=i)
                        for i, s in enumerate(voices(n))]).unsqueeze(1)


def spectrograms(n: int) -> torch.Tensor:
    """AlexNet inputs (n, 1, 227, 227): dB spectrograms minus their mean, as in the book."""
    padded = torch.stack([audiomnist_waveform(s, 8000, seed=i, normalise=False)
                          for i, s in enumerate(voices(n))])
    spectra = audiomnist_spectrogram(padded)
    return (spectra - fold_mean(spectra)).unsqueeze(1)


@pytest.mark.parametrize(("architecture", "inputs"), [(AudioNet, waveforms),
                                                      (AlexNet, spectrograms)])
def test_equals_the_zennit_composite_on_both_architectures(architecture, inputs):
    torch.manual_seed(0)
    model = random_biases(architecture(10, width=0.1))
    x, targets = inputs(4), torch.tensor([0, 3, 7, 9])
    assert x.min() < 0 < x.max()  # signed inputs: the z^B bounds matter
    # default bounds: both take the batch's minimum and maximum
    assert_same(values(fast_relevance(model, x, targets)),
                values(relevance(model, x, targets)))
    for low, high in [(x.min().item() - 1.0, x.max().item() + 2.0),  # other fixed bounds
                      (x.min().item() / 2, x.max().item() / 2)]:  # inputs outside them
        assert_same(values(fast_relevance(model, x, targets, low, high, epsilon=0.1,
                                          gamma=0.5)),
                    values(relevance(model, x, targets, lrp_composite(low, high, epsilon=0.1,
                                                               gamma=0.5))))


def test_equals_the_composite_with_bounds_per_sample_position():
    torch.manual_seed(1)
    model, x = random_biases(AudioNet(10, width=0.1)), waveforms(3)
    # (1, 1, 1, 8000): AudioNet's first layer sees a waveform as a row; broadcast over the batch
    low = x.min(dim=0, keepdim=True).values.unsqueeze(2) - 0.5
    high = x.max(dim=0, keepdim=True).values.unsqueeze(2) + 0.5
    assert_same(values(fast_relevance(model, x, 5, low, high)),
                relevance(model, x, 5, lrp_composite(low, high)))


BRANCHES = {
    # no ReLUs: gamma sees inputs and outputs of both signs; a strided transpose by phases
    "signed": lambda: nn.Sequential(nn.Conv1d(2, 4, 3), nn.Conv1d(4, 4, 3, padding=1),
                                    nn.Conv1d(4, 3, 2, stride=2), nn.Flatten(),
                                    nn.Linear(27, 5)),
    # z^B with two groups and dilation: the stacked transposes per group
    "grouped": lambda: nn.Sequential(nn.Conv1d(2, 6, 3, groups=2, dilation=2), nn.ReLU(),
                                     nn.MaxPool1d(2), nn.Conv1d(6, 4, 3, groups=2), nn.ReLU(),
                                     nn.Flatten(), nn.Linear(24, 5)),
    # z^B on a dense layer after flattening
    "dense first": lambda: nn.Sequential(nn.Flatten(), nn.Dropout(), nn.Linear(40, 8),
                                         nn.ReLU(), nn.Linear(8, 5)),
    "float64": lambda: nn.Sequential(nn.Conv1d(2, 4, 3), nn.ReLU(), nn.Conv1d(4, 4, 3),
                                     nn.ReLU(), nn.Flatten(), nn.Linear(64, 5)).double(),
}


@pytest.mark.parametrize("branch", BRANCHES)
def test_equals_the_composite_on_every_branch_of_the_rules(branch):
    torch.manual_seed(2)
    model = random_biases(BRANCHES[branch]())
    x = torch.randn(3, 2, 20, dtype=next(model.parameters()).dtype)
    assert_same(values(fast_relevance(model, x, torch.tensor([0, 2, 4]))),
                relevance(model, x, torch.tensor([0, 2, 4])))


@pytest.mark.parametrize(("stride", "kernel", "padding", "size"), [
    ((4, 4), (11, 11), (0, 0), (227, 227)),  # AlexNet's first layer
    ((2, 3), (5, 2), (1, 2), (17, 20)),  # taps of unequal counts, inputs not covered evenly
    ((3,), (2,), (0,), (23,)),  # kernel shorter than the stride: some phases see nothing
    ((2,), (7,), (3,), (30,)),
])
def test_phase_transposed_equals_the_input_gradient(stride, kernel, padding, size):
    torch.manual_seed(6)
    convolve = nn.functional.conv1d if len(stride) == 1 else nn.functional.conv2d
    x = torch.randn(2, 3, *size, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(4, 3, *kernel, dtype=torch.float64)
    output = convolve(x, weight, stride=stride, padding=padding)
    s = torch.randn_like(output)
    (expected,) = torch.autograd.grad(output, x, s)
    torch.testing.assert_close(_phase_transposed(s, weight, stride, padding, x.shape[2:]),
                               expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("architecture", "inputs"), [(AudioNet, waveforms),
                                                      (AlexNet, spectrograms)])
def test_relevance_sums_to_the_output_without_biases(architecture, inputs):
    torch.manual_seed(3)
    model = without_biases(random_biases(architecture(10, width=0.1)).double()).eval()
    x, targets = inputs(2).double(), torch.tensor([1, 7])
    outputs = model(x)[[0, 1], targets].detach()
    sums = values(fast_relevance(model, x, targets)).sum(dim=tuple(range(1, x.ndim)))
    torch.testing.assert_close(sums, outputs, rtol=1e-3, atol=0.0)


def set_weights(layer: nn.Module, weight: list, bias: list) -> None:
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight, dtype=torch.float64).reshape(layer.weight.shape))
        layer.bias.copy_(torch.tensor(bias, dtype=torch.float64))


def test_epsilon_and_zbox_rules_by_hand():
    # x -> Linear(2, 2) (z^B, bounds [-1, 1]) -> ReLU -> Linear(2, 2) (epsilon = 0.5)
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2)).double()
    set_weights(model[0], [[1.0, -1.0], [2.0, 1.0]], [0.0, 0.0])
    set_weights(model[2], [[1.0, 2.0], [-1.0, 1.0]], [0.5, 0.0])
    x = torch.tensor([[0.5, -0.5], [0.5, -0.5]], dtype=torch.float64)
    # hidden a = [1, 0.5]; logits y = [2.5, -0.5]; LRP-epsilon R_k = a_k w_kc y_c / (y_c
    # + 0.5 sign y_c): a single dense layer's rule, x * w * R / (z + epsilon)
    hidden = torch.tensor([[1.0 * 1.0 / 3.0 * 2.5, 0.5 * 2.0 / 3.0 * 2.5],
                           [1.0 * -1.0 / -1.0 * -0.5, 0.5 * 1.0 / -1.0 * -0.5]],
                          dtype=torch.float64)
    # z^B: z_ij = x_i w_ij - l w_ij^+ - h w_ij^-: neuron 1 [1.5, 1.5], neuron 2 [3, 0.5]
    expected = (hidden[:, :1] * torch.tensor([1.5, 1.5]) / (3.0 + STABILISER)
                + hidden[:, 1:] * torch.tensor([3.0, 0.5]) / (3.5 + STABILISER))
    actual = values(fast_relevance(model, x, torch.tensor([0, 1]), low=-1.0, high=1.0,
                                   epsilon=0.5))
    torch.testing.assert_close(actual, expected, rtol=1e-12, atol=1e-12)


def test_stream_matches_the_zennit_stream():
    torch.manual_seed(4)
    model, x = random_biases(AudioNet(10, width=0.1)), waveforms(5)
    targets = torch.tensor([0, 3, 9, 3, 1])
    fast = values(relevance_stream(model, x, targets, batch_size=2, progress=False,
                                   fast=True))
    assert fast.dtype == torch.float32
    assert_same(fast, values(relevance_stream(model, x, targets, batch_size=2,
                                              progress=False)))


def hooks(model: nn.Module) -> list:
    return [hook for module in model.modules() for hook in (
        *module._forward_hooks.values(), *module._forward_pre_hooks.values(),
        *module._backward_hooks.values(), *module._backward_pre_hooks.values())]


def test_model_is_unchanged_afterwards():
    torch.manual_seed(5)
    model = AudioNet(10, width=0.1).train()
    before = {name: p.clone() for name, p in model.state_dict().items()}
    x = waveforms(3)
    with torch.no_grad():  # as in a notebook cell that forgot to enable gradients
        first = values(fast_relevance(model, x, 2))
    torch.testing.assert_close(values(fast_relevance(model, x, 2)), first)  # dropout was off
    with pytest.raises(AttributionError, match="out of range"):
        fast_relevance(model, x, 10)  # an error after the hooks are in place
    assert model.training and not hooks(model)
    assert not any(p.grad is not None for p in model.parameters())
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, before[name], rtol=0, atol=0)


@pytest.mark.parametrize(("model", "message"), [
    (nn.Sequential(nn.Conv1d(1, 2, 3), nn.BatchNorm1d(2), nn.Flatten(), nn.Linear(12, 2)),
     r"no rule for 1 \(BatchNorm1d"),
    (nn.Sequential(nn.Conv1d(1, 2, 3), nn.AvgPool1d(2), nn.Flatten(), nn.Linear(6, 2)),
     r"no rule for 1 \(AvgPool1d"),
    (nn.Sequential(nn.Conv1d(1, 2, 3), nn.ReLU(inplace=True), nn.Flatten(), nn.Linear(12, 2)),
     r"no rule for 1 \(ReLU\(inplace=True\)"),
    (nn.Sequential(nn.Conv1d(1, 2, 3, padding="same"), nn.Flatten(), nn.Linear(16, 2)),
     "no rule for 0 .*zero padding"),
    (nn.Sequential(nn.ReLU(), nn.Conv1d(1, 2, 3), nn.Flatten(), nn.Linear(12, 2)),
     "no rule for 0 before the first convolution"),
    (nn.Sequential(nn.Flatten(), nn.ReLU()), "no convolution or dense layer"),
])
def test_layers_without_a_rule_raise_clear_errors(model, message):
    with pytest.raises(AttributionError, match=message):
        fast_relevance(model, torch.randn(2, 1, 8), 0)
    assert not hooks(model)
