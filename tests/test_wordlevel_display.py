"""Figures of the word-level chapter (Pastor et al., 2024) and the global word importance, on
hand-made explanations whose right picture is known."""

from __future__ import annotations

import math
from dataclasses import replace

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.collections import PathCollection
from matplotlib.container import BarContainer

from speechxai.attribution.occlusion import WordImportance
from speechxai.attribution.paralinguistic import (
    ParalinguisticImportance,
    paralinguistic_importance,
)
from speechxai.datasets.sequences import slot_classes
from speechxai.display import (
    plot_alignment,
    plot_aopc,
    plot_global_word_importance,
    plot_paralinguistic_levels,
    plot_word_importance,
)
from speechxai.evaluation.aopc import PAPER_AOPC
from speechxai.evaluation.global_importance import (
    average_paralinguistic,
    average_word_importance,
    normalized_word,
    strongest_words,
)

matplotlib.use("Agg")

RATE = 8000
SLOTS = ("action", "object", "location")
CLASSES = {slot: slot_classes(slot) for slot in SLOTS}
WORDS = ("Turn", "up", "the", "bedroom", "heat")
BOUNDARIES = [(800, 2400), (2800, 4000), (4400, 5200), (5600, 8000), (8400, 10400)]
SCORES = np.array([[0.05, 0.60, -0.02, -0.10, 0.01],    # action: "up" decides
                   [0.00, -0.05, 0.01, 0.20, 0.45],     # object: "heat"
                   [-0.30, 0.02, 0.00, 0.55, 0.10]])    # location: "bedroom"
TARGETS = {"action": 0, "object": 2, "location": 1}  # increase, heating, bedroom


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def waveform(seconds: float = 1.4) -> np.ndarray:
    return np.random.default_rng(0).normal(0, 0.1, round(seconds * RATE)).astype(np.float32)


def explanation(scores: np.ndarray = SCORES, words=WORDS) -> WordImportance:
    return WordImportance.of(tuple(words), dict(TARGETS), scores)


def redness(patch) -> float:
    red, _, blue, _ = patch.get_facecolor()
    return red - blue


def test_word_importance_has_a_row_per_slot_shaded_by_relevance():
    figure = plot_word_importance(waveform(), RATE, BOUNDARIES, explanation(), CLASSES)
    rows = [ax for ax in figure.axes if ax.get_title(loc="left")]
    assert len(rows) == 3 and len(figure.axes) == 4  # three slots and one colour bar
    for ax, slot, scores in zip(rows, SLOTS, SCORES, strict=True):
        assert f"{slot} = {CLASSES[slot][TARGETS[slot]]}" in ax.get_title(loc="left")
        spans = ax.patches
        assert len(spans) == len(WORDS)
        reddest = max(range(len(spans)), key=lambda i: redness(spans[i]))
        bluest = min(range(len(spans)), key=lambda i: redness(spans[i]))
        assert reddest == explanation().top_word(slot) and bluest == int(np.argmin(scores))
        assert spans[1].get_x() == pytest.approx(BOUNDARIES[1][0] / RATE)
        assert [text.get_text() for text in ax.texts] == [
            f"{word}\n{score:+.2f}" for word, score in zip(WORDS, scores, strict=True)]
    assert rows[-1].get_xlabel() == "time (s)"
    colour_bar = figure.axes[-1]
    limits = colour_bar.get_ylim()
    assert limits[0] == pytest.approx(-limits[1]) and limits[1] == pytest.approx(0.6)
    assert "r(x_i)" in colour_bar.get_ylabel()


def test_word_importance_without_names_shows_class_indices():
    figure = plot_word_importance(torch.as_tensor(waveform()), RATE, BOUNDARIES, explanation())
    assert figure.axes[0].get_title(loc="left").startswith("action = 0:")


def test_word_importance_rejects_mismatched_boundaries():
    with pytest.raises(ValueError, match="4 boundaries for the 5 words"):
        plot_word_importance(waveform(), RATE, BOUNDARIES[:4], explanation(), CLASSES)
    with pytest.raises(ValueError, match="overlaps"):
        plot_word_importance(waveform(), RATE, [(0, 3000)] + BOUNDARIES[1:], explanation())


def test_alignment_shows_both_spans_and_the_mean_error():
    forced = [(start + 160, end - 80) for start, end in BOUNDARIES]  # 20 ms late, 10 ms early
    figure = plot_alignment(waveform(), RATE, WORDS, BOUNDARIES, forced)
    ax = figure.axes[0]
    assert "mean boundary error 15 ms over 5 words" in ax.get_title()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["true word span",
                                                                   "forced alignment"]
    true_spans, forced_spans = ax.patches[::2], ax.patches[1::2]
    assert {p.get_linestyle() for p in true_spans} == {"solid"}
    assert {p.get_linestyle() for p in forced_spans} == {"--"}
    assert true_spans[0].get_fill() and not forced_spans[0].get_fill()
    assert forced_spans[0].get_x() == pytest.approx(960 / RATE)
    assert [t.get_text() for t in ax.texts] == list(WORDS)
    with pytest.raises(ValueError, match="one true and one forced span per word"):
        plot_alignment(waveform(), RATE, WORDS, BOUNDARIES, forced[:4])


