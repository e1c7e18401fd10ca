"""Epsilon-LRP through DeepSpeech's LSTM (speechxai.attribution.lstm_lrp) against the math:
conservation, zennit's epsilon rule where the LSTM is reduced to a dense layer, the
signal-take-all rule by hand, causality, no side effects, and clear errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from oracles import values
from torch import nn
from zennit.attribution import Gradient
from zennit.composites import EpsilonPlus

from speechxai.attribution import (
    AttributionError,
    deepspeech_lrp,
    lstm_relevance,
    without_biases,
)
from speechxai.ctc import BLANK
from speechxai.errors import AudioError
from speechxai.models import DeepSpeech, ExplicitLSTM

HIDDEN = 8
FRAMES = 6


def tiny_model(seed: int = 0, hidden: int = HIDDEN) -> DeepSpeech:
    torch.manual_seed(seed)
    return DeepSpeech(hidden=hidden).double()


def relevance_of(*arguments, **options) -> torch.Tensor:
    """:func:`deepspeech_lrp`'s (T, 19, 26) relevance as a tensor."""
    return values(deepspeech_lrp(*arguments, **options))[0]


def mfcc_like(seed: int = 0, frames: int = FRAMES) -> torch.Tensor:
    """Random windows of the magnitude of MFCCs (coefficients of a few units, up to ~20)."""
    return 5 * torch.randn(frames, 19, 26, dtype=torch.float64,
                           generator=torch.Generator().manual_seed(seed))


def relative_errors(model: DeepSpeech, windows: torch.Tensor, epsilon: float) -> torch.Tensor:
    """|sum R - logit| / |logit| at every frame, for the character predicted there."""
    logits = model(windows).detach()
    errors = []
    for frame, character in enumerate(logits.argmax(1).tolist()):
        total = relevance_of(model, windows, frame, character, epsilon).sum()
        errors.append(abs(total / logits[frame, character] - 1))
    return torch.stack(errors)


def test_relevance_is_conserved_on_a_bias_free_model_up_to_the_stabiliser():
    """Signal-take-all with zero biases and the zero initial state conserves exactly in the
    limit epsilon -> 0: gates keep nothing, each sum hands on ``sum/stab(sum)`` of its
    relevance, and ``c_{-1} = h_{-1} = 0`` take none. So the error is epsilon's share alone."""
    model, windows = without_biases(tiny_model()), mfcc_like()
    logits = model(windows).detach()
    for frame in range(FRAMES):
        for character in range(29):
            relevance = relevance_of(model, windows, frame, character, epsilon=1e-12)
            assert relevance.sum().item() == pytest.approx(logits[frame, character].item(),
                                                           rel=1e-6)
    # the error is linear in epsilon: all of it is the stabiliser's share
    ratio = relative_errors(model, windows, 1e-4) / relative_errors(model, windows, 1e-6)
    torch.testing.assert_close(ratio, torch.full_like(ratio, 100.0), rtol=0.01, atol=0)


def test_relevance_sums_to_the_logit_within_1e_3_at_the_papers_epsilon():
    """With epsilon = 1e-4 (Markert et al. 2021) the stabiliser keeps about epsilon/|z| of
    each unit's relevance: under 1e-3 of the logit once logits are as large as a trained
    recognizer's (several units; the output layer is scaled to get there)."""
    model = without_biases(tiny_model(hidden=16))
    with torch.no_grad():
        model.head[-1].weight.mul_(10)
    windows = mfcc_like()
    assert model(windows).max(1).values.min() > 1
    assert relative_errors(model, windows, 1e-4).mean() <= 1e-3


def test_saturated_clipped_relus_pass_their_relevance():
    """Units above the clip (20) still pass relevance unchanged (zennit's Pass): their
    gradient (zero) would lose it."""
    model = without_biases(tiny_model())
    with torch.no_grad():
        model.dense[1].weight.mul_(20)
    windows = mfcc_like()
    assert (model.dense[:2](windows) > 20).any()
    assert relative_errors(model, windows, 1e-12).max() < 1e-6


