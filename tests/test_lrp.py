"""LRP (speechxai.attribution.lrp) against the math: hand-computed rules, conservation,
batch independence, no side effects on the model, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from oracles import values
from torch import nn
from zennit.rules import Epsilon, Gamma, Pass, ZBox

from speechxai.attribution import (
    AttributionError,
    Explanation,
    conservation_error,
    fast_relevance,
    lrp_composite,
    relevance,
    relevance_stream,
    without_biases,
)
from speechxai.errors import AudioError
from speechxai.models import AlexNet, AudioNet

STABILISER = 1e-6  # zennit's default for z^B and gamma, added to each denominator


def tiny_audionet(seed: int = 0) -> AudioNet:
    torch.manual_seed(seed)
    return AudioNet(10, width=0.05).double()


def tiny_alexnet(seed: int = 0) -> AlexNet:
    torch.manual_seed(seed)
    return AlexNet(10, width=0.05).double()


def random_biases(model: nn.Module) -> nn.Module:
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("bias"):
                parameter.normal_(0.0, 0.1)
    return model


def set_weights(layer: nn.Module, weight: list, bias: list) -> None:
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight, dtype=torch.float64).reshape(layer.weight.shape))
        layer.bias.copy_(torch.tensor(bias, dtype=torch.float64))


@pytest.mark.parametrize("build", [tiny_audionet, tiny_alexnet])
def test_composite_puts_zbox_first_gamma_on_convolutions_epsilon_on_dense_layers(build):
    model, composite, ctx = build(), lrp_composite(-1.0, 1.0), {}
    rules = [(m, composite.mapping(ctx, name, m)) for name, m in model.named_modules()]
    convolutions = [rule for module, rule in rules if isinstance(module, (nn.Conv1d, nn.Conv2d))]
    assert isinstance(convolutions[0], ZBox)
    assert all(isinstance(rule, Gamma) for rule in convolutions[1:])
    assert all(isinstance(rule, Epsilon) for module, rule in rules if isinstance(module, nn.Linear))
    assert all(isinstance(rule, Pass) for module, rule in rules if isinstance(module, nn.ReLU))
    pooling = (nn.MaxPool1d, nn.MaxPool2d, nn.Dropout, nn.Flatten)
    assert all(rule is None for module, rule in rules if isinstance(module, pooling))


def test_epsilon_and_zbox_rules_by_hand():
    # x -> Linear(2, 2) -> ReLU -> Linear(2, 2); z^B with bounds [-1, 1] on the first layer,
    # LRP-epsilon (epsilon = 0.5, far from LRP-0) on the second.
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2)).double()
    set_weights(model[0], [[1.0, -1.0], [2.0, 1.0]], [0.0, 0.0])
    set_weights(model[2], [[1.0, 2.0], [-1.0, 1.0]], [0.5, 0.0])
    x = torch.tensor([[0.5, -0.5], [0.5, -0.5]], dtype=torch.float64)
    # hidden a = relu([0.5 + 0.5, 1 - 0.5]) = [1, 0.5]
    # logits y = [1 + 1 + 0.5, -1 + 0.5] = [2.5, -0.5]
    # epsilon rule, R_k = a_k w_kc / (y_c + 0.5 sign(y_c)) * y_c:
    hidden = torch.tensor([
        [1.0 * 1.0 / 3.0 * 2.5, 0.5 * 2.0 / 3.0 * 2.5],  # class 0
        [1.0 * -1.0 / -1.0 * -0.5, 0.5 * 1.0 / -1.0 * -0.5],  # class 1
    ], dtype=torch.float64)
    # z^B: z_ij = x_i w_ij - l w_ij^+ - h w_ij^- with l = -1, h = 1:
    # neuron 1 (w = [1, -1]): [0.5 + 1, 0.5 + 1] = [1.5, 1.5], sum 3
    # neuron 2 (w = [2, 1]): [1 + 2, -0.5 + 1] = [3, 0.5], sum 3.5
    expected = (hidden[:, :1] * torch.tensor([1.5, 1.5]) / (3.0 + STABILISER)
                + hidden[:, 1:] * torch.tensor([3.0, 0.5]) / (3.5 + STABILISER))
    composite = lrp_composite(-1.0, 1.0, epsilon=0.5)
    actual = values(relevance(model, x, torch.tensor([0, 1]), composite))
    torch.testing.assert_close(actual, expected, rtol=1e-12, atol=1e-12)


def test_gamma_rule_by_hand():
    # x (length 2) -> Conv1d 1x1 (z^B) -> ReLU -> Conv1d k=2 (gamma) -> ReLU -> Linear (epsilon)
    model = nn.Sequential(nn.Conv1d(1, 1, 1), nn.ReLU(), nn.Conv1d(1, 1, 2), nn.ReLU(),
                          nn.Flatten(), nn.Linear(1, 1)).double()
    set_weights(model[0], [1.0], [0.0])
    set_weights(model[2], [2.0, -1.0], [0.0])
    set_weights(model[5], [3.0], [0.0])
    x = torch.tensor([[[0.5, 0.25]]], dtype=torch.float64)
    # a = [0.5, 0.25]; h = 0.5 * 2 - 0.25 = 0.75; y = 2.25
    top = 0.75 * 3.0 / (2.25 + 1e-6) * 2.25  # LRP-epsilon with the default epsilon
    # gamma = 0.25 on positive inputs: a_i (w_i + 0.25 w_i^+) = [0.5 * 2.5, 0.25 * -1], sum 1
    middle = torch.tensor([1.25, -0.25], dtype=torch.float64) * top / (1.0 + STABILISER)
    # z^B on a 1x1 kernel w = 1 keeps each sample's relevance: z = x - l = [1.5, 1.25]
    z = torch.tensor([1.5, 1.25], dtype=torch.float64)
    expected = (middle * z / (z + STABILISER)).reshape(1, 1, 2)
    torch.testing.assert_close(values(relevance(model, x, 0, lrp_composite(-1.0, 1.0))),
                               expected,
                               rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(values(fast_relevance(model, x, 0, low=-1.0, high=1.0)),
                               expected,
                               rtol=1e-12, atol=1e-12)  # the one-pass implementation too
    lrp0 = torch.tensor([1.0, -0.25]) / 0.75 * top  # what the plain LRP-0 rule would give
    assert not torch.allclose(values(relevance(model, x, 0, lrp_composite(-1.0, 1.0)))
                              .flatten().float(),
                              lrp0.float(), rtol=1e-3)


@pytest.mark.parametrize(("build", "shape", "scale"), [
    (tiny_audionet, (2, 1, 8000), 1.0),
    (tiny_alexnet, (2, 1, 227, 227), 10.0),
])
def test_relevance_sums_to_the_output_without_biases(build, shape, scale):
    model = random_biases(build()).eval()  # eval: the outputs below without dropout
    torch.manual_seed(1)
    x = torch.randn(*shape, dtype=torch.float64) * scale
    target = torch.tensor([1, 7])
    unbiased = without_biases(model)
    assert all(not p.any() for n, p in unbiased.named_parameters() if n.endswith("bias"))
    assert all(p.any() for n, p in model.named_parameters() if n.endswith("bias"))  # a copy

    outputs = unbiased(x)[[0, 1], target].detach()
    sums = values(relevance(unbiased, x, target)).sum(dim=tuple(range(1, x.ndim)))
    torch.testing.assert_close(sums, outputs, rtol=1e-3, atol=0.0)
    assert conservation_error(unbiased, x, target) < 1e-3

    # with biases, relevance leaks into them: the measure must see it
    leaked = values(relevance(model, x, target)).sum(dim=tuple(range(1, x.ndim)))
    biased_outputs = model(x)[[0, 1], target].detach()
    by_hand = ((leaked - biased_outputs).abs() / biased_outputs.abs()).mean().item()
    assert conservation_error(model, x, target) == pytest.approx(by_hand)
    assert by_hand > 1e-3


def test_every_lrp_entry_returns_an_explanation_of_its_inputs_targets_and_logits():
    model = tiny_audionet().eval()
    torch.manual_seed(4)
    x = torch.randn(3, 1, 8000, dtype=torch.float64)
    targets = torch.tensor([2, 0, 9])
    logits = model(x).detach()[[0, 1, 2], targets].double().numpy()
    results = {"relevance": relevance(model, x, targets),
               "fast_relevance": fast_relevance(model, x, targets),
               "relevance_stream": relevance_stream(model, x, targets, batch_size=2,
                                                    progress=False)}
    for name, explained in results.items():
        assert isinstance(explained, Explanation), name
        assert explained.method == "lrp", name
        assert explained.values.dtype == (np.float32 if name == "relevance_stream" else np.float64)
        np.testing.assert_array_equal(explained.data, x.numpy())
        np.testing.assert_array_equal(explained.targets, targets.numpy())
        np.testing.assert_allclose(explained.outputs, logits, rtol=1e-5)
    # one class for all inputs is repeated per input
    np.testing.assert_array_equal(relevance(model, x, 4).targets, [4, 4, 4])


def test_stream_matches_one_batch_and_does_not_depend_on_batch_size():
    model = tiny_audionet()
    torch.manual_seed(2)
    x = torch.randn(5, 1, 8000, dtype=torch.float64)
    x[3:] *= 3.0  # later batches span a wider range than the first
    targets = torch.tensor([0, 3, 9, 3, 1])
    whole = values(relevance(model, x, targets,
                             lrp_composite(x.min().item(), x.max().item())))
    for batch_size in (1, 2, 5):
        streamed = values(relevance_stream(model, x, targets, batch_size=batch_size,
                                           progress=False))
        assert streamed.dtype == torch.float32 and streamed.shape == x.shape
        torch.testing.assert_close(streamed, whole.float(), rtol=1.3e-6, atol=1e-12)
    # per-batch bounds would differ: the fixed bounds are what makes the stream consistent
    per_batch = torch.cat([values(relevance(model, x[i:i + 2], targets[i:i + 2]))
                           for i in (0, 2, 4)])
    assert not torch.allclose(per_batch, whole, rtol=1e-3)

    fixed = values(relevance_stream(model, x, 4, batch_size=2, progress=False, low=-20.0,
                                    high=20.0))
    torch.testing.assert_close(
        fixed, values(relevance(model, x, 4, lrp_composite(-20.0, 20.0))).float())
    with pytest.raises(AttributionError, match="outside the z\\^B bounds"):
        relevance_stream(model, x, 4, progress=False, low=-1.0, high=1.0)


def hooks(model: nn.Module) -> list:
    return [hook for module in model.modules() for hook in (
        *module._forward_hooks.values(), *module._forward_pre_hooks.values(),
        *module._backward_hooks.values(), *module._backward_pre_hooks.values())]


def test_model_is_unchanged_afterwards():
    model = tiny_audionet().train()
    model.features[0].weight.requires_grad_(False)
    before = {name: p.clone() for name, p in model.state_dict().items()}
    parameters = [(id(p), p.requires_grad) for p in model.parameters()]
    torch.manual_seed(3)
    x = torch.randn(3, 1, 8000, dtype=torch.float64)

    with torch.no_grad():  # as in a notebook cell that forgot to enable gradients
        first = values(relevance(model, x, 2))
    model.eval()
    # dropout was off in train mode
    torch.testing.assert_close(values(relevance(model, x, 2)), first)
    model.train()
    with pytest.raises(AttributionError):
        relevance(model, x, 10)  # an error after the hooks are in place

    assert model.training and not hooks(model)
    assert [(id(p), p.requires_grad) for p in model.parameters()] == parameters
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, before[name], rtol=0, atol=0)
    assert not any(p.grad is not None for p in model.parameters())
    reference = tiny_audionet().eval()
    reference.load_state_dict(before)
    torch.testing.assert_close(model.eval()(x), reference(x))


@pytest.mark.parametrize(("inputs", "target", "message"), [
    (torch.randn(2, 1, 8000), 10, r"target \[10\] out of range for a model with 10 outputs"),
    (torch.randn(2, 1, 8000), torch.tensor([-1, 3]), r"target \[-1\] out of range"),
    (torch.randn(2, 1, 8000), torch.tensor([0.0, 1.0]), "class indices"),
    (torch.randn(2, 1, 8000), True, "class indices"),
    (torch.randn(2, 1, 8000), torch.tensor([1, 2, 3]), "one class per input"),
    (torch.randn(2, 1, 4000), 0, r"model rejected inputs of shape \(2, 1, 4000\)"),
    (torch.randn(2, 8000), 0, r"model rejected inputs of shape \(2, 8000\)"),
    (torch.randn(8000), 0, "batch dimension"),
    (torch.randn(0, 1, 8000), 0, "one input at least"),
])
def test_errors_name_the_problem(inputs, target, message):
    model = AudioNet(10, width=0.05)
    with pytest.raises(AttributionError, match=message) as error:
        relevance(model, inputs, target)
    assert isinstance(error.value, ValueError)
    assert not hooks(model)


@pytest.mark.parametrize(("inputs", "message"), [
    (torch.ones(2, 1, 8000, dtype=torch.int64), "floating-point"),
    (torch.ones(2, 1, 8000, dtype=torch.complex64), "floating-point"),
    (torch.randn(2, 1, 8000).index_fill_(2, torch.tensor([5]), float("nan")), "2 NaN"),
    (torch.randn(2, 1, 8000).index_fill_(2, torch.tensor([7]), float("inf")), "2 NaN or inf"),
])
def test_bad_samples_are_audio_errors(inputs, message):
    """Integer, complex, NaN and infinite inputs are bad data: AudioError, as at the
    package's audio entries (issue 18)."""
    model = AudioNet(10, width=0.05)
    with pytest.raises(AudioError, match=message):
        relevance(model, inputs, 0)
    assert not hooks(model)


def test_stream_rejects_bad_batch_size_and_targets():
    model, x = AudioNet(10, width=0.05), torch.randn(3, 1, 8000)
    with pytest.raises(AttributionError, match="batch_size"):
        relevance_stream(model, x, 0, batch_size=0, progress=False)
    with pytest.raises(AttributionError, match="one class per input"):
        relevance_stream(model, x, torch.tensor([0, 1]), progress=False)
