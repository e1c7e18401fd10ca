"""Activation maximisation (Erhan et al. 2009) of one neuron of a convolutional recognizer,
with the settings of Krug & Stober (2018), "Introspection for convolutional automatic speech
recognition", Sec. 3.2: a receptive-field-sized input initialised Xavier-uniform, L1 and L2
penalties of 0.001, Adam with learning rate 0.05 for 250 steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from speechxai.attribution.explanation import Explanation
from speechxai.attribution.navai import window_axes
from speechxai.models.wav2letter import receptive_field


@dataclass(frozen=True, eq=False)
class OptimalInput(Explanation):
    """The optimised input of a neuron as an
    :class:`~speechxai.attribution.explanation.Explanation` of that neuron (one output, its
    final activation) over the axes ``mel band`` and ``frame``: ``values`` and ``data`` are
    the input it wants to hear; ``activations`` its activation before each step and at the
    end."""

    activations: np.ndarray | None = None  # (steps + 1,)

    @property
    def input(self) -> torch.Tensor:
        """The (bins, rf) optimised input."""
        return torch.from_numpy(self.values[0])


def _layer_outputs(model: nn.Module) -> list[nn.Module]:
    """The module whose output is the pre-ReLU activation of each Conv1d layer: the
    BatchNorm1d right after it if any, else the convolution itself."""
    leaves = [module for module in model.modules() if not list(module.children())]
    return [after if isinstance(after, nn.BatchNorm1d) else module
            for module, after in zip(leaves, leaves[1:] + [None], strict=True)
            if isinstance(module, nn.Conv1d)]


def activation_maximisation(
    model: nn.Module,
    layer: int,
    channel: int,
    frame: int | None = None,
    steps: int = 250,
    learning_rate: float = 0.05,
    l1: float = 1e-3,
    l2: float = 1e-3,
    seed: int = 0,
) -> OptimalInput:
    """The input of receptive-field width that maximises one neuron (Krug & Stober 2018).

    Parameters
    ----------
    model : torch.nn.Module
        A valid-convolution recognizer such as :class:`speechxai.models.Wav2Letter`; it runs
        in eval mode (its mode is restored) and its parameters are not changed.
    layer : int
        Index of the Conv1d layer (0 = first, -1 = output layer). The activation is the
        layer's BatchNorm output (the ReLU's input: maximising it maximises the ReLU output
        without a zero gradient for a neuron switched off at the start); the output layer's
        activation is the logit.
    channel : int
        Channel (for the output layer: class) of the neuron.
    frame : int, optional
        Output frame of the neuron within the layer's output for a receptive-field-wide
        input; default its middle frame (the only frame of the output layer).
    steps, learning_rate, l1, l2, seed
        Adam steps and learning rate; weights of ``sum |x|`` and ``sum x**2`` in the loss
        ``-activation + l1 * sum |x| + l2 * sum x**2``; seed of the Xavier-uniform start.

    Returns
    -------
    OptimalInput
        The (bins, rf) input after ``steps`` steps (an explanation of the neuron) and the
        ``steps + 1`` activations.
    """
    layers = _layer_outputs(model)
    if not -len(layers) <= layer < len(layers):
        raise ValueError(f"layer must index one of the {len(layers)} Conv1d layers, got {layer}")
    if steps < 1 or learning_rate <= 0 or l1 < 0 or l2 < 0:
        raise ValueError(f"steps must be >= 1, learning_rate positive and l1, l2 >= 0, got "
                         f"{steps}, {learning_rate}, {l1}, {l2}")
    first = next(module for module in model.modules() if isinstance(module, nn.Conv1d))
    x = torch.empty(1, first.in_channels, receptive_field(model), dtype=first.weight.dtype)
    nn.init.xavier_uniform_(x[0], generator=torch.Generator().manual_seed(seed))
    x = x.to(first.weight.device).requires_grad_()  # drawn on the CPU: the same on any device
    captured: list[torch.Tensor] = []
    handle = layers[layer].register_forward_hook(lambda module, inputs, output:
                                                 captured.append(output))
    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(x)
        channels, frames = captured[0].shape[1:]
        frame = frames // 2 if frame is None else frame
        if not 0 <= channel < channels or not 0 <= frame < frames:
            raise ValueError(f"layer {layer} has {channels} channels and {frames} frames for a "
                             f"receptive-field input, got channel {channel}, frame {frame}")
        optimizer = torch.optim.Adam([x], lr=learning_rate)
        trace = []
        for _ in range(steps + 1):
            captured.clear()
            with torch.enable_grad():
                model(x)
                activation = captured[0][0, channel, frame]
                loss = -activation + l1 * x.abs().sum() + l2 * x.pow(2).sum()
                (x.grad,) = torch.autograd.grad(loss, x)  # the model's parameters stay untouched
            trace.append(float(activation.detach()))
            if len(trace) <= steps:
                optimizer.step()
    finally:
        handle.remove()
        model.train(training)
    bins, width = x.shape[1:]
    return OptimalInput(values=x.detach(), data=x.detach(), method="activation maximisation",
                        outputs=[trace[-1]], output_names=(f"layer {layer}, channel {channel}",),
                        axes=window_axes(bins, width),
                        activations=np.array(trace))
