"""The AlexNet variant of Becker et al. (2018, Sec. 3.2) on 227x227 dB spectrograms."""

from __future__ import annotations

import torch
from torch import nn

from speechxai.models.init import he_initialise, scaled


class AlexNet(nn.Module):
    """AlexNet for one input channel, without normalisation layers: conv 96@11x11/4,
    pool 3/2, conv 256@5x5 (pad 2, 2 groups), pool 3/2, conv 384@3x3, conv 384@3x3
    (2 groups), conv 256@3x3 (2 groups), pool 3/2, then FC 1024, FC 1024 (ReLU, dropout
    0.5) and the output layer (10 digits or 2 sexes).

    ``width`` scales every hidden size (kept even for the grouped convolutions); the book
    uses ``width != 1`` at ``smoke`` and at ``quick`` (half as wide, twice the steps).
    Input: (N, 1, 227, 227).
    """

    def __init__(self, n_classes: int, width: float = 1.0):
        super().__init__()

        def even(channels: int) -> int:
            return 2 * scaled(channels // 2, width)

        c1, c2, c3, c4, c5 = (even(c) for c in (96, 256, 384, 384, 256))
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, 11, stride=4),
            nn.ReLU(),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(c1, c2, 5, padding=2, groups=2),
            nn.ReLU(),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(c2, c3, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(c3, c4, 3, padding=1, groups=2),
            nn.ReLU(),
            nn.Conv2d(c4, c5, 3, padding=1, groups=2),
            nn.ReLU(),
            nn.MaxPool2d(3, 2),
        )
        hidden = scaled(1024, width)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c5 * 6 * 6, hidden),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(hidden, n_classes),
        )
        he_initialise(self)

    def forward(self, spectrogram: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(spectrogram))
