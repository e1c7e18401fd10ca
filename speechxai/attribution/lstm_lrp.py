"""Epsilon-LRP for DeepSpeech through its LSTM (Markert et al. 2021, Sec. 3, epsilon = 1e-4).

The feed-forward layers get zennit's epsilon rule (ReLUs, clipped or not, pass relevance
unchanged as in zennit's own composites); the LSTM gets the signal-take-all rule of Arras et
al. (2017), "Explaining recurrent neural network predictions in sentiment analysis": the
gates are constants (weights), relevance flows only along the signal (cell input, cell
states, outputs), with the epsilon rule on the sums. zennit cannot do the LSTM part: it has
no rule for ``nn.LSTM`` and lets gradients pass through it silently, and its hooks keep only
the last call's input, so a linear map applied at every time step gets wrong relevances
for all but the last step - wrong relevances that still sum to the output.
"""

from __future__ import annotations

import contextlib
import functools
import operator

import numpy as np
import torch
from torch import nn
from zennit.composites import LayerMapComposite
from zennit.core import Stabilizer
from zennit.rules import Epsilon, Pass
from zennit.types import Activation

from speechxai.attribution.explanation import Axis, Explanation
from speechxai.attribution.mutation import mutated
from speechxai.ctc import ALPHABET, BLANK, N_CLASSES
from speechxai.device import device_of
from speechxai.errors import AttributionError, AudioError
from speechxai.features import MFCC_CONTEXT
from speechxai.models.deepspeech import WINDOW, DeepSpeech, ExplicitLSTM, LSTMTrace

WINDOW_AXES = (Axis("frame", "relative to the explained frame",
                    np.arange(-MFCC_CONTEXT, MFCC_CONTEXT + 1)),
               Axis("MFCC", "coefficient", np.arange(WINDOW[1])))
"""The axes of a DeepSpeech MFCC window: relative frame -9 .. 9 (0: the explained frame)
and MFCC 0 .. 25."""


def output_name(frame: int, target: int) -> str:
    """``'a' at frame 12``: one output of the recogniser (the CTC blank as ``blank``)."""
    character = "blank" if target == BLANK else repr(ALPHABET[target])
    return f"{character} at frame {frame}"


def _epsilon_composite(epsilon: float) -> LayerMapComposite:
    """zennit's epsilon rule on linear layers; activations pass relevance unchanged."""
    return LayerMapComposite([(Activation, Pass()), (nn.Linear, Epsilon(epsilon))])


def _refuse_torch_rnns(model: nn.Module) -> None:
    for name, module in model.named_modules():
        if isinstance(module, (nn.RNNBase, nn.RNNCellBase)):
            raise AttributionError(
                f"module {name!r} is a torch {type(module).__name__}: zennit puts no LRP rule on "
                f"torch's recurrent layers (gradients pass through them silently, and a fused "
                f"cuDNN LSTM cannot be hooked). Use speechxai.models.ExplicitLSTM, the LSTM as an "
                f"explicit cell (ExplicitLSTM.from_lstm copies an nn.LSTM's weights)"
            )


def _signal_take_all(
    lstm: ExplicitLSTM, inputs: torch.Tensor, trace: LSTMTrace, relevance: torch.Tensor,
    stabilize: Stabilizer,
) -> torch.Tensor:
    """Relevance of ``inputs`` (..., T, in) from relevance (..., T, H) of the outputs."""
    size = lstm.hidden_size
    i, f, z, _ = trace.gates.chunk(4, -1)  # z: pre-activation of the cell input g = tanh(z)
    i, f, g = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(z)
    w_input = lstm.input_gates.weight[2 * size : 3 * size]
    w_hidden = lstm.hidden_gates.weight[2 * size : 3 * size]
    relevance = relevance.clone()
    result = torch.zeros_like(inputs)
    r_cell = torch.zeros_like(relevance[..., 0, :])
    for t in reversed(range(inputs.shape[-2])):
        # h_t = o_t * tanh(c_t): the gate o_t takes nothing, tanh passes: all to c_t
        r_cell = r_cell + relevance[..., t, :]
        # c_t = f_t * c_{t-1} + i_t * g_t: epsilon rule over the two terms, whose gates take nothing
        share = r_cell / stabilize(trace.cell[..., t, :])
        r_cell = f[..., t, :] * trace.cell[..., t - 1, :] * share if t else 0.0
        # g_t = tanh(z_t) passes; z_t = W x_t + U h_{t-1} + b: epsilon rule
        share = i[..., t, :] * g[..., t, :] * share / stabilize(z[..., t, :])
        result[..., t, :] = inputs[..., t, :] * (share @ w_input)
        if t:
            relevance[..., t - 1, :] += trace.hidden[..., t - 1, :] * (share @ w_hidden)
    return result


