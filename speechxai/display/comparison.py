"""Figures of the "Comparing explanations" chapter: one input per model explained by every
method, the deletion curves per masking operator, and the randomisation test as bars."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from speechxai.attribution.sanity import RANDOMIZED_CORRELATION
from speechxai.evaluation.feature_deletion import FRACTIONS, OPERATORS
from speechxai.experiments.comparison import readable


def _symmetric(ax, image: np.ndarray, **options):
    limit = float(np.abs(image).max()) or 1.0
    return ax.imshow(image, cmap="seismic", vmin=-limit, vmax=limit, aspect="auto",
                     origin="lower", interpolation="nearest", **options)


def plot_method_maps(maps: dict[str, dict[str, np.ndarray]], sample_rate: int = 8000):
    """One row per model (``model -> {"input": x, method: values}``), one column per method:
    the input, then each method's attribution of it (red for, blue against the explained
    class, each panel scaled to its own largest |value|). 1-D inputs (waveforms) are drawn
    against time, 2-D inputs (spectrogram, MFCC window) as images."""
    methods = [name for name in next(iter(maps.values())) if name != "input"]
    with sns.plotting_context("notebook", font_scale=0.8):
        figure, axes = plt.subplots(len(maps), 1 + len(methods),
                                    figsize=(2.1 * (1 + len(methods)), 2.2 * len(maps)),
                                    layout="constrained", squeeze=False)
        for row, (model, panels) in zip(axes, maps.items(), strict=True):
            for ax, (name, image) in zip(row, panels.items(), strict=True):
                image = np.squeeze(np.asarray(image, dtype=np.float64))
                if image.ndim == 1:
                    seconds = np.arange(image.size) / sample_rate
                    if name == "input":
                        ax.plot(seconds, image, color="0.3", linewidth=0.4)
                    else:
                        limit = float(np.abs(image).max()) or 1.0
                        ax.fill_between(seconds, np.minimum(image, 0) / limit, 0, color="tab:blue")
                        ax.fill_between(seconds, np.maximum(image, 0) / limit, 0, color="tab:red")
                        ax.set_ylim(-1.05, 1.05)
                    ax.set_xlabel("time (s)")
                elif name == "input":
                    ax.imshow(image, cmap="magma", aspect="auto", origin="lower",
                              interpolation="nearest")
                else:
                    _symmetric(ax, image)
                ax.set_title(readable(name))
                ax.set_yticks([])
            row[0].set_ylabel(model, fontsize=11)
    return figure


def plot_deletion_comparison(curves: dict[str, dict[str, dict[str, np.ndarray]]],
                             fractions: Sequence[float] = FRACTIONS):
    """One row per model (``model -> operator -> method -> mean curve``), one column per
    masking operator: the explained class's probability, relative to the unperturbed one,
    as the highest-ranked features are removed; the random attribution dashed."""
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.85):
        figure, axes = plt.subplots(len(curves), len(OPERATORS),
                                    figsize=(4.6 * len(OPERATORS), 2.9 * len(curves)),
                                    sharex=True, layout="constrained", squeeze=False)
        palette = dict(zip(next(iter(next(iter(curves.values())).values())),
                           sns.color_palette("tab10"), strict=False))
        for row, (model, operators) in zip(axes, curves.items(), strict=True):
            for ax, operator in zip(row, OPERATORS, strict=True):
                for method, curve in operators[operator].items():
                    random = method == "random"
                    ax.plot(100 * np.asarray(fractions), curve, marker="" if random else ".",
                            linestyle="--" if random else "-", linewidth=2 if random else 1.2,
                            color="black" if random else palette[method],
                            label=readable(method))
                ax.set(title=f"{model}: {operator} masking", ylim=(0, None))
            row[0].set_ylabel("probability / unperturbed")
        for ax in axes[-1]:
            ax.set_xlabel("features removed, highest ranked first (%)")
        axes[0, -1].legend(fontsize=7, loc="upper right")
    return figure


def plot_randomization_bars(correlations: pd.DataFrame):
    """Grouped bars of the rank correlation of each method's |attribution| with that of the
    fully randomised model (rows: methods, columns: models); the dashed line
    (:data:`~speechxai.attribution.sanity.RANDOMIZED_CORRELATION`) marks maps that explain the
    input more than the model."""
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.85):
        figure, ax = plt.subplots(figsize=(8, 3.2), layout="constrained")
        correlations.rename(index=readable).plot.bar(ax=ax, rot=20)
        ax.axhline(RANDOMIZED_CORRELATION, color="black", linestyle="--", linewidth=1)
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set(ylabel="Spearman |attribution|,\ntrained vs randomised", xlabel="",
               ylim=(min(-0.1, float(np.nanmin(correlations.to_numpy())) - 0.05), 1.0))
        ax.legend(title="model", fontsize=8)
    return figure
