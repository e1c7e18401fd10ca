"""``speechxai.explain``: one Captum-shaped entry to every attribution method, for any torch
audio classifier and for black-box ``predict_proba`` functions, returning an
:class:`~speechxai.attribution.explanation.Explanation`.

Gradient and perturbation methods come from Captum (Kokhlikyan et al. 2020), SHAP from shap
(expected gradients, Lundberg & Lee 2017; Erion et al. 2021), LRP from zennit (Anders et al.
2021) with the package's signal-take-all rule for ``nn.LSTM`` layers (Arras et al. 2017),
which zennit lacks.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn
from zennit.canonizers import SequentialMergeBatchNorm
from zennit.types import Activation

from speechxai.attribution.blackbox import SINGLE_SLOT, slot_probabilities
from speechxai.attribution.explanation import Axis, Explanation, index_axes, time_axis
from speechxai.attribution.gradient_shap import gradient_shap_values
from speechxai.attribution.lrp import (
    backpropagate,
    check_inputs,
    check_target_range,
    check_targets,
    class_outputs,
    lrp_composite,
)
from speechxai.attribution.lstm_lrp import torch_lstm_rule
from speechxai.device import device_of, to_numpy
from speechxai.errors import AttributionError, AudioError
from speechxai.models.deepspeech import ExplicitLSTM

MODEL_METHODS = {
    "saliency": {"abs": True},
    "gradient_x_input": {},
    "integrated_gradients": {"baseline": 0.0, "n_steps": 50},
    "lrp": {"epsilon": 1e-6, "gamma": 0.25, "lstm_epsilon": 1e-4, "composite": None},
    "shap": {"background": None, "n_samples": 32, "seed": 0},
    "occlusion": {"window": None, "stride": None, "baseline": 0.0},
}
"""Methods for a torch model, each with its options and their defaults."""
BLACK_BOX_METHODS = {
    "occlusion": {"segment": 0.05, "baseline": 0.0, "slot": SINGLE_SLOT},
    "shap": {"segment": 0.05, "baseline": 0.0, "n_samples": 25, "seed": 0, "slot": SINGLE_SLOT},
}
"""Model-agnostic methods for a ``predict_proba`` function over waveforms, each with its
options: time segments of ``segment`` seconds are removed (set to ``baseline``) together."""

IG_BATCH = 64
"""Points of the integration path that go through the model at once (memory stays bounded:
steps x inputs of a spectrogram model would otherwise be one batch of gigabytes)."""

LRP_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.BatchNorm1d, nn.BatchNorm2d, nn.MaxPool1d,
              nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d, nn.AdaptiveAvgPool1d,
              nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.Dropout,
              nn.Dropout1d, nn.Dropout2d, nn.Flatten, nn.Unflatten, nn.Identity, nn.LSTM,
              Activation)
"""Layers LRP has a rule for here: zennit's composite (epsilon, gamma, z^B; BatchNorm merged
into the layer before it), pooling, element-wise activations (pass), and ``nn.LSTM``
(signal-take-all)."""


def explain(model: nn.Module | Callable, inputs, target=None, method: str = "lrp", *,
            frame: int | None = None, sample_rate: int | None = None,
            axes: Sequence[Axis] | None = None, output_names: Sequence[str] | None = None,
            **options) -> Explanation:
    """Explain ``model``'s outputs ``target`` for ``inputs`` by ``method``.

    Parameters
    ----------
    model : torch.nn.Module or callable
        A classifier returning (N, classes) outputs for (N, ...) inputs (or a recogniser
        returning (N, T, classes) outputs per frame, explained at ``frame``), built from
        :data:`LRP_LAYERS` for ``method="lrp"`` (any differentiable model otherwise); or a
        black-box ``predict_proba(waveforms) -> (N, classes)`` probabilities over a list of
        1-D waveforms (:mod:`speechxai.attribution.blackbox`), for the methods of
        :data:`BLACK_BOX_METHODS`.
    inputs : torch.Tensor or numpy.ndarray
        (N, ...) finite floating-point inputs; for a black box (N, T) waveforms or one (T,).
    target : int or sequence of int, optional
        The explained class, one for all or one per input; default the predicted class.
    method : str
        For a torch model one of :data:`MODEL_METHODS`: ``saliency`` (``|gradient|``, Simonyan
        et al. 2014), ``gradient_x_input``, ``integrated_gradients`` (Sundararajan et al.
        2017), ``lrp``, ``shap`` (expected gradients against ``background`` inputs, default
        one all-zero input), ``occlusion`` (Zeiler & Fergus 2014; ``window`` default a tenth
        of each axis). The ``baseline`` of integrated gradients and occlusion is a number or
        an array broadcastable to the inputs; for a black box one of :data:`BLACK_BOX_METHODS`.
    frame : int, optional
        For a torch model with (N, T, classes) outputs (a recogniser such as
        :class:`~speechxai.models.Wav2Letter`, or an ``nn.LSTM`` tagger): explain the outputs
        at this output frame (negative counts from the end); recorded in
        :attr:`Explanation.frames`.
    sample_rate : int, optional
        Samples per second where the inputs are waveforms: names the time axis in seconds
        and lets :meth:`Explanation.play` play the audible explanation.
    axes, output_names
        Passed to the :class:`Explanation` (default: a time axis where ``sample_rate`` is
        given and the last axis is long, else axes by position; ``class <target>``).
    **options
        The method's options (:data:`MODEL_METHODS`, :data:`BLACK_BOX_METHODS`).

    Raises
    ------
    AudioError
        For inputs that are not finite floating-point numbers (integer, complex, NaN, inf).
    AttributionError
        For an unknown method or option, inputs of a shape the model rejects, bad targets, or
        (LRP) a layer without a rule, named by its path in the model.
    """
    black_box = not isinstance(model, nn.Module)
    if black_box and not callable(model):
        raise AttributionError(f"model must be a torch.nn.Module or a predict_proba callable, "
                               f"got {type(model).__name__}")
    methods = BLACK_BOX_METHODS if black_box else MODEL_METHODS
    if method not in methods:
        kind = "a black-box predict_proba" if black_box else "a torch model"
        raise AttributionError(f"method for {kind} must be one of {', '.join(methods)}, got "
                               f"{method!r}")
    unknown = sorted(set(options) - set(methods[method]))
    if unknown:
        raise AttributionError(f"method {method!r} takes the options {list(methods[method])}, "
                               f"got unknown {unknown}")
    settings = {**methods[method], **options}
    if method == "lrp" and not black_box:
        gaps = lrp_rule_gaps(model)
        if gaps:
            raise AttributionError("LRP cannot explain this model: " + "; ".join(gaps))
    inputs = _as_inputs(inputs, black_box)
    if not black_box:
        inputs = inputs.to(device_of(model))  # the explained network's device
    if frame is not None and black_box:
        raise AttributionError("frame= explains a torch model's per-frame outputs; a black box "
                               "gives one decision per waveform")
    if black_box:
        forward = _black_box_forward(model, settings["slot"])
    else:
        forward = model if frame is None else _AtFrame(model, frame)
    explainer = _BLACK_BOX[method] if black_box else _MODEL[method]
    was_training = None if black_box else model.training
    if not black_box:
        model.eval()  # the explained outputs too: dropout and BatchNorm as at inference
    try:
        with torch.no_grad():
            outputs = class_outputs(forward, inputs)
        targets = outputs.argmax(1) if target is None else check_targets(target, len(inputs))
        check_target_range(targets, outputs.shape[1])
        values, base_values = explainer(forward, inputs, targets, sample_rate, settings)
    finally:
        if was_training is not None:
            model.train(was_training)
    values = to_numpy(torch.as_tensor(values), np.float64)
    if frame is not None and not output_names:
        output_names = [f"class {k} at frame {forward.frame}" for k in targets.tolist()]
    return Explanation(
        values=values, data=to_numpy(inputs, np.float64), method=method,
        base_values=base_values, targets=to_numpy(targets),
        outputs=to_numpy(outputs.gather(1, targets[:, None])[:, 0], np.float64),
        axes=tuple(axes) if axes else _default_axes(inputs.shape[1:], sample_rate),
        output_names=tuple(output_names or ()), sample_rate=sample_rate,
        frames=None if frame is None else np.full(len(inputs), forward.frame))


class _AtFrame(nn.Module):
    """A per-frame model's (N, T, classes) outputs at one frame, (N, classes): what the
    methods explain (``explain(..., frame=t)``)."""

    def __init__(self, model: nn.Module, frame: int):
        super().__init__()
        if isinstance(frame, bool) or not isinstance(frame, (int, np.integer)):
            raise AttributionError(f"frame must be an int, got {frame!r}")
        self.model, self.frame = model, int(frame)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        outputs = self.model(inputs)
        if outputs.ndim != 3:
            raise AttributionError(f"frame= explains models with (N, T, classes) outputs, got "
                                   f"shape {tuple(outputs.shape)}")
        n_frames = outputs.shape[1]
        if not -n_frames <= self.frame < n_frames:
            raise AttributionError(f"frame {self.frame} outside the {n_frames} output frames")
        if self.frame < 0:
            self.frame += n_frames
        return outputs[:, self.frame]


def _as_inputs(inputs, black_box: bool) -> torch.Tensor:
    if isinstance(inputs, np.ndarray):
        if not np.issubdtype(inputs.dtype, np.floating):
            raise AudioError(f"inputs must be floating-point, got {inputs.dtype}")
        inputs = torch.from_numpy(inputs.astype(np.float32, copy=False))
    if black_box and isinstance(inputs, torch.Tensor) and inputs.ndim == 1:
        inputs = inputs[None]
    check_inputs(inputs)
    if black_box and inputs.ndim != 2:
        raise AttributionError(f"a black box explains (N, T) waveforms, got shape "
                               f"{tuple(inputs.shape)}")
    return inputs.detach()


def _black_box_forward(predict_proba: Callable, slot: str) -> Callable:
    """``predict_proba`` over a list of waveforms as a function of an (N, T) tensor."""
    def forward(waveforms: torch.Tensor) -> torch.Tensor:
        tables = slot_probabilities(predict_proba, list(waveforms.detach()))
        if slot not in tables:
            raise AttributionError(f"predict_proba has the slots {sorted(tables)}, not {slot!r}: "
                                   f"choose one with slot=")
        return torch.from_numpy(tables[slot])
    return forward


def _default_axes(shape: Sequence[int], sample_rate: int | None) -> tuple[Axis, ...]:
    axes = index_axes(shape)
    if sample_rate is not None and shape:
        axes = (*axes[:-1], time_axis(shape[-1], sample_rate))
        if len(shape) == 2:  # (channels, samples)
            axes = (Axis("channel", "", np.arange(shape[0])), axes[1])
    return axes


def lrp_rule_gaps(model: nn.Module) -> list[str]:
    """The layers of ``model`` LRP has no rule for here, as ``'path' (Type): why``: leaves
    outside :data:`LRP_LAYERS`, modules that hold parameters of their own besides their
    children's, and BatchNorm layers that do not follow a convolution or linear layer in an
    ``nn.Sequential`` (zennit can only merge those into the layer before)."""
    mergeable = set()
    for module in model.modules():
        if isinstance(module, nn.Sequential):
            children = list(module)
            mergeable.update(id(after) for before, after in itertools.pairwise(children)
                             if isinstance(before, (nn.Linear, nn.Conv1d, nn.Conv2d))
                             and isinstance(after, (nn.BatchNorm1d, nn.BatchNorm2d)))
    gaps = []
    for name, module in model.named_modules():
        label = f"{name or '(the model)'!r} ({type(module).__name__})"
        if isinstance(module, ExplicitLSTM):
            gaps.append(f"{label}: its gate layers run once per step, which zennit's hooks "
                        f"cannot follow; use an nn.LSTM (the same equations)")
            continue
        if isinstance(module, nn.LSTM) and (module.bidirectional or module.proj_size):
            gaps.append(f"{label}: a bidirectional or projected LSTM (the signal-take-all rule "
                        f"here runs forward in time, without projection)")
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)) and id(module) not in mergeable:
            gaps.append(f"{label}: a BatchNorm that does not follow a Conv/Linear layer in an "
                        f"nn.Sequential")
        elif isinstance(module, LRP_LAYERS):
            continue
        elif not list(module.children()):
            gaps.append(f"{label}: no LRP rule for this layer")
        elif list(module.parameters(recurse=False)):
            gaps.append(f"{label}: holds parameters of its own, used in a forward LRP cannot see")
    return gaps


def _lrp(model, inputs, targets, sample_rate, settings):
    composite = settings["composite"] or lrp_composite(
        inputs.min().item(), inputs.max().item(), settings["epsilon"], settings["gamma"],
        canonizers=[SequentialMergeBatchNorm()])

    @contextlib.contextmanager
    def rules():
        with torch_lstm_rule(model, settings["lstm_epsilon"]), composite.context(model):
            yield

    return backpropagate(model, inputs, targets, rules, True)[1], None


def _captum(name: str):
    import captum.attr  # on use: it takes a second to import

    return getattr(captum.attr, name)


def _saliency(model, inputs, targets, sample_rate, settings):
    return _captum("Saliency")(model).attribute(inputs.clone().requires_grad_(), target=targets,
                                                abs=settings["abs"]), None


def _gradient_x_input(model, inputs, targets, sample_rate, settings):
    return _captum("InputXGradient")(model).attribute(inputs.clone().requires_grad_(),
                                                      target=targets), None


def _baseline(settings: dict, inputs: torch.Tensor) -> torch.Tensor:
    """The ``baseline`` option (a number, or an array broadcastable to the inputs) as a
    tensor of the inputs' shape."""
    try:
        return torch.broadcast_to(torch.as_tensor(settings["baseline"], dtype=inputs.dtype,
                                                  device=inputs.device), inputs.shape)
    except RuntimeError as error:
        raise AttributionError(f"baseline must be a number or an array broadcastable to the "
                               f"inputs {tuple(inputs.shape)}: {error}") from None


