"""Paralinguistic perturbations and explanations (Pastor et al., 2024) on known signals."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from speechxai.attribution.paralinguistic import (
    ABSORPTION,
    FAMILIES,
    ParalinguisticImportance,
    paralinguistic_importance,
    perturb,
    perturbations,
    reverberation_time,
    room_impulse_response,
)

RATE = 8000


def tone(frequency: float, seconds: float = 1.0, ramp: float = 0.02) -> torch.Tensor:
    """A sine of ``frequency`` Hz with raised-cosine ramps of ``ramp`` seconds."""
    t = torch.arange(round(seconds * RATE), dtype=torch.float64) / RATE
    envelope = torch.clamp(torch.minimum(t, t[-1] - t) / ramp, max=1.0)
    return (0.5 * torch.sin(2 * math.pi * frequency * t) * torch.sin(envelope * math.pi / 2) ** 2
            ).float()


def peak_frequency(signal: torch.Tensor) -> float:
    """Frequency (Hz) of the spectral peak: Hann window, zero padding, parabolic interpolation
    of the log magnitude."""
    x = signal.double().numpy()
    magnitude = np.log(np.abs(np.fft.rfft(x * np.hanning(x.size), 2**18)) + 1e-12)
    k = int(magnitude.argmax())
    left, centre, right = magnitude[k - 1:k + 2]
    return (k + 0.5 * (left - right) / (left - 2 * centre + right)) * RATE / 2**18


def active_seconds(signal: torch.Tensor, frame: int = RATE // 100) -> float:
    """Duration of the 10 ms frames whose RMS is at least half the loudest frame's."""
    frames = signal[: signal.numel() // frame * frame].reshape(-1, frame)
    rms = frames.pow(2).mean(1).sqrt()
    return float((rms >= 0.5 * rms.max()).sum()) * frame / RATE


def speech_like(seconds: float = 0.6) -> torch.Tensor:
    """A voiced sound with a gliding pitch, five harmonics and a little seeded noise."""
    t = torch.arange(round(seconds * RATE), dtype=torch.float64) / RATE
    phase = 2 * math.pi * (140 * t + 30 * t**2)
    voiced = sum(torch.sin(k * phase) / k for k in range(1, 6))
    noise = torch.randn(t.numel(), generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    return (0.3 * voiced + 0.01 * noise).float()


def test_families_follow_the_reference_ranges():
    assert list(FAMILIES) == ["pitch_down", "pitch_up", "stretch_down", "stretch_up", "reverb",
                              "noise"]
    assert FAMILIES["pitch_down"] == tuple(np.arange(-5, 0, 0.5))
    assert FAMILIES["pitch_up"] == tuple(np.arange(0.5, 5.5, 0.5))
    assert np.allclose(FAMILIES["stretch_down"], np.arange(0.55, 0.96, 0.05))
    assert np.allclose(FAMILIES["stretch_up"], np.arange(1.05, 1.46, 0.05))
    assert FAMILIES["reverb"] == (3, 4, 5, 6, 7)
    assert FAMILIES["noise"][0] == 40 and FAMILIES["noise"][-1] == 0.1
    assert list(FAMILIES["noise"]) == sorted(FAMILIES["noise"], reverse=True)


@pytest.mark.parametrize("semitones", [-5.0, -2.5, -0.5, 0.5, 3.0, 5.0])
def test_pitch_shift_moves_a_tone_by_two_to_the_n_over_12(semitones):
    shifted = perturb(tone(440.0), RATE, "pitch_down" if semitones < 0 else "pitch_up",
                      semitones)
    assert shifted.shape == (RATE,) and shifted.dtype == torch.float32
    expected = 440.0 * 2 ** (semitones / 12)
    middle = shifted[RATE // 4: 3 * RATE // 4]
    assert peak_frequency(middle) == pytest.approx(expected, rel=0.003)  # 5 cents


@pytest.mark.parametrize("factor", [0.55, 0.8, 1.2, 1.45])
def test_stretch_scales_the_duration_and_keeps_the_frequency(factor):
    silence = torch.zeros(round(0.3 * RATE))
    burst = torch.cat([silence, tone(440.0, 0.5), silence])
    stretched = perturb(burst, RATE, "stretch_down" if factor < 1 else "stretch_up", factor)
    assert stretched.numel() == round(burst.numel() * factor)
    assert active_seconds(stretched) == pytest.approx(active_seconds(burst) * factor, abs=0.015)
    centre = stretched.numel() // 2
    assert peak_frequency(stretched[centre - RATE // 10: centre + RATE // 10]) == pytest.approx(
        440.0, rel=0.003)


def test_room_impulse_response_decays_as_sabine_predicts():
    assert reverberation_time(3.0) == pytest.approx(0.161 * 27 / (54 * 0.1))
    for room in (3.0, 5.0, 7.0):
        response = room_impulse_response(room, 16000).double()
        assert response.norm() == pytest.approx(1.0, abs=1e-5)
        reverberant = response[1:].pow(2).sum() / response[0] ** 2
        assert reverberant == pytest.approx(2 * math.pi / (3 * ABSORPTION), rel=1e-4)
        decay = response.pow(2).flip(0).cumsum(0).flip(0)  # Schroeder integration
        level = 10 * torch.log10(decay / decay[0])
        fit = (level <= -5) & (level >= -35)  # T30
        seconds = torch.arange(response.numel(), dtype=torch.float64) / 16000
        slope = np.polyfit(seconds[fit].numpy(), level[fit].numpy(), 1)[0]
        assert -60 / slope == pytest.approx(reverberation_time(room), rel=0.05)


def test_reverb_lengthens_the_decay_of_a_click_with_the_room_and_keeps_the_level():
    click = torch.zeros(2 * RATE)
    click[RATE // 10] = 1.0
    late = RATE // 10 + RATE // 20  # 50 ms after the click
    assert click[late:].pow(2).sum() == 0
    tails = [float(perturb(click, RATE, "reverb", room)[late:].pow(2).sum())
             for room in FAMILIES["reverb"]]
    assert tails[0] > 0.2 and all(a < b for a, b in zip(tails, tails[1:], strict=False)), tails
    noise = 0.2 * torch.randn(2 * RATE, generator=torch.Generator().manual_seed(0))
    for room in (3.0, 7.0):
        ratio = perturb(noise, RATE, "reverb", room).pow(2).mean() / noise.pow(2).mean()
        assert abs(10 * math.log10(ratio)) < 1.0


def test_noise_reaches_the_requested_snr_with_white_noise():
    signal = speech_like()
    for family, snr, noisy in perturbations(signal, RATE, "noise"):
        added = (noisy - signal).double()
        measured = 10 * math.log10(signal.double().pow(2).sum() / added.pow(2).sum())
        assert family == "noise" and measured == pytest.approx(snr, abs=0.5)
        lag_one = float((added[1:] * added[:-1]).sum() / added.pow(2).sum())
        assert abs(lag_one) < 0.05  # white: uncorrelated samples


def test_seeds_reproduce_and_only_draw_the_room_and_the_noise():
    signal = speech_like()
    first, again, other = (perturbations(signal, RATE, seed=s) for s in (1, 1, 2))
    for (family, level, a), (_, _, b), (_, _, c) in zip(first, again, other, strict=True):
        assert torch.equal(a, b)
        assert torch.equal(a, c) == (family not in ("reverb", "noise")), (family, level)


def test_perturbations_equal_perturb_one_by_one():
    signal = speech_like()
    variants = perturbations(signal, RATE, seed=4)
    assert [(f, lv) for f, lv, _ in variants] == [(f, lv) for f, levels in FAMILIES.items()
                                                  for lv in levels]
    for family, level, wave in variants:
        single = perturb(signal, RATE, family, level, seed=4)
        assert wave.shape == single.shape and wave.dtype == torch.float32
        assert torch.allclose(wave, single, atol=1e-5), (family, level)
        if not family.startswith("stretch"):
            assert wave.numel() == signal.numel()


def classifier(calls: list[int]):
    """Two slots: "pitch" = sigmoid of the spectral centroid (high above 250 Hz), "length" =
    sigmoid of the duration (long above 0.8 s). Records the batch size of each call."""
    def predict_proba(waveforms):
        calls.append(len(waveforms))
        high, long = [], []
        for w in waveforms:
            power = torch.fft.rfft(w.double()).abs() ** 2
            frequencies = torch.fft.rfftfreq(w.numel(), 1 / RATE, dtype=torch.float64)
            centroid = (power * frequencies).sum() / power.sum()
            high.append(torch.sigmoid((centroid - 250) / 25))
            long.append(torch.sigmoid(torch.tensor((w.numel() / RATE - 0.8) / 0.05)))
        return {slot: torch.stack([1 - torch.stack(p), torch.stack(p)], 1)
                for slot, p in (("pitch", high), ("length", long))}
    return predict_proba


def test_importance_of_a_pitch_and_a_length_classifier():
    calls: list[int] = []
    explanation = paralinguistic_importance(classifier(calls), tone(300.0), RATE)
    n_variants = sum(map(len, FAMILIES.values()))
    assert calls == [1 + n_variants]
    assert explanation.slot_targets == {"pitch": 1, "length": 1}
    table = explanation.table()
    pitch, length = table.loc["pitch"], table.loc["length"]
    assert pitch["probability"] == pytest.approx(1 / (1 + math.exp(-2)), abs=0.01)
    assert pitch["pitch_down"] > 0.2 and pitch["pitch_up"] < -0.05  # lower pitch: less "high"
    assert abs(pitch["stretch_down"]) < 0.02 and abs(pitch["stretch_up"]) < 0.02
    assert abs(pitch["reverb"]) < 0.05 and pitch["noise"] < -0.05  # white noise is "high"
    assert length["stretch_down"] > 0.3 and -0.05 < length["stretch_up"] <= 0
    assert (length[["pitch_down", "pitch_up", "reverb", "noise"]] == 0).all()


def test_batched_equals_sequential():
    calls: list[int] = []
    batched = paralinguistic_importance(classifier(calls), speech_like(1.0), RATE, seed=5)
    sequential = paralinguistic_importance(classifier(calls), speech_like(1.0), RATE, seed=5,
                                           batched=False)
    n_variants = sum(map(len, FAMILIES.values()))
    assert calls == [1 + n_variants] + [1] * (1 + n_variants)
    assert batched.variants == sequential.variants
    assert batched.slot_targets == sequential.slot_targets
    for slot in batched.slot_targets:
        assert np.allclose(batched.differences[slot], sequential.differences[slot], atol=1e-5)


def test_tables_give_the_paper_layouts():
    explanation = paralinguistic_importance(classifier([]), tone(300.0), RATE,
                                            families=["stretch_down", "stretch_up", "noise"],
                                            targets={"pitch": 0})
    assert isinstance(explanation, ParalinguisticImportance)
    table = explanation.table({"pitch": ["low", "high"]})
    assert list(table.index) == ["pitch"]
    assert list(table.columns) == ["target", "probability", "stretch_down", "stretch_up", "noise"]
    assert table.loc["pitch", "target"] == "low"
    heatmap = explanation.levels_table("stretch", {"pitch": ["low", "high"]})
    assert list(heatmap.index) == ["pitch=low"]
    assert list(heatmap.columns) == sorted(FAMILIES["stretch_down"] + (1.0,)
                                           + FAMILIES["stretch_up"])
    assert heatmap.loc["pitch=low", 1.0] == 0
    down = [c for c in heatmap.columns if c < 1]
    assert heatmap.loc["pitch=low", down].mean() == pytest.approx(table.loc["pitch",
                                                                            "stretch_down"])
    noise = explanation.levels_table("noise")
    assert list(noise.columns) == [math.inf, *FAMILIES["noise"]]
    assert list(noise.index) == ["pitch=0"]


def test_clear_errors():
    signal = speech_like()
    with pytest.raises(ValueError, match="unknown perturbation family"):
        perturb(signal, RATE, "speed", 1.1)
    for family, level in (("pitch_up", 6), ("pitch_down", 0.5), ("stretch_down", 1.0),
                          ("reverb", 2), ("noise", 50), ("noise", math.nan)):
        with pytest.raises(ValueError, match="outside the reference range"):
            perturb(signal, RATE, family, level)
    with pytest.raises(ValueError, match="too short"):
        perturb(signal[:100], RATE, "noise", 10)
    broken = signal.clone()
    broken[10] = math.nan
    with pytest.raises(ValueError, match="NaN"):
        perturbations(broken, RATE)
    with pytest.raises(ValueError, match="1-D"):
        perturbations(signal[None], RATE)
    with pytest.raises(ValueError, match="sample_rate"):
        perturbations(signal, 0)
    with pytest.raises(ValueError, match="no perturbation family"):
        perturbations(signal, RATE, families=[])
    with pytest.raises(ValueError, match="room_size"):
        room_impulse_response(0.0, RATE)
    with pytest.raises(ValueError, match="not among"):
        paralinguistic_importance(classifier([]), signal, RATE, "noise", targets={"tone": 0})
    with pytest.raises(ValueError, match="classes"):
        paralinguistic_importance(classifier([]), signal, RATE, "noise", targets={"pitch": 2})
    explanation = paralinguistic_importance(classifier([]), signal, RATE, "noise")
    with pytest.raises(ValueError, match="unknown feature"):
        explanation.levels_table("speed")
    with pytest.raises(ValueError, match="no pitch perturbations"):
        explanation.levels_table("pitch")
