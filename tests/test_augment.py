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


def test_room_simulation_is_the_same_whatever_ran_before():
    import pyroomacoustics as pra

    first = augment.simulate_rooms(RATE, (0.3, 0.6), size=2)
    pra.random.seed(numpy=1, libroom=2)  # another user of pyroomacoustics in the process
    again = augment.simulate_rooms(RATE, (0.3, 0.6), size=2)
    assert all(torch.equal(a, b) for (_, a), (_, b) in zip(first, again, strict=True))


def test_room_bank_is_simulated_once_per_data_folder(tmp_path, monkeypatch, capsys):
    """The second process (here: an emptied in-memory cache) reads the rooms back bit for
    bit instead of simulating them; a damaged file is reported and simulated again."""
    monkeypatch.setenv("SPEECHXAI_DATA_DIR", str(tmp_path))
    augment.room_bank.cache_clear()
    simulated = augment.room_bank(RATE, (0.3, 0.6), size=2)
    [saved] = (tmp_path / "rooms").glob("rooms-*.pt")
    augment.room_bank.cache_clear()
    import pyroomacoustics as pra

    monkeypatch.setattr(pra, "ShoeBox", lambda *args, **kwargs: pytest.fail("simulated"))
    read = augment.room_bank(RATE, (0.3, 0.6), size=2)
    assert [rt for rt, _ in read] == [rt for rt, _ in simulated]
    assert all(torch.equal(a, b) for (_, a), (_, b) in zip(read, simulated, strict=True))
    monkeypatch.undo()
    monkeypatch.setenv("SPEECHXAI_DATA_DIR", str(tmp_path))
    saved.write_bytes(saved.read_bytes()[:-10])
    augment.room_bank.cache_clear()
    again = augment.room_bank(RATE, (0.3, 0.6), size=2)
    assert "checksum mismatch" in capsys.readouterr().out
    assert all(torch.equal(a, b) for (_, a), (_, b) in zip(again, simulated, strict=True))
    augment.room_bank.cache_clear()


def test_reverberation_keeps_the_direct_path_in_place_and_adds_a_tail():
    response = augment.direct_path_responses(RATE, (0.3, 0.6), size=3)[-1]
    click = torch.zeros(4000)
    click[100] = 1.0
    wet = augment.reverberate(click[None], [response])[0]
    assert wet.numel() == 4000
    assert int(torch.argmax(wet.abs())) == 100
    assert wet[:100].abs().max() < 1e-6  # nothing before the direct path (FFT rounding)
    assert wet[1000:].pow(2).sum() > 0  # a tail after 112 ms


@pytest.mark.parametrize("taps", [5, 999, 1000, 2_597])
def test_reverberation_is_the_linear_convolution_cut_to_the_signal(taps):
    """Responses shorter and longer than the signal: no wrap-around reaches the kept
    samples, whatever FFT length is chosen; one signal broadcasts over several responses."""
    rng = np.random.default_rng(taps)
    signals, responses = rng.standard_normal((3, 1000)), rng.standard_normal((3, taps))
    expected = np.stack([np.convolve(s, r)[:1000] for s, r in zip(signals, responses, strict=True)])
    ours = augment.reverberate(torch.from_numpy(signals), list(torch.from_numpy(responses)))
    np.testing.assert_allclose(ours.numpy(), expected, rtol=0, atol=1e-9)
    one = augment.reverberate(torch.from_numpy(signals[:1]), list(torch.from_numpy(responses)))
    np.testing.assert_allclose(one.numpy(), [np.convolve(signals[0], r)[:1000]
                                             for r in responses], rtol=0, atol=1e-9)


@pytest.mark.parametrize("exponent", [0.0, 1.0, 2.0])
def test_coloured_noise_has_its_spectral_slope(exponent):
    white = torch.from_numpy(np.random.default_rng(0).standard_normal((1, 2**16))).float()
    noise = augment.coloured_noise(white, torch.tensor([exponent]))[0]
    power = torch.fft.rfft(noise).abs().pow(2)[1:]
    frequencies = torch.arange(1, power.numel() + 1, dtype=torch.float64)
    slope = np.polyfit(np.log(frequencies.numpy()), np.log(power.double().numpy() + 1e-30), 1)[0]
    assert slope == pytest.approx(-exponent, abs=0.1)


