"""Deletion curves on 19 x 26 windows (speechxai.evaluation.deletion), checked on a toy model
whose character probability is a linear function of its frame's window."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from speechxai.evaluation.curves import curve_area
from speechxai.evaluation.deletion import (
    DEFAULT_FRACTIONS,
    deletion_curve,
    deletion_order,
)

CHARACTER = 5


class LinearProbability(nn.Module):
    """p(CHARACTER at frame t) = sum(weights * window t), the rest shared by the others."""

    def __init__(self, weights: torch.Tensor):
        super().__init__()
        self.weights = weights

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        p = (windows * self.weights).sum((-2, -1))
        logits = torch.log((1 - p) / 28)[..., None].repeat(*([1] * p.ndim), 29)
        logits[..., CHARACTER] = torch.log(p)
        return logits


@pytest.fixture
def setup():
    rng = np.random.default_rng(0)
    weights = torch.tensor(rng.random((19, 26)) * 0.9 / (19 * 26 * 0.5), dtype=torch.float64)
    windows = torch.tensor(rng.uniform(0.1, 1.0, (6, 19, 26)), dtype=torch.float64)
    return LinearProbability(weights.float()), windows.float(), weights * windows[3]


def test_relevance_order_curve_by_hand(setup):
    model, windows, contributions = setup
    curve = deletion_curve(model, windows, 3, CHARACTER, contributions.numpy(), 0.0)
    ranked = np.sort(contributions.numpy().ravel())[::-1]
    removed = np.r_[0, np.cumsum(ranked)][np.rint(DEFAULT_FRACTIONS * 494).astype(int)]
    np.testing.assert_allclose(curve, 1 - removed / ranked.sum(), rtol=1e-4, atol=1e-6)
    assert curve[0] == 1.0 and curve[-1] == 0.0


def test_random_order_is_seeded_and_worse_than_relevance(setup):
    model, windows, contributions = setup
    values = contributions.numpy()
    random = deletion_curve(model, windows, 3, CHARACTER, values, 0.0, order="random", seed=1)
    again = deletion_curve(model, windows, 3, CHARACTER, values, 0.0, order="random", seed=1)
    other = deletion_curve(model, windows, 3, CHARACTER, values, 0.0, order="random", seed=2)
    np.testing.assert_array_equal(random, again)
    assert not np.array_equal(random, other)
    relevance = deletion_curve(model, windows, 3, CHARACTER, values, 0.0)
    assert curve_area(DEFAULT_FRACTIONS, relevance) < curve_area(DEFAULT_FRACTIONS, random) - 0.1
    np.testing.assert_array_equal(deletion_order(values, "random", 1),
                                  np.random.default_rng(1).permutation(494))


def test_background_replaces_the_removed_features(setup):
    model, windows, contributions = setup
    background = windows[3]  # removing a feature puts back its own value: nothing changes
    curve = deletion_curve(model, windows, 3, CHARACTER, contributions.numpy(), background)
    np.testing.assert_allclose(curve, 1.0, rtol=1e-6)
    ties = deletion_order(np.zeros((19, 26)))
    np.testing.assert_array_equal(ties, np.arange(494))  # stable: ties keep their position


def test_deletion_areas_over_linear_fractions():
    assert curve_area(DEFAULT_FRACTIONS, [0.3] * 11) == pytest.approx(0.3)
    assert curve_area(DEFAULT_FRACTIONS, 1 - DEFAULT_FRACTIONS) == pytest.approx(0.5)
    assert curve_area([0.2, 0.6], [1.0, 0.0]) == pytest.approx(0.5)
    np.testing.assert_allclose(curve_area(DEFAULT_FRACTIONS, np.ones((11, 3)) * [0.1, 0.2, 0.4]),
                               [0.1, 0.2, 0.4])
    with pytest.raises(ValueError, match="increasing"):
        curve_area([0.5, 0.5], [1, 1])
    with pytest.raises(ValueError, match="do not match"):
        curve_area([0, 1], [1, 1, 1])


def test_bad_input_is_refused(setup):
    model, windows, contributions = setup
    values = contributions.numpy()
    with pytest.raises(ValueError, match="outside"):
        deletion_curve(model, windows, 6, CHARACTER, values, 0.0)
    with pytest.raises(ValueError, match="class index"):
        deletion_curve(model, windows, 0, 29, values, 0.0)
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        deletion_curve(model, windows, 0, CHARACTER, values, 0.0, fractions=[0, 1.5])
    with pytest.raises(ValueError, match="broadcast"):
        deletion_curve(model, windows, 0, CHARACTER, values, torch.zeros(3))
    with pytest.raises(ValueError, match="window's shape"):
        deletion_curve(model, windows, 0, CHARACTER, values[:5], 0.0)
    with pytest.raises(ValueError, match="order must be"):
        deletion_curve(model, windows, 0, CHARACTER, values, 0.0, order="lrp")
    with pytest.raises(ValueError, match="expected windows"):
        deletion_curve(model, windows[0], 0, CHARACTER, values, 0.0)
