"""Bad input and faults at the package's public entries (issue 18): each case gives a clear
AudioError or a correct result, and none hangs or runs out of memory."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from speechxai import AttributionError, AudioError
from speechxai.attribution.audible import audible_explanation
from speechxai.attribution.lrp import relevance
from speechxai.attribution.occlusion import mask_segments, word_importance
from speechxai.attribution.paralinguistic import paralinguistic_importance
from speechxai.audio import load, validate
from speechxai.evaluation.aopc import aopc
from speechxai.features import (
    MAX_KERNEL_PHASES,
    _resampler,
    audiomnist_spectrogram,
    audiomnist_waveform,
    log_mel,
    mfcc_frames,
    resample,
    resampling_ratio,
    spectrogram_db,
)

TONE_HZ = 1000.0


def tone(rate: int, seconds: float = 0.1) -> torch.Tensor:
    t = torch.arange(int(rate * seconds), dtype=torch.float64) / rate
    return (0.5 * torch.sin(2 * torch.pi * TONE_HZ * t)).float()


def dominant_hz(signal: torch.Tensor, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(signal.numpy() * np.hanning(len(signal))))
    return float(np.fft.rfftfreq(len(signal), 1 / rate)[spectrum.argmax()])


# ------------------------------------------------------------ resampling, any pair of rates

@pytest.mark.parametrize(("old", "new"), [
    (44_101, 16_000), (47_999, 8_000), (384_001, 16_000), (8_000, 44_101), (96_001, 22_050),
])
def test_rates_with_a_small_common_factor_resample_in_bounded_memory(old, new):
    up, down = resampling_ratio(old, new)
    assert up * down <= MAX_KERNEL_PHASES
    kernel = _resampler(old, new, torch.device("cpu")).kernel
    assert kernel.numel() < 4 * MAX_KERNEL_PHASES  # tens of MB at most
    resampled = resample(tone(old), old, new)
    assert len(resampled) == int(np.ceil(len(tone(old)) * new / old))
    assert abs(dominant_hz(resampled, new) - TONE_HZ) <= new / len(resampled)  # one FFT bin


@pytest.mark.parametrize(("old", "new"), [(48_000, 8_000), (22_050, 16_000), (16_000, 8_000)])
def test_rates_with_a_small_kernel_are_resampled_exactly_as_torchaudio_does(old, new):
    import torchaudio

    signal = tone(old)
    assert resampling_ratio(old, new) == (old // np.gcd(old, new), new // np.gcd(old, new))
    torch.testing.assert_close(resample(signal, old, new),
                               torchaudio.functional.resample(signal, old, new))


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs Linux's /proc")
def test_resampling_44101_to_16000_stays_under_a_memory_cap():
    # the exact kernel needs 2.8 GB; under a 1.5 GB address-space cap above the interpreter's
    # own it must still work (a child process, so the cap does not bind the test session)
    code = ("import os, resource, torch\n"
            "from speechxai.features import resample\n"
            "soft, hard = resource.getrlimit(resource.RLIMIT_AS)\n"
            "pages = int(open('/proc/self/statm').read().split()[0])\n"
            "used = pages * os.sysconf('SC_PAGE_SIZE')\n"
            "resource.setrlimit(resource.RLIMIT_AS, (used + 1_500_000_000, hard))\n"
            "y = resample(torch.zeros(44101) + 0.1, 44101, 16000)\n"
            "print(len(y))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "16000"


# ------------------------------------------------------------ features refuse what is no audio

ENTRIES = {
    "resample": lambda x: resample(x, 16_000, 8_000),
    "mfcc_frames": lambda x: mfcc_frames(x, 16_000),
    "log_mel": lambda x: log_mel(x, 16_000),
    "spectrogram_db": lambda x: spectrogram_db(x, 16_000),
    "audiomnist_waveform": lambda x: audiomnist_waveform(x, 8_000, seed=0),
}
BAD_SIGNALS = {
    "NaN": (np.r_[np.zeros(1000), np.nan].astype(np.float32), "NaN or infinite"),
    "inf": (np.r_[np.zeros(1000), np.inf].astype(np.float32), "NaN or infinite"),
    "int16": (np.ones(1001, dtype=np.int16), "dtype torch.int16"),
    "complex": (np.ones(1001, dtype=np.complex64), "complex samples"),
    "bool": (np.ones(1001, dtype=bool), "dtype torch.bool"),
    "text": ("not audio", "not an array of samples|dtype"),
}


def _constant_classifier(waveforms):
    """A black box that never looks at the audio: any refusal comes from the explainer."""
    return {"slot": np.full((len(waveforms), 2), 0.5)}


BLACK_BOX_ENTRIES = {
    "word_importance": lambda x: word_importance(_constant_classifier, x, 8_000, [(0, 500)]),
    "paralinguistic_importance": lambda x: paralinguistic_importance(
        _constant_classifier, x, 8_000, families="noise"),
    "aopc": lambda x: aopc(_constant_classifier, x, 8_000, [(0, 500)], {"slot": [[0]]}),
    "mask_segments": lambda x: mask_segments(x, 8_000, [(0, 500)]),
}
BAD_WAVEFORMS = {
    "NaN": (np.r_[np.zeros(1000), np.nan].astype(np.float32), "NaN|non-finite"),
    "int16": (np.ones(1001, dtype=np.int16), "int16"),
    "complex": (np.ones(1001, dtype=np.complex64), "complex"),
    "peak above 1": (np.r_[np.zeros(1000), 1.5].astype(np.float32), "peak|1.0"),
    "stereo": (np.zeros((2, 1001), dtype=np.float32), "1-D|mono|shape"),
}


@pytest.mark.parametrize("entry, signal, message", [
    pytest.param(entries[name], *bad_signals[bad], id=f"{name}-{bad}")
    for entries, bad_signals in ((ENTRIES, BAD_SIGNALS), (BLACK_BOX_ENTRIES, BAD_WAVEFORMS))
    for name in entries for bad in bad_signals])
def test_features_and_black_box_explainers_refuse_what_is_no_float_audio(entry, signal,
                                                                         message):
    with pytest.raises(AudioError, match=message):
        entry(signal)


@pytest.mark.parametrize("bad", [
    np.ones(1001, dtype=np.int16), np.r_[np.zeros(1000), np.nan].astype(np.float32),
    np.ones(1001, dtype=np.complex64)])
def test_audible_explanations_refuse_what_is_no_float_audio(bad):
    with pytest.raises(AudioError, match="finite floating-point samples"):
        audible_explanation(bad, np.ones(bad.shape, dtype=np.float32))


def test_an_attribution_of_a_list_is_an_argument_error_not_bad_audio():
    with pytest.raises(AttributionError, match="inputs must be a tensor, got list"):
        relevance(torch.nn.Linear(3, 2), [[0.0, 1.0, 2.0]], 0)


def test_black_box_explainers_take_silence_and_keep_the_callers_samples():
    silence = np.zeros(1001, dtype=np.float32)
    masked = mask_segments(silence, 8_000, [(0, 500)], masking="white")
    assert masked.shape == (1001,) and not np.shares_memory(masked.numpy(), silence)
    assert not silence.any()


def test_the_audiomnist_spectrogram_refuses_nan_and_integer_batches():
    with pytest.raises(AudioError, match="NaN or infinite"):
        audiomnist_spectrogram(torch.full((2, 8000), float("nan")))
    with pytest.raises(AudioError, match="dtype torch.int16"):
        audiomnist_spectrogram(np.zeros((2, 8000), dtype=np.int16))


def test_a_float64_batch_keeps_its_precision_in_the_spectrogram():
    batch = np.random.default_rng(0).uniform(-0.5, 0.5, (2, 8000))
    torch.testing.assert_close(audiomnist_spectrogram(batch),
                               audiomnist_spectrogram(torch.as_tensor(batch)))


@pytest.mark.parametrize("rate", [0, -8000, 8000.5, float("nan"), float("inf"), "8000", True])
def test_feature_rates_must_be_positive_whole_numbers(rate):
    with pytest.raises(AudioError, match="positive whole number of Hz"):
        resample(tone(8000), rate, 16_000)


def test_resampling_keeps_gradients_for_attacks():
    signal = tone(16_000).requires_grad_()
    resample(signal, 16_000, 8_000, differentiable=True).sum().backward()
    assert signal.grad is not None and torch.isfinite(signal.grad).all()


# ------------------------------------------------------------ one policy for peaks above 1.0

@pytest.mark.parametrize("peak", [1.0000001, 1.5, 32767.0])
def test_peaks_above_one_are_refused_not_clipped(peak):
    with pytest.raises(AudioError, match=r"peak magnitude .* above 1\.0"):
        validate(np.r_[np.zeros(10), peak, -0.5].astype(np.float64), 8000)


def test_a_peak_of_exactly_one_is_accepted():
    assert float(validate(np.r_[np.zeros(10), 1.0, -1.0], 8000).abs().max()) == 1.0


def test_a_float_file_with_peaks_above_one_is_refused_by_name(tmp_path: Path):
    path = tmp_path / "hot.wav"
    sf.write(path, np.r_[np.zeros(100), 1.7, 0.2].astype(np.float32), 8000, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"hot\.wav: peak magnitude 1\.7"):
        load(path)


# ------------------------------------------------------------ files that are not files

def test_a_fifo_is_refused_without_blocking(tmp_path: Path):
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    outcome: list[BaseException | None] = []

    def attempt():
        try:
            load(fifo)
            outcome.append(None)
        except BaseException as error:  # noqa: BLE001 - handed to the test thread
            outcome.append(error)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout=10)
    if thread.is_alive():  # unblock the reader before failing
        with open(fifo, "wb"):
            pass
        pytest.fail("loading a FIFO blocked")
    assert isinstance(outcome[0], AudioError)
    assert "not a regular file (a FIFO, device or socket)" in str(outcome[0])


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero on this system")
def test_a_device_is_refused():
    with pytest.raises(AudioError, match="not a regular file"):
        load("/dev/zero")


def test_load_resamples_an_odd_rate_in_bounded_memory(tmp_path: Path):
    path = tmp_path / "odd.wav"
    sf.write(path, tone(44_101).numpy(), 44_101)
    waveform, rate = load(path, sr=16_000)
    assert rate == 16_000 and len(waveform) == 1600
    assert abs(dominant_hz(waveform, rate) - TONE_HZ) <= 10
