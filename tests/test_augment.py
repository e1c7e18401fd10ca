"""Channel augmentation: each step does what its name says, measured on the signal."""

import numpy as np
import pytest
import torch

from speechxai import augment
from speechxai.inputs import DigitSignals, augmented, crop_around_speech, frame_signal

RATE = 8000


def sine(frequency: float, seconds: float = 0.5, rate: int = RATE) -> torch.Tensor:
    t = torch.arange(int(seconds * rate)) / rate
    return torch.sin(2 * torch.pi * frequency * t)


def dominant_frequency(signal: torch.Tensor, rate: int = RATE) -> float:
    spectrum = torch.fft.rfft(signal).abs()
    return float(torch.argmax(spectrum)) * rate / signal.numel()


def test_change_speed_scales_duration_and_pitch():
    faster = augment.change_speed(sine(400.0), RATE, 1.25)
    assert faster.numel() == pytest.approx(4000 / 1.25, abs=2)
    assert dominant_frequency(faster) == pytest.approx(500.0, abs=5)
    slower = augment.change_speed(sine(400.0), RATE, 0.8)
    assert dominant_frequency(slower) == pytest.approx(320.0, abs=5)


def test_reverberation_time_of_an_exponential_decay():
    """Noise whose energy decays by 60 dB in 0.5 s has RT60 0.5 s."""
    t = torch.arange(8000) / RATE
    decay = torch.from_numpy(np.random.default_rng(0).standard_normal(8000)).float()
    decay = decay * 10 ** (-3 * t / 0.5)  # amplitude -60 dB at 0.5 s
    assert augment.reverberation_time(decay, RATE) == pytest.approx(0.5, rel=0.05)


def test_room_bank_spans_its_reverberation_times():
    bank = augment.room_bank(RATE, (0.3, 0.6), size=3)
    measured = [augment.reverberation_time(response, RATE) for _, response in bank]
    assert [rt60 for rt60, _ in bank] == measured
    assert min(measured) < 0.45 < max(measured)
    assert all(0.15 < rt60 < 1.0 for rt60 in measured)


def test_reverberation_keeps_the_direct_path_in_place_and_adds_a_tail():
    _, response = augment.room_bank(RATE, (0.3, 0.6), size=3)[-1]
    click = torch.zeros(4000)
    click[100] = 1.0
    wet = augment.reverberate(click, response)
    assert wet.numel() == 4000
    assert int(torch.argmax(wet.abs())) == 100
    assert wet[:100].abs().max() < 1e-6  # nothing before the direct path (FFT rounding)
    assert wet[1000:].pow(2).sum() > 0  # a tail after 112 ms


@pytest.mark.parametrize("exponent", [0.0, 1.0, 2.0])
def test_coloured_noise_has_its_spectral_slope(exponent):
    noise = augment.coloured_noise(2**16, exponent, np.random.default_rng(0))
    power = torch.fft.rfft(noise).abs().pow(2)[1:]
    frequencies = torch.arange(1, power.numel() + 1, dtype=torch.float64)
    slope = np.polyfit(np.log(frequencies.numpy()), np.log(power.double().numpy() + 1e-30), 1)[0]
    assert slope == pytest.approx(-exponent, abs=0.1)


def test_add_noise_sets_the_snr_over_the_speech():
    frame = torch.zeros(8000)
    frame[2000:4000] = sine(300.0, 0.25)
    noise = augment.coloured_noise(8000, 1.0, np.random.default_rng(1))
    noisy = augment.add_noise(frame, noise, 10.0, slice(2000, 4000))
    added = noisy - frame
    snr = 10 * torch.log10(frame[2000:4000].pow(2).mean() / added.pow(2).mean())
    assert float(snr) == pytest.approx(10.0, abs=1e-3)
    assert added[:2000].abs().max() > 0  # over the whole frame, gaps included


def test_tilt_and_peak_level():
    impulse = torch.zeros(1024)
    impulse[0] = 1.0
    gains = torch.fft.rfft(augment.tilt(impulse, -6.0)).abs()
    assert 20 * torch.log10(gains[0]) == pytest.approx(0.0, abs=1e-4)
    assert 20 * torch.log10(gains[-1]) == pytest.approx(-6.0, abs=1e-3)
    scaled = augment.at_peak(sine(200.0), -12.0)
    assert 20 * torch.log10(scaled.abs().max()) == pytest.approx(-12.0, abs=1e-4)


def test_microphone_colouring_removes_rumble_below_its_high_pass():
    recipe = augment.Augmentation(highpass_hz=(300.0, 300.0), peaks_db=(0.0, 0.0),
                                  tilt_db=(0.0, 0.0))
    rumble, voice = sine(30.0, 1.0), sine(1000.0, 1.0)
    coloured_rumble = recipe.colour(rumble, RATE, np.random.default_rng(0))
    coloured_voice = recipe.colour(voice, RATE, np.random.default_rng(0))
    assert coloured_rumble[4000:].pow(2).mean() < 0.01 * rumble.pow(2).mean()
    assert coloured_voice[4000:].pow(2).mean() > 0.5 * voice.pow(2).mean()


