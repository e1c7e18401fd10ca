"""DeepSpeech's attributions for one utterance, methods stacked (Markert et al. 2021, Fig. 1):
frames along x with the predicted characters under the axis, red for positive attribution,
blue for negative, each method's colour scale fixed by a percentile of its |values|."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from speechxai.attribution.explanation import Explanation
from speechxai.ctc import ALPHABET, BLANK
from speechxai.display.relevance import RELEVANCE_CMAP, symmetric_norm
from speechxai.errors import AttributionError
from speechxai.evaluation.asr import frame_profile, summed_per_frame, summed_per_window
from speechxai.features import MFCC_CONTEXT
from speechxai.models.deepspeech import WINDOW

VIEWS = {"window": "MFCC", "frame": "MFCC", "relative": "relative frame (0 = own)"}
"""Rows of each view: ``"window"`` summed per window (26 MFCCs), ``"frame"`` summed per frame
(the diagonal sum, 26 MFCCs), ``"relative"`` per relative frame summed over the MFCCs
(19 positions, 0 = the frame itself)."""


def character_labels(explanation: Explanation) -> list[str]:
    """One label per frame 0..max(frames): the explained character, ``␣`` for the space,
    ``-`` for the CTC blank, empty for a frame not explained."""
    labels = [""] * (int(explanation.frames.max()) + 1)
    for frame, target in zip(explanation.frames, explanation.targets, strict=True):
        labels[frame] = "-" if target == BLANK else ALPHABET[target].replace(" ", "␣")
    return labels


def _grid(explanation: Explanation, view: str, n_frames: int) -> np.ndarray:
    """(rows, n_frames) image of one view, explanations placed at their absolute frames."""
    if view == "frame":
        return summed_per_frame(explanation, n_frames=n_frames).T
    per_explanation = (summed_per_window if view == "window" else frame_profile)(explanation)
    grid = np.zeros((per_explanation.shape[1], n_frames))
    grid[:, explanation.frames] = per_explanation.T
    return grid


def plot_asr_attributions(
    explanations: dict[str, Explanation],
    transcript_chars: Sequence[str] | None = None,
    view: str = "window",
    percentile: float = 99.0,
    title: str | None = None,
):
    """The paper's Fig. 1: one panel per method, stacked, sharing the frame axis.

    Parameters
    ----------
    explanations : dict of str to Explanation
        Method name -> explanation of the same (frame, character) targets of one utterance,
        at most one per frame (:func:`speechxai.attribution.explain_utterance`).
    transcript_chars : sequence of str, optional
        One tick label per frame 0..max(frames); default :func:`character_labels`.
    view : {"window", "frame", "relative"}
        The display (:data:`VIEWS`); the paper's Fig. 1 is ``"window"``.
    percentile : float
        Each method's colour scale ends at this percentile of its |values|.
    """
    if not explanations:
        raise AttributionError("explanations is empty: give at least one method's Explanation")
    if view not in VIEWS:
        raise AttributionError(f"view must be one of {', '.join(VIEWS)}, got {view!r}")
    first = next(iter(explanations.values()))
    for name, explanation in explanations.items():
        if not isinstance(explanation, Explanation):
            raise AttributionError(f"explanations[{name!r}] must be an Explanation, got "
                                   f"{type(explanation).__name__}")
        if not (np.array_equal(explanation.frames, first.frames)
                and np.array_equal(explanation.targets, first.targets)):
            raise AttributionError(f"explanations[{name!r}] explains other targets than the "
                                   f"first: stack explanations of the same frames and characters")
    if len(np.unique(first.frames)) != len(first):
        raise AttributionError("the figure shows one explanation per frame: some frames are "
                               "explained more than once")
    labels = character_labels(first) if transcript_chars is None else list(transcript_chars)
    n_frames = int(first.frames.max()) + 1
    if len(labels) != n_frames:
        raise AttributionError(f"transcript_chars needs one label per frame 0..{n_frames - 1}, "
                               f"got {len(labels)}")
    with sns.axes_style("white"), sns.plotting_context("notebook"):
        figure, axes = plt.subplots(
            len(explanations), 1, sharex=True, squeeze=False, layout="constrained",
            figsize=(min(max(6.0, 0.16 * n_frames + 2), 12.0), 2.4 * len(explanations)))
        for ax, (name, explanation) in zip(axes[:, 0], explanations.items(), strict=True):
            grid = _grid(explanation, view, n_frames)
            offset = -MFCC_CONTEXT if view == "relative" else 0
            image = ax.imshow(grid, origin="lower", aspect="auto", cmap=RELEVANCE_CMAP,
                              norm=symmetric_norm(grid, percentile), interpolation="nearest",
                              extent=(-0.5, n_frames - 0.5, offset - 0.5,
                                      offset + len(grid) - 0.5))
            ax.set(title=name, ylabel=VIEWS[view])
            figure.colorbar(image, ax=ax, pad=0.01,
                            label=f"{name} attribution\n(scale: {percentile:g}th pct of |A|)")
        bottom = axes[-1, 0]
        shown = [i for i, label in enumerate(labels) if label != "-"]  # blanks stay unlabelled
        bottom.set_xticks(shown, [labels[i] for i in shown], fontsize=9)
        bottom.set_xticks(np.arange(0, n_frames, 10), minor=True)
        bottom.tick_params(axis="x", which="minor", length=2)
        bottom.set_xlabel("frame (20 ms each), labelled with its predicted character; "
                          "unlabelled frames are blanks")
        if title:
            figure.suptitle(title)
    return figure


def plot_deletion_curves(fractions, curves: dict[str, np.ndarray], title: str | None = None):
    """Mean deletion curve (relative probability of the explained character) per method,
    with a 95% interval of the mean, against the fraction of the window's features removed;
    ``curves[method]`` is (n_fractions, n_frames) as the deletion study returns it."""
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook"):
        figure, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
        for method, columns in curves.items():
            n = columns.shape[1]
            mean = columns.mean(axis=1)
            half = 1.96 * columns.std(axis=1, ddof=1) / np.sqrt(n) if n > 1 else 0
            style = {"color": "black", "linestyle": "--"} if method == "random" else {}
            ax.plot(fractions, mean, marker="o", markersize=3, label=method, **style)
            ax.fill_between(fractions, mean - half, mean + half, alpha=0.15, **(
                {"color": "black"} if method == "random" else {}))
        ax.set(xlabel="fraction of the window's 494 features removed (most relevant first)",
               ylabel="probability of the explained character\n(relative to the intact window)",
               title=title or "Deletion curves: a faithful explanation falls fastest")
        ax.legend(title=f"order ({next(iter(curves.values())).shape[1]} frames)")
    return figure


def plot_attribution_profiles(benign: np.ndarray | Sequence[Explanation],
                              adversarial: np.ndarray | Sequence[Explanation],
                              method: str = "LRP"):
    """Where attributions lie for benign and adversarial utterances: mean log10 |A| per
    MFCC (left) and per relative frame of the window (right), from
    :func:`speechxai.experiments.deepspeech.attribution_profile` rows (26 + 19 values), or
    from the :func:`~speechxai.attribution.asr.attribute` explanation of each utterance."""
    from speechxai.experiments.deepspeech import magnitude_profile

    def rows_of(given) -> np.ndarray:
        return np.stack([magnitude_profile(item.values) if isinstance(item, Explanation)
                         else np.asarray(item) for item in given])

    benign, adversarial = rows_of(benign), rows_of(adversarial)
    n_mfcc = WINDOW[1]
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook"):
        figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
        for rows, label, colour in ((benign, "benign", "tab:blue"),
                                    (adversarial, "adversarial", "tab:red")):
            rows = np.asarray(rows)
            left.plot(np.arange(n_mfcc), rows[:, :n_mfcc].mean(0), color=colour, label=label)
            right.plot(np.arange(WINDOW[0]) - WINDOW[0] // 2, rows[:, n_mfcc:].mean(0),
                       color=colour, label=label)
        left.set(xlabel="MFCC index", ylabel=f"mean log10 |{method} attribution|",
                 title="by MFCC band")
        right.set(xlabel="relative frame in the window (0 = the explained frame)",
                  title="by frame position")
        left.legend()
    return figure
