"""SHAP values of a torch classifier on inputs too large for SHAP's sampling explainers.

AudioNet's 8,000 waveform samples and AlexNet's 227 x 227 spectrogram bins are far more
features than the permutation explainer the DeepSpeech chapter uses over 494 MFCCs can
afford. ``shap.GradientExplainer`` approximates the same Shapley values by *expected
gradients* (Erion et al. 2021; Lundberg & Lee 2017, Sec. 4): the gradient at random points
between the input and background inputs, times the input minus the background, averaged.
Its values add up to the output minus the background's mean output in expectation, not
exactly (local accuracy holds for many samples only).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from speechxai.attribution.lrp import check_inputs
from speechxai.attribution.mutation import mutated
from speechxai.device import device_of
from speechxai.errors import AttributionError, AudioError


class _ClassOutput(nn.Module):
    """``model``'s output of one class, (N, 1): what GradientExplainer explains."""

    def __init__(self, model: nn.Module, target: int):
        super().__init__()
        self.model, self.target = model, target

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.model(inputs)[:, self.target : self.target + 1]


def gradient_shap_values(model: nn.Module, inputs: torch.Tensor, targets,
                         background: torch.Tensor, n_samples: int = 32, seed: int = 0
                         ) -> np.ndarray:
    """The engine of ``explain(..., method="shap")``: expected-gradients SHAP values
    (``shap.GradientExplainer``) of the output of class ``targets[n]`` for each input
    ``inputs[n]``, against ``background`` inputs of the same shape; each input's
    ``n_samples`` background draws and interpolation points come from ``seed``, so two
    models explained with the same seed meet the same points. Returns an array of the
    inputs' shape (float64)."""
    import shap  # on use: it takes seconds to import

    inputs = torch.as_tensor(inputs).to(device_of(model))
    check_inputs(inputs)  # finite floating-point samples, or AudioError
    background = torch.as_tensor(background, dtype=inputs.dtype, device=inputs.device)
    targets = np.broadcast_to(np.asarray(targets, dtype=int), (len(inputs),))
    if background.ndim != inputs.ndim or background.shape[1:] != inputs.shape[1:]:
        raise AttributionError(f"background must be inputs of shape (B, "
                               f"{', '.join(map(str, inputs.shape[1:]))}), got "
                               f"{tuple(background.shape)}")
    if not torch.isfinite(background).all():
        raise AudioError("the background inputs contain NaN or infinite values")
    was_training, numpy_state = model.training, np.random.get_state()
    model.eval()
    values = []
    try:
        for n, target in enumerate(targets):
            explainer = shap.GradientExplainer(_ClassOutput(model, int(target)), background)
            # rseed reseeds numpy's global generator, restored below
            phi = explainer.shap_values(inputs[n : n + 1], nsamples=n_samples, rseed=seed + n)
            values.append(np.asarray(phi, dtype=np.float64).reshape(inputs.shape[1:]))
    finally:
        model.train(was_training)
        np.random.set_state(numpy_state)
    return mutated("shap", np.stack(values))
