"""Figures of the NAvAI chapter (Krug & Stober 2018): activation maximisation (Fig. 1),
sensitivity and LRP on letter windows (Fig. 2) and the letters x alignments grid (Fig. 3).
Frequency runs up in mel bins labelled in Hz, time in 10-ms frames; relevance is red for,
blue against, centred at zero."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from speechxai.attribution.explanation import Explanation
from speechxai.display.relevance import RELEVANCE_CMAP, symmetric_norm

HZ_TICKS = (100, 500, 1000, 2000, 4000, 7000)


def _hz_axis(ax, frequencies: np.ndarray, label: bool = True) -> None:
    """Label mel-bin rows with the frequencies (Hz) nearest to ``HZ_TICKS``."""
    rows = [int(np.argmin(np.abs(frequencies - hz))) for hz in HZ_TICKS]
    ax.set_yticks(rows, [f"{hz:g}" for hz in HZ_TICKS])
    if label:
        ax.set_ylabel("frequency (Hz)")


def _image(ax, values, diverging: bool, **kwargs):
    values = np.asarray(values)
    if diverging:
        return ax.imshow(values, origin="lower", aspect="auto", cmap=RELEVANCE_CMAP,
                         norm=symmetric_norm(values, 100), interpolation="nearest", **kwargs)
    return ax.imshow(values, origin="lower", aspect="auto", cmap="magma",
                     interpolation="nearest", **kwargs)


def plot_activation_maximisation(inputs: dict[str, np.ndarray | Explanation],
                                 frequencies: np.ndarray):
    """Fig. 1: the input (bins, rf) that maximises each named neuron, one panel each: arrays,
    or the :func:`~speechxai.attribution.actmax.activation_maximisation` results."""
    inputs = {name: given.values[0] if isinstance(given, Explanation) else given
              for name, given in inputs.items()}
    with sns.axes_style("white"), sns.plotting_context("notebook"):
        figure, axes = plt.subplots(1, len(inputs), figsize=(4.2 * len(inputs), 3.8),
                                    squeeze=False, layout="constrained")
        for ax, (name, values) in zip(axes[0], inputs.items(), strict=True):
            image = _image(ax, values, diverging=True)
            ax.set(title=name, xlabel="frame in the receptive field (10 ms)")
            _hz_axis(ax, frequencies, label=ax is axes[0, 0])
            figure.colorbar(image, ax=ax, shrink=0.8, label="optimised input (z-score)")
    return figure


def plot_letter_windows(windows: np.ndarray | None, sensitivities: np.ndarray | Explanation,
                        relevances: np.ndarray | Explanation, letter: str,
                        frequencies: np.ndarray, lrp_name: str | None = None):
    """Fig. 2: windows of one letter (rows) with their log-mel input, sensitivity and LRP.

    ``sensitivities`` and ``relevances`` may be the explanations of
    :func:`~speechxai.attribution.navai.sensitivity` and an LRP variant of the windows (then
    ``windows`` may be None: their data; ``lrp_name`` defaults to the LRP's method)."""
    if isinstance(relevances, Explanation):
        lrp_name = lrp_name or relevances.method
        windows = relevances.data if windows is None else windows
        relevances = relevances.values
    if isinstance(sensitivities, Explanation):
        windows = sensitivities.data if windows is None else windows
        sensitivities = sensitivities.values
    if windows is None:
        raise ValueError("give the windows, or the windows' explanations")
    lrp_name = lrp_name or "LRP"
    columns = (("log-mel input (z-score)", windows, False), ("sensitivity", sensitivities, True),
               (lrp_name, relevances, True))
    with sns.axes_style("white"), sns.plotting_context("notebook"):
        figure, axes = plt.subplots(len(windows), 3, figsize=(12, 3.2 * len(windows)),
                                    squeeze=False, layout="constrained")
        for row in range(len(windows)):
            for col, (title, values, diverging) in enumerate(columns):
                ax = axes[row, col]
                image = _image(ax, values[row], diverging)
                ax.set(title=f"'{letter}' window {row + 1}: {title}",
                       xlabel="frame (10 ms)" if row == len(windows) - 1 else None)
                _hz_axis(ax, frequencies, label=col == 0)
                figure.colorbar(image, ax=ax, shrink=0.8)
    return figure


def plot_navai_grid(grid: dict[str, object], frequencies: np.ndarray,
                    letters: Sequence[str] | None = None):
    """Fig. 3: NAvAI maps (rows: letters, columns: alignments), each normalised to
    max |value| = 1 after subtracting the mean over letters."""
    first = next(iter(grid.values()))
    letters = list(letters or first.letters)
    with sns.axes_style("white"), sns.plotting_context("notebook", font_scale=0.8):
        figure, axes = plt.subplots(len(letters), len(grid), squeeze=False, sharex=True,
                                    sharey=True, figsize=(2.6 * len(grid) + 1, 1.25 * len(letters)),
                                    layout="constrained")
        for col, (alignment, result) in enumerate(grid.items()):
            for row, letter in enumerate(letters):
                ax = axes[row, col]
                if letter in result.letters:
                    values = result.maps[result.letters.index(letter)]
                    image = ax.imshow(values, origin="lower", aspect="auto", cmap=RELEVANCE_CMAP,
                                      vmin=-1, vmax=1, interpolation="nearest")
                if row == 0:
                    ax.set_title(alignment.replace("_", " "))
                if col == 0:
                    _hz_axis(ax, frequencies, label=False)
                    ax.set_ylabel(f"'{letter}'\nHz", rotation=0, labelpad=18, va="center")
        for ax in axes[-1]:
            ax.set_xlabel("frame (10 ms)")
        figure.colorbar(image, ax=axes, shrink=0.4, label="NAvAI (normalised)")
    return figure


def plot_burst_profiles(grid: dict[str, object], letter: str):
    """``letter``'s NAvAI map (:func:`~speechxai.attribution.navai.navai`) averaged over
    frequency against the frame offset from the centre, one line per alignment: a plosive's
    release burst is a narrow peak at 0 (Krug & Stober 2018, Sec. 4.2)."""
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook"):
        figure, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
        for name, result in grid.items():
            profile = result.maps[result.letters.index(letter)].mean(0)
            offsets = np.arange(len(profile)) - len(profile) // 2
            ax.plot(offsets, profile, label=name.replace("_", " "))
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set(xlabel="frames from the window's centre",
               ylabel="map averaged over frequency", title=f"letter '{letter}'")
        ax.legend(title="aligned at", fontsize=8)
    return figure
