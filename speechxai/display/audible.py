"""Players for audible explanations (Becker et al. 2024), loudness-normalised so that a
sparse explanation can be heard next to the original."""

from __future__ import annotations

import numpy as np

from speechxai.attribution.audible import audible_explanation
from speechxai.attribution.explanation import Explanation, waveform_and_relevance
from speechxai.display.players import (
    WithFallback,
    labelled_audio_html,
    loudness_normalized,
    widget_player,
)


def show_audible_explanations(
    waveform: np.ndarray | Explanation, relevance: np.ndarray | None = None,
    sample_rate: int | None = None, title: str = "",
) -> dict[str, np.ndarray]:
    """Display the original and both audible explanations side by side as widget players
    (one output whose fallback, for viewers without widget JS, holds the same three as
    embedded ``<audio>`` elements). All three are loudness-normalised; returns them by label
    for a listen-check.
    ``waveform`` may be an :class:`~speechxai.Explanation` of a waveform (its first output)."""
    waveform, relevance, sample_rate = waveform_and_relevance(waveform, relevance, sample_rate)
    sounds = {
        "original": loudness_normalized(waveform),
        "ReLU(R)·x: evidence for": loudness_normalized(
            audible_explanation(waveform, relevance, "positive")),
        "ReLU(−R)·x: evidence against": loudness_normalized(
            audible_explanation(waveform, relevance, "negative")),
    }
    show_sounds(sounds, sample_rate, title)
    return sounds


def show_sounds(sounds: dict[str, np.ndarray], sample_rate: int, title: str = "") -> None:
    """Display labelled sounds in one row of widget players (one output whose fallback, for
    viewers without widget JS, holds the same sounds as embedded ``<audio>`` elements)."""
    from html import escape

    import ipywidgets
    from IPython.display import display

    players = ipywidgets.VBox([
        ipywidgets.HTML(f"<b>{escape(title)}</b>"),
        ipywidgets.HBox([widget_player(s, sample_rate, label) for label, s in sounds.items()],
                        layout=ipywidgets.Layout(flex_flow="row wrap")),
    ])
    cells = "".join(f"<td>{labelled_audio_html(s, sample_rate, label)}</td>"
                    for label, s in sounds.items())
    display(WithFallback(players, f"<b>{escape(title)}</b><table><tr>{cells}</tr></table>"))