def _integrated_gradients(model, inputs, targets, sample_rate, settings):
    baseline = _baseline(settings, inputs)
    values = _captum("IntegratedGradients")(model).attribute(
        inputs, baselines=baseline, target=targets, n_steps=settings["n_steps"],
        internal_batch_size=IG_BATCH)
    with torch.no_grad():
        base = model(baseline).gather(1, targets[:, None])[:, 0]
    return values, to_numpy(base, np.float64)


def _shap(model, inputs, targets, sample_rate, settings):
    background = settings["background"]
    background = torch.zeros_like(inputs[:1]) if background is None else torch.as_tensor(
        background, dtype=inputs.dtype, device=inputs.device)
    values = gradient_shap_values(model, inputs, to_numpy(targets), background,
                                  settings["n_samples"], settings["seed"])
    with torch.no_grad():
        base = to_numpy(model(background), np.float64).mean(0)[to_numpy(targets)]
    return values, base


def _occlusion(model, inputs, targets, sample_rate, settings):
    shape = inputs.shape[1:]
    window = tuple(settings["window"] or (max(1, size // 10) for size in shape))
    if len(window) != len(shape):
        raise AttributionError(f"window must give one size per input axis {tuple(shape)}, got "
                               f"{window}")
    stride = tuple(settings["stride"] or window)
    return _captum("Occlusion")(model).attribute(
        inputs, sliding_window_shapes=window, strides=stride, target=targets,
        baselines=_baseline(settings, inputs)), None


def _segments(inputs: torch.Tensor, sample_rate: int | None, segment: float) -> torch.Tensor:
    """Feature mask (1, T): consecutive segments of ``segment`` seconds share one id."""
    if sample_rate is None:
        raise AttributionError("a black box is explained over time segments: give sample_rate")
    length = max(1, round(segment * sample_rate))
    return (torch.arange(inputs.shape[1]) // length)[None]


def _black_box_occlusion(forward, inputs, targets, sample_rate, settings):
    mask = _segments(inputs, sample_rate, settings["segment"])
    return _captum("FeatureAblation")(forward).attribute(
        inputs, target=targets, feature_mask=mask, baselines=float(settings["baseline"])), None


def _black_box_shap(forward, inputs, targets, sample_rate, settings):
    mask = _segments(inputs, sample_rate, settings["segment"])
    baseline = float(settings["baseline"])
    with torch.random.fork_rng():  # Captum draws its permutations from torch's generator
        torch.manual_seed(settings["seed"])
        values = _captum("ShapleyValueSampling")(forward).attribute(
            inputs, target=targets, feature_mask=mask, baselines=baseline,
            n_samples=settings["n_samples"])
    base = forward(torch.full_like(inputs, baseline)).gather(1, targets[:, None])[:, 0]
    return values, to_numpy(base, np.float64)


_MODEL = {"saliency": _saliency, "gradient_x_input": _gradient_x_input,
          "integrated_gradients": _integrated_gradients, "lrp": _lrp, "shap": _shap,
          "occlusion": _occlusion}
_BLACK_BOX = {"occlusion": _black_box_occlusion, "shap": _black_box_shap}
