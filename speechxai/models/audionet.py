"""AudioNet (Becker et al. 2018, Sec. 3.2): a 1-D CNN on the raw 8-kHz waveform.

The 1-D convolutions and poolings run as 2-D ones over a waveform of one row in channels-last
layout: the same function (equal to rounding), trained about twice as fast on CPU as torch's
1-D path, whose max-pooling and ReLU backward over AudioNet's long activations dominated a step
(``benchmarks/README.md``, 2026-12-07 late).
"""

from __future__ import annotations

import torch
from torch import nn

from speechxai.models.init import he_initialise, scaled

CHANNELS = (100, 64, 128, 128, 128, 128)
INPUT_LENGTH = 8000


class AudioNet(nn.Module):
    """Six blocks of convolution (kernel 3, padding 1), ReLU and max-pooling (the first
    3/2, the others 2/2: 8000 -> 125 samples), then FC 1024 and FC 512 with ReLU and
    dropout 0.5, and the output layer (10 digits or 2 sexes).

    ``width`` scales every hidden size; the book uses ``width != 1`` at ``smoke`` and for the
    digit model on real speech at ``quick`` (half as wide, three times the steps).
    Input: (N, 1, 8000) waveforms scaled as in :func:`speechxai.features.audiomnist_waveform`;
    the blocks see them as (N, 1, 1, 8000) images (module docstring; as a column, (N, 1, 8000,
    1), oneDNN trained 1.9x slower): tensor bounds of LRP's first layer take that shape.
    """

    def __init__(self, n_classes: int, width: float = 1.0):
        super().__init__()
        channels = [1] + [scaled(c, width) for c in CHANNELS]
        layers: list[nn.Module] = []
        for index, (inputs, outputs) in enumerate(zip(channels[:-1], channels[1:], strict=True)):
            pool = nn.MaxPool2d((1, 3), (1, 2)) if index == 0 else nn.MaxPool2d((1, 2), (1, 2))
            layers += [nn.Conv2d(inputs, outputs, (1, 3), padding=(0, 1)), nn.ReLU(), pool]
        self.features = nn.Sequential(*layers)
        length = INPUT_LENGTH
        for index in range(len(CHANNELS)):
            length = (length - 3) // 2 + 1 if index == 0 else length // 2
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels[-1] * length, scaled(1024, width)),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(scaled(1024, width), scaled(512, width)),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(scaled(512, width), n_classes),
        )
        he_initialise(self)
        # channels-last weights: every convolution then runs in that layout (the first one's
        # single input channel leaves its input's layout ambiguous, its weights' is not)
        self.to(memory_format=torch.channels_last)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        row = waveform.unsqueeze(2).contiguous(memory_format=torch.channels_last)
        return self.classifier(self.features(row))
