"""Pixel-flipping for waveforms (Becker et al. 2018, Fig. 3)."""

from __future__ import annotations

import numpy as np
import pytest

from speechxai.evaluation import (
    DEFAULT_FRACTIONS,
    bootstrap_difference,
    curve_area,
    flip_order,
    flipping_curve,
)

X = np.array([[0.0, 3.0, -5.0, 0.0, 5.0, 1.0]])
R = np.array([[9.0, 0.5, -2.0, 7.0, 0.5, 3.0]])


def test_amplitude_order_largest_magnitude_first_ties_by_position():
    np.testing.assert_array_equal(flip_order(X, "amplitude")[0], [2, 4, 1, 5])


def test_lrp_order_most_positive_first_and_zeros_never_chosen():
    # samples 0 and 3 are zero: their large relevance does not matter
    np.testing.assert_array_equal(flip_order(X, "lrp", relevance=R)[0], [5, 1, 4, 2])


def test_random_order_is_a_seeded_permutation_of_the_nonzero_samples():
    batch = np.tile(X, (3, 1))
    orders = flip_order(batch, "random", seed=3)
    assert all(sorted(order) == [1, 2, 4, 5] for order in orders)
    again = flip_order(batch, "random", seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(orders, again, strict=True))


def test_orders_index_the_flattened_input():
    batch = X.reshape(1, 1, 2, 3)
    np.testing.assert_array_equal(flip_order(batch, "amplitude")[0], [2, 4, 1, 5])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"strategy": "loudest"}, "strategy must be one of"),
     ({"strategy": "lrp"}, "needs the relevance"),
     ({"strategy": "lrp", "relevance": R[:, :3]}, "differ in shape")],
)
def test_bad_orders_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        flip_order(X, **kwargs)


def at_least_eight_left(batch):
    """Toy model: class 1 while at least 8 samples are non-zero."""
    assert batch.shape[1:] == (1, 64) and batch.dtype == np.float32
    return (np.count_nonzero(batch.reshape(len(batch), -1), axis=1) >= 8).astype(int)


@pytest.mark.parametrize("strategy", ["random", "amplitude", "lrp"])
def test_curve_of_a_toy_model_with_known_accuracy(strategy):
    # 10, 20 and 40 non-zero samples in frames of 64; fractions 0, .1, .3, .5, 1 flip
    # n=10: 0, 1, 3, 5, 10 -> left 10, 9, 7, 5, 0 -> correct 1, 1, 0, 0, 0
    # n=20: 0, 2, 6, 10, 20 -> left 20, 18, 14, 10, 0 -> 1, 1, 1, 1, 0; n=40 likewise
    rng = np.random.default_rng(0)
    inputs = np.zeros((3, 1, 64))
    for row, n in zip(inputs, (10, 20, 40), strict=True):
        row[0, rng.permutation(64)[:n]] = rng.uniform(0.1, 1, n)
    correct = flipping_curve(at_least_eight_left, inputs, [1, 1, 1], relevance=-inputs,
                             fractions=[0, 0.1, 0.3, 0.5, 1.0], strategy=strategy, batch_size=2)
    np.testing.assert_array_equal(correct, [[1, 1, 1], [1, 1, 1], [0, 1, 1], [0, 1, 1], [0, 0, 0]])


def test_the_strategy_decides_which_samples_go_first():
    # the model needs sample 50, the loudest and the least relevant one
    inputs = np.linspace(0.1, 1, 100)[None].repeat(4, axis=0)
    inputs[:, 50] = 10.0

    def needs_sample_50(batch):
        return (batch[:, 50] != 0).astype(int)

    fractions = [0.004, 0.01, 0.5]  # 0, 1 and 50 samples flipped
    amplitude = flipping_curve(needs_sample_50, inputs, np.ones(4), fractions=fractions,
                               strategy="amplitude")
    lrp = flipping_curve(needs_sample_50, inputs, np.ones(4), relevance=-inputs,
                         fractions=fractions, strategy="lrp")
    np.testing.assert_array_equal(amplitude.mean(axis=1), [1, 0, 0])
    np.testing.assert_array_equal(lrp.mean(axis=1), [1, 1, 1])


def test_curve_refuses_bad_arguments():
    inputs = np.ones((2, 8))
    with pytest.raises(ValueError, match="labels"):
        flipping_curve(lambda b: np.ones(len(b)), inputs, [1], strategy="amplitude")
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        flipping_curve(lambda b: np.ones(len(b)), inputs, [1, 1], fractions=[2.0],
                       strategy="amplitude")
    with pytest.raises(ValueError, match="one class per input"):
        flipping_curve(lambda b: np.ones((len(b), 2)), inputs, [1, 1], strategy="amplitude")


def test_areas_of_known_curves_over_log_fractions():
    def area(fractions, values):
        return curve_area(fractions, values, log_fractions=True)

    assert area(DEFAULT_FRACTIONS, np.full(len(DEFAULT_FRACTIONS), 0.7)) == pytest.approx(0.7)
    # two decades, accuracy 1, 1, 0: (1 + 0.5) / 2
    assert area([0.001, 0.01, 0.1], [1, 1, 0]) == pytest.approx(0.75)
    per_input = area([0.001, 0.01, 0.1], np.array([[1, 1], [1, 0], [0, 0]]))
    np.testing.assert_allclose(per_input, [0.75, 0.25])
    with pytest.raises(ValueError, match="positive"):
        area([0, 0.1], [1, 1])
    with pytest.raises(ValueError, match="increasing"):
        area([0.1, 0.01], [1, 1])


def test_bootstrap_interval_is_seeded_contains_the_estimate_and_collapses():
    rng = np.random.default_rng(0)
    fractions = DEFAULT_FRACTIONS
    n = len(fractions)
    a = (rng.random((n, 50)) < np.linspace(0.9, 0.3, n)[:, None]).astype(int)
    b = (rng.random((n, 50)) < np.linspace(0.6, 0.0, n)[:, None]).astype(int)
    estimate, lo, hi = bootstrap_difference(a, b, fractions, n_boot=500, seed=1)
    auc_a = curve_area(fractions, a.mean(1), log_fractions=True)
    auc_b = curve_area(fractions, b.mean(1), log_fractions=True)
    assert estimate == pytest.approx(auc_a - auc_b)
    assert lo < estimate < hi and 0 < lo
    assert bootstrap_difference(a, b, fractions, n_boot=500, seed=1) == (estimate, lo, hi)
    assert bootstrap_difference(a, b, fractions, n_boot=500, seed=2) != (estimate, lo, hi)
    assert bootstrap_difference(a, a, fractions, n_boot=50) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="one shape"):
        bootstrap_difference(a, b[:, :10], fractions)


def test_accuracy_at_reads_the_named_fraction_only():
    from speechxai.evaluation import accuracy_at

    correct = np.zeros((len(DEFAULT_FRACTIONS), 4))
    at_1pct = int(np.flatnonzero(np.isclose(DEFAULT_FRACTIONS, 0.01))[0])
    correct[at_1pct, :3] = 1
    assert accuracy_at(DEFAULT_FRACTIONS, correct, 0.01) == 0.75
    assert DEFAULT_FRACTIONS[0] == 0.001 and DEFAULT_FRACTIONS[-1] == 1.0
    assert accuracy_at(DEFAULT_FRACTIONS, correct, 0.6) == 0.0
    with pytest.raises(ValueError, match="0.02"):
        accuracy_at(DEFAULT_FRACTIONS, correct, 0.02)
