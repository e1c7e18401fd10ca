"""The paired percentile bootstrap shared by the flipping and deletion comparisons."""

import numpy as np
import pytest

from speechxai.evaluation.bootstrap import paired_bootstrap


def test_interval_brackets_the_mean_and_narrows_with_more_inputs():
    rng = np.random.default_rng(0)
    few, many = rng.normal(0.3, 1.0, 20), rng.normal(0.3, 1.0, 2000)
    for differences in (few, many):
        estimate, lo, hi = paired_bootstrap(differences, n_boot=500)
        assert estimate == pytest.approx(differences.mean())
        assert lo < estimate < hi
    (_, lo_few, hi_few), (_, lo_many, hi_many) = (paired_bootstrap(d, 500) for d in (few, many))
    assert hi_many - lo_many < (hi_few - lo_few) / 5
    assert lo_many > 0.2 and hi_many < 0.4  # the true mean 0.3 is inside, zero is not


def test_same_seed_same_interval_and_bad_input():
    differences = np.arange(10.0)
    assert paired_bootstrap(differences, 200, seed=3) == paired_bootstrap(differences, 200, 3)
    assert paired_bootstrap(differences, 200, seed=3) != paired_bootstrap(differences, 200, 4)
    assert paired_bootstrap(np.zeros(5)) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="non-empty 1-D"):
        paired_bootstrap(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="n_boot"):
        paired_bootstrap(differences, n_boot=0)
