"""speechxai.explain and speechxai.Explanation: each method against its definition, LRP
through a user's nn.LSTM against the signal-take-all rule, and clear errors."""

import dataclasses
import runpy
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from zennit.composites import LayerMapComposite
from zennit.rules import Epsilon

import speechxai
from speechxai import AttributionError
from speechxai.attribution.explanation import Axis, Explanation, concatenate
from speechxai.attribution.lrp import relevance
from speechxai.attribution.lstm_lrp import lstm_relevance
from speechxai.models import AudioNet
from speechxai.models.deepspeech import ExplicitLSTM

matplotlib.use("Agg")


class Spotter(nn.Module):
    """A user's model: convolution, ReLU, an nn.LSTM over the frames, a linear head."""

    def __init__(self, bias: bool = True, hidden: int = 6):
        super().__init__()
        self.front = nn.Sequential(nn.Conv1d(1, 4, 8, stride=4, bias=bias), nn.ReLU())
        self.lstm = nn.LSTM(4, hidden, batch_first=True, bias=bias)
        self.head = nn.Linear(hidden, 3, bias=bias)

    def forward(self, x):
        outputs, _ = self.lstm(self.front(x).transpose(1, 2))
        return self.head(outputs[:, -1])


@pytest.fixture
def waveforms():
    return torch.randn(2, 1, 64, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


def test_lrp_through_a_users_lstm_conserves_the_explained_output(waveforms):
    torch.manual_seed(0)
    model = Spotter(bias=False).double()
    explanation = speechxai.explain(model, waveforms, target=[0, 2], method="lrp",
                                    epsilon=1e-12, lstm_epsilon=1e-12)
    sums = explanation.values.reshape(2, -1).sum(1)
    np.testing.assert_allclose(sums, explanation.outputs, rtol=1e-6)
    assert np.abs(explanation.values).sum() > 0


class Tagger(Spotter):
    """A per-frame model: the Spotter's head on every LSTM step, (N, T, classes) outputs."""

    def forward(self, x):
        outputs, _ = self.lstm(self.front(x).transpose(1, 2))
        return self.head(outputs)


def test_a_per_frame_model_is_explained_at_one_frame(waveforms):
    torch.manual_seed(3)
    model = Tagger(bias=False).double()
    explained = speechxai.explain(model, waveforms, target=1, method="lrp", frame=5,
                                  epsilon=1e-12, lstm_epsilon=1e-12)
    outputs = model(waveforms).detach()[:, 5, 1].numpy()
    np.testing.assert_allclose(explained.outputs, outputs, rtol=1e-12)
    np.testing.assert_allclose(explained.values.reshape(2, -1).sum(1), outputs, rtol=1e-5)
    # causal: frame 5 of the LSTM sees samples 0 .. 4 * 5 + 7 only (stride 4, kernel 8)
    assert not explained.values[:, :, 28:].any() and explained.values[:, :, :28].any()
    assert explained.frames.tolist() == [5, 5]
    assert explained.output_names == ("class 1 at frame 5", "class 1 at frame 5")
    x = waveforms.clone().requires_grad_()
    (gradient,) = torch.autograd.grad(model(x)[:, -1, 2].sum(), x)
    last = speechxai.explain(model, waveforms, target=2, method="gradient_x_input", frame=-1)
    np.testing.assert_allclose(last.values, (gradient * waveforms).detach().numpy(),
                               rtol=1e-10)
    assert last.frames.tolist() == [model(waveforms).shape[1] - 1] * 2
    with pytest.raises(AttributionError, match="frame=t"):
        speechxai.explain(model, waveforms, target=1, method="saliency")
    with pytest.raises(AttributionError, match="outside the 15 output frames"):
        speechxai.explain(model, waveforms, target=1, method="saliency", frame=15)
    with pytest.raises(AttributionError, match="frame must be an int"):
        speechxai.explain(model, waveforms, target=1, method="saliency", frame=1.5)
    with pytest.raises(AttributionError, match="black box"):
        speechxai.explain(_energy_first_half, waveforms[:, 0], 0, "occlusion", frame=1,
                          sample_rate=8000)


def test_lrp_through_an_lstm_is_the_signal_take_all_rule():
    torch.manual_seed(2)
    lstm = nn.LSTM(3, 5, batch_first=True).double()
    head = nn.Linear(5, 2, bias=False).double()

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm, self.head = lstm, head

        def forward(self, x):
            return self.head(self.lstm(x)[1][0][-1])  # h_n of the last layer

    inputs = torch.randn(1, 4, 3, dtype=torch.float64)
    # the head as LRP-0 (the default composite would give the first linear layer z^B)
    composite = LayerMapComposite([(nn.Linear, Epsilon(1e-12))])
    explained = speechxai.explain(Model(), inputs, target=1, method="lrp", composite=composite,
                                  lstm_epsilon=1e-6)
    with torch.no_grad():
        hidden = lstm(inputs)[0]
    top = torch.zeros_like(hidden)
    top[:, -1] = head.weight[1] * hidden[:, -1]  # LRP-0 of the linear head
    expected = lstm_relevance(ExplicitLSTM.from_lstm(lstm), inputs, top, epsilon=1e-6)
    np.testing.assert_allclose(explained.values, expected.numpy(), rtol=1e-9, atol=1e-12)


def test_lrp_of_a_package_model_equals_its_relevance():
    torch.manual_seed(0)
    model = AudioNet(10, width=0.25).eval()
    inputs = torch.randn(2, 1, 8000)
    explained = speechxai.explain(model, inputs, target=3, method="lrp")
    np.testing.assert_allclose(explained.values, relevance(model, inputs, 3).values,
                               rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("layer, name", [
    (nn.GRU(4, 4, batch_first=True), "GRU"),
    (nn.LayerNorm(4), "LayerNorm"),
    (nn.LSTM(4, 4, batch_first=True, bidirectional=True), "bidirectional"),
])
def test_a_layer_without_an_lrp_rule_is_named(layer, name, waveforms):
    model = nn.Sequential(nn.Conv1d(1, 4, 8, stride=4), nn.Flatten(1), nn.Linear(60, 3))
    model.add_module("extra", layer)
    with pytest.raises(AttributionError, match=name):
        speechxai.explain(model.double(), waveforms, target=0, method="lrp")


def test_a_batchnorm_that_cannot_be_merged_is_named(waveforms):
    model = nn.Sequential(nn.Conv1d(1, 4, 8, stride=4), nn.ReLU(), nn.BatchNorm1d(4),
                          nn.Flatten(1), nn.Linear(60, 3)).double().eval()
    with pytest.raises(AttributionError, match=r"'2' \(BatchNorm1d\)"):
        speechxai.explain(model, waveforms, target=0, method="lrp")
    model = nn.Sequential(nn.Conv1d(1, 4, 8, stride=4), nn.BatchNorm1d(4), nn.ReLU(),
                          nn.Flatten(1), nn.Linear(60, 3)).double().eval()
    assert speechxai.explain(model, waveforms, target=0, method="lrp").values.shape == (2, 1, 64)


def _linear():
    torch.manual_seed(4)
    return nn.Sequential(nn.Flatten(1), nn.Linear(64, 3)).double()


def test_gradient_methods_match_their_definitions(waveforms):
    model = _linear()
    weight = model[1].weight.detach()[1].reshape(1, 64).numpy()
    saliency = speechxai.explain(model, waveforms, 1, "saliency")
    np.testing.assert_allclose(saliency.values, np.abs(np.broadcast_to(weight, (2, 1, 64))))
    times_input = speechxai.explain(model, waveforms, 1, "gradient_x_input")
    np.testing.assert_allclose(times_input.values, waveforms.numpy() * weight, rtol=1e-9)
    integrated = speechxai.explain(model, waveforms, 1, "integrated_gradients", n_steps=8)
    np.testing.assert_allclose(integrated.values.reshape(2, -1).sum(1),
                               integrated.outputs - integrated.base_values, rtol=1e-6)
    # shap's GradientExplainer samples in float32
    shap = speechxai.explain(model.float(), waveforms.float(), 1, "shap",
                             background=torch.zeros(1, 1, 64))
    np.testing.assert_allclose(shap.values, waveforms.numpy() * weight, rtol=1e-4, atol=1e-6)
    model.double()
    occlusion = speechxai.explain(model, waveforms, 1, "occlusion", window=(1, 1))
    np.testing.assert_allclose(occlusion.values, waveforms.numpy() * weight, rtol=1e-6,
                               atol=1e-9)


def test_a_model_in_training_mode_is_explained_in_eval_mode_and_left_as_it_was(waveforms):
    model = nn.Sequential(nn.Flatten(1), nn.Dropout(0.9), nn.Linear(64, 3)).double().train()
    explained = speechxai.explain(model, waveforms, 0, "gradient_x_input")
    assert model.training
    with torch.no_grad():
        np.testing.assert_allclose(explained.outputs, model.eval()(waveforms)[:, 0].numpy())


def test_the_default_target_is_the_predicted_class(waveforms):
    model = Spotter().double()
    explained = speechxai.explain(model, waveforms, method="saliency")
    with torch.no_grad():
        np.testing.assert_array_equal(explained.targets, model(waveforms).argmax(1).numpy())


def _energy_first_half(waveforms):
    """A black box: the probability of class 1 rises with the energy of the first half."""
    energy = torch.stack([w[: len(w) // 2].pow(2).mean() for w in waveforms])
    first = torch.sigmoid(10 * (energy - 0.5))
    return torch.stack([1 - first, first], 1).numpy()


def test_black_box_occlusion_and_shap_find_the_segments_the_model_uses():
    signal = torch.ones(1, 800) * 1.2
    occluded = speechxai.explain(_energy_first_half, signal, 1, "occlusion", sample_rate=8000,
                                 segment=0.01)
    values = occluded.values[0]
    assert values[:400].min() > 0 and np.abs(values[400:]).max() == 0
    assert occluded.axes[0].name == "time"
    assert occluded.axes[0].coords[-1] == pytest.approx(799 / 8000)
    shap = speechxai.explain(_energy_first_half, signal, 1, "shap", sample_rate=8000,
                             segment=0.01, n_samples=5)
    # Shapley sampling is efficient for every permutation: the values add up exactly
    segment_values = shap.values[0][::80]
    assert segment_values.sum() == pytest.approx(shap.outputs[0] - shap.base_values[0])
    assert shap.values[0][400:].max() == 0
    again = speechxai.explain(_energy_first_half, signal, 1, "shap", sample_rate=8000,
                              segment=0.01, n_samples=5)
    np.testing.assert_array_equal(shap.values, again.values)


@pytest.mark.parametrize("call, message", [
    (lambda m, x: speechxai.explain(m, x, 0, "deeplift"), "must be one of"),
    (lambda m, x: speechxai.explain(m, x, 0, "lrp", steps=3), "unknown"),
    (lambda m, x: speechxai.explain(m, x, 7, "saliency"), "out of range"),
    (lambda m, x: speechxai.explain(m, x, 0.5, "saliency"), "class indices"),
    (lambda m, x: speechxai.explain(m, x[:, :, :10], 0, "saliency"), "rejected inputs"),
    (lambda m, x: speechxai.explain(_energy_first_half, x[:, 0], 0, "lrp"), "black-box"),
    (lambda m, x: speechxai.explain(_energy_first_half, x[:, 0], 0, "occlusion"), "sample_rate"),
    (lambda m, x: speechxai.explain(m, x, 0, "occlusion", window=(4,)), "one size per"),
    (lambda m, x: speechxai.explain("model", x, 0, "saliency"), "predict_proba callable"),
])
def test_bad_calls_raise_clear_errors(call, message, waveforms):
    with pytest.raises(AttributionError, match=message):
        call(_linear(), waveforms)


@pytest.mark.parametrize("bad", [
    lambda x: x.long(), lambda x: x.numpy().astype(np.int16), lambda x: x.to(torch.complex64),
    lambda x: x.index_fill(2, torch.tensor([3]), float("nan")),
])
def test_bad_samples_are_audio_errors(bad, waveforms):
    with pytest.raises(speechxai.AudioError, match="floating-point|NaN"):
        speechxai.explain(_linear(), bad(waveforms), 0, "saliency")


def test_explanation_frame_plot_play_and_selection():
    values = np.arange(12.0).reshape(2, 6) - 5
    waveform = Explanation(values, np.ones((2, 6)), "lrp", targets=[1, 0], sample_rate=6,
                           axes=(Axis("time", "s", np.arange(6) / 6),))
    frame = waveform.to_frame()
    assert len(frame) == 12 and list(frame.columns) == [
        "output", "output_name", "target", "method", "time", "value", "data"]
    assert frame.loc[7, "value"] == values[1, 1] and frame.loc[7, "output_name"] == "class 0"
    figure = waveform.plot(1)
    assert figure.axes[0].get_xlabel() == "time (s)"
    audio = waveform.play(1)
    assert audio.data[:4] == b"RIFF" and int.from_bytes(audio.data[24:28], "little") == 6
    assert waveform[1].targets.tolist() == [0] and len(concatenate([waveform, waveform])) == 4

    words = Explanation(np.array([[0.3, -0.1]]), np.zeros((1, 2)), "occlusion",
                        axes=(Axis("word", "", np.array(["turn", "on"])),))
    assert [t.get_text() for t in words.plot().axes[0].get_xticklabels()] == ["turn", "on"]
    with pytest.raises(AttributionError, match="needs an explanation of a waveform"):
        words.play()
    grid = Explanation(np.ones((1, 3, 4)), np.ones((1, 3, 4)), "saliency")
    assert grid.plot().axes[0].get_ylabel() == "dim 1"
    with pytest.raises(AttributionError, match="one coordinate per position"):
        Explanation(np.ones((1, 3)), np.ones((1, 3)), "x", axes=(Axis("t", "s", [0, 1]),))
    with pytest.raises(AttributionError, match="one or two feature axes"):
        Explanation(np.ones((1, 2, 2, 2)), np.ones((1, 2, 2, 2)), "x").plot()


def test_the_books_relevance_figures_and_players_take_an_explanation(monkeypatch):
    from speechxai.display import audible
    from speechxai.display import relevance as figures

    torch.manual_seed(0)
    model = AudioNet(10, width=0.25).eval()
    signals = 0.1 * torch.randn(2, 1, 8000)
    explained = speechxai.explain(model, signals, target=3, method="lrp", sample_rate=8000)
    data, values, rate = explained.waveform()
    np.testing.assert_array_equal(data, signals[0, 0].double().numpy())
    assert rate == 8000 and values.shape == (8000,)
    figure = figures.plot_waveform_relevance(explained)
    drawn = figure.axes[0].collections[0].get_array()  # the line's segments, coloured by R
    np.testing.assert_allclose(drawn, (values[:-1] + values[1:]) / 2)
    monkeypatch.setattr("IPython.display.display", lambda *objects: None)
    by_explanation = audible.show_audible_explanations(explained, title="x")
    by_arrays = audible.show_audible_explanations(data, values, rate, "x")
    for label, sound in by_arrays.items():
        np.testing.assert_array_equal(by_explanation[label], sound)
    maps = Explanation(np.arange(12.0).reshape(1, 3, 4) - 6, np.zeros((1, 3, 4)), "lrp",
                       axes=(Axis("frequency", "Hz", [0, 100, 200]),
                             Axis("time", "s", [0.0, 0.1, 0.2, 0.3])))
    figure = figures.plot_spectrogram_relevance(np.zeros((3, 4)), {"digit": maps})
    image = figure.axes[1].images[0]
    np.testing.assert_array_equal(image.get_array(), maps.values[0])
    assert image.get_extent() == [0.0, 0.3, 0, 200]
    with pytest.raises(AttributionError, match="explanation of a waveform"):
        figures.plot_waveform_relevance(maps)
    with pytest.raises(AttributionError, match="two axes"):
        figures.plot_spectrogram_relevance(np.zeros((3, 4)), {"digit": explained})
    with pytest.raises(ValueError, match="frequencies and times"):
        figures.plot_spectrogram_relevance(np.zeros((3, 4)), {"digit": np.zeros((3, 4))})


def test_the_example_explains_a_user_model_with_an_lstm(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    example = Path(__file__).parents[1] / "examples" / "explain_your_own_model.py"
    explanations = runpy.run_path(str(example), run_name="example")["main"]()
    assert set(explanations) >= {"saliency", "lrp", "shap", "occlusion", "black-box occlusion"}
    assert (tmp_path / "explain_your_own_model.png").stat().st_size > 10_000
    assert "LRP through the LSTM" in capsys.readouterr().out


def plain(explanation: Explanation) -> Explanation:
    """The base-class Explanation of ``explanation``'s fields (what pooling code may hold)."""
    return Explanation(**{f.name: getattr(explanation, f.name)
                          for f in dataclasses.fields(Explanation)})


def test_word_paralinguistic_and_navai_results_are_explanations():
    from speechxai.attribution.navai import navai
    from speechxai.attribution.occlusion import WordImportance
    from speechxai.attribution.paralinguistic import ParalinguisticImportance

    words = WordImportance.of(("turn", "on", "lights"), {"action": 1, "object": 4},
                              np.array([[0.6, 0.1, 0.0], [0.0, -0.2, 0.7]]))
    assert isinstance(words, Explanation)
    assert words.output_names == ("action=1", "object=4") and words.targets.tolist() == [1, 4]
    assert words.axes[0].coords.tolist() == ["turn", "on", "lights"]
    np.testing.assert_array_equal(words.values, words.scores)
    assert np.isnan(words.data).all()  # a word is removed, not scaled
    assert [t.get_text() for t in words.plot(1).axes[0].get_xticklabels()] == [
        "turn", "on", "lights"]
    assert words[1].slots == ("object",) and words[1].top_word("object") == 2

    paralinguistic = ParalinguisticImportance.of(
        {"label": 0}, {"label": 0.9}, (("pitch_up", 2.0), ("noise", 10.0)),
        {"label": np.array([0.3, -0.1])})
    assert isinstance(paralinguistic, Explanation)
    assert paralinguistic.axes[0].coords.tolist() == ["pitch_up 2", "noise 10"]
    assert paralinguistic.outputs.tolist() == [0.9]
    assert paralinguistic.values.tolist() == [[0.3, -0.1]]

    rng = np.random.default_rng(0)
    windows = rng.standard_normal((12, 4, 7))
    maps = navai(windows, list("abcabcabcabc"))
    assert isinstance(maps, Explanation)
    assert maps.values.shape == (3, 4, 7) and maps.output_names[0] == "'a' (4 windows)"
    assert maps.axes[1].coords.tolist() == [-3, -2, -1, 0, 1, 2, 3]
    assert maps[2].letters == ["c"] and maps[2].counts.tolist() == [4]
    in_hz = maps.with_frequencies(np.array([100.0, 200.0, 300.0, 400.0]))
    assert in_hz.plot(2).axes[0].get_ylabel() == "frequency (Hz)"
    np.testing.assert_array_equal(in_hz.maps, maps.maps)


def test_the_word_level_figures_take_any_explanation_of_their_method():
    from speechxai.attribution.occlusion import WordImportance
    from speechxai.attribution.paralinguistic import ParalinguisticImportance
    from speechxai.display import plot_paralinguistic_levels, plot_word_importance

    words = WordImportance.of(("one", "two", "one"), {"action": 1, "object": 4},
                              np.array([[0.6, 0.1, 0.0], [0.0, -0.2, 0.7]]))
    again = WordImportance.from_explanation(plain(words))
    assert again.slots == words.slots and again.slot_targets == words.slot_targets
    assert again.words == ("one", "two", "one (3)")  # a repeated word keeps its label
    np.testing.assert_array_equal(again.scores, words.scores)
    waveform, spans = np.zeros(3000, dtype=np.float32), [(0, 1000), (1000, 2000), (2000, 3000)]
    by_result = plot_word_importance(waveform, 8000, spans, words)
    by_explanation = plot_word_importance(waveform, 8000, spans, plain(words))
    titles = [[ax.get_title(loc="left") for ax in f.axes[:2]] for f in (by_result, by_explanation)]
    assert titles[0] == titles[1] and titles[0][1].startswith("object = 4")

    paralinguistic = ParalinguisticImportance.of(
        {"label": 0, "sex": 1}, {"label": 0.9, "sex": 0.6},
        (("pitch_up", 2.0), ("stretch_down", 0.55), ("noise", 10.0)),
        {"label": np.array([0.3, -0.1, 0.2]), "sex": np.array([0.0, 0.1, -0.4])})
    again = ParalinguisticImportance.from_explanation(plain(paralinguistic))
    assert again.variants == paralinguistic.variants
    assert again.slot_targets == paralinguistic.slot_targets
    assert again.probabilities == pytest.approx(paralinguistic.probabilities)
    for slot in ("label", "sex"):
        np.testing.assert_array_equal(again.differences[slot], paralinguistic.differences[slot])
        pd.testing.assert_frame_equal(again.levels_table("pitch"),
                                      paralinguistic.levels_table("pitch"))
    figure = plot_paralinguistic_levels(plain(paralinguistic))
    assert [ax.get_title() for ax in figure.axes[:3]] == ["pitch", "stretch", "noise"]
    with pytest.raises(AttributionError, match="not a paralinguistic explanation"):
        ParalinguisticImportance.from_explanation(words)
    with pytest.raises(AttributionError, match="not a leave-one-word-out explanation"):
        WordImportance.from_explanation(paralinguistic)