def test_add_noise_sets_the_snr_over_the_speech():
    frame = torch.zeros(8000)
    frame[2000:4000] = sine(300.0, 0.25)
    white = torch.from_numpy(np.random.default_rng(1).standard_normal((1, 8000))).float()
    noise = augment.coloured_noise(white, torch.tensor([1.0]))
    speech = torch.zeros(1, 8000, dtype=torch.bool)
    speech[0, 2000:4000] = True
    noisy = augment.add_noise(frame[None], noise, torch.tensor([10.0]), speech)[0]
    added = noisy - frame
    snr = 10 * torch.log10(frame[2000:4000].pow(2).mean() / added.pow(2).mean())
    assert float(snr) == pytest.approx(10.0, abs=1e-3)
    assert added[:2000].abs().max() > 0  # over the whole frame, gaps included


def test_tilt_and_peak_level():
    impulse = torch.zeros(1024)
    impulse[0] = 1.0
    gains = torch.fft.rfft(augment.tilt(impulse[None], torch.tensor([-6.0]))[0]).abs()
    assert 20 * torch.log10(gains[0]) == pytest.approx(0.0, abs=1e-4)
    assert 20 * torch.log10(gains[-1]) == pytest.approx(-6.0, abs=1e-3)
    scaled = augment.at_peak(sine(200.0)[None], torch.tensor([-12.0]))[0]
    assert 20 * torch.log10(scaled.abs().max()) == pytest.approx(-12.0, abs=1e-4)


def test_microphone_colouring_removes_rumble_below_its_high_pass():
    recipe = augment.Augmentation(highpass_hz=(300.0, 300.0), peaks_db=(0.0, 0.0),
                                  tilt_db=(0.0, 0.0))
    rumble, voice = sine(30.0, 1.0), sine(1000.0, 1.0)
    microphone = recipe.draw_microphone(RATE, np.random.default_rng(0))
    coloured_rumble, coloured_voice = augment.colour(torch.stack([rumble, voice]), RATE,
                                                     [microphone, microphone])
    assert coloured_rumble[4000:].pow(2).mean() < 0.01 * rumble.pow(2).mean()
    assert coloured_voice[4000:].pow(2).mean() > 0.5 * voice.pow(2).mean()


def test_frames_are_seeded_placed_and_bounded():
    recipe = augment.Augmentation(rt60=(0.3, 0.6), rooms=3)
    word = sine(250.0, 0.6)
    first = [recipe.frames([word], RATE, 8000, np.random.default_rng(5))[0] for _ in range(2)]
    assert torch.equal(first[0], first[1])
    frames = [recipe.frames([word], RATE, 8000, np.random.default_rng(seed))[0]
              for seed in range(20)]
    assert all(frame.numel() == 8000 for frame in frames)
    peaks = torch.stack([frame.abs().max() for frame in frames])
    assert float(peaks.max()) <= 10 ** (-1 / 20) + 1e-6
    assert float(peaks.min()) >= 10 ** (-20 / 20) - 1e-6
    assert len({round(float(frame.pow(2).sum()), 3) for frame in frames}) == 20


def test_a_batch_is_its_clips_framed_one_after_another():
    recipe = augment.Augmentation(rt60=(0.3, 0.6), rooms=3)
    words = [sine(250.0, 0.3), sine(330.0, 0.9), sine(200.0, 0.6), sine(400.0, 0.5)]
    batch = recipe.frames(words, RATE, 8000, np.random.default_rng(2))
    rng = np.random.default_rng(2)
    one_by_one = torch.cat([recipe.frames([word], RATE, 8000, rng) for word in words])
    torch.testing.assert_close(batch, one_by_one, rtol=0, atol=1e-5)


