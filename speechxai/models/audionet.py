"""AudioNet (Becker et al. 2018, Sec. 3.2): a 1-D CNN on the raw 8-kHz waveform."""

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
    Input: (N, 1, 8000) waveforms scaled as in :func:`speechxai.features.audiomnist_waveform`.
    """

    def __init__(self, n_classes: int, width: float = 1.0):
        super().__init__()
        channels = [1] + [scaled(c, width) for c in CHANNELS]
        layers: list[nn.Module] = []
        for index, (inputs, outputs) in enumerate(zip(channels[:-1], channels[1:], strict=True)):
            pool = nn.MaxPool1d(3, 2) if index == 0 else nn.MaxPool1d(2, 2)
            layers += [nn.Conv1d(inputs, outputs, 3, padding=1), nn.ReLU(), pool]
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

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(waveform))
