"""LRP rules and composites the package adds to zennit's (zennit's split: core, rules,
composites, canonizers, attribution; Anders et al. 2021).

- :class:`BatchNormSignRule`: Krug & Stober's (2018) rule for a convolution followed by
  BatchNorm (NAvAI, Eqs. 3-4), and :func:`bn_rule_composite`, which puts it on every Conv1d of
  a recogniser.

The one-pass rules of :mod:`speechxai.attribution.lrp_onepass` and the LSTM rule of
:mod:`speechxai.attribution.lstm_lrp` run outside zennit's hooks and stay with their passes.
"""

from __future__ import annotations

import torch
from torch import nn
from zennit.core import BasicHook, Composite
from zennit.rules import Pass

from speechxai.errors import AttributionError

BN_RULE_EPSILON = 1e-21
"""The paper's stabiliser of ``|z_j|`` in Eq. 3."""


class BatchNormSignRule(BasicHook):
    """Krug & Stober's (2018) LRP rule for a convolution followed by BatchNorm (Eqs. 3-4).

    ``r_ij = z_ij / (|z_j| + 1e-21) * sgn(bn(z_j))`` and ``R_i = sum_j r_ij R_j``, with the
    local pre-activations ``z_ij = x_i w_ij``, the convolution's output ``z_j`` (bias
    included) and ``bn`` the following BatchNorm in eval mode (the identity if ``batch_norm``
    is None, so that ``r_ij = z_ij / z_j``: LRP-0). The input relevances are then divided by
    their maximum absolute value per sample: the paper rescales at every layer to keep relevances
    bounded, which conserves their ratios but not their sum.
    """

    def __init__(self, batch_norm: nn.BatchNorm1d | None = None):
        self.batch_norm = batch_norm
        super().__init__(gradient_mapper=self._mapper, reducer=self._reducer)

    def _mapper(self, out_grad: torch.Tensor, outputs: list[torch.Tensor]) -> tuple[torch.Tensor]:
        z = outputs[0].detach()
        after = z if self.batch_norm is None else nn.functional.batch_norm(
            z, self.batch_norm.running_mean, self.batch_norm.running_var,
            self.batch_norm.weight, self.batch_norm.bias, False, 0.0, self.batch_norm.eps)
        return (out_grad * after.sign() / (z.abs() + BN_RULE_EPSILON),)

    @staticmethod
    def _reducer(inputs: list[torch.Tensor], gradients: list[torch.Tensor]) -> torch.Tensor:
        relevance = inputs[0] * gradients[0]
        scale = relevance.abs().flatten(1).amax(1).clamp_min(torch.finfo(relevance.dtype).tiny)
        return relevance / scale.view(-1, *(1,) * (relevance.ndim - 1))

    def copy(self) -> BatchNormSignRule:
        return type(self)(self.batch_norm)


def bn_rule_composite(model: nn.Module) -> Composite:
    """A composite putting :class:`BatchNormSignRule` on every Conv1d of ``model`` (with the
    BatchNorm1d that directly follows it in registration order, if any) and passing relevance
    unchanged through BatchNorm and ReLU (their effect is in the rule)."""
    leaves = [module for module in model.modules() if not list(module.children())]
    rules: dict[int, BasicHook | Pass] = {}
    for module, after in zip(leaves, leaves[1:] + [None], strict=True):
        if isinstance(module, nn.Conv1d):
            rules[id(module)] = BatchNormSignRule(after if isinstance(after, nn.BatchNorm1d)
                                                  else None)
        elif isinstance(module, (nn.BatchNorm1d, nn.ReLU)):
            rules[id(module)] = Pass()
    if not any(isinstance(rule, BatchNormSignRule) for rule in rules.values()):
        raise AttributionError("the model has no Conv1d layer for the BatchNorm sign rule")
    return Composite(module_map=lambda ctx, name, module: rules.get(id(module)))