@pytest.mark.parametrize("kind", ["highpass", "lowpass", "peaking"])
def test_biquad_coefficients_are_torchaudios(kind):
    import torchaudio.functional as F

    signals = torch.from_numpy(np.random.default_rng(0).uniform(-0.5, 0.5, (3, 2000))).float()
    frequencies, gains, qs = [150.0, 900.0, 3500.0], [-6.0, 2.0, 8.0], [0.8, 1.5, 2.9]
    a, b = augment.biquad_coefficients(kind, RATE, frequencies, gains, qs)
    batched = F.lfilter(signals, a, b, batching=True)
    single = {"highpass": lambda x, f, g, q: F.highpass_biquad(x, RATE, f),
              "lowpass": lambda x, f, g, q: F.lowpass_biquad(x, RATE, f),
              "peaking": lambda x, f, g, q: F.equalizer_biquad(x, RATE, f, g, q)}[kind]
    for row in range(3):
        expected = single(signals[row], frequencies[row], gains[row], qs[row])
        torch.testing.assert_close(batched[row], expected, rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="unknown biquad"):
        augment.biquad_coefficients("bandstop", RATE, frequencies)


def test_clean_recipe_only_places_the_signal():
    clean = augment.Augmentation(p_speed=0, p_reverb=0, p_microphone=0, p_noise=0,
                                 peak_dbfs=(0.0, 0.0))
    word = 0.5 + sine(250.0, 0.6) * 0.25  # no zero sample: its start is its first non-zero
    frame = clean.frames([word], RATE, 8000, np.random.default_rng(0))[0]
    offset = int(torch.nonzero(frame)[0])
    peak = float(word.abs().max())
    assert torch.allclose(frame[offset:offset + word.numel()], word / peak, atol=1e-6)
    assert frame.pow(2).sum() == pytest.approx(float((word / peak).pow(2).sum()), rel=1e-5)


def test_speed_recipe_changes_only_the_speed_and_the_level():
    speed = augment.TRAINING_AUGMENTATIONS["speed"]
    tone = sine(500.0, 0.5)
    pitches, rng = set(), np.random.default_rng(3)
    for _ in range(12):
        frame = speed.frames([tone], RATE, 8000, rng)[0]
        spoken = frame[frame != 0]
        # one pure tone, resampled and scaled: no reverberation tail, colouring or noise
        # (a frame holds the tone and zeros only; its spectrum keeps a single peak)
        assert RATE * 0.5 / 1.1 - 2 <= spoken.numel() <= RATE * 0.5 / 0.9 + 2
        spectrum = torch.fft.rfft(spoken).abs()
        assert spectrum.max() > 20 * spectrum.median()
        pitches.add(round(dominant_frequency(spoken)))
    assert min(pitches) < 500 < max(pitches) and all(440 <= p <= 560 for p in pitches)


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


@pytest.mark.parametrize("shape", [(4, 128, 60), (4, 1, 128, 60)])  # log-mel; AlexNet's
def test_spec_augment_masks_one_band_and_one_span_per_example_reproducibly(shape):
    batch = torch.randn(*shape) + 5.0  # no value is zero before masking
    torch.manual_seed(0)
    masked = augment.spec_augment_transform((20, 15))(batch)
    torch.manual_seed(0)
    again = augment.spec_augment_transform((20, 15))(batch)
    torch.testing.assert_close(again, masked, rtol=0, atol=0)
    for row, original in zip(masked.reshape(4, 128, 60), batch.reshape(4, 128, 60),
                             strict=True):
        bands = (row == 0).all(dim=1).sum()  # whole mel bins masked
        spans = (row == 0).all(dim=0).sum()  # whole frames masked
        assert bands < 20 and spans < 15
        kept = row != 0
        torch.testing.assert_close(row[kept], original[kept], rtol=0, atol=0)
    assert (masked == 0).any()
    assert isinstance(augment.spec_augment_transform(None), torch.nn.Identity)
    assert not torch.equal(masked[0] == 0, masked[1] == 0)  # each example its own masks


@pytest.mark.parametrize("masks", [(3,), (3, -1), (1, 2, 3)])
def test_spec_augment_masks_are_two_counts(masks):
    assert augment.spec_augment_masks([20, 15]) == (20, 15)
    with pytest.raises(ValueError, match="spec_augment"):
        augment.spec_augment_masks(masks)

