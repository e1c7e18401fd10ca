"""The pixel-flipping figure and the user-study quiz."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from speechxai.display import Question, Quiz, plot_flipping_curves
from speechxai.evaluation import DEFAULT_FRACTIONS, make_stimulus

matplotlib.use("Agg")


def test_flipping_figure_has_a_labelled_panel_per_task_and_a_line_per_strategy():
    n = len(DEFAULT_FRACTIONS)
    curves = {
        task: {"random": np.full(n, 0.9), "amplitude": np.linspace(0.9, 0.2, n),
               "lrp": (np.random.default_rng(0).random((n, 30)) < 0.5).astype(int)}
        for task in ("digit", "sex")
    }
    figure = plot_flipping_curves(DEFAULT_FRACTIONS, curves, {"digit": 0.1, "sex": 0.5})
    assert [ax.get_title() for ax in figure.axes] == ["digit", "sex"]
    for ax, chance in zip(figure.axes, (0.1, 0.5), strict=True):
        assert ax.get_xscale() == "log"
        assert ax.get_xlabel() == "fraction of samples set to zero"
        assert ax.get_ylabel() == "accuracy"
        lines = {line.get_label(): line for line in ax.get_lines()}
        assert list(lines) == ["random", "amplitude", "LRP", "chance"]
        assert lines["chance"].get_linestyle() == "--" and lines["chance"].get_ydata()[0] == chance
        assert [t.get_text() for t in ax.get_legend().get_texts()] == list(lines)
    with pytest.raises(ValueError, match="no chance level"):
        plot_flipping_curves(DEFAULT_FRACTIONS, curves, {"digit": 0.1})


def questions():
    rng = np.random.default_rng(0)
    x, relevance = rng.normal(size=800).astype(np.float32), rng.normal(size=800)
    return [Question(format, make_stimulus(format, x, relevance), prediction)
            for format, prediction in [("audible explanation", 3), ("audible explanation", 5),
                                       ("visual explanation", 3), ("visual explanation", 5),
                                       ("visual explanation", 5), ("visual signal", 5)]]


def test_quiz_builds_a_player_or_an_image_per_question_and_scores_answers():
    quiz = Quiz(questions())
    *rows, button, _output = quiz.widget.children
    assert len(rows) == 6 and button.description == "Score"
    assert type(rows[0].children[0].children[1]).__name__ == "Audio"
    assert quiz.widget.children[2].children[0].children[1].value[:4] == b"\x89PNG"
    table = quiz.score([3, 5, 3, 3, 5, None])
    assert table.index.tolist() == ["audible explanation", "visual explanation"]
    assert table.loc["audible explanation"].tolist() == [1.0, 1.0, 2]
    # truth 3 5 5, guesses 3 3 5: class 3 has inf 1/1 - 1/2, mark 1/2 - 0/1; class 5
    # has inf 1/2 - 0/1, mark 1/1 - 1/2
    assert table.loc["visual explanation"].tolist() == [0.5, 0.5, 3]
    quiz.buttons[0].value = 3
    assert quiz.score()["answers"].tolist() == [1]


def test_quiz_refuses_bad_answers_and_formats(capsys):
    quiz = Quiz(questions())
    with pytest.raises(ValueError, match="6 questions"):
        quiz.score([3])
    with pytest.raises(ValueError, match="answered"):
        quiz.score()
    quiz._show_score()  # outside a kernel the Output widget lets the message through
    assert "no question has been answered yet" in capsys.readouterr().out
    with pytest.raises(ValueError, match="format must be one of"):
        Question("smell", np.zeros(8), 1)
