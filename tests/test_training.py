"""Seeded, cached training of the AudioMNIST classifiers (tiny models, toy signals)."""

from __future__ import annotations

import copy
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import speechxai.device
import speechxai.training
from speechxai.inputs import DigitSignals
from speechxai.model_cache import cache_file
from speechxai.training import (
    TrainingConfig,
    accuracy,
    build_model,
    classifier_code,
    fit,
    learning_rate_factor,
    scale_first_layer,
    supported_precision,
    train,
)


def toy_signals(n: int = 12, seed: int = 0) -> DigitSignals:
    """Tones: a high one (1,500-1,950 Hz) for the female class, a low one (150-195 Hz) for
    the male class, the digit setting the step within the range."""
    rng = np.random.default_rng(seed)
    digits, sexes = rng.integers(0, 10, n), rng.integers(0, 2, n)
    t = np.arange(4000) / 8000
    signals = [torch.tensor(0.5 * np.sin(2 * np.pi * (10 - 9 * s) * (150 + 5 * d) * t),
                            dtype=torch.float32) for d, s in zip(digits, sexes, strict=True)]
    return DigitSignals(signals, digits, sexes, [f"s{i % 3}" for i in range(n)])


CONFIG = TrainingConfig("audionet", "digit", "toy", steps=3, batch_size=4, width=0.05)


@pytest.mark.parametrize("architecture", ["audionet", "alexnet"])
def test_same_seed_same_weights_and_the_cache_returns_them(tmp_path, architecture):
    config = replace(CONFIG, architecture=architecture)
    first = train(config, toy_signals(), toy_signals(6, 1), tmp_path / "a", progress=False)
    second = train(config, toy_signals(), toy_signals(6, 1), tmp_path / "b", progress=False)
    for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values(),
                    strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert (first.mean is None) == (architecture == "audionet")
    # AlexNet trains channels-last; the trained model comes back in the loaded one's format
    # (AudioNet's is channels-last always)
    fresh = build_model(architecture, config.task, config.width)
    assert [p.stride() for p in first.model.parameters()] == [
        p.stride() for p in fresh.parameters()]
    cached = train(config, toy_signals(), toy_signals(6, 1), tmp_path / "a", progress=False)
    assert cached.history == first.history
    inputs = first.inputs(toy_signals(6, 2), seed=5)
    torch.testing.assert_close(cached.model(inputs), first.model.eval()(inputs))
    assert len(list((tmp_path / "a").glob("*.pt"))) == 1


def test_every_config_field_changes_the_cache_key():
    changed = [replace(CONFIG, seed=1), replace(CONFIG, steps=4), replace(CONFIG, width=0.1),
               replace(CONFIG, cosine=True), replace(CONFIG, data_key="other"),
               replace(CONFIG, start="a model's key"), replace(CONFIG, augment="speed"),
               replace(CONFIG, augment="channel")]
    assert len({CONFIG.key(), *(c.key() for c in changed)}) == 1 + len(changed)


def test_training_started_from_a_model_begins_at_its_weights(tmp_path):
    start = train(CONFIG, toy_signals(), toy_signals(6, 1), tmp_path, progress=False)
    still = replace(CONFIG, learning_rate=1e-9, data_key="more toys", seed=1)
    fresh = train(still, toy_signals(12, 3), toy_signals(6, 1), tmp_path, progress=False)
    tuned = train(replace(still, start=start.config.key()), toy_signals(12, 3),
                  toy_signals(6, 1), tmp_path, progress=False, start=start)
    weights = [torch.cat([p.flatten() for p in m.model.parameters()])
               for m in (start, fresh, tuned)]
    torch.testing.assert_close(weights[2], weights[0], rtol=0, atol=1e-6)
    assert (weights[1] - weights[0]).abs().max() > 1e-2  # a fresh start is elsewhere
    assert len(list(tmp_path.glob("*.pt"))) == 3


def test_a_start_that_does_not_fit_is_refused(tmp_path):
    start = train(CONFIG, toy_signals(), toy_signals(6, 1), tmp_path, progress=False)
    with pytest.raises(ValueError, match="names the model None"):
        train(CONFIG, toy_signals(), toy_signals(6, 1), tmp_path, start=start)
    with pytest.raises(ValueError, match="the start model given is None"):
        train(replace(CONFIG, start=start.config.key()), toy_signals(), toy_signals(6, 1),
              tmp_path)
    other = replace(CONFIG, architecture="alexnet", start=start.config.key())
    with pytest.raises(ValueError, match="cannot start a .*alexnet.* from the weights"):
        train(other, toy_signals(), toy_signals(6, 1), tmp_path, start=start)
    with pytest.raises(ValueError, match="unit_input_init rescales a fresh first layer"):
        replace(CONFIG, start=start.config.key(), unit_input_init=True)
    assert len(list(tmp_path.glob("*.pt"))) == 1  # nothing trained by a refused call


