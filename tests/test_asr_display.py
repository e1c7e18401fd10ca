"""The DeepSpeech attribution displays as numbers (per relative frame, summed per frame,
summed per window), the findings measured, on hand-made arrays; and the paper's Fig. 1."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from speechxai.attribution import AttributionError, Explanation
from speechxai.ctc import ALPHABET, BLANK
from speechxai.display import character_labels, plot_asr_attributions
from speechxai.evaluation.asr import (
    frame_profile,
    letters_vs_space,
    per_relative_frame,
    rank_correlation,
    share_late_frames,
    share_low_mfcc,
    summed_per_frame,
    summed_per_window,
)

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def explanation(values, frames, characters, method="lrp") -> Explanation:
    n = len(values)
    return Explanation(values=values, base_values=np.zeros(n), data=np.zeros((n, 19, 26)),
                       frames=frames, targets=[ALPHABET.index(c) if isinstance(c, str) else c
                                               for c in characters],
                       outputs=np.ones(n), method=method)


def hand_values() -> np.ndarray:
    """Three explanations (frames 0, 1, 2) with five non-zero attributions."""
    values = np.zeros((3, 19, 26))
    values[0, 9, 0] = 1.0  # frame 0 on its own output: absolute frame 0
    values[0, 8, 0] = 2.0  # one frame before frame 0: out of range
    values[1, 10, 1] = 3.0  # frame 1's next frame: absolute frame 2
    values[2, 18, 0] = 4.0  # nine frames after frame 2: absolute frame 11
    values[2, 7, 25] = -5.0  # two frames before frame 2: absolute frame 0
    return values


def test_per_relative_frame_profile_and_window_sums():
    values = hand_values()
    np.testing.assert_array_equal(per_relative_frame(values, 9)[:, 0], [1, 0, 0])
    np.testing.assert_array_equal(per_relative_frame(values, 18)[2, 0], 4)
    profile = frame_profile(values)
    assert profile.shape == (3, 19)
    assert profile[0, 9] == 1 and profile[0, 8] == 2 and profile[2, 7] == -5
    assert profile.sum() == 5
    window = summed_per_window(values)
    assert window.shape == (3, 26)
    np.testing.assert_array_equal(window[:, 0], [3, 0, 4])
    np.testing.assert_array_equal(window[:, 25], [0, 0, -5])
    np.testing.assert_array_equal(window[:, 1], [0, 3, 0])


def test_summed_per_frame_is_the_diagonal_sum_with_zeros_out_of_range():
    expected = np.zeros((3, 26))
    expected[0, 0] = 1.0  # values[0, 9, 0]; values[0, 8, 0] falls before frame 0
    expected[0, 25] = -5.0  # values[2, 7, 25]
    expected[2, 1] = 3.0  # values[1, 10, 1]; values[2, 18, 0] falls after the last frame
    np.testing.assert_array_equal(summed_per_frame(hand_values()), expected)
    longer = summed_per_frame(hand_values(), n_frames=12)
    assert longer.shape == (12, 26) and longer[11, 0] == 4.0 and longer.sum() == 3.0


def test_summed_per_frame_places_explanations_at_their_frames():
    values = np.zeros((2, 19, 26))
    values[:, 9, 3] = [1.0, 2.0]
    values[1, 0, 4] = 7.0
    result = summed_per_frame(explanation(values, [10, 20], "ab"))
    assert result.shape == (21, 26)
    assert result[10, 3] == 1.0 and result[20, 3] == 2.0 and result[11, 4] == 7.0
    assert np.abs(result).sum() == 10.0
    # away from the edges nothing is lost
    rng = np.random.default_rng(0)
    random = rng.normal(size=(4, 19, 26))
    assert summed_per_frame(random, frames=[20, 21, 22, 23], n_frames=40).sum() == pytest.approx(
        random.sum())


def test_shares_of_low_mfccs_and_late_frames():
    values = np.zeros((2, 19, 26))
    values[0, 9, :10] = 1.0  # 10 in the lowest ten MFCCs, at the frame itself
    values[1, 12, 20] = -30.0  # 30 higher up, three frames later
    values[1, 2, 0] = 10.0  # 10 in MFCC 0, seven frames earlier
    assert share_low_mfcc(values) == pytest.approx(20 / 50)
    assert share_low_mfcc(values, n=26) == 1.0
    assert share_late_frames(values) == pytest.approx(30 / 40)  # j = 9 counts in neither half
    with pytest.raises(AttributionError, match="all attributions are zero"):
        share_low_mfcc(np.zeros((1, 19, 26)))
    with pytest.raises(AttributionError, match="n must be an int in 0..26"):
        share_low_mfcc(values, n=27)


def test_rank_correlation():
    a = np.random.default_rng(1).normal(size=(2, 19, 26))
    assert rank_correlation(a, np.exp(a)) == pytest.approx(1.0)
    assert rank_correlation(a, -a) == pytest.approx(-1.0)
    assert rank_correlation(a, -a, absolute=True) == pytest.approx(1.0)
    with pytest.raises(AttributionError, match="explain different"):
        rank_correlation(a, a[:1])
    with pytest.raises(AttributionError, match="different frames or characters"):
        rank_correlation(explanation(a, [0, 1], "ab"), explanation(a, [0, 1], "ac"))


def test_letters_vs_space_and_blank():
    values = np.ones((4, 19, 26)) * np.array([1.0, -3.0, 2.0, 5.0])[:, None, None]
    result = letters_vs_space(explanation(values, [0, 1, 2, 3], ["a", "z", " ", BLANK]))
    assert result == pytest.approx({"letter": 2.0, "space": 2.0, "blank": 5.0})
    assert np.isnan(letters_vs_space(explanation(values[:1], [0], "a"))["space"])


def test_character_labels_mark_space_blank_and_unexplained_frames():
    labels = character_labels(explanation(np.zeros((3, 19, 26)), [0, 1, 3], ["h", " ", BLANK]))
    assert labels == ["h", "␣", "", "-"]


@pytest.mark.parametrize("view", ["window", "frame", "relative"])
def test_figure_stacks_methods_with_labelled_axes_and_character_ticks(view):
    values = np.random.default_rng(2).normal(size=(4, 19, 26))
    chars = ["t", "w", " ", "o"]
    figure = plot_asr_attributions(
        {"saliency": explanation(np.abs(values), range(4), chars, "saliency"),
         "lrp": explanation(values, range(4), chars)}, view=view)
    panels = [ax for ax in figure.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["saliency", "lrp"]
    rows = 19 if view == "relative" else 26
    for ax in panels:
        assert ax.get_ylabel() == ("relative frame (0 = own)" if view == "relative" else "MFCC")
        assert ax.images[0].get_array().shape == (rows, 4)
    bottom = panels[-1]
    assert bottom.get_xlabel().startswith("frame (20 ms each), labelled with its predicted")
    assert [label.get_text() for label in bottom.get_xticklabels()] == ["t", "w", "␣", "o"]
    colorbars = [ax for ax in figure.axes if ax not in panels]
    assert len(colorbars) == 2 and all("attribution" in ax.get_ylabel() for ax in colorbars)


def test_figure_colour_scale_is_a_percentile_per_method():
    values = np.zeros((2, 19, 26))
    values[:, 9, :] = np.arange(1, 27)
    figure = plot_asr_attributions({"lrp": explanation(values, [0, 1], "ab")}, percentile=50)
    norm = figure.axes[0].images[0].norm
    assert norm.vmax == pytest.approx(np.percentile(np.arange(1, 27), 50)) == -norm.vmin


def test_figure_refuses_mismatched_input():
    one = explanation(np.zeros((2, 19, 26)), [0, 1], "ab")
    with pytest.raises(AttributionError, match="other targets"):
        plot_asr_attributions({"a": one, "b": explanation(np.zeros((2, 19, 26)), [0, 1], "ac")})
    with pytest.raises(AttributionError, match="one label per frame"):
        plot_asr_attributions({"a": one}, transcript_chars="abc")
    with pytest.raises(AttributionError, match="view must be one of"):
        plot_asr_attributions({"a": one}, view="diagonal")
    with pytest.raises(AttributionError, match="more than once"):
        plot_asr_attributions({"a": explanation(np.zeros((2, 19, 26)), [0, 0], "ab")})
    with pytest.raises(AttributionError, match="at least one"):
        plot_asr_attributions({})


def test_figure_leaves_blank_frames_unlabelled():
    from speechxai.ctc import BLANK

    values = np.ones((3, 19, 26))
    blank_frame = explanation(values, [0, 1, 2], "a b")
    targets = blank_frame.targets.copy()
    targets[1] = BLANK
    from dataclasses import replace

    figure = plot_asr_attributions({"lrp": replace(blank_frame, targets=targets)})
    bottom = [ax for ax in figure.axes if ax.get_title()][-1]
    assert [label.get_text() for label in bottom.get_xticklabels()] == ["a", "b"]
    assert list(bottom.get_xticks()) == [0, 2]


def test_attribution_profiles_take_each_utterances_explanation():
    from speechxai.display import plot_attribution_profiles
    from speechxai.experiments.deepspeech import magnitude_profile

    rng = np.random.default_rng(4)
    benign = [explanation(rng.normal(size=(3, 19, 26)), [0, 1, 2], [1, 2, 3]) for _ in range(2)]
    adversarial = [explanation(10 * rng.normal(size=(3, 19, 26)), [0, 1, 2], [1, 2, 3])]
    figure = plot_attribution_profiles(benign, adversarial)
    left = figure.axes[0]
    mean_rows = np.mean([magnitude_profile(e.values) for e in benign], axis=0)
    np.testing.assert_allclose(left.lines[0].get_ydata(), mean_rows[:26])
    np.testing.assert_allclose(left.lines[1].get_ydata(),
                               magnitude_profile(adversarial[0].values)[:26])
    by_rows = plot_attribution_profiles([magnitude_profile(e.values) for e in benign],
                                        [magnitude_profile(adversarial[0].values)])
    np.testing.assert_allclose(by_rows.axes[1].lines[0].get_ydata(),
                               figure.axes[1].lines[0].get_ydata())