def lstm_relevance(
    lstm: ExplicitLSTM, inputs: torch.Tensor, relevance: torch.Tensor, epsilon: float = 1e-4
) -> torch.Tensor:
    """Signal-take-all LRP through an LSTM (Arras et al. 2017, Sec. 2.2 and 3).

    Parameters
    ----------
    lstm : speechxai.models.ExplicitLSTM
        The LSTM layer.
    inputs : torch.Tensor
        (..., T, input_size) inputs of the layer.
    relevance : torch.Tensor
        (..., T, hidden_size) relevance of its outputs ``h_t``.
    epsilon : float
        Stabiliser of the epsilon rule, added with the sign of each denominator (0 counts
        as positive), as zennit's :class:`zennit.rules.Epsilon`.

    Returns
    -------
    torch.Tensor
        (..., T, input_size) relevance of the inputs. Output gates pass all of ``h_t``'s
        relevance to ``c_t``; ``c_t = f_t c_{t-1} + i_t g_t`` shares it between ``c_{t-1}``
        and ``g_t`` in proportion to the two terms; ``g_t`` passes it to its pre-activation,
        which shares it between ``x_t`` and ``h_{t-1}`` by the epsilon rule. Gates (and
        biases) keep none. With zero biases and the zero initial state, the relevance of the
        inputs sums to that of the outputs up to the stabiliser.
    """
    if not isinstance(lstm, ExplicitLSTM):
        raise AttributionError(f"lstm must be a speechxai.models.ExplicitLSTM, got "
                               f"{type(lstm).__name__}")
    if relevance.shape != (*inputs.shape[:-1], lstm.hidden_size):
        raise AttributionError(f"relevance must have shape (..., T, {lstm.hidden_size}) of the "
                               f"outputs for inputs {tuple(inputs.shape)}, got "
                               f"{tuple(relevance.shape)}")
    with torch.no_grad():
        trace = lstm.trace(inputs)
        return _signal_take_all(lstm, inputs, trace, relevance, Stabilizer(epsilon))


class _SignalTakeAll(torch.autograd.Function):
    """An LSTM layer whose forward gives its outputs and last cell state, and whose backward
    turns the relevance of the outputs into that of the inputs (:func:`lstm_relevance`), so
    that it composes with zennit's rules, which pass relevance as the gradient."""

    @staticmethod
    def forward(ctx, inputs, lstm: ExplicitLSTM, epsilon: float):
        trace = lstm.trace(inputs)
        ctx.save_for_backward(inputs)
        ctx.lstm, ctx.trace, ctx.epsilon = lstm, trace, epsilon
        return trace.hidden, trace.cell[..., -1, :]

    @staticmethod
    def backward(ctx, relevance, cell_relevance):
        if cell_relevance is not None and bool(cell_relevance.ne(0).any()):
            raise AttributionError(
                "relevance reached an LSTM's last cell state c_n, which the signal-take-all "
                "rule does not start from: explain outputs computed from the LSTM's outputs "
                "or h_n")
        (inputs,) = ctx.saved_tensors
        return (_signal_take_all(ctx.lstm, inputs, ctx.trace, relevance,
                                 Stabilizer(ctx.epsilon)), None, None)


