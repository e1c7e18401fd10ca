"""Relevance heatmaps: red for evidence for the explained class, blue against, white zero.

The colour scale is symmetric around zero and set by a high percentile of |R| so that one
extreme value does not wash the map out (Becker et al. 2018, Figs. 1-2).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.collections import LineCollection
from matplotlib.colors import TwoSlopeNorm

from speechxai.attribution.explanation import Explanation, waveform_and_relevance

RELEVANCE_CMAP = "bwr"


def symmetric_norm(relevance: np.ndarray, percentile: float = 99.5) -> TwoSlopeNorm:
    """A colour norm centred at zero, clipped at a percentile of |relevance|."""
    limit = float(np.percentile(np.abs(relevance), percentile)) or 1e-12
    return TwoSlopeNorm(vcenter=0.0, vmin=-limit, vmax=limit)


def plot_spectrogram_relevance(
    spectrogram: np.ndarray,
    relevances: dict[str, np.ndarray | Explanation],
    frequencies: np.ndarray | None = None,
    times: np.ndarray | None = None,
    title: str | None = None,
):
    """The input spectrogram (dB) beside one relevance map per explanation, e.g.
    ``{"digit 'seven'": R_digit, "sex 'female'": R_sex}``, all on axes in s and Hz.

    A map may be an :class:`~speechxai.Explanation` over (frequency, time) (its first
    output); ``frequencies`` and ``times`` then default to its axes' coordinates."""
    maps = {}
    for name, relevance in relevances.items():
        if isinstance(relevance, Explanation):
            relevance, _, rows, columns = relevance.image()
            frequencies = rows.coords if frequencies is None else frequencies
            times = columns.coords if times is None else times
        maps[name] = np.asarray(relevance, float)
    if frequencies is None or times is None:
        raise ValueError("give frequencies and times, or relevance maps as Explanations with "
                         "frequency and time axes")
    relevances = maps
    extent = (times[0], times[-1], frequencies[0], frequencies[-1])
    with sns.axes_style("white"), sns.plotting_context("notebook"):
        n_panels = 1 + len(relevances)
        figure, axes = plt.subplots(1, n_panels, figsize=(4.2 * n_panels, 4), sharey=True,
                                    layout="constrained")
        image = axes[0].imshow(spectrogram, origin="lower", aspect="auto", extent=extent,
                               cmap="magma")
        axes[0].set(title="input (dB)", xlabel="time (s)", ylabel="frequency (Hz)")
        figure.colorbar(image, ax=axes[0], shrink=0.8)
        for ax, (name, relevance) in zip(axes[1:], relevances.items(), strict=True):
            image = ax.imshow(relevance, origin="lower", aspect="auto", extent=extent,
                              cmap=RELEVANCE_CMAP, norm=symmetric_norm(relevance))
            ax.set(title=f"relevance for {name}", xlabel="time (s)")
            figure.colorbar(image, ax=ax, shrink=0.8, label="relevance")
        if title:
            figure.suptitle(title)
    return figure


def coloured_line(ax, times, values, relevance, norm, linewidth=1.0):
    points = np.column_stack([times, values])
    segments = np.stack([points[:-1], points[1:]], axis=1)
    line = LineCollection(segments, cmap=RELEVANCE_CMAP, norm=norm, linewidth=linewidth)
    line.set_array((relevance[:-1] + relevance[1:]) / 2)
    ax.add_collection(line)
    ax.set_xlim(times[0], times[-1])
    margin = 0.05 * (np.abs(values).max() or 1.0)
    ax.set_ylim(values.min() - margin, values.max() + margin)
    return line


def plot_waveform_relevance(
    waveform: np.ndarray | Explanation,
    relevance: np.ndarray | None = None,
    sample_rate: int | None = None,
    zoom_ms: float = 50.0,
    title: str | None = None,
):
    """The waveform coloured by relevance, and a ``zoom_ms`` segment around the most
    relevant sample with every sample drawn as a coloured dot (Becker et al. 2018, Fig. 2).

    ``waveform`` may be an :class:`~speechxai.Explanation` of a waveform (its first output:
    waveform, relevance and sample rate from :meth:`~speechxai.Explanation.waveform`).
    """
    waveform, relevance, sample_rate = waveform_and_relevance(waveform, relevance, sample_rate)
    waveform, relevance = np.asarray(waveform, float), np.asarray(relevance, float)
    times = np.arange(waveform.size) / sample_rate
    norm = symmetric_norm(relevance)
    half = int(zoom_ms / 2000 * sample_rate)
    centre = int(np.clip(np.argmax(np.abs(relevance)), half, waveform.size - half))
    zoom = slice(centre - half, centre + half)
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook"):
        figure, (full_ax, zoom_ax) = plt.subplots(2, 1, figsize=(10, 5.5), layout="constrained")
        line = coloured_line(full_ax, times, waveform, relevance, norm, linewidth=0.8)
        full_ax.axvspan(times[zoom.start], times[zoom.stop - 1], color="gold", alpha=0.3,
                        label=f"zoomed {zoom_ms:.0f} ms")
        full_ax.set(xlabel="time (s)", ylabel="amplitude (scaled)")
        full_ax.legend(loc="upper right")
        coloured_line(zoom_ax, times[zoom], waveform[zoom], relevance[zoom], norm)
        zoom_ax.scatter(times[zoom], waveform[zoom], c=relevance[zoom], cmap=RELEVANCE_CMAP,
                        norm=norm, s=14, edgecolors="none", zorder=3)
        zoom_ax.set(xlabel="time (s)", ylabel="amplitude (scaled)",
                    title=f"{zoom_ms:.0f} ms around the most relevant sample")
        figure.colorbar(line, ax=[full_ax, zoom_ax], label="relevance", shrink=0.8)
        if title:
            figure.suptitle(title)
    return figure
