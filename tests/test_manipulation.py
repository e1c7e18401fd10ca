"""Frequency-axis scaling of spectrograms (Becker et al. 2018, Sec. 3.3)."""

from __future__ import annotations

import numpy as np
import pytest

from speechxai.evaluation import SEX_SCALING, scale_by_sex, scale_frequency_axis

ROWS, FRAMES = 64, 5


def bright_row(row, shape=(ROWS, FRAMES)):
    spectrogram = np.full(shape, -80.0, dtype=np.float32)
    spectrogram[..., row, :] = 0.0
    return spectrogram


@pytest.mark.parametrize(("row", "factor"), [(20, 1.5), (20, 0.66), (30, 0.66), (13, 2.0),
                                            (41, 1.4), (9, 0.75)])
def test_a_bright_row_moves_to_row_times_factor(row, factor):
    scaled = scale_frequency_axis(bright_row(row), factor)
    assert scaled.shape == (ROWS, FRAMES) and scaled.dtype == np.float32
    assert (np.argmax(scaled, axis=0) == round(row * factor)).all()


def test_batches_keep_their_shape_and_factor_one_is_the_identity():
    batch = np.random.default_rng(0).normal(size=(2, 1, ROWS, FRAMES))
    np.testing.assert_array_equal(scale_frequency_axis(batch, 1.0), batch)
    assert scale_frequency_axis(batch, 1.5).shape == batch.shape


def test_content_above_the_top_is_dropped_and_empty_rows_get_the_floor():
    assert (scale_frequency_axis(bright_row(60), 1.5) == -80).all()
    compressed = scale_frequency_axis(bright_row(0, (ROWS, FRAMES)) + 10, 0.5)
    assert (compressed[32:] == -70).all()  # 2 g > 63: no source; the minimum is -70
    assert (scale_frequency_axis(bright_row(0), 0.5, floor=-100.0)[32:] == -100).all()


@pytest.mark.parametrize("factor", [0, -1.5, float("nan")])
def test_factor_must_be_positive(factor):
    with pytest.raises(ValueError, match="factor must be a positive number"):
        scale_frequency_axis(bright_row(3), factor)


def test_spectrogram_must_have_two_axes():
    with pytest.raises(ValueError, match=r"\(\.\.\., F, T\)"):
        scale_frequency_axis(np.zeros(10), 1.5)


def test_scaling_by_sex_compresses_female_and_stretches_male_voices():
    assert SEX_SCALING == {"male": 1.5, "female": 0.66}
    batch = np.stack([bright_row(30), bright_row(30)])[:, None]  # (2, 1, F, T)
    scaled = scale_by_sex(batch, [0, 1])
    assert scaled.shape == batch.shape
    assert np.argmax(scaled[0, 0, :, 0]) == 20 and np.argmax(scaled[1, 0, :, 0]) == 45
    with pytest.raises(ValueError, match="0 \\(female\\) or 1 \\(male\\)"):
        scale_by_sex(batch, [0, 2])
    with pytest.raises(ValueError, match="one sex per spectrogram"):
        scale_by_sex(batch, [0])
