"""The test-only hook that breaks an attribution method: parsing, the replacements, and that
every method's entry point goes through it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from speechxai.attribution import (
    attribute,
    fast_relevance,
    lrp_bn_rule,
    lrp_zennit,
    relevance,
    sensitivity,
)
from speechxai.attribution import mutation as hook
from speechxai.attribution.lrp import input_gradient
from speechxai.attribution.occlusion import word_importance
from speechxai.attribution.paralinguistic import paralinguistic_importance
from speechxai.models import AudioNet, DeepSpeech, Wav2Letter


@pytest.fixture
def mutate(monkeypatch):
    """``mutate("lrp:zeros")`` sets the hook for this test, with a fresh noise generator."""
    monkeypatch.setattr(hook, "_generator", [])

    def set_to(text: str) -> None:
        monkeypatch.setenv(hook.MUTATION_ENV, text)

    monkeypatch.delenv(hook.MUTATION_ENV, raising=False)
    return set_to


@pytest.mark.parametrize("text", ["lrp", "lrp:ones", "gradcam:zeros", "LRP:zeros",
                                  "lrp:zeros,", "lrp:zeros;shap:zeros", "lrp:zeros,lrp:random"])
def test_a_malformed_mutation_raises(mutate, text):
    mutate(text)
    with pytest.raises(ValueError, match="SPEECHXAI_MUTATE"):
        hook.active_mutations()


def test_without_the_variable_nothing_changes(mutate):
    values = torch.randn(3, 4)
    assert hook.active_mutations() == {} and hook.mutated("lrp", values) is values


def test_several_methods_are_broken_each_in_its_own_way(mutate):
    mutate("lrp:zeros,saliency:random")
    assert hook.active_mutations() == {"lrp": "zeros", "saliency": "random"}
    values = np.arange(1.0, 7.0).reshape(2, 3)
    assert not hook.mutated("lrp", values).any()
    noise = hook.mutated("saliency", values)
    assert noise.shape == values.shape and not np.array_equal(noise, values)
    assert hook.mutated("shap", values) is values


def test_only_the_named_method_is_replaced(mutate):
    mutate("shap:zeros")
    values = np.arange(6.0).reshape(2, 3)
    assert hook.mutated("lrp", values) is values
    assert not hook.mutated("shap", values).any()


def test_random_replacement_keeps_shape_dtype_and_spread_and_is_seeded(mutate, monkeypatch):
    mutate("lrp:random")
    values = torch.linspace(-3, 3, 4000, dtype=torch.float32).reshape(40, 100)
    first = hook.mutated("lrp", values)
    assert first.shape == values.shape and first.dtype == values.dtype
    assert first.std().item() == pytest.approx(values.std().item(), rel=0.05)
    assert abs(np.corrcoef(first.flatten(), values.flatten())[0, 1]) < 0.05
    second = hook.mutated("lrp", values)
    assert not torch.equal(first, second)  # drawn in turn, not one fixed pattern
    monkeypatch.setattr(hook, "_generator", [])
    assert torch.equal(hook.mutated("lrp", values), first)  # the same run, the same noise


def energy_classifier(waveforms):
    """Two classes; p(class 1) rises with the energy of the first half of the waveform."""
    energy = torch.stack([w[: len(w) // 2].pow(2).mean() for w in waveforms])
    p = torch.sigmoid(50 * (energy - 0.05))
    return torch.stack([1 - p, p], dim=1)


def attributions() -> dict[str, object]:
    """One call of every hooked entry point, by the method it belongs to."""
    torch.manual_seed(0)
    audionet = AudioNet(10, width=0.1).eval()
    waveforms = torch.randn(2, 1, 8000)
    deepspeech = DeepSpeech(hidden=8).double()
    windows = torch.randn(4, 19, 26, dtype=torch.float64)
    wav2letter = Wav2Letter(channels=[8, 8], kernels=[5, 5], strides=[1, 1]).eval()
    letter_window = torch.randn(wav2letter.layers[0].in_channels, 9)
    utterance = torch.cat([0.2 * torch.randn(400), 0.02 * torch.randn(400)])  # peak < 1
    return {
        "lrp": [relevance(audionet, waveforms, 3).values,
                fast_relevance(audionet, waveforms, 3).values,
                attribute(deepspeech, windows, [(2, "a")], "lrp").values,
                lrp_zennit(wav2letter, letter_window, "a").values,
                lrp_bn_rule(wav2letter, letter_window, "a").values],
        "saliency": [attribute(deepspeech, windows, [(2, "a")], "saliency").values,
                     input_gradient(audionet, waveforms, 3)],
        "shap": [attribute(deepspeech, windows, [(2, "a")], "shap").values],
        "navai": [sensitivity(wav2letter, letter_window, "a").values],
        "occlusion": [word_importance(energy_classifier, utterance, 1000,
                                      [(0, 400), (400, 800)]).scores],
        "paralinguistic": list(paralinguistic_importance(
            energy_classifier, utterance, 8000, families="noise").differences.values()),
    }


@pytest.mark.parametrize("method", hook.MUTABLE_METHODS)
def test_every_entry_point_of_a_method_goes_through_the_hook(mutate, method):
    real = attributions()[method]
    assert all(np.abs(np.asarray(values)).max() > 0 for values in real)
    mutate(f"{method}:zeros")
    zeros = attributions()
    assert all(not np.asarray(values).any() for values in zeros[method])
    others = [m for m in hook.MUTABLE_METHODS if m != method]
    assert all(np.abs(np.asarray(values)).max() > 0 for m in others for values in zeros[m])