def _relevance_forward(lstm: nn.LSTM, layers: list[ExplicitLSTM], epsilon: float,
                       inputs, hx=None):
    """``nn.LSTM.forward`` through :class:`_SignalTakeAll`, layer by layer."""
    if hx is not None:
        raise AttributionError("LRP through an nn.LSTM starts from the zero state: call it "
                               "without an initial (h_0, c_0)")
    if not isinstance(inputs, torch.Tensor):
        raise AttributionError(f"LRP through an nn.LSTM takes a padded tensor, not "
                               f"{type(inputs).__name__}")
    unbatched = inputs.ndim == 2
    sequences = inputs[None] if unbatched else inputs if lstm.batch_first \
        else inputs.transpose(0, 1)
    last_hidden, last_cell = [], []
    for layer in layers:
        sequences, cell = _SignalTakeAll.apply(sequences, layer, epsilon)
        last_hidden.append(sequences[:, -1])
        last_cell.append(cell)
    state = (torch.stack(last_hidden), torch.stack(last_cell))
    if unbatched:
        return sequences[0], (state[0][:, 0], state[1][:, 0])
    return (sequences if lstm.batch_first else sequences.transpose(0, 1)), state


@contextlib.contextmanager
def torch_lstm_rule(model: nn.Module, epsilon: float = 1e-4):
    """Within this context every ``nn.LSTM`` of ``model`` propagates relevance by the
    signal-take-all rule (Arras et al. 2017; :func:`lstm_relevance`) when zennit's rules
    run backward through the model, instead of letting gradients through as zennit would.
    Its layers run as :class:`~speechxai.models.ExplicitLSTM` cells with its weights (the
    same outputs); bidirectional and projected LSTMs and initial states are refused."""
    patched = []
    try:
        for name, module in model.named_modules():
            if isinstance(module, nn.LSTM):
                try:
                    layers = [ExplicitLSTM.from_lstm(module, k) for k in range(module.num_layers)]
                except ValueError as error:
                    raise AttributionError(f"module {name!r}: {error}; LRP has no rule for it") \
                        from None
                module.forward = functools.partial(_relevance_forward, module, layers, epsilon)
                patched.append(module)
        yield model
    finally:
        for module in patched:
            del module.forward  # the class's forward again


def _check_windows(windows: torch.Tensor, model: nn.Module) -> None:
    if not isinstance(windows, torch.Tensor) or not windows.is_floating_point():
        kind = windows.dtype if isinstance(windows, torch.Tensor) else type(windows).__name__
        raise AudioError(f"windows must be a floating-point tensor, got {kind}")
    if windows.ndim != 3 or tuple(windows.shape[1:]) != WINDOW or len(windows) == 0:
        raise AttributionError(f"windows must be one utterance's MFCC windows (T, 19, 26) with "
                               f"T >= 1, got shape {tuple(windows.shape)}")
    if not torch.isfinite(windows).all():
        raise AudioError(f"windows contain {int((~torch.isfinite(windows)).sum())} NaN or "
                         f"infinite values")
    dtype = next(model.parameters()).dtype
    if windows.dtype != dtype:
        raise AttributionError(f"windows are {windows.dtype} but the model is {dtype}")


def as_index(value: object, stop: int) -> int | None:
    """``value`` as an int in ``0..stop - 1`` (Python, numpy or 0-d torch integers), else None."""
    if isinstance(value, bool) or (isinstance(value, torch.Tensor) and value.dtype == torch.bool):
        return None
    try:
        index = operator.index(value)
    except TypeError:
        return None
    return index if 0 <= index < stop else None


def _character_index(character: int | str) -> int:
    if isinstance(character, str) and len(character) == 1 and character in ALPHABET:
        return ALPHABET.index(character)
    index = None if isinstance(character, str) else as_index(character, N_CLASSES)
    if index is None:
        raise AttributionError(f"character must be one of {ALPHABET!r} or a class index 0.."
                               f"{N_CLASSES - 1} (the last is the CTC blank), got {character!r}")
    return index