def test_spec_augment_changes_alexnets_training_and_is_refused_for_waveforms(tmp_path):
    config = replace(CONFIG, architecture="alexnet")
    plain = train(config, toy_signals(), toy_signals(6, 1), tmp_path, progress=False)
    masked = train(replace(config, spec_augment=[40, 40]), toy_signals(), toy_signals(6, 1),
                   tmp_path, progress=False)
    assert masked.config.spec_augment == (40, 40) and masked.config.key() != config.key()
    assert not torch.equal(plain.model.classifier[-1].weight, masked.model.classifier[-1].weight)
    with pytest.raises(ValueError, match="spectrograms"):
        replace(CONFIG, spec_augment=(4, 4))


def test_different_seeds_train_different_models(tmp_path):
    a = train(CONFIG, toy_signals(), toy_signals(6, 1), tmp_path, progress=False)
    b = train(replace(CONFIG, seed=1), toy_signals(), toy_signals(6, 1), tmp_path, progress=False)
    assert not torch.equal(a.model.classifier[-1].weight, b.model.classifier[-1].weight)


def test_learning_rate_schedules(tmp_path):
    with pytest.raises(ValueError, match="either cosine"):
        train(replace(CONFIG, cosine=True, halve_lr_every=2), toy_signals(), toy_signals(6, 1),
              tmp_path, progress=False)
    trained = train(replace(CONFIG, cosine=True, steps=4), toy_signals(), toy_signals(6, 1),
                    tmp_path, progress=False)
    assert trained.history["step"][-1] == 4


def test_learns_a_separable_toy_task(tmp_path):
    config = replace(CONFIG, task="sex", steps=40, width=0.1, learning_rate=3e-3, bf16=False)
    trained = train(config, toy_signals(40), toy_signals(6, 1), tmp_path, progress=False)
    test = toy_signals(20, 7)
    assert accuracy(trained.model, trained.inputs(test, 0), test.labels("sex")) >= 0.8


def test_unknown_names_raise():
    with pytest.raises(ValueError, match="unknown architecture"):
        build_model("resnet", "digit")
    with pytest.raises(ValueError, match="unknown optimizer"):
        train(replace(CONFIG, optimizer="lion"), toy_signals(), toy_signals(6, 1), progress=False)
    with pytest.raises(ValueError, match="unknown augmentation 'pitch'"):
        replace(CONFIG, augment="pitch")


@pytest.mark.parametrize("native", [True, False])
def test_bf16_is_trained_only_where_the_cpu_has_it(tmp_path, monkeypatch, native):
    monkeypatch.setattr(speechxai.device, "native_bf16", lambda device=None: native)
    requested = replace(CONFIG, bf16=True)
    trained = train(requested, toy_signals(), toy_signals(6, 1), tmp_path, progress=False)
    assert trained.config.bf16 is native
    expected = requested if native else replace(requested, bf16=False)
    assert [p.name for p in tmp_path.glob("*.pt")] == [
        cache_file(tmp_path, "audionet-digit", expected.key(), classifier_code()).name]
    assert supported_precision(replace(CONFIG, bf16=False)).bf16 is False


def test_scale_first_layer_meets_the_inputs_at_unit_variance():
    torch.manual_seed(0)
    model = build_model("alexnet", "digit", width=0.1)
    first = model.features[0]
    before = copy.deepcopy(first)
    probe = 15 * torch.randn(4, 1, 227, 227)
    scale_first_layer(model, probe)
    torch.testing.assert_close(first(probe), before(probe / probe.std()), rtol=1e-4, atol=1e-4)
    assert not torch.equal(first.weight, before.weight)


def test_learning_rate_factor_warms_up_linearly_then_anneals():
    """Warm-up: (step + 1) / warmup of the rate for the first ``warmup`` steps, then the
    cosine schedule alone; without warm-up the cosine schedule unchanged."""
    steps, warmup = 100, 10
    cosine = [0.5 * (1 + np.cos(np.pi * s / steps)) for s in range(steps)]
    assert [learning_rate_factor(s, steps, True) for s in range(steps)] == cosine
    warmed = [learning_rate_factor(s, steps, True, warmup) for s in range(steps)]
    assert warmed[:warmup] == pytest.approx([c * (s + 1) / warmup
                                             for s, c in enumerate(cosine[:warmup])])
    assert warmed[warmup:] == cosine[warmup:]
    assert learning_rate_factor(0, steps, False, warmup) == pytest.approx(0.1)
    assert learning_rate_factor(50, steps, False, warmup) == 1.0


def test_fit_applies_the_warm_up_to_the_optimiser(monkeypatch):
    """The optimiser's learning rate during the first step is ``1 / warmup`` of the
    config's, and the full rate from step ``warmup`` on (no annealing)."""
    optimizers, rates = [], []

    class RecordedAdam(torch.optim.Adam):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            optimizers.append(self)

    monkeypatch.setattr(torch.optim, "Adam", RecordedAdam)
    network = torch.nn.Linear(2, 1)

    def loss_of(chosen):
        rates.append(optimizers[0].param_groups[0]["lr"])
        return network(torch.ones(len(chosen), 2)).pow(2).mean()

    config = SimpleNamespace(steps=6, batch_size=2, learning_rate=0.4, seed=0,
                             gradient_clip=1.0, cosine=False)
    fit(network, config, loss_of, 4, progress=False, warmup=4)
    assert rates == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.4, 0.4])
