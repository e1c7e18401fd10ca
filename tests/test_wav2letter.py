"""Wav2Letter-like recognizer: shapes, valid convolutions, receptive field from the modules."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from speechxai.models import Wav2Letter, output_stride, receptive_field


def empirical_receptive_field(model: nn.Module, bins: int, frames: int) -> int:
    """Width of the input span with a non-zero gradient of one middle output frame, over 16
    random inputs (a ReLU switched off can hide an edge frame from one input's gradient)."""
    model.eval()
    x = torch.randn(16, bins, frames, requires_grad=True)
    output = model(x)
    output[:, output.shape[1] // 2].sum().backward()
    touched = torch.nonzero(x.grad.abs().sum((0, 1))).flatten()
    return int(touched.max() - touched.min() + 1)


@pytest.mark.parametrize("kwargs", [
    {"channels": (3,), "kernels": (5,)},
    {"channels": (3, 4), "kernels": (3, 5)},
    {"channels": (3, 4, 2), "kernels": (3, 3, 2), "dilations": (1, 2, 4)},
    {"channels": (3, 4), "kernels": (4, 3), "strides": (2, 1)},
    {"channels": (2, 3, 2), "kernels": (3, 3, 3), "dilations": (2, 1, 1), "strides": (1, 2, 1)},
])
def test_receptive_field_matches_the_gradient_span(kwargs):
    torch.manual_seed(0)
    model = Wav2Letter(in_channels=4, **kwargs)
    rf = receptive_field(model)
    assert empirical_receptive_field(model, 4, rf + 20) == rf
    # a window of exactly rf frames gives exactly one output frame
    assert model(torch.randn(2, 4, rf)).shape == (2, 1, 29)
    assert model(torch.randn(2, 4, rf + 3 * output_stride(model))).shape == (2, 4, 29)


def test_default_model_shapes_and_layout():
    model = Wav2Letter()
    assert receptive_field(model) == 49 and output_stride(model) == 1
    assert model(torch.randn(1, 128, 60)).shape == (1, 12, 29)
    kinds = [type(layer) for layer in model.layers]
    assert kinds[:3] == [nn.Conv1d, nn.BatchNorm1d, nn.ReLU] and kinds[-1] is nn.Conv1d
    assert model.layers[-1].kernel_size == (1,) and model.layers[-1].out_channels == 29
    assert all(conv.padding == (0,) for conv in model.modules() if isinstance(conv, nn.Conv1d))


def test_bad_configurations_and_inputs():
    with pytest.raises(ValueError, match="one entry per hidden layer"):
        Wav2Letter(channels=(4, 4), kernels=(3,))
    with pytest.raises(ValueError, match="positive"):
        Wav2Letter(channels=(4,), kernels=(0,))
    with pytest.raises(ValueError, match=r"\(N, 128, T\)"):
        Wav2Letter()(torch.randn(1, 64, 100))
    with pytest.raises(ValueError, match="pads its input"):
        receptive_field(nn.Conv1d(2, 2, 3, padding=1))
    with pytest.raises(ValueError, match="no Conv1d"):
        receptive_field(nn.Linear(2, 2))
