"""Model-input features: AudioMNIST waveforms and spectrograms, DeepSpeech MFCC windows, log-mel.

Every reference is computed independently (scipy, numpy, torchaudio called directly).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch
import torchaudio

from speechxai import AudioError
from speechxai.features import (
    audiomnist_spectrogram,
    audiomnist_waveform,
    fold_mean,
    log_mel,
    mfcc_frames,
    mfcc_windows,
    resample,
    subtract_mean,
)


def scipy_audiomnist_spectrogram(signal: np.ndarray) -> np.ndarray:
    """The paper's AlexNet input: scipy STFT, crop, then librosa.amplitude_to_db in numpy."""
    _, _, zxx = scipy.signal.stft(signal, 8000, nperseg=455, noverlap=420, window="hann")
    assert zxx.shape == (228, 230)
    magnitude = np.abs(zxx[0:227, 2:-1])
    db = 20 * np.log10(np.maximum(magnitude, 1e-5)) - 20 * np.log10(max(magnitude.max(), 1e-5))
    return np.maximum(db, db.max() - 80.0)


def speech_like(seed: int, seconds: float = 0.6, rate: int = 48000) -> np.ndarray:
    """Seeded noise bursts with a decaying tone, in [-1, 1], like a short spoken digit."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    envelope = np.sin(np.pi * t / t[-1]) ** 2
    tone = np.sin(2 * np.pi * rng.uniform(100, 300) * t)
    return (0.3 * envelope * (tone + 0.3 * rng.standard_normal(t.size))).astype(np.float32)


# --- AudioMNIST spectrogram ---------------------------------------------------------------------


def spectrogram_inputs() -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(7)
    t = np.arange(8000) / 8000
    padded = np.zeros(8000)
    padded[1500:6000] = rng.standard_normal(4500)
    return [
        ("noise", rng.standard_normal(8000)),
        ("uniform", rng.uniform(-1, 1, 8000)),
        ("padded noise", padded),
        ("quiet noise (1e-5 floor binds)", 1e-4 * rng.standard_normal(8000)),
        ("int16-scale noise", np.round(3000 * rng.standard_normal(8000))),
        ("1 kHz sine", np.sin(2 * np.pi * 1000 * t)),
        ("sine off-bin", 0.5 * np.sin(2 * np.pi * 1234.5 * t + 0.3)),
        ("silence", np.zeros(8000)),
    ]


@pytest.mark.parametrize("name, signal", spectrogram_inputs())
def test_audiomnist_spectrogram_matches_scipy(name: str, signal: np.ndarray) -> None:
    signal32 = signal.astype(np.float32)
    ours = audiomnist_spectrogram(torch.from_numpy(signal32))
    assert ours.shape == (227, 227)
    assert ours.dtype == torch.float32
    reference = scipy_audiomnist_spectrogram(signal32.astype(np.float64))
    np.testing.assert_allclose(ours.numpy(), reference, rtol=0, atol=1e-3, err_msg=name)


def test_audiomnist_spectrogram_batch_equals_single() -> None:
    signals = np.stack([signal for _, signal in spectrogram_inputs()]).astype(np.float32)
    batch = audiomnist_spectrogram(signals)
    assert batch.shape == (len(signals), 227, 227)
    for row, signal in zip(batch, signals, strict=True):
        torch.testing.assert_close(row, audiomnist_spectrogram(signal), rtol=0, atol=1e-5)


def test_audiomnist_spectrogram_range() -> None:
    db = audiomnist_spectrogram(np.random.default_rng(3).standard_normal((4, 8000)))
    assert torch.allclose(db.amax(dim=(1, 2)), torch.zeros(4))
    assert db.min() >= -80.0


def test_audiomnist_spectrogram_sine_peaks_at_its_bin() -> None:
    t = np.arange(8000) / 8000
    db = audiomnist_spectrogram(np.sin(2 * np.pi * 1000 * t).astype(np.float32))
    # Bins are 8000 / 455 = 17.58 Hz apart: 1 kHz is nearest bin 57 (1002 Hz).
    assert int(db.mean(dim=1).argmax()) == round(1000 * 455 / 8000) == 57
    # A stationary sine: every frame peaks there (edge frames see part of it through padding).
    assert (db.argmax(dim=0) == 57).all()


@pytest.mark.parametrize("shape", [(7999,), (2, 3, 8000), (8000, 2)])
def test_audiomnist_spectrogram_rejects_other_shapes(shape: tuple[int, ...]) -> None:
    with pytest.raises(AudioError, match="8000"):
        audiomnist_spectrogram(torch.zeros(shape))


def test_fold_mean_and_subtract_mean() -> None:
    spectrograms = torch.from_numpy(np.random.default_rng(0).standard_normal((5, 227, 227)))
    mean = fold_mean(spectrograms)
    assert mean.shape == (227, 227)
    torch.testing.assert_close(mean, torch.from_numpy(spectrograms.numpy().mean(axis=0)))
    centred = subtract_mean(spectrograms, mean)
    assert centred.shape == spectrograms.shape
    torch.testing.assert_close(fold_mean(centred), torch.zeros(227, 227, dtype=torch.float64))


# --- AudioMNIST waveform ------------------------------------------------------------------------


def test_resample_matches_torchaudio_functional() -> None:
    signal = speech_like(0)
    ours = resample(signal, 48000, 8000)
    direct = torchaudio.functional.resample(torch.from_numpy(signal), 48000, 8000)
    assert ours.shape == direct.shape == (int(np.ceil(signal.size / 6)),)
    torch.testing.assert_close(ours, direct, rtol=0, atol=1e-6)


def expected_offset(seed: int, length: int) -> int:
    return int(np.random.default_rng(seed).integers(0, 8000 - length))


@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_audiomnist_waveform_embeds_the_resampled_signal(seed: int) -> None:
    signal = speech_like(seed)
    resampled = torchaudio.functional.resample(torch.from_numpy(signal), 48000, 8000)
    padded = audiomnist_waveform(signal, 48000, seed, normalise=False)
    assert padded.shape == (8000,)
    assert padded.dtype == torch.float32
    offset, length = expected_offset(seed, resampled.numel()), resampled.numel()
    torch.testing.assert_close(padded[offset : offset + length], resampled, rtol=0, atol=1e-6)
    assert (padded[:offset] == 0).all()
    assert (padded[offset + length :] == 0).all()


def test_audiomnist_waveform_same_seed_same_offset() -> None:
    signal = speech_like(4)
    first = audiomnist_waveform(signal, 48000, seed=99)
    again = audiomnist_waveform(signal.copy(), 48000, seed=99)
    assert torch.equal(first, again)


def test_audiomnist_waveform_different_seeds_move_the_signal() -> None:
    signal = speech_like(5)  # 0.6 s: 4800 samples, offsets 0 .. 3199
    starts = set()
    for seed in range(10):
        padded = audiomnist_waveform(signal, 48000, seed, normalise=False)
        start = int(torch.nonzero(padded)[0])
        assert start == expected_offset(seed, 4800)
        starts.add(start)
    assert len(starts) >= 8


def test_audiomnist_waveform_offset_upper_bound_is_exclusive() -> None:
    # 7,999 samples leave offsets in [0, 1): always 0, the last sample stays zero.
    signal = np.ones(7999, dtype=np.float32)
    for seed in range(5):
        padded = audiomnist_waveform(signal, 8000, seed, normalise=False)
        assert (padded[:7999] == 1).all() and padded[7999] == 0


def test_audiomnist_waveform_scales_by_95th_percentile_of_padded_signal() -> None:
    signal = speech_like(6)
    padded = audiomnist_waveform(signal, 48000, seed=6, normalise=False).numpy().astype(np.float64)
    # The paper's np.percentile over all 8,000 samples, padding zeros included, signed.
    expected = padded / (np.percentile(padded, 95) + 0.001)
    scaled = audiomnist_waveform(signal, 48000, seed=6)
    assert scaled.dtype == torch.float32
    np.testing.assert_allclose(scaled.numpy(), expected, rtol=1e-6, atol=1e-6)
    assert np.percentile(padded, 95) != pytest.approx(np.percentile(np.abs(padded), 95))


def test_audiomnist_waveform_full_length_is_not_shifted() -> None:
    signal = np.random.default_rng(8).uniform(-1, 1, 8000).astype(np.float32)
    padded = audiomnist_waveform(signal, 8000, seed=3, normalise=False)
    assert torch.equal(padded, torch.from_numpy(signal))


def test_audiomnist_waveform_too_long_raises_with_length() -> None:
    too_long = np.zeros(57600, dtype=np.float32)  # 1.2 s at 48 kHz = 9,600 samples at 8 kHz
    too_long[::7] = 0.1
    with pytest.raises(AudioError, match="9600 samples"):
        audiomnist_waveform(too_long, 48000, seed=0)


@pytest.mark.parametrize(
    "waveform, rate", [(np.zeros((2, 4000)), 8000), (np.zeros(0), 8000), (np.ones(100), 0)]
)
def test_audiomnist_waveform_rejects_bad_input(waveform: np.ndarray, rate: int) -> None:
    with pytest.raises(AudioError):
        audiomnist_waveform(waveform, rate, seed=0)


def test_audiomnist_waveform_rejects_non_positive_scale() -> None:
    with pytest.raises(AudioError, match="not positive"):
        audiomnist_waveform(-np.ones(8000, dtype=np.float32), 8000, seed=0)


# --- DeepSpeech MFCC windows --------------------------------------------------------------------


def direct_mfcc(signal: np.ndarray, rate: int) -> torch.Tensor:
    """torchaudio's MFCC frames (T, 26) with DeepSpeech's settings, built here independently."""
    at_16k = torchaudio.functional.resample(torch.from_numpy(signal), rate, 16000)
    transform = torchaudio.transforms.MFCC(
        sample_rate=16000,
        n_mfcc=26,
        log_mels=True,
        melkwargs={
            "n_fft": 512,
            "hop_length": 320,
            "n_mels": 40,
            "f_min": 20.0,
            "f_max": 4000.0,
            "center": False,
        },
    )
    return transform(at_16k).T


@pytest.mark.parametrize("rate", [48000, 16000, 22050])
def test_mfcc_windows_centre_row_is_the_mfcc_frame(rate: int) -> None:
    signal = speech_like(10, seconds=0.7, rate=rate)
    frames = direct_mfcc(signal, rate)
    windows = mfcc_windows(signal, rate)
    n_16k = int(np.ceil(signal.size * 16000 / rate))
    assert frames.shape == (1 + (n_16k - 512) // 320, 26)
    assert windows.shape == (frames.shape[0], 19, 26)
    assert windows.dtype == torch.float32
    torch.testing.assert_close(windows[:, 9], frames, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(mfcc_frames(signal, rate), frames, rtol=1e-5, atol=1e-4)


def test_mfcc_windows_hold_past_and_future_frames_with_zero_edges() -> None:
    signal = speech_like(11, seconds=0.5, rate=16000)
    frames = mfcc_frames(signal, 16000)
    windows = mfcc_windows(signal, 16000)
    count = frames.shape[0]
    for i in range(count):
        for row in range(19):
            source = i + row - 9
            expected = frames[source] if 0 <= source < count else torch.zeros(26)
            assert torch.equal(windows[i, row], expected), (i, row)
    assert (windows[0, :9] == 0).all() and (windows[-1, 10:] == 0).all()


def test_mfcc_frames_too_short_raises() -> None:
    with pytest.raises(AudioError, match="511 samples"):
        mfcc_frames(np.ones(511, dtype=np.float32), 16000)


# --- Log-mel ------------------------------------------------------------------------------------


def direct_log_mel(signal: np.ndarray, rate: int) -> torch.Tensor:
    at_16k = torchaudio.functional.resample(torch.from_numpy(signal), rate, 16000)
    mel = torchaudio.transforms.MelSpectrogram(
        sample_rate=16000, n_fft=400, hop_length=160, n_mels=128, mel_scale="slaney"
    )(at_16k)
    log = np.log(mel.numpy().astype(np.float64) + 1e-6)
    return torch.from_numpy(
        (log - log.mean(axis=1, keepdims=True)) / log.std(axis=1, keepdims=True)
    ).float()


@pytest.mark.parametrize("rate", [48000, 16000])
def test_log_mel_is_z_normalised_per_bin(rate: int) -> None:
    signal = speech_like(12, seconds=0.8, rate=rate)
    features = log_mel(signal, rate)
    n_16k = int(np.ceil(signal.size * 16000 / rate))
    assert features.shape == (128, 1 + n_16k // 160)
    assert features.dtype == torch.float32
    torch.testing.assert_close(features.mean(dim=1), torch.zeros(128), rtol=0, atol=1e-5)
    torch.testing.assert_close(
        features.std(dim=1, correction=0), torch.ones(128), atol=1e-4, rtol=0
    )
    torch.testing.assert_close(features, direct_log_mel(signal, rate), rtol=1e-4, atol=1e-4)


def test_log_mel_constant_bins_become_zero() -> None:
    features = log_mel(np.zeros(16000, dtype=np.float32), 16000)
    assert torch.isfinite(features).all()
    torch.testing.assert_close(features, torch.zeros_like(features), rtol=0, atol=1e-5)


def test_spectrogram_axes_locate_a_tone_and_a_click():
    from speechxai.features import audiomnist_spectrogram, audiomnist_spectrogram_axes

    frequencies, times = audiomnist_spectrogram_axes()
    assert frequencies[0] == 0 and frequencies[-1] < 4000 and times.size == 227
    t = np.arange(8000) / 8000
    spectrogram = audiomnist_spectrogram(
        torch.tensor(np.sin(2 * np.pi * 1000 * t), dtype=torch.float32)
    )
    assert abs(frequencies[int(spectrogram.mean(1).argmax())] - 1000) < 18
    click = torch.zeros(8000)
    click[4000] = 1.0
    column = int(audiomnist_spectrogram(click).mean(0).argmax())
    assert abs(times[column] - 0.5) < 0.005


def test_log_mel_frequencies_locate_a_tone():
    from speechxai.features import _mel_transform, log_mel_frequencies

    centres = log_mel_frequencies()
    # the lowest Slaney filters hold a single FFT bin each, so neighbours may share a centre
    assert centres.shape == (128,) and np.all(np.diff(centres) >= 0) and centres[-1] < 8000
    t = torch.arange(16000) / 16000
    tone = 0.5 * torch.sin(2 * torch.pi * 2000 * t)
    power = _mel_transform(tone.device)(tone)  # log_mel before its log
    assert abs(centres[int(power.mean(1).argmax())] - 2000) < 100
