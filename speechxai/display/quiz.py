"""The user study of Becker et al. (2024, Sec. 3.4) as a quiz for the reader: hear or
see a stimulus, guess the digit the *model* predicted, and get informedness and
markedness per explanation format."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from speechxai.display.players import widget_player
from speechxai.display.relevance import coloured_line, symmetric_norm
from speechxai.evaluation.userstudy import FORMATS, study_scores


@dataclass
class Question:
    """One stimulus of ``speechxai.evaluation.make_stimulus`` in ``format`` and the
    model's prediction for it (the answer the reader should give)."""

    format: str
    stimulus: Any
    prediction: int

    def __post_init__(self):
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {self.format!r}")


def waveform_png(stimulus, sample_rate: int) -> bytes:
    """A small PNG of a waveform, coloured by relevance for a ``(waveform, relevance)``
    pair (red for, blue against the prediction) and grey for a waveform alone."""
    with plt.rc_context({"figure.dpi": 80}):
        figure, ax = plt.subplots(figsize=(7, 1.8), layout="constrained")
        if isinstance(stimulus, tuple):
            waveform, relevance = (np.asarray(a, dtype=float) for a in stimulus)
            times = np.arange(waveform.size) / sample_rate
            coloured_line(ax, times, waveform, relevance, symmetric_norm(relevance))
        else:
            waveform = np.asarray(stimulus, dtype=float)
            ax.plot(np.arange(waveform.size) / sample_rate, waveform, color="0.3", linewidth=0.6)
        ax.set(xlabel="time (s)", yticks=[])
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        plt.close(figure)
    return buffer.getvalue()


class Quiz:
    """An ipywidgets quiz over ``questions``: a player (audible formats) or a waveform
    image (visual formats) per question, digit buttons for the guess, and a "Score"
    button that shows ``score()``. Display ``quiz.widget``."""

    def __init__(self, questions: Sequence[Question], sample_rate: int = 8000,
                 labels: Sequence[int] = tuple(range(10))):
        import ipywidgets

        self.questions, self.labels = list(questions), list(labels)
        self.buttons = [
            ipywidgets.ToggleButtons(options=[(str(label), label) for label in self.labels],
                                     value=None, style={"button_width": "2.5em"})
            for _ in self.questions
        ]
        rows = []
        for number, (question, buttons) in enumerate(zip(self.questions, self.buttons,
                                                         strict=True), 1):
            title = f"{number}. {question.format}"
            if question.format.startswith("audible"):
                shown = widget_player(question.stimulus, sample_rate, title, normalize=True)
            else:
                image = ipywidgets.Image(value=waveform_png(question.stimulus, sample_rate),
                                         format="png")
                shown = ipywidgets.VBox([ipywidgets.Label(title), image])
            rows.append(ipywidgets.VBox([shown, buttons]))
        score_button = ipywidgets.Button(description="Score", button_style="primary")
        self.output = ipywidgets.Output()
        score_button.on_click(self._show_score)
        self.widget = ipywidgets.VBox([*rows, score_button, self.output])

    def score(self, answers: Sequence[int | None] | None = None) -> pd.DataFrame:
        """Informedness and markedness per format of ``answers`` (one guess or ``None``
        per question; default: the buttons' values), unanswered questions left out."""
        answers = [b.value for b in self.buttons] if answers is None else list(answers)
        if len(answers) != len(self.questions):
            raise ValueError(f"{len(answers)} answers for {len(self.questions)} questions")
        answered = [(q, a) for q, a in zip(self.questions, answers, strict=True) if a is not None]
        if not answered:
            raise ValueError("no question has been answered yet")
        return study_scores([q.prediction for q, _ in answered], [a for _, a in answered],
                            [q.format for q, _ in answered], labels=self.labels)

    def _show_score(self, _button=None) -> None:
        from IPython.display import display

        self.output.clear_output()
        with self.output:
            try:
                display(self.score().round(2))
            except ValueError as error:
                print(error)
