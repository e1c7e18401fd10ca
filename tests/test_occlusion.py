"""Word-level leave-one-out (Pastor et al., 2024) on synthetic classifiers with a known answer:
the class-1 probability is a sigmoid of the energy inside one word's sample span."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from speechxai.attribution import Explanation
from speechxai.attribution.occlusion import (
    MASKINGS,
    NOISE_LEVEL_DB,
    REFERENCE_PADDING,
    WordImportance,
    mask_segments,
    word_importance,
)

RATE = 1000  # Hz; words of 100 samples with 50-sample gaps
WORD, GAP = 100, 50


def utterance(n_words: int = 5, amplitude: float = 0.5):
    """Tones of 100 samples separated by silence, and their (start, end) spans."""
    t = torch.arange(WORD) / RATE
    pieces, boundaries, position = [], [], 0
    for index in range(n_words):
        pieces += [torch.zeros(GAP), amplitude * torch.sin(2 * math.pi * (50 + 10 * index) * t)]
        boundaries.append((position + GAP, position + GAP + WORD))
        position += GAP + WORD
    pieces.append(torch.zeros(GAP))
    return torch.cat(pieces), tuple(boundaries)


def energy_classifier(span: tuple[int, int], scale: float = 100.0, threshold: float = 0.01):
    """Two classes; p(class 1) = sigmoid(scale * (mean energy in span - threshold))."""
    def predict_proba(waveforms):
        energy = torch.stack([w[span[0]:span[1]].pow(2).mean() for w in waveforms])
        p = torch.sigmoid(scale * (energy - threshold))
        return torch.stack([1 - p, p], dim=1)
    return predict_proba


class Counting:
    """Wraps a classifier and records the batch size of every call."""

    def __init__(self, predict_proba):
        self.predict_proba, self.calls = predict_proba, []

    def __call__(self, waveforms):
        self.calls.append(len(waveforms))
        return self.predict_proba(waveforms)


def test_the_word_covering_the_span_is_the_only_relevant_one():
    waveform, boundaries = utterance()
    model = energy_classifier(boundaries[2])
    result = word_importance(model, waveform, RATE, boundaries)
    p_full = torch.sigmoid(torch.tensor(100 * (0.125 - 0.01))).item()
    p_masked = torch.sigmoid(torch.tensor(-1.0)).item()
    assert result.slots == ("label",) and result.slot_targets == {"label": 1}
    assert isinstance(result, Explanation) and result.method == "leave one word out"
    assert result.scores.shape == (1, 5)
    np.testing.assert_allclose(result.scores[0], [0, 0, p_full - p_masked, 0, 0], atol=1e-3)
    assert result.top_word("label") == 2
    assert result.ranking("label")[0] == 2


@pytest.mark.parametrize("masking", MASKINGS)
def test_every_masking_finds_the_word(masking):
    waveform, boundaries = utterance()
    result = word_importance(energy_classifier(boundaries[3]), waveform, RATE, boundaries,
                             masking=masking, padding=REFERENCE_PADDING)
    assert result.top_word("label") == 3
    assert result.scores[0, 3] > 0.5
    assert np.abs(np.delete(result.scores[0], 3)).max() < 0.01


def test_target_class_zero_mirrors_class_one():
    waveform, boundaries = utterance()
    model = energy_classifier(boundaries[1])
    one = word_importance(model, waveform, RATE, boundaries)
    zero = word_importance(model, waveform, RATE, boundaries, targets={"label": 0})
    assert zero.slot_targets == {"label": 0}
    np.testing.assert_allclose(zero.scores, -one.scores, atol=1e-6)
    assert zero.top_word("label") != 1


def test_batched_and_one_at_a_time_give_identical_scores():
    waveform, boundaries = utterance()
    batched, single = (Counting(energy_classifier(boundaries[4])) for _ in range(2))
    fast = word_importance(batched, waveform, RATE, boundaries, masking="pink")
    slow = word_importance(single, waveform, RATE, boundaries, masking="pink", batched=False)
    assert batched.calls == [6] and single.calls == [1] * 6
    np.testing.assert_array_equal(fast.scores, slow.scores)
    assert fast.slot_targets == slow.slot_targets


def test_multi_slot_table_and_repeated_words():
    waveform, boundaries = utterance(4)
    first, last = energy_classifier(boundaries[0]), energy_classifier(boundaries[3])

    def model(waveforms):
        return {"first": first(waveforms), "last": last(waveforms)}

    result = word_importance(model, waveform, RATE, boundaries,
                             words=("one", "two", "one", "one"))
    assert result.top_word("first") == 0 and result.top_word("last") == 3
    table = result.table({"first": ["off", "on"]})
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == ["prediction", "one", "two", "one (3)", "one (4)"]
    assert list(table.index) == ["first", "last"]
    assert table.loc["first", "prediction"] == "on" and table.loc["last", "prediction"] == 1
    assert table.loc["last", "one (4)"] == pytest.approx(result.scores[1, 3])
    assert table.loc["first", "one"] > 0.5 and abs(table.loc["first", "one (4)"]) < 1e-6
    with pytest.raises(ValueError, match="unknown slot"):
        result.top_word("middle")


def test_zeros_masking_zeroes_the_padded_span_and_nothing_else():
    waveform = torch.ones(1000)
    masked = mask_segments(waveform, RATE, [(400, 500)], padding=REFERENCE_PADDING)
    assert REFERENCE_PADDING == (0.10, 0.04)
    assert (masked[300:540] == 0).all()
    assert (masked[:300] == 1).all() and (masked[540:] == 1).all()
    assert (waveform == 1).all()  # the input is untouched
    clipped = mask_segments(waveform, RATE, [(20, 50), (980, 990)], padding=(0.1, 0.04))
    assert (clipped[:90] == 0).all() and (clipped[880:] == 0).all()
    assert (clipped[90:880] == 1).all()
    bare = mask_segments(waveform.numpy(), RATE, [(400, 500)])
    assert bare.sum() == 900 and (bare[400:500] == 0).all()


@pytest.mark.parametrize("masking", ["white", "pink"])
def test_noise_is_seeded_at_a_level_relative_to_the_utterance(masking):
    waveform, boundaries = utterance()
    span = boundaries[1]
    a = mask_segments(waveform, RATE, [span], masking, seed=3)
    b = mask_segments(waveform, RATE, [span], masking, seed=3)
    c = mask_segments(waveform, RATE, [span], masking, seed=4)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(a[span[0]:span[1]], c[span[0]:span[1]])
    outside = torch.ones(waveform.numel(), dtype=torch.bool)
    outside[span[0]:span[1]] = False
    assert torch.equal(a[outside], waveform[outside])
    assert not torch.equal(a[span[0]:span[1]], waveform[span[0]:span[1]])
    full = mask_segments(waveform, RATE, [(0, waveform.numel())], masking, seed=3)
    ratio = full.pow(2).mean().sqrt() / waveform.pow(2).mean().sqrt()
    assert ratio.item() == pytest.approx(10 ** (NOISE_LEVEL_DB / 20), rel=1e-4)


def spectral_slope(signal: torch.Tensor, segment: int = 1024) -> float:
    """Slope of log power against log frequency of a Hann-windowed, segment-averaged
    periodogram, fitted over bins 4..480."""
    frames = signal[: signal.numel() // segment * segment].double().reshape(-1, segment)
    power = torch.fft.rfft(frames * torch.hann_window(segment, dtype=torch.float64)
                           ).abs().pow(2).mean(0)
    bins = np.arange(4, 481)
    return float(np.polyfit(np.log(bins), np.log(power[bins].numpy()), 1)[0])


def test_pink_noise_falls_as_one_over_f_and_white_noise_is_flat():
    waveform = 0.3 * torch.ones(2 ** 16)
    span = [(0, waveform.numel())]
    pink = spectral_slope(mask_segments(waveform, RATE, span, "pink"))
    white = spectral_slope(mask_segments(waveform, RATE, span, "white"))
    assert -1.15 < pink < -0.85
    assert -0.1 < white < 0.1


def test_bad_input_raises():
    waveform, boundaries = utterance(3)
    model = energy_classifier(boundaries[0])
    n = waveform.numel()
    for bad, message in [([], "empty"), ([(0, n + 1)], "0 <= start < end"),
                         ([(-5, 10)], "0 <= start < end"), ([(10, 10)], "0 <= start < end"),
                         ([(0, 100), (50, 150)], "overlaps"),
                         ([(200, 300), (0, 100)], "overlaps")]:
        with pytest.raises(ValueError, match=message):
            word_importance(model, waveform, RATE, bad)
    with pytest.raises(ValueError, match="unknown masking"):
        word_importance(model, waveform, RATE, boundaries, masking="brown")
    with pytest.raises(ValueError, match="unknown masking"):
        mask_segments(waveform, RATE, [boundaries[0]], masking="silence")
    with pytest.raises(ValueError, match="unknown target slot"):
        word_importance(model, waveform, RATE, boundaries, targets={"action": 0})
    with pytest.raises(ValueError, match="not one of its 2 classes"):
        word_importance(model, waveform, RATE, boundaries, targets={"label": 2})
    with pytest.raises(ValueError, match="2 words for 3 boundaries"):
        word_importance(model, waveform, RATE, boundaries, words=("one", "two"))
    with pytest.raises(ValueError, match="padding"):
        mask_segments(waveform, RATE, [boundaries[0]], padding=(-0.1, 0.0))
    with pytest.raises(ValueError, match="segment"):
        mask_segments(waveform, RATE, [(0, n + 1)])
    with pytest.raises(ValueError, match="1-D"):
        word_importance(model, waveform[None], RATE, boundaries)
    with pytest.raises(ValueError, match="shape"):
        WordImportance.of(("a", "b"), {"label": 0}, np.zeros((1, 3)))
