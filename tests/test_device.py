"""Devices (issue 19): the choice of device, training and explaining on it, and its precision.

Every test of a device runs on the CPU, and on CUDA or MPS where the machine has one; where it
has none, that test is skipped and says so. The meta device stands in for an accelerator on
a CPU-only machine where values are not needed: a tensor made on the CPU and mixed in raises
there as it would on a GPU.
"""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import ROOT
from test_training import toy_signals

from speechxai import device as devices
from speechxai import explain
from speechxai.attribution.explain import MODEL_METHODS
from speechxai.attribution.lrp import conservation_error, without_biases
from speechxai.attribution.sanity import randomized_copy
from speechxai.book import ParameterError, chapters, check_overrides
from speechxai.experiments.deepspeech import _Standardised
from speechxai.models import DeepSpeech
from speechxai.training import TrainingConfig, build_model, train

DEVICES = [pytest.param(kind, marks=pytest.mark.skipif(
    kind not in devices.present(), reason=f"no {kind.upper()} device on this machine"))
    for kind in devices.KINDS]


@pytest.fixture(autouse=True)
def fresh_device(monkeypatch):
    """Each test resolves its device anew, from an environment without SPEECHXAI_DEVICE."""
    monkeypatch.delenv(devices.DEVICE_ENV, raising=False)
    monkeypatch.setattr(devices, "_current", None)


def test_the_device_is_the_parameter_else_the_environment_else_the_best_present(monkeypatch):
    assert devices.current() == torch.device(devices.present()[0])
    monkeypatch.setenv(devices.DEVICE_ENV, "cpu")
    assert devices.resolve() == torch.device("cpu")
    assert devices.use("cpu") == devices.current() == torch.device("cpu")
    assert devices.resolve("auto") == torch.device("cpu")  # auto reads the environment too


def test_unknown_and_absent_devices_are_clear_errors(monkeypatch):
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        devices.resolve("gpu")
    with pytest.raises(ValueError, match="unknown device 'xla'"):
        devices.resolve("xla")
    absent = next((kind for kind in ("cuda", "mps") if kind not in devices.present()), None)
    if absent is None:
        pytest.skip("this machine has both CUDA and MPS: no absent device to ask for")
    with pytest.raises(devices.DeviceUnavailable, match=f"'{absent}' asked for"):
        devices.resolve(absent)
    monkeypatch.setenv(devices.DEVICE_ENV, absent)
    with pytest.raises(devices.DeviceUnavailable, match="SPEECHXAI_DEVICE"):
        devices.current()


def test_book_run_refuses_a_bad_device_before_any_kernel_starts():
    book = chapters(ROOT)
    check_overrides(book, "smoke", {"device": "cpu"})  # every chapter takes it
    with pytest.raises(ParameterError, match="-p device: unknown device 'gpu'"):
        check_overrides(book, "smoke", {"device": "gpu"})


@pytest.mark.parametrize("kind", DEVICES)
def test_a_classifier_trains_on_the_device_and_is_saved_on_the_cpu(tmp_path, kind):
    devices.use(kind)
    config = TrainingConfig("audionet", "digit", "toy", steps=3, batch_size=4, width=0.05,
                            bf16=False)
    trained = train(config, toy_signals(), toy_signals(6, 1), tmp_path, progress=False)
    assert devices.device_of(trained.model).type == kind
    saved = torch.load(_payload(next(tmp_path.glob("*.pt"))), weights_only=True)  # no mapping
    assert {tensor.device.type for tensor in saved["state"].values()} == {"cpu"}
    devices.use("cpu")
    on_cpu = train(config, toy_signals(), toy_signals(6, 1), tmp_path, progress=False)
    inputs = on_cpu.inputs(toy_signals(6, 2), seed=5)
    # the same weights, whichever device loads them
    torch.testing.assert_close(trained.model(inputs.to(kind)).cpu(), on_cpu.model(inputs))


