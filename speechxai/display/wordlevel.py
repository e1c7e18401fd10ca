"""Figures of the word-level and paralinguistic explanations chapter (Pastor et al., 2024):
word relevance on the waveform (Fig. 1), forced against true word boundaries, prediction
differences per paralinguistic level (Fig. 2), average word importance per predicted class
(Fig. 3) and the AOPC faithfulness table (Table 4). Relevance is red for the explained class,
blue against, on a colour scale symmetric around zero."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from matplotlib.cm import ScalarMappable

from speechxai.alignment import boundary_error_ms
from speechxai.attribution.explanation import Explanation
from speechxai.attribution.occlusion import WordImportance, as_signal, check_boundaries
from speechxai.attribution.paralinguistic import (
    FEATURES,
    REFERENCE,
    UNITS,
    ParalinguisticImportance,
)
from speechxai.display.relevance import RELEVANCE_CMAP, symmetric_norm
from speechxai.evaluation.aopc import MEASURES

WIDTH = 11.0  # inches: the book's text width
PAPER_LABEL = "paper (wav2vec 2.0, FSC)"
MAX_ANNOTATED_COLUMNS = 25  # heatmap cells stay readable with a value written in them


def _waveform(ax, signal: np.ndarray, sample_rate: int) -> None:
    """The waveform in grey on a time axis in seconds."""
    ax.plot(np.arange(signal.size) / sample_rate, signal, color="0.25", linewidth=0.5)
    ax.set(xlim=(0, signal.size / sample_rate), ylabel="amplitude")


def _label_spans(ax, texts: Sequence[str], spans_s: Sequence[tuple[float, float]]) -> None:
    """Each text centred above its span (seconds), just over the axes."""
    for text, (start, end) in zip(texts, spans_s, strict=True):
        ax.text((start + end) / 2, 1.02, text, transform=ax.get_xaxis_transform(),
                ha="center", va="bottom", fontsize=9)


def plot_word_importance(waveform: torch.Tensor | np.ndarray, sample_rate: int,
                         boundaries: Sequence[tuple[int, int]],
                         importance: WordImportance | Explanation,
                         class_names: Mapping[str, Sequence[str]] | None = None):
    """The paper's Fig. 1: one row per slot, the waveform with each word's span shaded by its
    relevance r(x_i) for the slot's explained class (named in the row title via
    ``class_names[slot]``), the word and its score above the span; one colour scale for all
    slots. ``boundaries`` are the ``(start, end)`` samples of ``importance.words``;
    ``importance`` may be any leave-one-word-out :class:`~speechxai.Explanation` (e.g.
    pooled)."""
    if not isinstance(importance, WordImportance):
        importance = WordImportance.from_explanation(importance)
    signal = as_signal(waveform, sample_rate).numpy()
    spans = check_boundaries(boundaries, signal.size)
    if len(spans) != len(importance.words):
        raise ValueError(f"{len(spans)} boundaries for the {len(importance.words)} words of "
                         f"the explanation")
    spans_s = [(start / sample_rate, end / sample_rate) for start, end in spans]
    predictions = importance.table(class_names)["prediction"]
    norm = symmetric_norm(importance.scores, 100)
    colours = plt.get_cmap(RELEVANCE_CMAP)
    with sns.axes_style("white"), sns.plotting_context("notebook"):
        figure, axes = plt.subplots(len(importance.slots), 1, sharex=True, squeeze=False,
                                    figsize=(WIDTH, 2.1 * len(importance.slots) + 0.4),
                                    layout="constrained")
        for ax, slot, scores in zip(axes[:, 0], importance.slots, importance.scores,
                                    strict=True):
            for (start, end), score in zip(spans_s, scores, strict=True):
                ax.axvspan(start, end, facecolor=colours(norm(score)), edgecolor="0.5",
                           linewidth=0.5, zorder=0)
            _waveform(ax, signal, sample_rate)
            _label_spans(ax, [f"{word}\n{score:+.2f}" for word, score
                              in zip(importance.words, scores, strict=True)], spans_s)
            ax.set_title(f"{slot} = {predictions[slot]}: relevance of each word for this "
                         f"prediction", pad=30, loc="left")
        axes[-1, 0].set_xlabel("time (s)")
        figure.colorbar(ScalarMappable(norm, colours), ax=axes[:, 0], shrink=0.8, pad=0.01,
                        label="word relevance r(x_i)\n= f(y=k|x) - f(y=k|x without word i)")
    return figure


def plot_alignment(waveform: torch.Tensor | np.ndarray, sample_rate: int, words: Sequence[str],
                   truth: Sequence[tuple[int, int]], forced: Sequence[tuple[int, int]]):
    """The waveform with the true word spans (shaded, solid edges) and the forced-alignment
    spans (dashed outlines), both ``(start, end)`` samples, words written above their true
    span; the title gives the mean boundary error in ms
    (:func:`speechxai.alignment.boundary_error_ms`)."""
    signal = as_signal(waveform, sample_rate).numpy()
    truth = check_boundaries(truth, signal.size)
    if not len(words) == len(truth) == len(forced):
        raise ValueError(f"need one true and one forced span per word, got {len(words)} words, "
                         f"{len(truth)} true and {len(forced)} forced spans")
    error = boundary_error_ms(forced, truth, sample_rate)
    with sns.axes_style("white"), sns.plotting_context("notebook"):
        figure, ax = plt.subplots(figsize=(WIDTH, 3.2), layout="constrained")
        for index, ((true_start, true_end), (start, end)) in enumerate(
                zip(truth, forced, strict=True)):
            ax.axvspan(true_start / sample_rate, true_end / sample_rate, facecolor="tab:green",
                       edgecolor="tab:green", alpha=0.25, linewidth=1.5, zorder=0,
                       label="true word span" if index == 0 else None)
            ax.axvspan(start / sample_rate, end / sample_rate, fill=False,
                       edgecolor="tab:purple", linestyle="--", linewidth=1.5, zorder=2,
                       label="forced alignment" if index == 0 else None)
        _waveform(ax, signal, sample_rate)
        _label_spans(ax, list(words), [(start / sample_rate, end / sample_rate)
                                       for start, end in truth])
        ax.set_xlabel("time (s)")
        ax.set_title(f"Forced alignment against the true word boundaries: mean boundary error "
                     f"{error:.0f} ms over {len(truth)} words", pad=22)
        ax.legend(loc="lower right", framealpha=0.9)
    return figure


def _heatmap(ax, frame: pd.DataFrame, limit: float, **kwargs):
    """A seaborn heatmap of ``frame`` on the relevance colours from -limit to limit, values
    written in the cells while there are at most :data:`MAX_ANNOTATED_COLUMNS` columns."""
    sns.heatmap(frame, ax=ax, cmap=RELEVANCE_CMAP, vmin=-limit, vmax=limit, cbar=False,
                annot=frame.shape[1] <= MAX_ANNOTATED_COLUMNS, fmt=".2f",
                annot_kws={"fontsize": 8}, linewidths=0.5, linecolor="white", **kwargs)
    ax.tick_params(axis="y", rotation=0)
    return ax.collections[0]


def plot_paralinguistic_levels(importance: ParalinguisticImportance | Explanation,
                               class_names: Mapping[str, Sequence[str]] | None = None):
    """The paper's Fig. 2: for each perturbed feature (of :data:`FEATURES`), a heatmap of
    f(y=k|x) - f(y=k|x~) per level (columns, the unperturbed reference included) and explained
    class (rows "slot=class", named via ``class_names[slot]``), one colour scale for all.
    ``importance`` may be any paralinguistic :class:`~speechxai.Explanation`."""
    if not isinstance(importance, ParalinguisticImportance):
        importance = ParalinguisticImportance.from_explanation(importance)
    features = [feature for feature, families in FEATURES.items()
                if any(family in families for family, _ in importance.variants)]
    if not features:
        raise ValueError("the explanation has no perturbed versions to show")
    tables = {feature: importance.levels_table(feature, class_names) for feature in features}
    limit = symmetric_norm(np.concatenate([t.to_numpy().ravel() for t in tables.values()]),
                           100).vmax
    n_rows = len(importance)
    with sns.axes_style("white"), sns.plotting_context("notebook"):
        figure, axes = plt.subplots(len(features), 1, squeeze=False,
                                    figsize=(WIDTH, len(features) * (0.45 * n_rows + 1.5)),
                                    layout="constrained")
        for ax, (feature, table) in zip(axes[:, 0], tables.items(), strict=True):
            reference = REFERENCE[feature]
            labels = ["∞" if np.isinf(level) else f"{level:g}" for level in table.columns]
            mesh = _heatmap(ax, table, limit, xticklabels=labels)
            ax.set(title=feature, xlabel=f"{UNITS[FEATURES[feature][0]]} "
                   f"({'∞' if np.isinf(reference) else f'{reference:g}'} = original utterance)")
        figure.colorbar(mesh, ax=axes[:, 0], shrink=0.8, pad=0.01,
                        label="f(y=k|x) - f(y=k|x~)\n(> 0: the perturbation lowers the "
                              "prediction)")
        figure.suptitle("Prediction difference per level of each paralinguistic perturbation")
    return figure


def plot_global_word_importance(table: pd.DataFrame, top: int = 15):
    """The paper's Fig. 3: per slot, a heatmap of the mean importance (columns ``slot``,
    ``predicted_class``, ``word``, ``importance``, as from
    :func:`speechxai.evaluation.global_importance.average_word_importance`) of the ``top``
    words with the largest mean |importance| over the predicted classes (columns, most
    important first) for each predicted class (rows); blank where a word never occurs with
    that prediction."""
    missing = sorted({"slot", "predicted_class", "word", "importance"} - set(table.columns))
    if missing or table.empty or top < 1:
        raise ValueError(f"need a non-empty table with columns slot, predicted_class, word and "
                         f"importance and top >= 1; missing columns {missing}, top {top}")
    grids = {}
    for slot, rows in table.groupby("slot", sort=False):
        grid = rows.pivot(index="predicted_class", columns="word", values="importance")
        chosen = grid.abs().mean().sort_values(ascending=False, kind="stable").index[:top]
        grids[slot] = grid[chosen]
    limit = symmetric_norm(np.concatenate([np.nan_to_num(g.to_numpy().ravel())
                                           for g in grids.values()]), 100).vmax
    heights = [0.45 * len(grid) + 1.6 for grid in grids.values()]
    with sns.axes_style("white"), sns.plotting_context("notebook"):
        figure, axes = plt.subplots(len(grids), 1, squeeze=False, height_ratios=heights,
                                    figsize=(WIDTH, sum(heights)), layout="constrained")
        for ax, (slot, grid) in zip(axes[:, 0], grids.items(), strict=True):
            mesh = _heatmap(ax, grid, limit)
            plt.setp(ax.get_xticklabels(), rotation=40, ha="right", rotation_mode="anchor")
            ax.set(title=f"{slot}: the {grid.shape[1]} words with the largest mean |importance|",
                   xlabel="spoken word", ylabel="predicted class")
        figure.colorbar(mesh, ax=axes[:, 0], shrink=0.8, pad=0.01,
                        label="mean word importance\nfor the predicted class")
    return figure


def _label_at_base(ax, bars) -> None:
    """Each bar's value written just inside its base, clear of the error bar at its end and
    of a reference marker at the paper's value."""
    for bar in bars:
        height = bar.get_height()
        ax.annotate(f"{height:.2f}", (bar.get_x() + bar.get_width() / 2, 0),
                    xytext=(0, 3 if height >= 0 else -3), textcoords="offset points",
                    ha="center", va="bottom" if height >= 0 else "top", fontsize=9)


