"""The model-parameter randomisation test as a figure (Adebayo et al. 2018, Fig. 2): how much
of each explanation survives when the model's layers are randomised from the output down."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns


def plot_cascading_randomization(cascades: dict[str, dict[str, pd.Series]],
                                 title: str | None = None):
    """One panel per model, one line per method (``model -> method ->``
    :func:`~speechxai.attribution.sanity.cascading_randomization`): the Spearman correlation
    of the method's |attribution| with the trained model's against the layers randomised so
    far, output first. An explanation of the model falls towards 0."""
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook"):
        figure, axes = plt.subplots(1, len(cascades), figsize=(5 * len(cascades), 4),
                                    sharey=True, layout="constrained", squeeze=False)
        for ax, (model, methods) in zip(axes[0], cascades.items(), strict=True):
            for method, cascade in methods.items():
                ax.plot(range(len(cascade)), cascade.to_numpy(), marker="o", label=method)
            layers = next(iter(methods.values())).index
            ax.axhline(0, color="black", linewidth=0.8)
            ax.set_xticks(range(len(layers)), layers, rotation=60, ha="right", fontsize=8)
            ax.set(title=model, xlabel="randomised from the output down to", ylim=(-0.3, 1.05))
            ax.legend(fontsize=8)
        axes[0, 0].set_ylabel("rank correlation with\nthe trained model's |attribution|")
        if title:
            figure.suptitle(title)
    return figure