def synthetic_paralinguistic() -> ParalinguisticImportance:
    variants = (("pitch_down", -1.0), ("pitch_up", 1.0), ("stretch_down", 0.6),
                ("stretch_up", 1.2), ("reverb", 3.0), ("reverb", 7.0), ("noise", 10.0),
                ("noise", 0.1))
    rng = np.random.default_rng(3)
    return ParalinguisticImportance.of(
        dict(TARGETS), {slot: 0.9 for slot in SLOTS}, variants,
        {slot: rng.uniform(-0.3, 0.8, len(variants)) for slot in SLOTS})


def heatmaps(figure):
    return [ax for ax in figure.axes if ax.get_title()]


def test_paralinguistic_levels_show_the_levels_tables():
    importance = synthetic_paralinguistic()
    figure = plot_paralinguistic_levels(importance, CLASSES)
    panels = heatmaps(figure)
    assert [ax.get_title() for ax in panels] == ["pitch", "stretch", "reverb", "noise"]
    assert len(figure.axes) == 5  # and one shared colour bar
    limit = max(np.abs(d).max() for d in importance.differences.values())
    for ax in panels:
        table = importance.levels_table(ax.get_title(), CLASSES)
        mesh = ax.collections[0]
        np.testing.assert_allclose(mesh.get_array().reshape(table.shape), table.to_numpy())
        assert (mesh.norm.vmin, mesh.norm.vmax) == pytest.approx((-limit, limit))
        assert [t.get_text() for t in ax.get_yticklabels()] == [
            "action=increase", "object=heating", "location=bedroom"]
        assert len(ax.texts) == table.size  # annotated cells
    assert panels[1].get_xlabel() == "duration factor (1 = original utterance)"
    assert panels[3].get_xlabel() == "SNR in dB (∞ = original utterance)"
    assert [t.get_text() for t in panels[3].get_xticklabels()] == ["∞", "10", "0.1"]


