"""DeepSpeech attribution through one interface (speechxai.attribution.asr): shapes, saliency
against autograd, LRP against deepspeech_lrp, SHAP's local accuracy and seeding, the
letter background, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from speechxai.attribution import (
    METHODS,
    AttributionError,
    Explanation,
    attribute,
    deepspeech_lrp,
    explain_utterance,
    letter_background,
)
from speechxai.ctc import ALPHABET, BLANK, N_CLASSES
from speechxai.errors import AudioError
from speechxai.models import DeepSpeech

FRAMES = 5
TARGETS = [(1, "a"), (4, BLANK), (2, 0)]


@pytest.fixture(scope="module")
def model() -> DeepSpeech:
    torch.manual_seed(0)
    return DeepSpeech(hidden=8).double()


@pytest.fixture(scope="module")
def windows() -> torch.Tensor:
    return 5 * torch.randn(FRAMES, 19, 26, dtype=torch.float64,
                           generator=torch.Generator().manual_seed(1))


def replaced(windows: torch.Tensor, frame: int, window) -> torch.Tensor:
    """``windows`` with frame ``frame``'s window replaced."""
    result = windows.clone()
    result[frame] = torch.as_tensor(window, dtype=windows.dtype)
    return result


@pytest.mark.parametrize("method", METHODS)
def test_every_method_explains_each_target_by_its_own_window(model, windows, method):
    explanation = attribute(model, windows, TARGETS, method)
    frames, targets = [1, 4, 2], [ALPHABET.index("a"), BLANK, 0]
    assert isinstance(explanation, Explanation) and explanation.method == method
    assert len(explanation) == 3 and explanation.values.shape == (3, 19, 26)
    assert explanation.base_values.shape == (3,)
    np.testing.assert_array_equal(explanation.frames, frames)
    np.testing.assert_array_equal(explanation.targets, targets)
    np.testing.assert_array_equal(explanation.data, windows[frames].numpy())
    with torch.no_grad():
        logits = model(windows)
        if method == "saliency":  # the character's probability, the paper's S
            logits = logits.softmax(-1)
        expected = logits[frames, targets].numpy()
    np.testing.assert_allclose(explanation.outputs, expected, rtol=1e-12)
    assert np.isfinite(explanation.values).all() and np.abs(explanation.values).sum() > 0


def test_one_pair_gives_one_explanation(model, windows):
    explanation = attribute(model, windows, (3, "b"), "saliency")
    assert explanation.values.shape == (1, 19, 26)
    assert explanation.frames.tolist() == [3] and explanation.targets.tolist() == [2]


@pytest.mark.parametrize("output", ["probability", "logit"])
def test_saliency_is_the_absolute_gradient_through_the_whole_model(model, windows, output):
    explanation = attribute(model, windows, TARGETS, "saliency", output=output)
    for n, (frame, character) in enumerate(zip(explanation.frames, explanation.targets,
                                               strict=True)):
        inputs = windows.clone().requires_grad_()
        outputs = model(inputs)
        if output == "probability":
            outputs = outputs.softmax(-1)
        outputs[frame, character].backward()
        np.testing.assert_allclose(explanation.values[n], inputs.grad[frame].abs().numpy(),
                                   rtol=1e-10, atol=1e-14)
    assert np.isnan(explanation.base_values).all()
    with pytest.raises(AttributionError, match="output must be one of"):
        attribute(model, windows, TARGETS, "saliency", output="softmax")


def test_lrp_is_the_own_window_slice_of_deepspeech_lrp(model, windows):
    explanation = attribute(model, windows, TARGETS, "lrp", epsilon=1e-3)
    for n, (frame, character) in enumerate(zip(explanation.frames, explanation.targets,
                                               strict=True)):
        expected = deepspeech_lrp(model, windows, int(frame), int(character), 1e-3)
        np.testing.assert_allclose(explanation.values[n], expected.values[0, frame], rtol=1e-12)
        assert explanation.outputs[n] == pytest.approx(expected.outputs[0], rel=1e-12)


def test_shap_is_locally_accurate_against_the_background(model, windows):
    """The permutation explainer telescopes from the background to the input: the values sum
    to f(x) - f(background) exactly, and f(background) is the model with the window replaced."""
    background = np.linspace(-3, 3, 19 * 26).reshape(19, 26)
    explanation = attribute(model, windows, TARGETS, "shap", background=background)
    np.testing.assert_allclose(explanation.values.sum((1, 2)),
                               explanation.outputs - explanation.base_values, atol=1e-9)
    for n, (frame, character) in enumerate(zip(explanation.frames, explanation.targets,
                                               strict=True)):
        with torch.no_grad():
            reference = model(replaced(windows, frame, background))[frame, character]
        assert explanation.base_values[n] == pytest.approx(float(reference), abs=1e-10)


def test_shap_gives_nothing_to_features_equal_to_the_background(model, windows):
    background = windows[2].clone()
    background[:, :13] += 1.0
    values = attribute(model, windows, (2, "c"), "shap", background=background).values[0]
    assert np.all(values[:, 13:] == 0) and np.abs(values[:, :13]).sum() > 0


def test_shap_defaults_to_the_letter_background(model, windows):
    background = letter_background(model, windows)  # the tiny model transcribes n, z, n, z, n
    explanation = attribute(model, windows, (3, "d"), "shap")
    with torch.no_grad():
        reference = model(replaced(windows, 3, background))[3, ALPHABET.index("d")]
    assert explanation.base_values[0] == pytest.approx(float(reference), abs=1e-10)


