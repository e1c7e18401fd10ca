"""Loading and checking audio: good files load, every kind of bad input raises AudioError."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from speechxai import AudioError
from speechxai.audio import load, validate

RATE = 16000


def sine(frequency: float = 440.0, seconds: float = 0.5, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def write(path: Path, data: np.ndarray, rate: int = RATE, subtype: str = "PCM_16") -> Path:
    sf.write(path, data, rate, subtype=subtype)
    return path


@pytest.fixture
def good_wav(tmp_path: Path) -> Path:
    return write(tmp_path / "good.wav", sine())


# --- good input -----------------------------------------------------------------------


def test_load_returns_mono_float32_tensor_and_rate(good_wav: Path):
    waveform, rate = load(good_wav)
    assert isinstance(waveform, torch.Tensor)
    assert waveform.dtype == torch.float32 and waveform.ndim == 1
    assert rate == RATE and waveform.shape[0] == RATE // 2
    assert torch.allclose(waveform, torch.from_numpy(sine()), atol=1e-4)


def test_load_accepts_a_string_path_and_the_same_rate(good_wav: Path):
    waveform, rate = load(str(good_wav), sr=RATE)
    assert rate == RATE and waveform.shape[0] == RATE // 2


def test_resampling_48k_to_8k_keeps_length_ratio_and_pitch(tmp_path: Path):
    path = write(tmp_path / "a48k.wav", sine(1000.0, seconds=1.0, rate=48000), 48000, "FLOAT")
    waveform, rate = load(path, sr=8000)
    assert rate == 8000 and waveform.shape[0] == 8000 and waveform.dtype == torch.float32
    spectrum = np.abs(np.fft.rfft(waveform.numpy()))
    peak_hz = np.fft.rfftfreq(waveform.shape[0], 1 / rate)[np.argmax(spectrum)]
    assert peak_hz == pytest.approx(1000.0, abs=2.0)


@pytest.mark.parametrize("make", [np.asarray, torch.from_numpy], ids=["numpy", "torch"])
def test_validate_returns_float32_tensor(make):
    checked = validate(make(sine().astype(np.float64)), RATE, min_seconds=0.25)
    assert isinstance(checked, torch.Tensor) and checked.dtype == torch.float32
    assert checked.shape == (RATE // 2,)


def test_validate_accepts_reversed_and_big_endian_numpy():
    reversed_samples = sine()[::-1]
    assert torch.equal(validate(reversed_samples, RATE), torch.from_numpy(sine()[::-1].copy()))
    assert torch.equal(validate(sine().astype(">f4"), RATE), torch.from_numpy(sine()))


def test_validate_accepts_silence_when_no_signal_is_required():
    assert validate(np.zeros(100, np.float32), RATE, require_signal=False).abs().max() == 0


def test_audio_error_is_a_value_error():
    assert issubclass(AudioError, ValueError)
    with pytest.raises(ValueError):
        validate(np.zeros(0, np.float32), RATE)


# --- bad files ------------------------------------------------------------------------


def test_missing_file(tmp_path: Path):
    with pytest.raises(AudioError, match=r"missing\.wav: no such file"):
        load(tmp_path / "missing.wav")


def test_directory(tmp_path: Path):
    with pytest.raises(AudioError, match="is a directory"):
        load(tmp_path)


def test_text_file_named_wav(tmp_path: Path):
    path = tmp_path / "notes.wav"
    path.write_text("these are not samples\n")
    with pytest.raises(AudioError, match=r"notes\.wav: not a readable audio file"):
        load(path)


def test_zero_byte_file(tmp_path: Path):
    path = tmp_path / "zero.wav"
    path.write_bytes(b"")
    with pytest.raises(AudioError, match=r"zero\.wav: not a readable audio file"):
        load(path)


@pytest.mark.parametrize("subtype", ["PCM_16", "FLOAT"])
def test_truncated_wav(tmp_path: Path, subtype: str):
    whole = write(tmp_path / "whole.wav", sine(), subtype=subtype).read_bytes()
    path = tmp_path / "cut.wav"
    path.write_bytes(whole[: len(whole) // 2])
    assert sf.info(path).frames > 0  # libsndfile itself reads the half that is there
    with pytest.raises(
        AudioError, match=r"cut\.wav: truncated: .* promises \d+ bytes .* only \d+ are present"
    ):
        load(path)


def test_truncated_flac(tmp_path: Path):
    whole = write(tmp_path / "whole.flac", sine()).read_bytes()
    path = tmp_path / "cut.flac"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(AudioError, match=r"cut\.flac: not a readable audio file"):
        load(path)


def test_empty_wav(tmp_path: Path):
    path = write(tmp_path / "empty.wav", np.zeros(0, np.float32))
    with pytest.raises(AudioError, match=r"empty\.wav: is empty \(0 samples\)"):
        load(path)


def test_stereo_wav(tmp_path: Path):
    path = write(tmp_path / "stereo.wav", np.stack([sine(), sine(660.0)], axis=1))
    with pytest.raises(AudioError, match=r"stereo\.wav: has 2 channels .*waveform\.mean\(0\)"):
        load(path)


@pytest.mark.parametrize("value, label", [(np.nan, "NaN"), (np.inf, "inf"), (-np.inf, "inf")])
def test_non_finite_samples_in_a_float_wav(tmp_path: Path, value: float, label: str):
    samples = sine()
    samples[[10, 20]] = value
    path = write(tmp_path / "odd.wav", samples, subtype="FLOAT")
    with pytest.raises(AudioError, match=rf"odd\.wav: contains 2 {label} .* index 10"):
        load(path)


def test_silent_wav(tmp_path: Path):
    path = write(tmp_path / "quiet.wav", np.zeros(RATE, np.float32))
    with pytest.raises(AudioError, match=r"quiet\.wav: is silent"):
        load(path)


@pytest.mark.parametrize("sr", [0, -8000, 22050.5, "16000", True])
def test_load_checks_the_target_rate(good_wav: Path, sr):
    with pytest.raises(AudioError, match="sr: the sample rate must be a positive integer"):
        load(good_wav, sr=sr)


def test_failures_leave_the_folder_unchanged(tmp_path: Path):
    write(tmp_path / "stereo.wav", np.stack([sine(), sine()], axis=1))
    (tmp_path / "notes.wav").write_text("not audio")
    before = sorted(os.listdir(tmp_path))
    for name in ["stereo.wav", "notes.wav", "missing.wav"]:
        with pytest.raises(AudioError):
            load(tmp_path / name, sr=8000)
    assert sorted(os.listdir(tmp_path)) == before


# --- bad arrays -----------------------------------------------------------------------


@pytest.mark.parametrize("rate", [0, -1, 22050.5, "16000", None, True, 16000.0])
def test_sample_rate_must_be_a_positive_integer(rate):
    with pytest.raises(AudioError, match="sample_rate: the sample rate must be a positive integer"):
        validate(sine(), rate)


def test_numpy_integer_rate_is_accepted():
    assert validate(sine(), np.int64(RATE)).shape == (RATE // 2,)


@pytest.mark.parametrize(
    "samples",
    [
        (sine() * 32767).astype(np.int16),
        sine().astype(np.complex64),
        torch.zeros(10, dtype=torch.int32),
        torch.zeros(10, dtype=torch.complex64),
        np.zeros(10, dtype=bool),
    ],
    ids=["int16", "complex64", "torch-int32", "torch-complex64", "bool"],
)
def test_wrong_dtype(samples):
    with pytest.raises(AudioError, match=r"clip: dtype .* not supported; convert to float"):
        validate(samples, RATE, name="clip")


def test_not_an_array():
    with pytest.raises(AudioError, match="expected a numpy array or torch tensor, got list"):
        validate([0.1, 0.2], RATE)


@pytest.mark.parametrize("shape", [(2, 100), (1, 100), (), (2, 3, 100)])
def test_not_one_dimensional(shape):
    pattern = rf"expected a 1-D mono waveform, got shape \({', '.join(map(str, shape))},?\)"
    with pytest.raises(AudioError, match=pattern):
        validate(torch.ones(shape), RATE)


def test_empty_array():
    with pytest.raises(AudioError, match=r"waveform: is empty \(0 samples\)"):
        validate(np.zeros(0, np.float32), RATE)


def test_too_short():
    with pytest.raises(AudioError, match=r"too short: 0\.010 s \(160 samples .* at least 0\.5 s"):
        validate(sine(seconds=0.01), RATE, min_seconds=0.5)


def test_nan_and_inf_arrays():
    with pytest.raises(AudioError, match="contains 1 NaN"):
        validate(torch.tensor([0.1, float("nan"), float("inf")]), RATE)
    with pytest.raises(AudioError, match="contains 1 inf"):
        validate(np.array([0.1, 0.2, np.inf]), RATE)


@pytest.mark.parametrize("peak", [0.0, 1e-7])
def test_silence_when_a_signal_is_required(peak: float):
    with pytest.raises(AudioError, match=r"is silent .*require_signal=False"):
        validate(np.full(100, peak, np.float32), RATE)


# --- real speech ----------------------------------------------------------------------


def test_real_audiomnist_recording(shared_data):
    files = sorted((shared_data / "audiomnist-sample" / "data").glob("*/*.wav"))
    assert files, f"no AudioMNIST recordings under {shared_data / 'audiomnist-sample'}"
    waveform, rate = load(files[0])
    assert rate == 48000 and waveform.dtype == torch.float32 and waveform.ndim == 1
    assert 0.3 <= waveform.shape[0] / rate <= 1.0