def deepspeech_lrp(
    model: DeepSpeech,
    windows: torch.Tensor,
    frame: int,
    character: int | str,
    epsilon: float = 1e-4,
) -> Explanation:
    """Epsilon-LRP of DeepSpeech's logit for ``character`` at ``frame`` (Markert et al. 2021).

    The relevance starts as the explained logit (Markert et al., Eq. 1) and flows back by
    zennit's epsilon rule through the output block, by the signal-take-all rule
    (:func:`lstm_relevance`) through the LSTM, and by the epsilon rule through the three
    dense layers to the MFCC windows. ReLUs clipped at 20 pass relevance unchanged (zennit's
    ``Pass``; their gradient would drop the relevance of saturated units).

    Parameters
    ----------
    model : speechxai.models.DeepSpeech
        The recognizer (no torch ``nn.LSTM``/``GRU``/``RNN`` inside).
    windows : torch.Tensor
        (T, 19, 26) MFCC windows of one utterance, of the model's dtype.
    frame : int
        The explained frame, ``0 <= frame < T``.
    character : int or str
        A character of :data:`speechxai.ctc.ALPHABET`, or a class index (the CTC blank is
        :data:`speechxai.ctc.BLANK`).
    epsilon : float
        Stabiliser of the epsilon rule (1e-4 as in the paper).

    Returns
    -------
    Explanation
        One output (the logit, ``frames`` = [frame]) over the axes ``window`` (the window of
        frame 0 .. T-1) x :data:`WINDOW_AXES`: values the (1, T, 19, 26) relevance, zero after
        ``frame`` (the LSTM is causal; ``frame``'s own window still holds 9 later MFCC
        frames). On a model with zero biases it sums to the explained logit up to the
        stabiliser; biases keep their share otherwise.
    """
    frame, character, output, relevance = deepspeech_relevance(model, windows, frame,
                                                               character, epsilon)
    return Explanation(
        values=relevance[None], data=windows.detach()[None], method="lrp", targets=[character],
        outputs=[output], frames=[frame],
        axes=(Axis("window", "of frame", np.arange(len(windows))), *WINDOW_AXES),
        output_names=(output_name(frame, character),))


def deepspeech_relevance(model: DeepSpeech, windows: torch.Tensor, frame: int,
                         character: int | str, epsilon: float = 1e-4
                         ) -> tuple[int, int, float, torch.Tensor]:
    """:func:`deepspeech_lrp` as tensors: the frame and class explained, their logit and the
    (T, 19, 26) relevance."""
    _refuse_torch_rnns(model)
    if not isinstance(model, DeepSpeech):
        raise AttributionError(f"model must be a speechxai.models.DeepSpeech, got "
                               f"{type(model).__name__}")
    _check_windows(windows, model)
    index = as_index(frame, len(windows))
    if index is None:
        raise AttributionError(f"frame must be an int in 0..{len(windows) - 1}, got {frame!r}")
    frame, character = index, _character_index(character)
    windows_seen = windows[: frame + 1].detach().to(device_of(model)).requires_grad_()
    with (
        torch.enable_grad(),
        _epsilon_composite(epsilon).context(model.dense),
        _epsilon_composite(epsilon).context(model.head),
    ):
        inputs = model.dense(windows_seen)
        with torch.no_grad():
            trace = model.lstm.trace(inputs)
        hidden = trace.hidden[frame].detach().requires_grad_()
        output = model.head(hidden)[character]
        (r_hidden,) = torch.autograd.grad(output, hidden, grad_outputs=output.detach())
        relevance = torch.zeros_like(trace.hidden)
        relevance[frame] = r_hidden
        with torch.no_grad():
            relevance = _signal_take_all(model.lstm, inputs.detach(), trace, relevance,
                                         Stabilizer(epsilon))
        (r_windows,) = torch.autograd.grad(inputs, windows_seen, grad_outputs=relevance)
    result = torch.zeros_like(windows)
    result[: frame + 1] = mutated("lrp", r_windows)
    return frame, character, float(output.detach()), result
