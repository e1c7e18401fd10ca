"""Test oracles: slow, direct computations of what the package computes fast."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from speechxai.attribution.rules import BN_RULE_EPSILON


def bn_rule_direct(model: nn.Module, window: np.ndarray, target: int) -> np.ndarray:
    """The paper's BatchNorm rule (Krug & Stober 2018, Eqs. 3-4) computed directly: explicit
    loops over every z_ij in float64, relevances divided by their max |value| after each
    layer. Slow; for checking :func:`lrp_bn_rule` on small networks (one window, the
    one-hot ``target`` at its single output frame)."""
    layers = list(model.layers)
    blocks = []
    a = window.astype(np.float64)
    for index, layer in enumerate(layers):
        if not isinstance(layer, nn.Conv1d):
            continue
        w = layer.weight.detach().double().numpy()
        b = layer.bias.detach().double().numpy()
        k, d = layer.kernel_size[0], layer.dilation[0]
        frames = a.shape[1] - (k - 1) * d
        z = np.array([[b[o] + sum(a[c, t + j * d] * w[o, c, j] for c in range(a.shape[0])
                                  for j in range(k)) for t in range(frames)]
                      for o in range(w.shape[0])])
        after = z
        if index + 1 < len(layers) and isinstance(layers[index + 1], nn.BatchNorm1d):
            bn = layers[index + 1]
            mean, var = bn.running_mean.double().numpy(), bn.running_var.double().numpy()
            scale, shift = bn.weight.detach().double().numpy(), bn.bias.detach().double().numpy()
            after = (z - mean[:, None]) / np.sqrt(var[:, None] + bn.eps) * scale[:, None] \
                + shift[:, None]
        blocks.append((a, w, d, z, after))
        a = np.maximum(after, 0) if after is not z else z
    relevance = np.zeros_like(a)
    relevance[target, 0] = 1.0  # the one-hot R(out)
    for a, w, d, z, after in reversed(blocks):
        lower = np.zeros_like(a)
        for o in range(w.shape[0]):
            for t in range(z.shape[1]):
                ratio = np.sign(after[o, t]) / (abs(z[o, t]) + BN_RULE_EPSILON)
                for c in range(w.shape[1]):
                    for j in range(w.shape[2]):
                        lower[c, t + j * d] += a[c, t + j * d] * w[o, c, j] * ratio \
                            * relevance[o, t]
        relevance = lower / max(np.abs(lower).max(), np.finfo(np.float64).tiny)
    return relevance


def values(explanation) -> torch.Tensor:
    """An :class:`~speechxai.Explanation`'s values as a tensor (its dtype and strides), for
    the LRP tests that compare relevances with ``torch.testing``."""
    return torch.from_numpy(explanation.values)
