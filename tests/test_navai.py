"""NAvAI (Krug & Stober 2018) on synthetic letter windows whose right answers are known:
each letter has a sharp bump in its own frequency bin at a random time, on a pattern that
all letters share."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from speechxai.attribution.navai import (
    ALIGNMENTS,
    LetterMaps,
    align,
    alignment_shift,
    burst_contrast,
    letter_specificity,
    navai,
    navai_grid,
    temporal_spread,
)
from speechxai.experiments.navai import pooled_controls

BINS, WIDTH, CENTRE = 6, 31, 15


def synthetic(letters="abc", per_letter=20, seed=0):
    """Windows with a shared ridge in the top bin, noise, and per letter a bump of height 3
    (one frame wide) in bin ``letters.index(letter)`` at a random frame; the bump frames."""
    rng = np.random.default_rng(seed)
    labels = [letter for letter in letters for _ in range(per_letter)]
    windows = 0.05 * rng.standard_normal((len(labels), BINS, WIDTH))
    windows[:, -1] += 1.0
    where = rng.integers(3, WIDTH - 3, len(labels))
    for k, (letter, t) in enumerate(zip(labels, where, strict=True)):
        windows[k, letters.index(letter), t] += 3.0
    return windows, labels, where


def test_align_centres_the_attribution_maximum_and_pads_with_zeros():
    windows, _, where = synthetic()
    aligned, shifts = align(windows, windows, "max")
    assert np.array_equal(shifts, where - CENTRE)
    assert (aligned.sum(1).argmax(1) == CENTRE).all()
    k = int(np.argmax(shifts))  # moved furthest to the left: zeros enter on the right
    assert (aligned[k][:, WIDTH - shifts[k]:] == 0).all()
    assert np.array_equal(aligned[k][:, :WIDTH - shifts[k]], windows[k][:, shifts[k]:])
    minimum, min_shifts = align(-windows, -windows, "min")
    assert np.array_equal(min_shifts, shifts) and np.allclose(minimum, -aligned)
    same, none = align(windows, None)
    assert np.array_equal(same, windows) and not none.any()


def test_aligned_averaging_recovers_a_sharp_bump_unaligned_blurs_it():
    windows, labels, _ = synthetic()
    aligned = navai(windows, labels, windows, "max")
    unaligned = navai(windows, labels)
    for index in range(3):
        sharp = aligned.averages[index, index]
        blurred = unaligned.averages[index, index]
        assert sharp.argmax() == CENTRE and sharp[CENTRE] == pytest.approx(3, abs=0.05)
        assert np.delete(sharp, CENTRE).max() < 0.1
        assert blurred.max() < 1.0
        assert aligned.maps[index, index].argmax() == CENTRE
        assert aligned.maps[index, index, CENTRE] == pytest.approx(1)
    # specificity: the aligned letter averages are less alike than the unaligned ones
    assert letter_specificity(aligned.averages) < letter_specificity(unaligned.averages) - 0.1


def test_maps_subtract_the_mean_of_all_windows_and_are_normalised():
    windows, labels, _ = synthetic(letters="ab", per_letter=5)
    windows = np.concatenate([windows, windows[:3]])  # unequal counts: 8 "a", 5 "b"
    labels = labels + labels[:3]
    result = navai(torch.tensor(windows), labels)
    assert result.letters == ["a", "b"] and result.counts.tolist() == [8, 5]
    labels = np.array(labels)
    for index, letter in enumerate("ab"):
        expected = windows[labels == letter].mean(0) - windows.mean(0)
        assert np.allclose(result.maps[index], expected / np.abs(expected).max())
        assert np.allclose(result.averages[index], windows[labels == letter].mean(0))
    assert np.allclose(np.abs(result.maps).max((1, 2)), 1)


def test_specificity_of_mean_subtracted_maps_is_fixed_by_geometry():
    # equal counts and symmetric letters: maps sum to zero, correlation -1/(L-1) always
    windows, labels, _ = synthetic(letters="abc", per_letter=20)
    windows[:, :3] = 0.0
    for k, letter in enumerate(labels):
        windows[k, "abc".index(letter), (7 * k) % WIDTH] = 3.0
    for attributions in (None, windows):
        maps = navai(windows, labels, attributions).maps
        assert letter_specificity(maps) == pytest.approx(-0.5, abs=0.05)


def test_letter_specificity_is_the_mean_pairwise_pearson_correlation():
    rng = np.random.default_rng(1)
    maps = rng.standard_normal((4, 3, 5))
    pairs = [np.corrcoef(maps[i].ravel(), maps[j].ravel())[0, 1]
             for i in range(4) for j in range(i + 1, 4)]
    assert letter_specificity(maps) == pytest.approx(np.mean(pairs))
    assert letter_specificity(np.stack([maps[0], 2 * maps[0] + 1])) == pytest.approx(1)


def test_alignment_shift_and_min_windows():
    windows, labels, where = synthetic()
    result = navai(windows, labels, windows, "max", min_windows=1)
    shifts = alignment_shift(result)
    for letter in "abc":
        chosen = [t for t, c in zip(where, labels, strict=True) if c == letter]
        assert shifts[letter] == pytest.approx(np.abs(np.array(chosen) - CENTRE).mean())
    assert shifts["all"] == pytest.approx(np.abs(where - CENTRE).mean())
    assert alignment_shift(navai(windows, labels))["all"] == 0
    few = navai(windows[:45], labels[:45], min_windows=10)  # 20 a, 20 b, 5 c
    assert few.letters == ["a", "b"]


def test_grid_has_the_four_alignments():
    windows, labels, _ = synthetic(per_letter=4)
    grid = navai_grid(windows, labels, lrp=windows, sens=-windows)
    assert tuple(grid) == ALIGNMENTS
    assert np.array_equal(grid["max_lrp"].shifts, grid["min_sens"].shifts)


def test_bad_inputs():
    windows, labels, _ = synthetic(per_letter=3)
    with pytest.raises(ValueError, match="at least 2 letters"):
        navai(windows[:3], labels[:3])
    with pytest.raises(ValueError, match="windows but"):
        navai(windows, labels[:-1])
    with pytest.raises(ValueError, match="shape"):
        navai(windows, labels, windows[:, :, :-1])
    with pytest.raises(ValueError, match="'max' or 'min'"):
        navai(windows, labels, windows, "centre")
    with pytest.raises(ValueError, match=r"\(K, bins, rf\)"):
        align(windows[0], None)
    with pytest.raises(ValueError, match="at least 2 letters"):
        letter_specificity(windows[:1])
    with pytest.raises(ValueError, match="min_windows"):
        navai(windows, labels, min_windows=0)


def test_an_alignment_on_the_letters_beats_both_nulls_and_noise_does_not():
    from speechxai.attribution.navai import NULLS, specificity_against_null

    windows, labels, _ = synthetic()
    aligned = navai(windows, labels, windows, "max")
    for null in NULLS:
        estimate, lo, hi = specificity_against_null(windows, aligned, null, rounds=50, seed=1)
        assert lo <= estimate <= hi < 0, (null, estimate, lo, hi)
        assert specificity_against_null(windows, aligned, null, rounds=50, seed=1) \
            == (estimate, lo, hi)

    noise = np.random.default_rng(5).standard_normal(windows.shape)
    shuffled = navai(windows, labels, noise, "max")
    estimate, lo, hi = specificity_against_null(windows, shuffled, "random_shifts", rounds=50)
    assert lo < 0 < hi and abs(estimate) < 0.1
    with pytest.raises(ValueError, match="unknown null"):
        specificity_against_null(windows, aligned, "gaussian")


def _maps(columns: dict[str, int], rf: int = 21, bins: int = 4, width: int = 1):
    """LetterMaps whose letter ``l`` is 1 in all bins at ``width`` frames centred
    ``columns[l]`` frames from the centre, 0 elsewhere."""
    maps = np.zeros((len(columns), bins, rf))
    for k, offset in enumerate(columns.values()):
        start = rf // 2 + offset - width // 2
        maps[k, :, start : start + width] = 1.0
    letters = list(columns)
    return LetterMaps.of(letters, maps, maps, np.ones(len(letters), dtype=int),
                         np.zeros(len(letters), dtype=int), letters)


def test_temporal_spread_is_the_distance_of_the_maps_from_the_centre():
    assert temporal_spread(_maps({"a": 0, "t": 0})) == 0.0
    assert temporal_spread(_maps({"a": 3, "t": -5})) == pytest.approx(4.0)  # mean of 3 and 5


def test_burst_contrast_sees_a_short_broadband_rise_at_the_centre():
    assert burst_contrast(_maps({"a": 6, "t": 0}, width=3), "t") == pytest.approx(1.0)
    assert burst_contrast(_maps({"a": 0, "t": 6}, width=1), "t") == pytest.approx(-1 / 12)
    flat = _maps({"a": 0, "t": 0})
    flat.maps[:] = 0.5
    assert burst_contrast(flat, "t") == 0.0
    with pytest.raises(ValueError, match="no map of letter 'x'"):
        burst_contrast(flat, "x")


def test_controls_pooled_over_seeds_hold_only_when_every_seed_holds():
    first = {"min_sens": {"random_shifts": (-0.10, -0.15, -0.05)}}
    second = {"min_sens": {"random_shifts": (-0.02, -0.06, 0.01)}}
    pooled = pooled_controls([first, second])["min_sens"]["random_shifts"]
    assert pooled == pytest.approx((-0.06, -0.15, 0.01))
    assert pooled_controls([first])["min_sens"]["random_shifts"] == first["min_sens"][
        "random_shifts"]


def test_each_seeds_verdict_is_counted_and_tabled():
    from speechxai.experiments.navai import SeedControls, describe_seeds, learned, seed_table

    per_seed = [SeedControls(0, 0.10, {"min_sens": {"random_shifts": (-0.10, -0.15, -0.05)}}),
                SeedControls(1, 0.20, {"min_sens": {"random_shifts": (0.30, -0.05, 0.80)}})]
    text = describe_seeds(per_seed)
    assert "2 pooled training seeds (CER 0.100 to 0.200)" in text
    assert "the sensitivity minimum in 1 of them" in text
    assert describe_seeds(per_seed[:1]) == ""
    failed = [*per_seed, SeedControls(2, 0.79, per_seed[1].controls)]
    assert learned(failed) == per_seed
    text = describe_seeds(failed)
    assert text.startswith("The recogniser of seed 2 did not learn (CER 0.79, above 0.5)")
    assert "2 pooled training seeds" in text
    assert learned(failed[2:]) == failed[2:]
    assert describe_seeds([failed[2], failed[2]]).startswith("No recogniser learned")
    table = seed_table(per_seed)
    assert list(table.index) == [0, 1]
    assert table.loc[1, "the sensitivity minimum"] == "+0.300 [-0.050, +0.800]"


def test_shifted_letter_averages_equal_shifting_every_window_then_averaging():
    from speechxai.attribution.navai import ShiftedLetterAverages, letter_averages, shift_windows

    rng = np.random.default_rng(3)
    windows = rng.standard_normal((40, 5, 11))
    letters = list(rng.choice(list("abcz"), 40))
    kept = ["a", "b", "c"]  # "z" windows are left out of every average
    averages_of = ShiftedLetterAverages(windows, kept)
    for shifts in (np.zeros(40, dtype=int), rng.integers(-12, 13, 40)):
        expected = letter_averages(shift_windows(windows, shifts), letters, kept)
        np.testing.assert_allclose(averages_of(shifts, letters), expected, rtol=0, atol=1e-12)
