"""Audible explanations (Becker et al. 2024): the input weighted by its relevance.

``ReLU(R) * x`` keeps the sound where the model found evidence for its decision;
``ReLU(-R) * x`` the sound that spoke against it. Both are peak-normalised so that they
can be heard next to the original.
"""

from __future__ import annotations

import numpy as np

from speechxai.display.players import embedded_player, peak_normalized, widget_player

SIGNS = {"positive": 1.0, "negative": -1.0}


def audible_explanation(waveform: np.ndarray, relevance: np.ndarray, sign: str = "positive"):
    """``ReLU(R) * x`` (``sign="positive"``) or ``ReLU(-R) * x``, peak-normalised."""
    if sign not in SIGNS:
        raise ValueError(f"sign must be one of {', '.join(SIGNS)}, not {sign!r}")
    waveform, relevance = np.asarray(waveform, np.float32), np.asarray(relevance, np.float32)
    if waveform.shape != relevance.shape:
        raise ValueError(f"waveform {waveform.shape} and relevance {relevance.shape} differ")
    return peak_normalized(np.maximum(SIGNS[sign] * relevance, 0.0) * waveform)


def show_audible_explanations(
    waveform: np.ndarray, relevance: np.ndarray, sample_rate: int, title: str
) -> None:
    """Display the original and both audible explanations side by side as widget players,
    then the same three as embedded ``<audio>`` elements (work without widget JS)."""
    import ipywidgets
    from IPython.display import HTML, display

    sounds = {
        "original": peak_normalized(waveform),
        "ReLU(R)·x: evidence for": audible_explanation(waveform, relevance, "positive"),
        "ReLU(−R)·x: evidence against": audible_explanation(waveform, relevance, "negative"),
    }
    display(ipywidgets.VBox([
        ipywidgets.HTML(f"<b>{title}</b>"),
        ipywidgets.HBox([widget_player(s, sample_rate, label) for label, s in sounds.items()]),
    ]))
    cells = "".join(
        f"<td>{label}<br>{embedded_player(s, sample_rate)._repr_html_()}</td>"
        for label, s in sounds.items()
    )
    display(HTML(f"<table><tr>{cells}</tr></table>"))
