"""Pixel-flipping curves as in Becker et al. (2018/2024), Fig. 3: accuracy against the
fraction of samples set to zero, one panel per task, one line per selection strategy."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

STRATEGY_LABELS = {"random": "random", "amplitude": "amplitude", "lrp": "LRP"}


def plot_flipping_curves(
    fractions,
    curves: dict[str, dict[str, np.ndarray]],
    chance: dict[str, float],
):
    """One panel per task (e.g. ``"digit"``, ``"sex"``) with an accuracy line per
    strategy and the task's chance level dashed in black.

    ``curves[task][strategy]`` is an accuracy curve (n_fractions,) or the 0/1
    correctness (n_fractions, N) of ``speechxai.evaluation.flipping_curve``, averaged
    over inputs. Colours follow the paper: random blue, amplitude orange, LRP green.
    """
    fractions = np.asarray(fractions, dtype=float)
    if np.any(fractions <= 0):
        raise ValueError("fractions must be positive for the log axis")
    missing = set(curves) - set(chance)
    if missing:
        raise ValueError(f"no chance level for task(s) {sorted(missing)}")
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook"):
        figure, axes = plt.subplots(1, len(curves), figsize=(5.5 * len(curves), 4),
                                    squeeze=False, sharey=True, layout="constrained")
        palette = sns.color_palette(n_colors=len(STRATEGY_LABELS))
        colours = dict(zip(STRATEGY_LABELS, palette, strict=True))
        for ax, (task, strategies) in zip(axes[0], curves.items(), strict=True):
            for strategy, accuracy in strategies.items():
                accuracy = np.asarray(accuracy, dtype=float)
                if accuracy.ndim == 2:
                    accuracy = accuracy.mean(axis=1)
                if accuracy.shape != fractions.shape:
                    raise ValueError(f"{task}/{strategy}: {accuracy.shape[0]} accuracies "
                                     f"for {fractions.size} fractions")
                ax.plot(fractions, accuracy, marker="o", markersize=4,
                        color=colours.get(strategy), label=STRATEGY_LABELS.get(strategy, strategy))
            ax.axhline(chance[task], color="black", linestyle="--", label="chance")
            ax.set_xscale("log")
            ax.set(xlabel="fraction of samples set to zero", ylabel="accuracy",
                   title=task, ylim=(0, 1.02))
            ax.legend(loc="lower left")
    return figure
