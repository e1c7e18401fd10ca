"""The user study of Becker et al. (2024, Sec. 3.4) as a quiz for the reader: hear or
see a stimulus, guess the digit the *model* predicted, and get informedness and
markedness per explanation format - through ipywidgets in a live kernel, and scored in the
browser on the built page (:meth:`Quiz.page`), whose answers download as CSV for
:func:`speechxai.evaluation.answer_scores`."""

from __future__ import annotations

import base64
import io
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from importlib import resources
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from speechxai.display.players import embedded_player, widget_player
from speechxai.display.relevance import coloured_line, symmetric_norm
from speechxai.evaluation.userstudy import FORMATS, study_scores

PAPER_STUDY = {  # Becker et al. (2024), Sec. 3.4, Fig. 5a: digits the model misclassified
    "audible explanation": "0.12 / 0.10",
    "audible signal": "below 0",
    "visual explanation": "below the audible",
    "visual signal": "below 0",
}
"""The paper's informedness / markedness per format (40 people, misclassified digits)."""

_QUIZ_IDS = itertools.count()


@dataclass(eq=False)  # questions are equal only to themselves (stimuli are arrays)
class Question:
    """One stimulus of ``speechxai.evaluation.make_stimulus`` in ``format`` and the
    model's prediction for it (the answer the reader should give); ``item`` names the
    utterance it was made from (its formats are kept apart by :func:`interleaved`)."""

    format: str
    stimulus: Any
    prediction: int
    item: int = 0

    def __post_init__(self):
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {self.format!r}")


def interleaved(questions: Sequence[Question], seed: int = 0) -> list[Question]:
    """``questions`` in a seeded order for a class study: in blocks that each hold every
    utterance once, its format rotating from block to block (a Latin square), shuffled within
    the block - so formats alternate and one utterance's formats are never side by side."""
    rng = np.random.default_rng(seed)
    by_key = {(question.item, question.format): question for question in questions}
    if len(by_key) != len(questions):
        raise ValueError("two questions share an utterance (item) and a format")
    items = [int(item) for item in rng.permutation(sorted({q.item for q in questions}))]
    formats = [f for f in FORMATS if any(q.format == f for q in questions)]
    ordered: list[Question] = []
    for block in range(len(formats)):
        chosen = [by_key[key] for i, item in enumerate(items)
                  if (key := (item, formats[(i + block) % len(formats)])) in by_key]
        chosen = [chosen[i] for i in rng.permutation(len(chosen))]
        if ordered and len(chosen) > 1 and chosen[0].item == ordered[-1].item:
            chosen[0], chosen[-1] = chosen[-1], chosen[0]
        ordered += chosen
    return ordered


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
        self.sample_rate = sample_rate
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

    def page(self) -> str:
        """The quiz as one HTML fragment that works without a kernel: the stimuli embedded,
        a digit choice per question, "Score" computing informedness and markedness per format
        in the browser (as :func:`~speechxai.evaluation.study_scores`) beside the paper's
        values, and "Download answers (CSV)" for :func:`~speechxai.evaluation.answer_scores`."""
        quiz_id = f"speechxai-quiz-{next(_QUIZ_IDS)}"
        blocks = []
        for number, question in enumerate(self.questions, 1):
            if question.format.startswith("audible"):
                shown = embedded_player(question.stimulus, self.sample_rate,
                                        normalize=True)._repr_html_()
            else:
                png = base64.b64encode(waveform_png(question.stimulus, self.sample_rate))
                shown = f'<img alt="{escape(question.format)}" src="data:image/png;base64,' \
                        f'{png.decode()}">'
            choices = "".join(
                f'<label><input type="radio" name="{quiz_id}-q{number}" value="{label}">'
                f"{label}</label> " for label in self.labels)
            blocks.append(f'<div class="quiz-question" data-question="{number}">'
                          f"<b>{number}. {escape(question.format)}</b><br>{shown}<br>"
                          f'<span class="quiz-choices">{choices}</span></div>')
        data = {"questions": [{"item": int(q.item), "format": q.format,
                               "prediction": int(q.prediction)} for q in self.questions],
                "labels": self.labels, "formats": list(FORMATS), "paper": PAPER_STUDY}
        script = resources.files("speechxai.display").joinpath("quiz.js").read_text()
        return (f'<div class="speechxai-quiz" id="{quiz_id}">{"".join(blocks)}'
                '<p><label>Your name or id (optional, for the CSV): '
                '<input type="text" class="quiz-reader"></label></p>'
                '<button type="button" class="quiz-score">Score</button> '
                '<button type="button" class="quiz-csv">Download answers (CSV)</button>'
                '<div class="quiz-result"></div>'
                f'<script type="application/json" class="quiz-data">{json.dumps(data)}</script>'
                f"<script>{script}\nspeechxaiQuiz({json.dumps(quiz_id)});</script></div>")

    def show(self) -> None:
        """Display the quiz: the ipywidgets quiz in a live kernel; inside ``speechxai book
        run`` (the built book has no kernel) the page that scores in the browser."""
        from IPython.display import HTML, display

        from speechxai.book import inside_runner

        display(HTML(self.page()) if inside_runner() else self.widget)

    def _show_score(self, _button=None) -> None:
        from IPython.display import display

        self.output.clear_output()
        with self.output:
            try:
                display(self.score().round(2))
            except ValueError as error:
                print(error)