def test_with_the_lstm_reduced_to_a_dense_layer_it_is_zennits_epsilon_rule():
    """Gates fixed at i = o = 1 and f = 0, no recurrent weights: the LSTM computes
    h_t = tanh(1 * tanh(W x_t + b)), a dense layer. Its LRP must be that of zennit's own
    EpsilonPlus composite (epsilon on Linear, Pass on activations) on the equivalent
    feed-forward network, in which the cell's sum c_t = 1 * g_t is a linear identity map."""
    model = tiny_model()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("bias"):
                parameter.normal_(0.0, 0.5)
        lstm, rows = model.lstm, lambda gate: slice(gate * HIDDEN, (gate + 1) * HIDDEN)
        lstm.hidden_gates.weight.zero_()
        for gate, bias in ((0, 1000.0), (1, -1000.0), (3, 1000.0)):  # i, f, o saturated
            lstm.input_gates.weight[rows(gate)] = 0.0
            lstm.input_gates.bias[rows(gate)] = bias
            lstm.hidden_gates.bias[rows(gate)] = 0.0
        cell_input = nn.Linear(HIDDEN, HIDDEN).double()
        cell_input.weight.copy_(lstm.input_gates.weight[rows(2)])
        cell_input.bias.copy_(lstm.input_gates.bias[rows(2)] + lstm.hidden_gates.bias[rows(2)])
        cell_sum = nn.Linear(HIDDEN, HIDDEN).double()
        cell_sum.weight.copy_(torch.eye(HIDDEN))
        cell_sum.bias.zero_()
    feedforward = nn.Sequential(*model.dense, cell_input, nn.Tanh(), cell_sum, nn.Tanh(),
                                *model.head)
    windows = mfcc_like()
    torch.testing.assert_close(feedforward(windows), model(windows), rtol=1e-12, atol=1e-12)
    for frame, character in ((0, 3), (4, BLANK), (5, 0)):
        start = torch.zeros(FRAMES, 29, dtype=torch.float64)
        start[frame, character] = 1.0
        with Gradient(feedforward, EpsilonPlus(epsilon=1e-4)) as attributor:
            _, expected = attributor(windows, attr_output=lambda output, s=start: s * output)
        actual = relevance_of(model, windows, frame, character, epsilon=1e-4)
        torch.testing.assert_close(actual, expected, rtol=1e-10, atol=1e-13)


def test_signal_take_all_by_hand_on_one_unit_over_two_steps():
    """One input, one hidden unit, two steps; explain h_1 (its relevance starts as h_1)."""
    eps = 0.05  # large, so that a misplaced stabiliser would show
    w = {"i": 0.5, "f": -0.3, "g": 0.8, "o": 0.2}  # input weights
    u = {"i": 0.4, "f": 0.6, "g": -0.7, "o": 0.3}  # recurrent weights
    b = {"i": 0.1, "f": 0.2, "g": -0.1, "o": 0.05}  # input biases (recurrent: g only, 0.05)
    x = [1.5, -0.8]
    lstm = ExplicitLSTM(1, 1).double()
    with torch.no_grad():
        for layer, weights, biases in ((lstm.input_gates, w, b),
                                       (lstm.hidden_gates, u, {"i": 0, "f": 0, "g": 0.05, "o": 0})):
            layer.weight.copy_(torch.tensor([[weights[k]] for k in "ifgo"], dtype=torch.float64))
            layer.bias.copy_(torch.tensor([biases[k] for k in "ifgo"], dtype=torch.float64))

    def sigmoid(v):
        return 1 / (1 + math.exp(-v))

    def stab(v):
        return v + eps if v >= 0 else v - eps

    # forward: step 0 from h = c = 0, then step 1
    i0, f0, o0 = (sigmoid(w[k] * x[0] + b[k]) for k in "ifo")
    z0 = w["g"] * x[0] + b["g"] + 0.05
    c0 = f0 * 0.0 + i0 * math.tanh(z0)
    h0 = o0 * math.tanh(c0)
    i1, f1, o1 = (sigmoid(w[k] * x[1] + u[k] * h0 + b[k]) for k in "ifo")
    z1 = w["g"] * x[1] + u["g"] * h0 + b["g"] + 0.05
    c1 = f1 * c0 + i1 * math.tanh(z1)
    h1 = o1 * math.tanh(c1)
    # relevance: h1 -> c1 -> (c0, g1); g1 -> z1 -> (x1, h0); h0 -> c0 -> g0 -> z0 -> x0
    r_c1 = h1
    r_g1 = i1 * math.tanh(z1) / stab(c1) * r_c1
    r_x1 = w["g"] * x[1] / stab(z1) * r_g1
    r_h0 = u["g"] * h0 / stab(z1) * r_g1
    r_c0 = f1 * c0 / stab(c1) * r_c1 + r_h0
    r_g0 = i0 * math.tanh(z0) / stab(c0) * r_c0
    r_x0 = w["g"] * x[0] / stab(z0) * r_g0

    inputs = torch.tensor([[x[0]], [x[1]]], dtype=torch.float64)
    torch.testing.assert_close(lstm(inputs)[:, 0], torch.tensor([h0, h1], dtype=torch.float64))
    relevance = lstm_relevance(lstm, inputs, torch.tensor([[0.0], [h1]], dtype=torch.float64),
                               epsilon=eps)
    torch.testing.assert_close(relevance[:, 0], torch.tensor([r_x0, r_x1], dtype=torch.float64),
                               rtol=1e-12, atol=1e-15)


