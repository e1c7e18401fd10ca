"""Informedness, markedness and the simulated reader of the user study
(Becker et al. 2024, Sec. 3.4; Powers 2011)."""

from __future__ import annotations

import numpy as np
import pytest

from speechxai.evaluation import (
    FORMATS,
    SimulatedReader,
    informedness,
    make_stimulus,
    markedness,
    study_scores,
)

RATE = 8000


def from_matrix(matrix):
    """truth (model predictions) and guesses with the confusion matrix ``matrix``
    (rows truth, columns guess)."""
    pairs = [(t, g) for t, row in enumerate(matrix) for g, count in enumerate(row)
             for _ in range(count)]
    truth, guess = zip(*pairs, strict=True)
    return np.array(truth), np.array(guess)


# Rows: the model predicted 0, 1, 2; columns: the reader guessed 0, 1, 2.
THREE = [[3, 1, 0],
         [1, 2, 1],
         [0, 2, 2]]
# By hand (12 answers, P = 4 and N = 8 for every class; column sums 4, 5, 3):
# class 0: TP 3, FP 1, FN 1, TN 7 -> inf 3/4 - 1/8 = 5/8,  mark 3/4 - 1/8 = 5/8
# class 1: TP 2, FP 3, FN 2, TN 5 -> inf 2/4 - 3/8 = 1/8,  mark 2/5 - 2/7 = 4/35
# class 2: TP 2, FP 1, FN 2, TN 7 -> inf 2/4 - 1/8 = 3/8,  mark 2/3 - 2/9 = 4/9
THREE_INFORMEDNESS = [5 / 8, 1 / 8, 3 / 8]
THREE_MARKEDNESS = [5 / 8, 4 / 35, 4 / 9]


def test_three_classes_by_hand():
    truth, guess = from_matrix(THREE)
    per_class, mean = informedness(truth, guess)
    assert per_class.index.tolist() == [0, 1, 2]
    np.testing.assert_allclose(per_class, THREE_INFORMEDNESS)
    assert mean == pytest.approx(np.mean(THREE_INFORMEDNESS))
    per_class, mean = markedness(truth, guess)
    np.testing.assert_allclose(per_class, THREE_MARKEDNESS)
    assert mean == pytest.approx(np.mean(THREE_MARKEDNESS))


def test_two_classes_by_hand():
    # class 0: TP 5, FP 3, FN 0, TN 2 -> inf 5/5 - 3/5 = 0.4, mark 5/8 - 0/2 = 0.625
    # class 1: TP 2, FP 0, FN 3, TN 5 -> inf 2/5 - 0/5 = 0.4, mark 2/2 - 3/8 = 0.625
    truth, guess = from_matrix([[5, 0], [3, 2]])
    np.testing.assert_allclose(informedness(truth, guess)[0], [0.4, 0.4])
    np.testing.assert_allclose(markedness(truth, guess)[0], [0.625, 0.625])


def test_undefined_classes_are_nan_and_left_out_of_the_mean():
    truth, guess = from_matrix(THREE)
    per_class, mean = informedness(truth, guess, labels=[0, 1, 2, 3])
    assert np.isnan(per_class[3]) and mean == pytest.approx(np.mean(THREE_INFORMEDNESS))
    per_class, mean = markedness(truth, guess, labels=[0, 1, 2, 3])
    assert np.isnan(per_class[3]) and mean == pytest.approx(np.mean(THREE_MARKEDNESS))


def test_perfect_guesses_score_one():
    truth = np.array(["zero", "one", "two", "one", "zero"])
    for metric in (informedness, markedness):
        per_class, mean = metric(truth, truth)
        assert (per_class == 1).all() and mean == 1


def test_always_the_same_guess_is_uninformed():
    truth = np.array([0, 1, 2, 2, 1, 0, 3])
    per_class, mean = informedness(truth, np.full(truth.size, 2))
    assert (per_class == 0).all() and mean == 0
    per_class, mean = markedness(truth, np.full(truth.size, 2))
    assert per_class.isna().all() and np.isnan(mean)


@pytest.mark.parametrize(
    ("truth", "guess", "labels", "message"),
    [([0, 1], [0], None, "equal length"), ([], [], None, "non-empty"),
     ([0, 1], [0, 5], [0, 1], "not among the labels"), ([0], [0], [0, 0], "distinct")],
)
def test_bad_answers_are_refused(truth, guess, labels, message):
    with pytest.raises(ValueError, match=message):
        informedness(truth, guess, labels)