def test_shap_is_seeded_and_leaves_numpys_global_generator_alone(model, windows):
    background = np.zeros((19, 26))
    np.random.seed(123)
    state = np.random.get_state()
    first = attribute(model, windows, TARGETS, "shap", background=background, seed=7)
    assert np.array_equal(np.random.get_state()[1], state[1])
    again = attribute(model, windows, TARGETS, "shap", background=background, seed=7)
    other = attribute(model, windows, TARGETS, "shap", background=background, seed=8)
    np.testing.assert_array_equal(first.values, again.values)
    assert not np.allclose(first.values, other.values)
    alone = attribute(model, windows, TARGETS[1], "shap", background=background, seed=7)
    np.testing.assert_array_equal(alone.values[0], first.values[1])


def test_explain_utterance_explains_every_frames_prediction(model, windows):
    explanation = explain_utterance(model, windows, "saliency")
    with torch.no_grad():
        predicted = model(windows).argmax(1).numpy()
    np.testing.assert_array_equal(explanation.frames, np.arange(FRAMES))
    np.testing.assert_array_equal(explanation.targets, predicted)


class CentreSign(nn.Module):
    """Transcribes a frame as 'b' if its centre frame's first MFCC is positive, else as space."""

    def __init__(self, letter: int = ALPHABET.index("b"), other: int = ALPHABET.index(" ")):
        super().__init__()
        self.letter, self.other = letter, other

    def forward(self, windows):
        positive = windows[:, 9, 0] > 0
        logits = torch.zeros(len(windows), N_CLASSES, dtype=windows.dtype)
        logits[positive, self.letter] = 1.0
        logits[~positive, self.other] = 1.0
        return logits


def test_letter_background_is_the_median_of_the_letter_frames(windows):
    letters = (windows[:, 9, 0] > 0).numpy()
    assert 0 < letters.sum() < FRAMES
    expected = np.median(windows.numpy()[letters], axis=0)
    np.testing.assert_array_equal(letter_background(CentreSign(), windows), expected)
    both = letter_background(CentreSign(), [windows, -windows])
    np.testing.assert_array_equal(
        both, np.median(np.concatenate([windows.numpy(), -windows.numpy()])[
            np.concatenate([letters, ~letters])], axis=0))


def test_letter_background_falls_back_to_all_frames_with_a_warning(windows):
    with pytest.warns(UserWarning, match="no frame is transcribed as a letter"):
        background = letter_background(CentreSign(letter=BLANK, other=BLANK), windows)
    np.testing.assert_array_equal(background, np.median(windows.numpy(), axis=0))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "occlusion"}, "method must be one of"),
        ({"method": "lrp", "seed": 1}, "unknown"),
        ({"target": (FRAMES, "a")}, "frame must be an int in 0..4"),
        ({"target": (-1, "a")}, "frame must be an int"),
        ({"target": (1, "A")}, "character must be one of"),
        ({"target": (1, N_CLASSES)}, "character must be one of"),
        ({"target": []}, "non-empty"),
        ({"target": 3}, "pair"),
        ({"target": [(1, "a"), (2,)]}, "pair"),
        ({"method": "shap", "max_evals": 100}, "max_evals must be an int >= "),
        ({"method": "shap", "background": np.zeros((19, 25))}, "background must be"),
        ({"method": "shap", "seed": -1}, "seed must be"),
    ],
)
def test_bad_arguments_raise_clear_errors(model, windows, kwargs, message):
    arguments = {"target": (1, "a"), "method": "saliency", **kwargs}
    with pytest.raises(AttributionError, match=message):
        attribute(model, windows, **arguments)


@pytest.mark.parametrize(("bad", "message"), [
    (lambda w: w.long(), "floating-point"),
    (lambda w: w.index_fill(1, torch.tensor([4]), float("nan")), "NaN or infinite"),
    (lambda w: w.index_fill(2, torch.tensor([0]), float("-inf")), "NaN or infinite"),
])
@pytest.mark.parametrize("method", ["saliency", "lrp"])
def test_bad_window_values_are_audio_errors(model, windows, bad, message, method):
    with pytest.raises(AudioError, match=message):
        attribute(model, bad(windows), (0, "a"), method)


@pytest.mark.parametrize("background", [np.full((19, 26), np.nan), np.ones((19, 26), int)])
def test_a_shap_background_of_bad_values_is_an_audio_error(model, windows, background):
    with pytest.raises(AudioError, match="background must hold finite floating-point"):
        attribute(model, windows, (0, "a"), "shap", background=background)


def test_bad_models_and_windows_raise_clear_errors(model, windows):
    with pytest.raises(AttributionError, match="must be a speechxai.models.DeepSpeech"):
        attribute(nn.Linear(3, 3), windows, (0, "a"), "saliency")
    with pytest.raises(AttributionError, match=r"windows must be one utterance"):
        attribute(model, windows[None], (0, "a"), "saliency")
    with pytest.raises(AttributionError, match="float64"):
        attribute(model, windows.float(), (0, "a"), "lrp")
    with pytest.raises(AttributionError, match="Explanation.data must have the shape"):
        Explanation(np.zeros((2, 19, 26)), np.zeros((2, 19, 25)), "lrp")