def test_paralinguistic_levels_of_a_real_explanation_with_two_families():
    t = torch.arange(RATE // 2) / RATE
    signal = 0.5 * torch.sin(2 * math.pi * 440 * t)

    def predict_proba(waveforms):  # p(loud) rises with the RMS
        p = torch.stack([torch.sigmoid(20 * (w.pow(2).mean().sqrt() - 0.3)) for w in waveforms])
        return torch.stack([1 - p, p], dim=1)

    importance = paralinguistic_importance(predict_proba, signal, RATE, ("reverb", "noise"))
    figure = plot_paralinguistic_levels(importance)
    panels = heatmaps(figure)
    assert [ax.get_title() for ax in panels] == ["reverb", "noise"]
    for ax in panels:
        table = importance.levels_table(ax.get_title())
        np.testing.assert_allclose(ax.collections[0].get_array().reshape(table.shape),
                                   table.to_numpy())
    assert panels[0].get_xlabel() == "room edge in m (0 = original utterance)"


def test_average_word_importance_by_predicted_class():
    first = explanation()
    second = WordImportance.of(("UP,", "the", "kitchen", "?"), dict(TARGETS),
                               np.array([[0.40, 0.0, 0.1, 0.3], [0.0, 0.1, 0.1, 0.3],
                                         [0.0, 0.0, 0.8, 0.3]]))
    other = WordImportance.of(("up",), {"action": 2}, np.array([[-0.2]]))
    table = average_word_importance([first, second, other], CLASSES)
    assert list(table.columns) == ["slot", "predicted_class", "word", "importance", "count"]
    assert normalized_word("UP,") == "up" and "?" not in set(table["word"])
    by_key = table.set_index(["slot", "predicted_class", "word"])
    assert by_key.loc[("action", "increase", "up"), "importance"] == pytest.approx(0.5)
    assert by_key.loc[("action", "increase", "up"), "count"] == 2
    assert by_key.loc[("action", "toggle", "up"), "importance"] == pytest.approx(-0.2)
    assert by_key.loc[("location", "bedroom", "kitchen"), "importance"] == pytest.approx(0.8)
    assert list(dict.fromkeys(table["slot"])) == list(SLOTS)
    assert set(average_word_importance([first])["predicted_class"]) == {0, 1, 2}
    with pytest.raises(ValueError, match="empty"):
        average_word_importance([])


def test_global_word_importance_keeps_the_top_words_per_slot():
    rng = np.random.default_rng(5)
    words = [f"w{i:02d}" for i in range(20)]
    rows = [("action", name, word, value) for name in ("increase", "decrease")
            for word, value in zip(words, rng.uniform(-1, 1, 20), strict=True)]
    rows += [("object", "lamp", "lamp", 0.9), ("object", "music", "lamp", -0.1),
             ("object", "music", "music", 0.7)]
    table = pd.DataFrame(rows, columns=["slot", "predicted_class", "word", "importance"])
    figure = plot_global_word_importance(table, top=15)
    action, object_ = heatmaps(figure)
    pivot = table[table.slot == "action"].pivot(index="predicted_class", columns="word",
                                                values="importance")
    expected = pivot.abs().mean().sort_values(ascending=False).index[:15]
    assert [t.get_text() for t in action.get_xticklabels()] == list(expected)
    np.testing.assert_allclose(action.collections[0].get_array().reshape(2, 15),
                               pivot[expected].to_numpy())
    # mean |importance| over the classes a word occurs with: music 0.7, lamp (0.9 + 0.1) / 2
    assert [t.get_text() for t in object_.get_xticklabels()] == ["music", "lamp"]
    grid = np.ma.getdata(object_.collections[0].get_array()).reshape(2, 2)
    assert np.isnan(grid[0, 0]) and grid[0, 1] == pytest.approx(0.9)  # no "music" for lamp
    assert action.get_ylabel() == "predicted class" and len(figure.axes) == 3
    with pytest.raises(ValueError, match="importance"):
        plot_global_word_importance(table.drop(columns="importance"))


def test_aopc_bars_match_the_table_and_mark_the_paper():
    table = PAPER_AOPC.copy()
    table[["comprehensiveness", "sufficiency"]] += 0.05
    figure = plot_aopc(table, PAPER_AOPC)
    panels = figure.axes
    assert [ax.get_title() for ax in panels] == ["comprehensiveness (higher is better)",
                                                 "sufficiency (lower is better)"]
    for ax, measure in zip(panels, ("comprehensiveness", "sufficiency"), strict=True):
        explained, random = [c for c in ax.containers if isinstance(c, BarContainer)]
        np.testing.assert_allclose([bar.get_height() for bar in explained], table[measure])
        np.testing.assert_allclose([bar.get_height() for bar in random],
                                   table[f"{measure}_random"])
        segments = random.errorbar.lines[2][0].get_segments()
        np.testing.assert_allclose([s[1, 1] - s[0, 1] for s in segments],
                                   2 * table[f"{measure}_random_std"])
        paper, paper_random = [c for c in ax.collections if isinstance(c, PathCollection)]
        np.testing.assert_allclose(paper.get_offsets()[:, 1], PAPER_AOPC[measure])
        np.testing.assert_allclose(paper_random.get_offsets()[:, 1],
                                   PAPER_AOPC[f"{measure}_random"])
        assert paper.get_label() == "paper (wav2vec 2.0, FSC)"
        # every bar's value at its base, away from the paper's markers at the values' heights
        assert [t.get_text() for t in ax.texts] == [
            f"{v:.2f}" for v in (*table[measure], *table[f"{measure}_random"])]
        assert {t.xy[1] for t in ax.texts} == {0}
    labels = [t.get_text() for t in figure.legends[0].get_texts()]
    assert "paper (wav2vec 2.0, FSC)" in labels
    assert [t.get_text() for t in panels[0].get_xticklabels()] == list(SLOTS)
    with pytest.raises(ValueError, match="sufficiency_random_std"):
        plot_aopc(table.drop(columns="sufficiency_random_std"))
    with pytest.raises(ValueError, match="at least one of its slots"):
        plot_aopc(table, PAPER_AOPC.rename(index=str.upper))


def test_average_paralinguistic_is_the_mean_table_over_utterances():
    first = synthetic_paralinguistic()
    second = replace(first, values=3 * first.values)
    average = average_paralinguistic([first, second])
    expected = 2 * first.table().drop(columns=["target", "probability"])
    pd.testing.assert_frame_equal(average, expected.astype(float))
    assert list(average.index) == list(first.slot_targets)
    with pytest.raises(ValueError, match="empty"):
        average_paralinguistic([])


def test_strongest_words_name_each_class_s_most_important_word():
    table = pd.DataFrame({
        "slot": ["action"] * 4 + ["object"] * 2,
        "predicted_class": ["increase", "increase", "decrease", "decrease", "lamp", "lamp"],
        "word": ["zero", "nine", "one", "nine", "three", "nine"],
        "importance": [0.9, 0.1, 0.02, 0.05, 0.7, -0.1],
    })
    best = strongest_words(table)
    assert best.loc[("action", "increase")].tolist() == ["zero", 0.9]
    assert best.loc[("action", "decrease")].tolist() == ["nine", 0.05]  # a default class
    assert best.loc[("object", "lamp"), "word"] == "three" and len(best) == 3
    with pytest.raises(ValueError, match="missing columns"):
        strongest_words(table.drop(columns="word"))