def test_frames_are_seeded_placed_and_bounded():
    recipe = augment.Augmentation(rt60=(0.3, 0.6), rooms=3)
    word = sine(250.0, 0.6)
    first = [recipe.frame(word, RATE, 8000, np.random.default_rng(5)) for _ in range(2)]
    assert torch.equal(first[0], first[1])
    frames = [recipe.frame(word, RATE, 8000, np.random.default_rng(seed)) for seed in range(20)]
    assert all(frame.numel() == 8000 for frame in frames)
    peaks = torch.stack([frame.abs().max() for frame in frames])
    assert float(peaks.max()) <= 10 ** (-1 / 20) + 1e-6
    assert float(peaks.min()) >= 10 ** (-20 / 20) - 1e-6
    assert len({round(float(frame.pow(2).sum()), 3) for frame in frames}) == 20


def test_clean_recipe_only_places_the_signal():
    clean = augment.Augmentation(p_speed=0, p_reverb=0, p_microphone=0, p_noise=0,
                                 peak_dbfs=(0.0, 0.0))
    word = 0.5 + sine(250.0, 0.6) * 0.25  # no zero sample: its start is its first non-zero
    frame = clean.frame(word, RATE, 8000, np.random.default_rng(0))
    offset = int(torch.nonzero(frame)[0])
    peak = float(word.abs().max())
    assert torch.allclose(frame[offset:offset + word.numel()], word / peak, atol=1e-6)
    assert frame.pow(2).sum() == pytest.approx(float((word / peak).pow(2).sum()), rel=1e-5)


def test_augmented_signals_keep_their_labels():
    signals = DigitSignals([sine(200.0, 0.3), sine(300.0, 0.9)], np.array([3, 7]),
                           np.array([0, 1]), ["a", "b"])
    out = augmented(signals, augment.Augmentation(rt60=(0.3, 0.6), rooms=3),
                    np.random.default_rng(0))
    assert [s.numel() for s in out.signals] == [8000, 8000]
    assert out.digits.tolist() == [3, 7] and out.speakers == ["a", "b"]


def test_long_recordings_are_cropped_around_their_speech():
    recording = torch.zeros(16000)
    recording[11000:13000] = sine(300.0, 0.25)
    cropped = crop_around_speech(recording, RATE, 8000)
    assert cropped.numel() == 8000
    assert cropped.pow(2).sum() == pytest.approx(float(recording.pow(2).sum()), rel=1e-6)
    late = torch.zeros(12000)
    late[-1000:] = sine(300.0, 0.125)
    assert torch.equal(crop_around_speech(late, RATE, 8000), late[-8000:])
    short = sine(300.0, 0.5)
    assert crop_around_speech(short, RATE, 8000) is short


def test_a_framed_signal_is_at_8_khz_without_dc_and_at_most_a_second():
    offset = sine(300.0, 1.5, rate=16000) * 0.01 + 0.25  # a quiet word over a large DC offset
    framed = frame_signal(offset, 16000)
    assert framed.numel() == 8000
    assert abs(float(framed.mean())) < 1e-3
    assert float(framed.abs().max()) == pytest.approx(0.01, rel=0.05)
    assert dominant_frequency(framed) == pytest.approx(300.0, abs=2)


def test_a_recording_keeps_its_length_when_its_speed_is_kept_and_its_gaps_get_noise():
    recipe = augment.Augmentation(p_speed=0, p_reverb=0, p_microphone=0, p_noise=1,
                                  snr_db=(20.0, 20.0), peak_dbfs=(-6.0, -6.0))
    gap = torch.zeros(4000)
    sequence = torch.cat([sine(250.0), gap, sine(330.0)])
    out = recipe.recording(sequence, RATE, np.random.default_rng(0))
    assert out.numel() == sequence.numel()
    assert float(out.abs().max()) == pytest.approx(10 ** (-6 / 20), rel=1e-5)
    words = torch.cat([out[:4000], out[8000:]])
    noise_in_gap = out[4000:8000].pow(2).mean()
    assert float(noise_in_gap) > 0  # the digital silence between words is gone
    # the SNR is measured over the whole recording, gap included (2/3 of it is words)
    snr = 10 * float(torch.log10(words.pow(2).mean() * 2 / 3 / noise_in_gap))
    assert snr == pytest.approx(20, abs=1.0)
    slower = augment.Augmentation(p_speed=1, speed=(0.8, 0.8), p_reverb=0, p_microphone=0,
                                  p_noise=0)
    assert slower.recording(sequence, RATE, np.random.default_rng(0)).numel() == 15000


def test_channel_copies_follow_the_originals_at_8_khz_with_their_transcripts():
    from speechxai.datasets.real import Utterance

    items = [Utterance(sine(250.0, 0.5, 16000), 16000, "one two"),
             Utterance(sine(300.0, 0.7, 22050), 22050, "three")]
    recipe = augment.Augmentation(rt60=(0.3, 0.6), rooms=3)
    out = augment.with_channel_copies(items, 2, seed=4, augmentation=recipe)
    assert out[:2] == items
    assert [u.transcript for u in out[2:]] == ["one two", "three"] * 2
    assert {u.sample_rate for u in out[2:]} == {augment.CHANNEL_RATE}
    assert not torch.equal(out[2].waveform, out[4].waveform)  # each copy its own channel
    again = augment.with_channel_copies(items, 2, seed=4, augmentation=recipe)
    assert all(torch.equal(a.waveform, b.waveform) for a, b in zip(out, again, strict=True))
    assert augment.with_channel_copies(items, 0, seed=4) == items
    with pytest.raises(ValueError, match="copies"):
        augment.with_channel_copies(items, -1, seed=4)
