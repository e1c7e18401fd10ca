"""DeepSpeech (speechxai.models.deepspeech) and CTC helpers (speechxai.ctc): the explicit LSTM
is torch's LSTM, shapes and causality of the model, and decoding and error rates on hand
examples."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from speechxai.ctc import (
    ALPHABET,
    BLANK,
    N_CLASSES,
    character_error_rate,
    ctc_loss,
    decode,
    encode,
    greedy_decode,
    word_error_rate,
)
from speechxai.models import DeepSpeech, ExplicitLSTM


def test_explicit_lstm_equals_torchs_lstm_with_the_same_weights():
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 4, batch_first=True).double()
    explicit = ExplicitLSTM.from_lstm(lstm)
    inputs = torch.randn(2, 5, 3, dtype=torch.float64)
    torch.testing.assert_close(explicit(inputs), lstm(inputs)[0], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(explicit(inputs[0]), lstm(inputs[0])[0], rtol=1e-12, atol=1e-12)
    trace = explicit.trace(inputs)
    assert trace.gates.shape == (2, 5, 16) and trace.cell.shape == trace.hidden.shape == (2, 5, 4)
    torch.testing.assert_close(trace.cell[:, -1], lstm(inputs)[1][1][0], rtol=1e-12, atol=1e-12)


def test_explicit_lstm_continues_from_a_given_state():
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 4, batch_first=True).double()
    explicit = ExplicitLSTM.from_lstm(lstm)
    inputs = torch.randn(2, 5, 3, dtype=torch.float64)
    hidden, cell = torch.randn(2, 4, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64)
    expected = lstm(inputs, (hidden[None], cell[None]))[0]
    torch.testing.assert_close(explicit.trace(inputs, (hidden, cell)).hidden, expected,
                               rtol=1e-12, atol=1e-12)
    # the second half continues from the state the first half left
    first = explicit.trace(inputs[:, :2])
    second = explicit.trace(inputs[:, 2:], (first.hidden[:, -1], first.cell[:, -1]))
    torch.testing.assert_close(second.hidden, explicit(inputs)[:, 2:], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", [(5, 3), (2, 5, 3), (2, 3, 5, 3)])
def test_explicit_lstm_forward_runs_torchs_kernel_with_the_traces_outputs_and_gradients(shape):
    torch.manual_seed(0)
    explicit = ExplicitLSTM(3, 4).double()
    inputs = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    weights = [inputs, *explicit.parameters()]
    fused, stepped = explicit(inputs), explicit.trace(inputs).hidden
    assert fused.shape == (*shape[:-1], 4)
    torch.testing.assert_close(fused, stepped, rtol=1e-12, atol=1e-12)
    seed = torch.randn_like(fused)
    for from_kernel, from_loop in zip(torch.autograd.grad(fused, weights, seed),
                                      torch.autograd.grad(stepped, weights, seed), strict=True):
        torch.testing.assert_close(from_kernel, from_loop, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("options", [{"bidirectional": True}, {"proj_size": 2}])
def test_from_lstm_refuses_what_one_explicit_cell_cannot_hold(options):
    with pytest.raises(ValueError, match="unidirectional nn.LSTM without projection"):
        ExplicitLSTM.from_lstm(nn.LSTM(3, 4, **options))
    with pytest.raises(ValueError, match="layer must be in 0 .. 1"):
        ExplicitLSTM.from_lstm(nn.LSTM(3, 4, num_layers=2), layer=2)


def test_each_layer_of_a_stacked_lstm_without_biases_is_one_explicit_cell():
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=2, bias=False, batch_first=True).double()
    inputs = torch.randn(2, 5, 3, dtype=torch.float64)
    first, second = (ExplicitLSTM.from_lstm(lstm, layer) for layer in (0, 1))
    assert not first.input_gates.bias.any()
    torch.testing.assert_close(second(first(inputs)), lstm(inputs)[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method", ["forward", "trace"])
def test_explicit_lstm_rejects_an_empty_sequence(method):
    with pytest.raises(ValueError, match="T >= 1"):
        getattr(ExplicitLSTM(3, 4), method)(torch.zeros(0, 3))


def test_deepspeech_maps_windows_to_29_logits_per_frame_and_is_causal():
    torch.manual_seed(0)
    model = DeepSpeech(hidden=8)
    windows = torch.randn(6, 19, 26)
    logits = model(windows)
    assert logits.shape == (6, N_CLASSES) == (6, 29)
    assert not any(isinstance(m, (nn.RNNBase, nn.RNNCellBase)) for m in model.modules())
    # a zero-padded batch: the padding changes no real frame's logits
    batch = torch.zeros(2, 9, 19, 26)
    batch[0, :6], batch[1] = windows, torch.randn(9, 19, 26)
    torch.testing.assert_close(model(batch)[0, :6], logits)
    torch.testing.assert_close(model(batch)[1], model(batch[1]))
    torch.testing.assert_close(model(windows[:3]), logits[:3])


@pytest.mark.parametrize("shape", [(6, 19, 25), (6, 494), (1, 2, 6, 19, 26)])
def test_deepspeech_rejects_other_shapes(shape):
    with pytest.raises(ValueError, match=r"\(T, 19, 26\)"):
        DeepSpeech(hidden=8)(torch.zeros(shape))


def test_deepspeech_rejects_a_bad_width():
    with pytest.raises(ValueError, match="hidden"):
        DeepSpeech(hidden=0)


def test_alphabet_is_deepspeechs_with_the_blank_last():
    assert ALPHABET[0] == " " and ALPHABET[1:27] == "abcdefghijklmnopqrstuvwxyz"
    assert ALPHABET[27] == "'" and BLANK == 28 == N_CLASSES - 1


def test_encode_and_decode_are_inverse():
    labels = encode("three one four")
    assert labels.tolist()[:6] == [20, 8, 18, 5, 5, 0]
    assert decode(labels) == "three one four"


@pytest.mark.parametrize("text", ["Three", "1", "a-b"])
def test_encode_names_unknown_characters(text):
    with pytest.raises(ValueError, match="not in the alphabet"):
        encode(text)


def test_decode_rejects_the_blank():
    with pytest.raises(ValueError, match="blank"):
        decode([1, BLANK])


def one_hot_logits(path: str) -> torch.Tensor:
    """Logits whose best path is ``path`` (``_`` for the blank)."""
    labels = [BLANK if char == "_" else ALPHABET.index(char) for char in path]
    return nn.functional.one_hot(torch.tensor(labels), N_CLASSES).float()


@pytest.mark.parametrize(
    ("path", "text"),
    [("tt_hh_rree__e", "three"), ("aa_a", "aa"), ("_a a_", "a a"), ("___", ""), ("o_ne", "one")],
)
def test_greedy_decode_merges_repeats_then_drops_blanks(path, text):
    assert greedy_decode(one_hot_logits(path)) == text


def test_greedy_decode_rejects_a_batch():
    with pytest.raises(ValueError, match="frames"):
        greedy_decode(torch.zeros(2, 3, N_CLASSES))


def test_ctc_loss_sums_the_alignments_by_hand():
    torch.manual_seed(0)
    logits = torch.randn(1, 2, N_CLASSES, dtype=torch.float64)
    p = logits[0].softmax(-1)
    a = ALPHABET.index("a")
    # alignments of "a" in two frames: aa, a_, _a
    by_hand = -math.log(p[0, a] * p[1, a] + p[0, a] * p[1, BLANK] + p[0, BLANK] * p[1, a])
    assert ctc_loss(logits, torch.tensor([2]), ["a"]).item() == pytest.approx(by_hand, rel=1e-10)
    # padding frames beyond the length do not count; the loss is averaged over utterances
    padded = torch.cat([logits, torch.randn(1, 3, N_CLASSES, dtype=torch.float64)], 1)
    batch = torch.cat([padded, padded])
    loss = ctc_loss(batch, torch.tensor([2, 2]), ["a", "a"])
    assert loss.item() == pytest.approx(by_hand, rel=1e-10)


def test_error_rates_by_hand():
    assert character_error_rate("kitten", "sitting") == pytest.approx(3 / 6)
    assert word_error_rate("three one four", "three four") == pytest.approx(1 / 3)
    assert word_error_rate("three one four", "tree one four five") == pytest.approx(2 / 3)
    assert word_error_rate("one", "one") == 0.0
    # over a corpus: edits and reference lengths are summed before dividing
    assert character_error_rate(["ab", "abcd"], ["ab", "xbc"]) == pytest.approx(2 / 6)
    assert word_error_rate(["one two", "nine"], ["one", "five"]) == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("references", "hypotheses", "message"),
    [("", "a", "empty"), (["a", "b"], ["a"], "2 references"), ("ab", ["ab"], "one reference")],
)
def test_error_rates_reject_bad_input(references, hypotheses, message):
    with pytest.raises(ValueError, match=message):
        character_error_rate(references, hypotheses)