def plot_aopc(table: pd.DataFrame, reference: pd.DataFrame | None = None):
    """The paper's Table 4 as bars: per slot, the AOPC comprehensiveness (higher is better)
    and sufficiency (lower is better) of the explanations beside the random explainer's
    (mean with its standard deviation over rounds as error bars), from
    :func:`speechxai.evaluation.aopc.aopc_table`; ``reference`` (e.g.
    :data:`speechxai.evaluation.aopc.PAPER_AOPC`) adds the paper's values as markers for
    the slots it shares with ``table``."""
    needed = [f"{m}{suffix}" for m in MEASURES for suffix in ("", "_random", "_random_std")]
    missing = sorted(set(needed) - set(table.columns))
    if missing or table.empty:
        raise ValueError(f"need a non-empty table with columns {', '.join(needed)}; missing "
                         f"{missing}")
    if reference is not None:
        missing = sorted({f"{m}{s}" for m in MEASURES for s in ("", "_random")}
                         - set(reference.columns))
        if missing or not set(reference.index) & set(table.index):
            raise ValueError(f"reference needs the columns of the table (missing {missing}) "
                             f"and at least one of its slots {list(table.index)}")
    positions, width = np.arange(len(table)), 0.38
    better = {"comprehensiveness": "higher", "sufficiency": "lower"}
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook"):
        figure, axes = plt.subplots(1, 2, figsize=(WIDTH, 4.6), sharey=True,
                                    layout="constrained")
        for ax, measure in zip(axes, MEASURES, strict=True):
            for shift, column, label, colour, error in (
                    (-width / 2, measure, "explanation (leave one word out)", "tab:red", None),
                    (width / 2, f"{measure}_random", "random explainer", "0.6",
                     table[f"{measure}_random_std"])):
                bars = ax.bar(positions + shift, table[column], width, yerr=error, capsize=4,
                              color=colour, label=label)
                _label_at_base(ax, bars)
                if reference is not None:
                    paper = reference[column].reindex(table.index)
                    ax.scatter(positions + shift, paper, marker="D", color="black", zorder=3,
                               label=PAPER_LABEL if column == measure else None)
            ax.set_xticks(positions, table.index)
            ax.set(title=f"{measure} ({better[measure]} is better)", xlabel="slot")
        axes[0].set_ylabel("AOPC: mean drop in p(explained class)")
        figure.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center",
                      ncols=3)
        figure.suptitle("Faithfulness of the word-level explanations against a random explainer")
    return figure
