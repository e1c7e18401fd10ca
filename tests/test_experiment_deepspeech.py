"""The DeepSpeech chapter's study functions on a tiny random recognizer and toy tones."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_ctc_training import toy_items

from speechxai.attribution import Explanation, attribute
from speechxai.attribution.explanation import concatenate
from speechxai.ctc import BLANK
from speechxai.display import plot_deletion_curves
from speechxai.evaluation.curves import curve_area
from speechxai.evaluation.deletion import DEFAULT_FRACTIONS
from speechxai.experiments import deepspeech as study
from speechxai.models import DeepSpeech


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return DeepSpeech(hidden=12).eval()


def test_frame_targets_are_seeded_non_blank_predictions(model):
    windows = study.utterance_windows(toy_items()[2])
    predicted = model(windows).argmax(1)
    targets = study.frame_targets(model, windows, 4, seed=1)
    assert targets == study.frame_targets(model, windows, 4, seed=1)
    assert [f for f, _ in targets] == sorted(f for f, _ in targets)
    for frame, character in targets:
        assert character == predicted[frame] and character != BLANK
    letters = study.frame_targets(model, windows, 100, letters_only=True)
    assert all(1 <= c <= 26 for _, c in letters)


def test_attack_targets_are_other_transcripts():
    items = toy_items()
    targets = study.attack_targets(items, seed=3)
    assert targets == study.attack_targets(items, seed=3)
    assert all(t != i.transcript for t, i in zip(targets, items, strict=True))
    assert set(targets) <= {i.transcript for i in items}


def test_pooled_findings_and_deletion_curves(model):
    items = toy_items()
    background = np.zeros((19, 26))
    explained = study.explain_frames(model, items, 2, ("saliency", "lrp"), background,
                                     progress=False)
    pooled = study.pooled(explained)
    n = sum(len(e.explanations["lrp"]) for e in explained)
    assert len(pooled["lrp"]) == n == len(pooled["saliency"])
    table = study.findings(pooled)
    assert list(table.index) == ["saliency", "lrp"]
    assert ((table["share lowest 10 MFCCs"] >= 0) & (table["share lowest 10 MFCCs"] <= 1)).all()
    curves = study.deletion_study(model, explained, background)
    assert set(curves) == {"saliency", "lrp", "random"}
    assert all(c.shape == (len(DEFAULT_FRACTIONS), n) for c in curves.values())
    np.testing.assert_allclose(curves["lrp"][0], 1.0)  # nothing removed yet
    # the random baseline is the mean of its orders: one order alone is another curve
    one_order = study.deletion_study(model, explained, background, random_orders=1)
    three = study.deletion_study(model, explained, background, random_orders=3)
    assert not np.allclose(one_order["random"], three["random"])
    np.testing.assert_allclose(one_order["lrp"], three["lrp"])
    with pytest.raises(ValueError, match="random_orders"):
        study.deletion_study(model, explained, background, random_orders=0)
    compared = study.deletion_against_random(curves)
    assert list(compared.index) == ["saliency", "lrp", "random"]
    areas = curve_area(DEFAULT_FRACTIONS, curves["lrp"])
    assert compared.loc["lrp", "area"] == pytest.approx(
        curve_area(DEFAULT_FRACTIONS, curves["lrp"].mean(1)))
    assert compared.loc["lrp", "minus random"] == pytest.approx(
        np.mean(areas - curve_area(DEFAULT_FRACTIONS, curves["random"])))
    assert (compared["lo"] <= compared["minus random"]).all()
    assert (compared["minus random"] <= compared["hi"]).all()
    figure = plot_deletion_curves(DEFAULT_FRACTIONS, curves)
    lines = {line.get_label(): line.get_ydata() for line in figure.axes[0].get_lines()}
    np.testing.assert_allclose(lines["lrp"], curves["lrp"].mean(1))  # mean over frames
    assert figure.axes[0].get_legend().get_title().get_text() == f"order ({n} frames)"


def test_concatenate_pools_one_method_and_refuses_two(model):
    windows = study.utterance_windows(toy_items()[0])
    a = attribute(model, windows, [(1, 3), (2, 5)], "saliency")
    b = attribute(model, windows, [(4, 7)], "saliency")
    both = concatenate([a, b])
    assert isinstance(both, Explanation) and len(both) == 3
    np.testing.assert_array_equal(both.frames, [1, 2, 4])
    with pytest.raises(ValueError, match="different methods"):
        concatenate([a, attribute(model, windows, [(4, 7)], "lrp")])


def test_lrp_conservation_is_small_on_the_bias_free_model(model):
    windows = study.utterance_windows(toy_items()[3])
    targets = study.frame_targets(model, windows, 3)
    assert study.lrp_conservation(model, windows, targets) < 1e-2


def test_attribution_profile_has_band_and_position_features(model):
    item = toy_items()[2]
    profile = study.attribution_profile(model, item.waveform, item.sample_rate)
    assert profile.shape == (26 + 19,) and np.isfinite(profile).all()


def test_findings_prose_follows_the_numbers():
    import pandas as pd

    table = pd.DataFrame({
        "share lowest 10 MFCCs": {"saliency": 0.2, "lrp": 0.6, "shap": 0.5},
        "share later half of window": {"saliency": 0.5, "lrp": 0.3, "shap": 0.5},
        "mean |A| letters": {"saliency": 1.0, "lrp": 1.0, "shap": 2.0},
        "mean |A| spaces": {"saliency": 1.0, "lrp": 1.0, "shap": 1.0},
    })
    deletion = pd.DataFrame.from_dict({
        "lrp": {"area": 0.1, "minus random": -0.6, "lo": -0.7, "hi": -0.5},
        "saliency": {"area": 0.72, "minus random": 0.02, "lo": -0.01, "hi": 0.05},
        "shap": {"area": 0.8, "minus random": 0.1, "lo": 0.05, "hi": 0.15},
        "random": {"area": 0.7, "minus random": 0.0, "lo": 0.0, "hi": 0.0}}, orient="index")
    text = study.describe_findings(table, deletion)
    lines = text.splitlines()
    assert "as the paper found" in lines[0] and "**unlike** the paper" in lines[1]
    assert "differently" in lines[2]
    assert "lrp" in lines[3] and ": faster than random" in lines[3]
    assert "saliency" in lines[4] and "no faster than random" in lines[4]
    assert "[-0.010, +0.050]" in lines[4]
    assert "shap" in lines[5] and "slower than random" in lines[5]


def test_the_detectors_control_profiles_the_inputs_not_the_attributions(model):
    from speechxai.experiments.deepspeech import attribution_profile, input_profile

    waveform = 0.1 * torch.randn(8000, generator=torch.Generator().manual_seed(4))
    profile = input_profile(model, waveform, 8000)
    assert profile.shape == (26 + 19 + 1,) and np.isfinite(profile).all()
    assert profile[-1] == pytest.approx(np.log10(float(waveform.double().pow(2).mean())))
    louder = input_profile(model, 2 * waveform, 8000)
    assert louder[-1] == pytest.approx(profile[-1] + np.log10(4))
    assert attribution_profile(model, waveform, 8000).shape == (26 + 19,)


def test_parameter_randomization_of_the_recogniser_covers_three_methods(model):
    from speechxai.experiments.deepspeech import parameter_randomization

    windows = torch.randn(5, 19, 26, dtype=next(model.parameters()).dtype,
                          generator=torch.Generator().manual_seed(2))
    cascades = parameter_randomization(model, windows, [(2, "a"), (4, "o")],
                                       windows.mean(0).double().numpy())
    assert set(cascades) == {"saliency", "lrp", "shap"}
    assert all(len(c) == 8 and c["none"] == 1.0 and c.drop("none").between(-1, 1).all()
               for c in cascades.values())
    assert cascades["saliency"].iloc[-1] < 0.9  # the random weights changed the gradient


def test_adversarial_shares_and_their_prose(model):
    import pandas as pd

    from speechxai.experiments.deepspeech import (
        Attack,
        adversarial_shares,
        describe_shares,
    )

    generator = torch.Generator().manual_seed(6)
    items = toy_items()[2:]
    attacks = [Attack(item, "one", item.waveform + 0.01 * torch.randn(
        item.waveform.shape, generator=generator), True, "one") for item in items]
    background = np.zeros((19, 26))
    shares = adversarial_shares(model, attacks, 3, background)
    assert list(shares.index) == ["saliency", "lrp", "shap"]
    versions = [(where, version) for where in ("first_frames", "high_mfcc")
                for version in ("benign", "adversarial")]
    assert ((shares[versions] >= 0) & (shares[versions] <= 1)).all().all()
    for where in ("first_frames", "high_mfcc"):
        assert np.allclose(shares[where, "minus_benign"],
                           shares[where, "adversarial"] - shares[where, "benign"])
        assert (shares[where, "minus_benign_lo"] <= shares[where, "minus_benign_hi"]).all()

    def row(lo, hi):
        return pd.DataFrame({("first_frames", "benign"): [0.1],
                             ("first_frames", "adversarial"): [0.3],
                             ("high_mfcc", "benign"): [0.2], ("high_mfcc", "adversarial"): [0.1],
                             ("first_frames", "minus_benign"): [0.2],
                             ("first_frames", "minus_benign_lo"): [lo],
                             ("first_frames", "minus_benign_hi"): [hi]}, index=["shap"])

    assert "first frames 0.10 -> 0.30" in describe_shares(row(0.05, 0.3))
    assert "(adversarial minus benign +0.200, 95 % interval [+0.050, +0.300])" in \
        describe_shares(row(0.05, 0.3))
    assert describe_shares(row(0.05, 0.3)).endswith("so it is.")
    assert describe_shares(row(-0.1, 0.3)).endswith("not decided here (the interval holds 0).")
    assert describe_shares(row(-0.3, -0.1)).endswith("less, not more, here.")
    assert describe_shares(row(np.nan, np.nan)).endswith("too few utterances for an interval.")


def test_share_difference_interval_over_utterances():
    """Adversarial minus benign share of pooled |A|, resampled by utterance."""
    from speechxai.experiments.deepspeech import _share_difference_interval

    rng = np.random.default_rng(0)
    total = rng.uniform(1, 2, (2, 12))
    benign_part = 0.2 * total[0] * rng.uniform(0.8, 1.2, 12)
    part = np.stack([benign_part, 0.5 * total[1]])  # every utterance moves to share 0.5
    lo, hi = _share_difference_interval(part, total, 500, seed=0)
    assert 0.25 < lo <= hi < 0.35
    assert _share_difference_interval(part[::-1], total[::-1], 500, seed=0) == \
        pytest.approx((-hi, -lo))
    same = np.stack([benign_part, benign_part])
    assert _share_difference_interval(same, np.stack([total[0], total[0]]), 500, 0) == (0, 0)
    assert np.isnan(_share_difference_interval(part[:, :1], total[:, :1], 500, 0)).all()