def _payload(path):
    """The ``torch.save`` bytes of a model file, after :mod:`speechxai.model_cache`'s header."""
    return io.BytesIO(path.read_bytes().partition(b"\n")[2])


@pytest.mark.parametrize("kind", DEVICES)
@pytest.mark.parametrize("method", list(MODEL_METHODS))
def test_every_method_explains_a_model_on_the_device_as_on_the_cpu(kind, method):
    torch.manual_seed(0)
    model = build_model("audionet", "digit", width=0.1).eval()
    inputs = torch.randn(2, 1, 8000)
    options = {"n_steps": 8} if method == "integrated_gradients" else (
        {"n_samples": 4} if method == "shap" else {})
    expected = explain(model, inputs, 3, method, **options)
    moved = explain(model.to(kind), inputs, 3, method, **options)
    assert isinstance(moved.values, np.ndarray)
    np.testing.assert_allclose(moved.values, expected.values, rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(moved.outputs, expected.outputs, rtol=1e-4)


@pytest.mark.parametrize("kind", DEVICES)
@pytest.mark.parametrize("architecture", ["audionet", "alexnet"])
def test_lrp_conserves_in_float32_on_the_device(kind, architecture):
    """The precision every attribution method uses (:mod:`speechxai.device`): the relevances
    of a bias-free network add up to its output; bfloat16 would miss by about a percent."""
    torch.manual_seed(0)
    model = without_biases(build_model(architecture, "digit", width=0.25)).eval().to(kind)
    shape = (1, 8000) if architecture == "audionet" else (1, 227, 227)
    inputs = torch.randn(3, *shape)
    assert conservation_error(model, inputs, 3) < 1e-4
    if kind == "cpu":  # the measurement behind the choice: bfloat16 autocast
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert conservation_error(model, inputs, 3) > 1e-3


def test_the_recognisers_training_network_moves_with_its_standardisation():
    network = _Standardised(DeepSpeech(16), torch.zeros(26), torch.ones(26)).to("meta")
    assert network(torch.randn(2, 5, 19, 26, device="meta")).device.type == "meta"


def test_a_randomised_copy_stays_on_the_models_device_with_the_cpus_draws():
    model = build_model("audionet", "digit", width=0.1)
    on_meta = randomized_copy(model.to("meta"), seed=3)
    assert {p.device.type for p in on_meta.parameters()} == {"meta"}
    first, second = (randomized_copy(_seeded(build_model, "audionet", "digit", width=0.1), seed=3)
                     for _ in range(2))
    for a, b in zip(first.parameters(), second.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def _seeded(build, *args, **kwargs):
    torch.manual_seed(0)
    return build(*args, **kwargs)


@pytest.mark.parametrize("kind", DEVICES)
def test_bf16_is_kept_only_where_the_device_computes_it_natively(kind):
    from speechxai.training import supported_precision

    config = TrainingConfig("audionet", "digit", "toy", bf16=True)
    device = torch.device(kind)
    assert supported_precision(config, device).bf16 is devices.native_bf16(device)
    assert supported_precision(replace(config, bf16=False), device).bf16 is False


@pytest.mark.parametrize("kind", DEVICES)
def test_features_are_computed_on_the_waveforms_device(kind):
    from speechxai.features import audiomnist_spectrogram, log_mel, mfcc_frames, resample

    torch.manual_seed(0)
    waveform = 0.1 * torch.randn(8000)
    features = {"resample": lambda w: resample(w, 8000, 16000),
                "mfcc": lambda w: mfcc_frames(w, 8000), "log-mel": lambda w: log_mel(w, 8000),
                "spectrogram": audiomnist_spectrogram}
    for name, feature in features.items():
        if name == "spectrogram" and kind == "mps":
            continue  # float64 Fourier transform: not on MPS (speechxai.features)
        moved = feature(waveform.to(kind))
        assert moved.device.type == kind, name
        torch.testing.assert_close(moved.cpu(), feature(waveform), rtol=1e-4, atol=1e-4)
