"""NAvAI figures: labelled frequency axes in Hz, one panel per neuron / window / letter."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from speechxai.attribution.actmax import activation_maximisation
from speechxai.attribution.navai import lrp_bn_rule, navai_grid, sensitivity
from speechxai.display.navai import (
    plot_activation_maximisation,
    plot_letter_windows,
    plot_navai_grid,
)
from speechxai.features import log_mel_frequencies
from speechxai.models import Wav2Letter
from speechxai.models.wav2letter import receptive_field

FREQUENCIES = log_mel_frequencies()


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_activation_maximisation_panels():
    rng = np.random.default_rng(0)
    figure = plot_activation_maximisation(
        {"layer 1": rng.normal(size=(128, 9)), "output 'a'": rng.normal(size=(128, 9))},
        FREQUENCIES)
    panels = [ax for ax in figure.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["layer 1", "output 'a'"]
    assert panels[0].get_ylabel() == "frequency (Hz)"
    assert "1000" in [t.get_text() for t in panels[0].get_yticklabels()]


def test_activation_maximisation_panels_take_the_optimised_inputs():
    model = Wav2Letter(channels=[8, 8], kernels=[5, 5], strides=[1, 1]).eval()
    results = {"layer 1": activation_maximisation(model, 0, 0, steps=2),
               "output 'a'": activation_maximisation(model, -1, 1, steps=2)}
    figure = plot_activation_maximisation(results, FREQUENCIES)
    panels = [ax for ax in figure.axes if ax.get_title()]
    np.testing.assert_array_equal(panels[1].images[0].get_array(),
                                  results["output 'a'"].values[0])


def test_letter_windows_show_input_sensitivity_and_lrp():
    rng = np.random.default_rng(1)
    windows = rng.normal(size=(2, 128, 9))
    figure = plot_letter_windows(windows, -windows, windows * 2, "e", FREQUENCIES)
    titles = [ax.get_title() for ax in figure.axes if ax.get_title()]
    assert len(titles) == 6 and titles[2] == "'e' window 1: LRP"
    relevance_image = figure.axes[2 * 2].images[0]
    assert relevance_image.norm.vmin == -relevance_image.norm.vmax  # centred at zero


def test_letter_windows_take_the_explanations_of_the_windows():
    torch.manual_seed(0)
    model = Wav2Letter(channels=[8, 8], kernels=[5, 5], strides=[1, 1]).eval()
    windows = torch.randn(2, model.layers[0].in_channels, receptive_field(model))
    sensitivities = sensitivity(model, windows, ["e", "e"])
    relevances = lrp_bn_rule(model, windows, ["e", "e"])
    assert windows.shape[1] == len(FREQUENCIES)
    figure = plot_letter_windows(None, sensitivities, relevances, "e", FREQUENCIES)
    panels = [ax for ax in figure.axes if ax.get_title()]
    assert panels[2].get_title() == "'e' window 1: lrp (BatchNorm sign rule)"
    np.testing.assert_array_equal(panels[0].images[0].get_array(), windows[0].numpy())
    np.testing.assert_array_equal(panels[1].images[0].get_array(), sensitivities.values[0])
    np.testing.assert_array_equal(panels[5].images[0].get_array(), relevances.values[1])
    with pytest.raises(ValueError, match="windows"):
        plot_letter_windows(None, windows.numpy(), windows.numpy(), "e", FREQUENCIES)


def test_navai_grid_has_a_row_per_letter_and_a_column_per_alignment():
    rng = np.random.default_rng(2)
    windows = rng.normal(size=(6, 128, 9))
    letters = ["a", "b", "a", "b", "c", "c"]
    grid = navai_grid(windows, letters, rng.normal(size=windows.shape),
                      rng.normal(size=windows.shape))
    figure = plot_navai_grid(grid, FREQUENCIES)
    panels = [ax for ax in figure.axes if ax.images]
    assert len(panels) == 3 * len(grid)
    titles = {ax.get_title() for ax in figure.axes if ax.get_title()}
    assert titles == {name.replace("_", " ") for name in grid}
