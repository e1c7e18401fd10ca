"""A small Wav2Letter-like fully convolutional recognizer (Collobert et al. 2016), the model
that Krug & Stober (2018), "Introspection for convolutional automatic speech recognition",
explain with sensitivity, LRP, activation maximisation and NAvAI.

The convolutions are valid (no padding): output frame ``t`` of a network with receptive
field ``rf`` and output stride ``s`` sees input frames ``t*s .. t*s + rf - 1`` and nothing
else, so every letter window cut at the receptive field is free of padding.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from speechxai.ctc import N_CLASSES
from speechxai.features import LOG_MEL_BINS


class Wav2Letter(nn.Module):
    """Conv1d -> BatchNorm1d -> ReLU blocks over (N, 128, T) log-mel spectrograms, then a
    1x1 Conv1d to the letters of :mod:`speechxai.ctc` (a-z, space, apostrophe, blank).

    Parameters
    ----------
    channels : sequence of int
        Output channels of each hidden block; its length is the depth.
    kernels : sequence of int
        Kernel size of each hidden block (same length as ``channels``).
    dilations, strides : sequence of int, optional
        Per hidden block; default all ones.
    n_classes : int
        Outputs per frame (CTC classes, blank last).
    in_channels : int
        Mel bins of the input.

    Notes
    -----
    The small default (receptive field 49 frames = 0.49 s at 10 ms hop) suits CPU training
    on spoken digit sequences; the paper's network is deeper (receptive field 206 frames).
    All layers sit in one ``nn.Sequential`` (``self.layers``) in execution order, so zennit's
    ``SequentialMergeBatchNorm`` finds every BatchNorm right after its convolution.
    """

    def __init__(
        self,
        channels: Sequence[int] = (96, 96, 96, 96),
        kernels: Sequence[int] = (13, 13, 13, 13),
        dilations: Sequence[int] | None = None,
        strides: Sequence[int] | None = None,
        n_classes: int = N_CLASSES,
        in_channels: int = LOG_MEL_BINS,
    ):
        super().__init__()
        depth = len(channels)
        dilations = (1,) * depth if dilations is None else tuple(dilations)
        strides = (1,) * depth if strides is None else tuple(strides)
        if depth == 0 or not len(kernels) == len(dilations) == len(strides) == depth:
            raise ValueError(f"channels, kernels, dilations and strides need one entry per hidden "
                             f"layer (at least one), got {len(channels)}, {len(kernels)}, "
                             f"{len(dilations)} and {len(strides)}")
        if min(*channels, *kernels, *dilations, *strides, n_classes, in_channels) < 1:
            raise ValueError("channels, kernels, dilations, strides, n_classes and in_channels "
                             "must all be positive")
        layers: list[nn.Module] = []
        width = in_channels
        for out, kernel, dilation, stride in zip(channels, kernels, dilations, strides,
                                                 strict=True):
            layers += [nn.Conv1d(width, out, kernel, stride=stride, dilation=dilation),
                       nn.BatchNorm1d(out), nn.ReLU()]
            width = out
        layers.append(nn.Conv1d(width, n_classes, 1))
        self.layers = nn.Sequential(*layers)

    def forward(self, spectrograms: torch.Tensor) -> torch.Tensor:
        """(N, mel bins, T) spectrograms to (N, T', classes) logits, the layout of
        :func:`speechxai.ctc.ctc_loss`, with ``T' = (T - rf) // stride + 1``."""
        if spectrograms.ndim != 3 or spectrograms.shape[1] != self.layers[0].in_channels:
            raise ValueError(f"expected spectrograms of shape (N, {self.layers[0].in_channels}, "
                             f"T), got {tuple(spectrograms.shape)}")
        return self.layers(spectrograms).transpose(1, 2)


def _geometry(model: nn.Module) -> tuple[int, int]:
    rf, jump, convolutions = 1, 1, 0
    for module in model.modules():
        if isinstance(module, nn.Conv1d):
            if module.padding not in ((0,), "valid"):
                raise ValueError(f"{module} pads its input: the receptive field of an output "
                                 f"frame would reach into the padding")
            rf += (module.kernel_size[0] - 1) * module.dilation[0] * jump
            jump *= module.stride[0]
            convolutions += 1
    if convolutions == 0:
        raise ValueError("the model has no Conv1d layer")
    return rf, jump


def receptive_field(model: nn.Module) -> int:
    """Input frames that one output frame of ``model`` sees, computed from its Conv1d layers
    (in registration order, which must be execution order) as ``1 + sum_l (k_l - 1) d_l
    prod_{m<l} s_m`` for kernel sizes ``k``, dilations ``d`` and strides ``s``."""
    return _geometry(model)[0]


def output_stride(model: nn.Module) -> int:
    """Input frames between consecutive output frames of ``model``: the product of strides."""
    return _geometry(model)[1]