def test_lstm_relevance_conserves_on_a_bias_free_lstm_over_a_batch():
    torch.manual_seed(0)
    lstm = without_biases(ExplicitLSTM(3, 4).double())
    inputs = torch.randn(2, 5, 3, dtype=torch.float64)
    hidden = lstm(inputs).detach()
    relevance = torch.zeros_like(hidden)
    relevance[:, -1] = hidden[:, -1]
    result = lstm_relevance(lstm, inputs, relevance, epsilon=1e-12)
    assert result.shape == inputs.shape
    torch.testing.assert_close(result.sum((1, 2)), hidden[:, -1].sum(1), rtol=1e-8, atol=0)
    assert (result[:, :-1] != 0).any()  # the past gets relevance through the cell


def test_relevance_is_causal_and_reaches_the_past():
    model, windows = tiny_model(), mfcc_like()
    explained = deepspeech_lrp(model, windows, 3, "e")
    assert explained.method == "lrp" and explained.output_names == ("'e' at frame 3",)
    assert explained.frames.tolist() == [3] and explained.targets.tolist() == [5]
    assert explained.outputs[0] == pytest.approx(model(windows)[3, 5].item(), rel=1e-12)
    assert [axis.name for axis in explained.axes] == ["window", "frame", "MFCC"]
    np.testing.assert_array_equal(explained.data[0], windows.numpy())
    relevance = values(explained)[0]
    assert relevance.shape == windows.shape and relevance.dtype == windows.dtype
    assert (relevance[4:] == 0).all()
    assert (relevance[:3].abs().flatten(1).sum(1) > 0).all()
    for frame, character in ((3, 5), (np.int64(3), torch.tensor(5))):  # "e" is class 5
        torch.testing.assert_close(relevance, relevance_of(model, windows, frame, character))


def test_lrp_leaves_the_model_as_it_was():
    model, windows = tiny_model(), mfcc_like()
    before = model(windows).detach()
    with torch.no_grad():
        deepspeech_lrp(model, windows, 2, 0)
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    assert all(p.grad is None for p in model.parameters())
    torch.testing.assert_close(model(windows), before)


@pytest.mark.parametrize("recurrent", [nn.LSTM(HIDDEN, HIDDEN, batch_first=True),
                                       nn.GRU(HIDDEN, HIDDEN), nn.LSTMCell(HIDDEN, HIDDEN)])
def test_refuses_torchs_recurrent_layers(recurrent):
    model = tiny_model()
    model.lstm = recurrent.double()
    with pytest.raises(AttributionError, match="no LRP rule.*ExplicitLSTM"):
        deepspeech_lrp(model, mfcc_like(), 2, "a")
    with pytest.raises(AttributionError, match=type(recurrent).__name__):
        deepspeech_lrp(nn.Sequential(nn.Linear(3, 3), recurrent), mfcc_like(), 2, "a")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model": nn.Linear(494, 29)}, "DeepSpeech"),
        ({"windows": torch.zeros(FRAMES, 19, 25, dtype=torch.float64)}, r"\(T, 19, 26\)"),
        ({"windows": torch.zeros(1, FRAMES, 19, 26, dtype=torch.float64)}, r"\(T, 19, 26\)"),
        ({"windows": torch.zeros(0, 19, 26, dtype=torch.float64)}, "T >= 1"),
        ({"windows": torch.zeros(FRAMES, 19, 26)}, "float32 but the model is torch.float64"),
        ({"frame": FRAMES}, "frame must be an int in 0..5"),
        ({"frame": -1}, "frame must be"),
        ({"frame": 1.0}, "frame must be"),
        ({"character": "A"}, "character must be one of"),
        ({"character": "ab"}, "character must be one of"),
        ({"character": 29}, "character must be one of"),
        ({"character": True}, "character must be one of"),
        ({"character": 1.0}, "character must be one of"),
        ({"frame": True}, "frame must be"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(change, message):
    arguments = {"model": tiny_model(), "windows": mfcc_like(), "frame": 2, "character": "a"}
    arguments.update(change)
    with pytest.raises(AttributionError, match=message):
        deepspeech_lrp(**arguments)


@pytest.mark.parametrize(("windows", "message"), [
    (torch.zeros(FRAMES, 19, 26, dtype=torch.long), "floating-point"),
    (torch.full((FRAMES, 19, 26), math.nan, dtype=torch.float64), "NaN"),
])
def test_bad_window_values_are_audio_errors(windows, message):
    with pytest.raises(AudioError, match=message):
        deepspeech_lrp(tiny_model(), windows, 2, "a")


def test_lstm_relevance_checks_its_arguments():
    lstm = ExplicitLSTM(3, 4)
    with pytest.raises(AttributionError, match="ExplicitLSTM"):
        lstm_relevance(nn.LSTM(3, 4), torch.zeros(5, 3), torch.zeros(5, 4))
    with pytest.raises(AttributionError, match=r"\(\.\.\., T, 4\)"):
        lstm_relevance(lstm, torch.zeros(5, 3), torch.zeros(4, 4))