def test_scores_per_format_in_the_papers_order():
    truth, guess = from_matrix(THREE)
    formats = ["visual signal"] * 12 + ["audible explanation"] * 12
    table = study_scores(np.tile(truth, 2), np.concatenate([guess, truth]), formats)
    assert table.index.tolist() == ["audible explanation", "visual signal"]
    assert table.loc["audible explanation"].tolist() == [1.0, 1.0, 12]
    assert table.loc["visual signal", "informedness"] == pytest.approx(0.375)


def test_stimuli_of_the_four_formats():
    x, relevance = np.array([0.5, -0.5, 1.0]), np.array([1.0, 2.0, -1.0])
    np.testing.assert_allclose(make_stimulus("audible explanation", x, relevance), [0.5, -1, 0])
    for format in ("audible signal", "visual signal"):
        np.testing.assert_array_equal(make_stimulus(format, x), x)
    waveform, shown = make_stimulus("visual explanation", x, relevance)
    np.testing.assert_array_equal(shown, relevance)
    with pytest.raises(ValueError, match="needs the relevance"):
        make_stimulus("visual explanation", x)
    with pytest.raises(ValueError, match="format must be one of"):
        make_stimulus("smell", x)


def tones(n_per_class, rng, classes=4, length=4000):
    """Class k: a 0.3 s tone at 400 + 300 k Hz, random level and phase, in noise, at a
    random place in a 0.5 s frame."""
    stimuli, labels = [], []
    t = np.arange(int(0.3 * RATE)) / RATE
    for k in np.repeat(np.arange(classes), n_per_class):
        tone = rng.uniform(0.2, 1) * np.sin(2 * np.pi * (400 + 300 * k) * t + rng.uniform(0, 6))
        frame = 0.01 * rng.standard_normal(length)
        start = rng.integers(0, length - t.size)
        frame[start:start + t.size] += tone
        stimuli.append(frame.astype(np.float32))
        labels.append(k)
    return stimuli, np.array(labels)


def test_a_listener_tells_tones_apart_from_the_sound_alone():
    rng = np.random.default_rng(0)
    reference, labels = tones(4, rng)
    questions, answers = tones(4, rng)
    reader = SimulatedReader("audible signal", seed=1, temperature=0.02).fit(reference, labels)
    assert np.mean(reader.guess(questions) == answers) >= 0.9
    undecided = SimulatedReader("audible signal", temperature=1e3).fit(reference, labels)
    probabilities = undecided.probabilities(questions)
    np.testing.assert_allclose(probabilities, 0.25, atol=0.01)


def test_same_seed_same_answers():
    rng = np.random.default_rng(0)
    reference, labels = tones(3, rng)
    questions, _ = tones(3, rng)

    def answers(seed):
        reader = SimulatedReader("audible explanation", seed=seed, temperature=0.5)
        return reader.fit(reference, labels).guess(questions)

    np.testing.assert_array_equal(answers(7), answers(7))
    assert not np.array_equal(answers(7), answers(8))


def test_a_viewer_reads_the_colours_of_a_visual_explanation():
    # One waveform for every class: only the relevance (red in the first or the second
    # half) tells the classes apart, so a viewer of the bare signal is left guessing.
    rng = np.random.default_rng(0)
    waveform = np.sin(np.linspace(0, 60, 800)) * np.hanning(800)

    def stimuli(n):
        labels = np.arange(2 * n) % 2
        relevance = [np.where((np.arange(800) < 400) == bool(k), 1.0, -1.0)
                     * rng.uniform(0.5, 1, 800) for k in labels]
        return [(waveform, r) for r in relevance], labels

    (reference, labels), (questions, answers) = stimuli(4), stimuli(10)
    viewer = SimulatedReader("visual explanation", temperature=0.02).fit(reference, labels)
    assert np.mean(viewer.guess(questions) == answers) == 1
    blind = SimulatedReader("visual signal").fit([w for w, _ in reference], labels)
    np.testing.assert_allclose(blind.probabilities([w for w, _ in questions]), 0.5)
    with pytest.raises(ValueError, match=r"\(waveform, relevance\) pairs"):
        viewer.guess([waveform])


def test_reader_refuses_bad_use():
    with pytest.raises(ValueError, match="format must be one of"):
        SimulatedReader("audible")
    with pytest.raises(ValueError, match="temperature"):
        SimulatedReader(FORMATS[0], temperature=0)
    with pytest.raises(ValueError, match="not been fitted"):
        SimulatedReader(FORMATS[0]).guess([np.zeros(800)])
