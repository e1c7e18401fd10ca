"""NAvAI's local introspection: letter windows, sensitivity and the two LRP variants,
the paper's BatchNorm sign rule checked against a direct numpy computation of Eqs. 3-4."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from oracles import bn_rule_direct
from torch import nn

from speechxai.attribution import AttributionError
from speechxai.attribution.navai import (
    letter_windows,
    lrp_bn_rule,
    lrp_zennit,
    sensitivity,
)
from speechxai.ctc import ALPHABET
from speechxai.errors import AudioError
from speechxai.models import Wav2Letter, receptive_field


def small_model(channels=(4,), kernels=(3,), dilations=None, seed=0, dtype=torch.float64):
    """A tiny recognizer whose BatchNorms have random statistics and some negative scales,
    so that BatchNorm flips the sign of some convolution outputs."""
    torch.manual_seed(seed)
    model = Wav2Letter(channels, kernels, dilations, in_channels=3).to(dtype)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm1d):
            n = module.num_features
            module.running_mean.copy_(torch.randn(n))
            module.running_var.copy_(torch.rand(n) + 0.5)
            module.weight.data.copy_(torch.randn(n))
            module.bias.data.copy_(torch.randn(n))
    return model.eval()


@pytest.mark.parametrize("config", [
    {"channels": (4,), "kernels": (3,)},
    {"channels": (6, 6), "kernels": (3, 2)},
    {"channels": (3, 4), "kernels": (2, 3), "dilations": (1, 2)},
])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_bn_rule_matches_the_direct_computation(config, dtype):
    model = small_model(**config, dtype=dtype)
    rf = receptive_field(model)
    windows = torch.randn(3, 3, rf, dtype=dtype)  # negative and positive inputs
    letters = ["a", "k", "z"]
    relevance = lrp_bn_rule(model, windows, letters)
    assert relevance.values.shape == windows.shape
    assert relevance.values.dtype == windows.numpy().dtype
    for window, letter, result in zip(windows, letters, relevance.values, strict=True):
        expected = bn_rule_direct(model, window.double().numpy(), ALPHABET.index(letter))
        error = np.abs(result.astype(float) - expected).max()
        assert error < (1e-10 if dtype == torch.float64 else 1e-5), error
        assert abs(np.abs(result).max() - 1) < 1e-6  # rescaled at the input layer too


def test_bn_sign_matters_and_hooks_are_removed():
    model = small_model(channels=(6,), kernels=(3,))
    window = torch.randn(3, 3, dtype=torch.float64)
    before = model(window[None]).detach()
    relevance = lrp_bn_rule(model, window, "e")
    # the same rule with sgn(z_j) instead of sgn(bn(z_j)) (no BatchNorm known) differs
    bn = model.layers[1]
    model.layers[1] = nn.Identity()
    plain = lrp_bn_rule(model, window, "e")
    model.layers[1] = bn
    assert not np.allclose(relevance.values, plain.values)
    assert torch.equal(model(window[None]).detach(), before)
    assert all(not module._forward_hooks and not module._forward_pre_hooks
               for module in model.modules())


def test_sensitivity_is_the_gradient_of_the_letter_logit():
    model = small_model(channels=(4, 4), kernels=(3, 3))
    window = torch.randn(3, receptive_field(model), dtype=torch.float64, requires_grad=True)
    model(window[None])[0, 0, ALPHABET.index("q")].backward()
    single = sensitivity(model, window.detach(), "q")
    assert single.values.shape == (1, *window.shape)  # one explained output
    np.testing.assert_allclose(single.values[0], window.grad.numpy())
    assert single.method == "sensitivity" and single.output_names == ("'q'",)
    np.testing.assert_allclose(single.outputs,
                               model(window[None])[0, 0, ALPHABET.index("q")].item())
    assert [axis.name for axis in single.axes] == ["mel band", "frame"]
    batch = torch.randn(4, 3, receptive_field(model), dtype=torch.float64)
    together = sensitivity(model, batch, ["a", "b", "c", "d"])
    alone = np.concatenate([sensitivity(model, w, c).values
                            for w, c in zip(batch, "abcd", strict=True)])
    np.testing.assert_allclose(together.values, alone)
    np.testing.assert_array_equal(together.targets, [ALPHABET.index(c) for c in "abcd"])


def test_lrp_zennit_merges_batchnorm_and_restores_the_model():
    model = small_model(channels=(4, 4), kernels=(3, 3))
    model.train()
    state = {key: value.clone() for key, value in model.state_dict().items()}
    windows = torch.randn(2, 3, receptive_field(model), dtype=torch.float64)
    relevance = lrp_zennit(model, windows, ["s", "t"])
    assert relevance.values.shape == windows.shape and np.isfinite(relevance.values).all()
    assert np.abs(relevance.values).sum() > 0
    assert model.training
    assert all(torch.equal(state[key], value) for key, value in model.state_dict().items())


def test_attribution_input_errors():
    model = small_model()
    rf = receptive_field(model)
    with pytest.raises(AttributionError, match="exactly one output frame"):
        sensitivity(model, torch.randn(3, rf + 1, dtype=torch.float64), "a")
    with pytest.raises(AttributionError, match="a-z"):
        lrp_bn_rule(model, torch.randn(3, rf, dtype=torch.float64), " ")
    with pytest.raises(AttributionError, match="K letters"):
        lrp_zennit(model, torch.randn(2, 3, rf, dtype=torch.float64), ["a"])


@pytest.mark.parametrize("method", [sensitivity, lrp_zennit, lrp_bn_rule])
@pytest.mark.parametrize(("bad", "message"), [
    (lambda w: w.long(), "floating-point"),
    (lambda w: w.index_fill(1, torch.tensor([2]), float("nan")), "NaN or infinite"),
])
def test_bad_window_values_are_audio_errors(method, bad, message):
    model = small_model()
    windows = torch.randn(2, 3, receptive_field(model), dtype=torch.float64)
    with pytest.raises(AudioError, match=message):
        method(model, bad(windows), ["a", "b"])
    with pytest.raises(AudioError, match=message):
        letter_windows(model, bad(torch.randn(3, 40, dtype=torch.float64)))


def test_letter_windows_are_the_receptive_fields_of_letter_frames():
    model = small_model(channels=(4, 4), kernels=(3, 4), dtype=torch.float32)
    rf = receptive_field(model)
    log_mel = torch.randn(3, 40)
    windows, letters, frames = letter_windows(model, log_mel)
    predicted = model(log_mel[None])[0].argmax(-1)
    is_letter = [ALPHABET[p].isalpha() if p < len(ALPHABET) else False for p in predicted]
    assert frames.tolist() == [t for t, ok in enumerate(is_letter) if ok] and len(frames) > 0
    assert windows.shape == (len(frames), 3, rf)
    for window, letter, t in zip(windows, letters, frames, strict=True):
        assert torch.equal(window, log_mel[:, t:t + rf])
        assert ALPHABET[int(model(window[None])[0, 0].argmax())] == letter
    with pytest.raises(AttributionError, match="receptive field"):
        letter_windows(model, torch.randn(3, rf - 1))
