"""Weight initialisation shared by the AudioMNIST classifiers."""

from __future__ import annotations

from torch import nn


def he_initialise(model: nn.Module) -> nn.Module:
    """He (Kaiming) normal weights and zero biases for every convolution and linear layer.

    Measured here (see DESIGN.md): with PyTorch's default initialisation AudioNet reached
    only about half the digit accuracy within a few minutes of training; with He
    initialisation it reached 0.86-0.93.
    """
    for module in model.modules():
        if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            nn.init.zeros_(module.bias)
    return model


def scaled(channels: int, width: float) -> int:
    """``channels`` times ``width`` (at least one)."""
    if width <= 0:
        raise ValueError(f"width must be positive, got {width}")
    return max(1, round(channels * width))
