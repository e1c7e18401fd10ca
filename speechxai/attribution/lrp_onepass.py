"""The rules of :func:`speechxai.attribution.lrp.lrp_composite` in one forward and one backward
pass (Montavon et al. 2019, Sec. 10.2.2): each convolution and dense layer gets a forward hook
whose backward pass carries its rule's relevance message, so that the relevance of a tensor is
the tensor times its gradient (:func:`fast_relevance`) - for about a fifth of zennit's cost on
AudioNet and AlexNet (``benchmarks/lrp_cost.py``), equal to zennit's up to rounding (tests).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import contextmanager

import torch
from torch import nn
from zennit.core import expand

from speechxai.attribution.explanation import Explanation
from speechxai.attribution.lrp import (
    Bound,
    Target,
    backpropagate,
    check_inputs,
    lrp_explanation,
)
from speechxai.attribution.mutation import mutated
from speechxai.errors import AttributionError

STABILISER = 1e-6  # zennit's stabiliser of the z^B and gamma denominators (EpsilonGammaBox)
_CONVOLUTIONS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_CONVOLVE = {1: nn.functional.conv1d, 2: nn.functional.conv2d, 3: nn.functional.conv3d}
_PASS_THROUGH = (nn.ReLU, nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.Dropout, nn.Flatten,
                 nn.Identity)


def _phase_transposed(s: torch.Tensor, weight: torch.Tensor, stride: tuple, padding: tuple,
                      size: torch.Size) -> torch.Tensor:
    """The input gradient, for inputs of spatial ``size``, of a strided convolution (one
    group, no dilation) with ``weight`` at the output gradient ``s``: one stride-1
    convolution yields the ``prod(stride)`` phases of the input as channels, interleaved
    afterwards (the sub-pixel convolution of Shi et al. 2016). oneDNN's input-gradient
    kernel takes 2-3 times as long on AlexNet's first layer (one input channel, stride 4).
    """
    n, (outputs, inputs, *kernel), dims = len(s), weight.shape, range(len(stride))
    taps = [-(-kernel[i] // stride[i]) for i in dims]
    # weight[o, c, stride t + r] -> phases[(c, r), o, taps - 1 - t], zero beyond the kernel
    pad = [amount for i in reversed(dims) for amount in (0, stride[i] * taps[i] - kernel[i])]
    split = nn.functional.pad(weight, pad).reshape(
        outputs, inputs, *(extent for i in dims for extent in (taps[i], stride[i])))
    phases = split.permute(1, *(3 + 2 * i for i in dims), 0, *(2 + 2 * i for i in dims)).flip(
        [-1 - i for i in dims]).reshape(inputs * math.prod(stride), outputs, *taps)
    # phase r of input position stride q + r - padding, for q up to the last input position
    last = [(size[i] - 1 + padding[i]) // stride[i] for i in dims]
    pad = [amount for i in reversed(dims)
           for amount in (taps[i] - 1, max(0, last[i] + 1 - s.shape[2 + i]))]
    y = _CONVOLVE[len(stride)](nn.functional.pad(s, pad), phases)
    lengths = y.shape[2:]
    y = y.reshape(n, inputs, *stride, *lengths).permute(
        0, 1, *(axis for i in dims for axis in (2 + len(stride) + i, 2 + i)))
    y = y.reshape(n, inputs, *(lengths[i] * stride[i] for i in dims))
    return y[(..., *(slice(padding[i], padding[i] + size[i]) for i in dims))]


def _part(parameter: torch.Tensor | None, modify: Callable) -> torch.Tensor | None:
    return None if parameter is None else modify(parameter.detach())


class _Rule:
    """An LRP rule of one convolution or dense layer in the modified-gradient form.

    ``prepare(x, z)`` runs in the forward pass and keeps what the backward pass needs;
    ``message(h, x, z, *prepared)`` maps the gradient ``h`` at the layer's output to the
    one at its input, overwriting what ``prepare`` kept (the graph runs backwards once).
    Above the first layer, the relevance of every tensor ``t`` is ``t * grad_t``; the first
    layer's message is its input relevance itself.
    """

    def __init__(self, module: nn.Module):
        self.module = module
        self.weight = module.weight.detach()

    def linear(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None):
        """The layer's linear map with ``weight`` and ``bias`` instead of its own."""
        m = self.module
        if isinstance(m, nn.Linear):
            return nn.functional.linear(x, weight, bias)
        convolve = _CONVOLVE[len(m.stride)]
        return convolve(x, weight, bias, m.stride, m.padding, m.dilation, m.groups)

    def transposed(self, s: torch.Tensor, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """The input gradient of :meth:`linear` with ``weight`` at the output gradient ``s``,
        for inputs shaped like ``x`` (of strided convolutions by :func:`_phase_transposed`)."""
        m = self.module
        if isinstance(m, nn.Linear):
            return s @ weight
        if max(m.stride) > 1 and m.groups == 1 and max(m.dilation) == 1:
            return _phase_transposed(s, weight, m.stride, m.padding, x.shape[2:])
        return torch.ops.aten.convolution_backward(
            s, x, weight, None, m.stride, m.padding, m.dilation, False, [0] * len(m.stride),
            m.groups, [True, False, False])[0]

    def hook(self, module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
        return _RuleGradient.apply(args[0], output.detach(), self)


class _RuleGradient(torch.autograd.Function):
    """A layer's output ``z`` unchanged in the forward pass, its rule's message backwards."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, z: torch.Tensor, rule: _Rule) -> torch.Tensor:
        ctx.save_for_backward(x, z)
        ctx.rule, ctx.prepared = rule, rule.prepare(x, z)
        return z

    @staticmethod
    def backward(ctx, h: torch.Tensor):
        return ctx.rule.message(h, *ctx.saved_tensors, *ctx.prepared), None, None


class _Epsilon(_Rule):
    """LRP-epsilon: ``R_j = x_j sum_k w_jk R_k / (z_k + epsilon sign z_k)``; with
    ``R_k = z_k h_k`` the message is ``W^T (h |z| / (|z| + epsilon))``."""

    def __init__(self, module: nn.Module, epsilon: float):
        super().__init__(module)
        self.epsilon = epsilon

    def prepare(self, x, z):
        magnitude = z.abs()
        return (torch.div(magnitude, magnitude + self.epsilon, out=magnitude),)

    def message(self, h, x, z, ratio):
        return self.transposed(ratio.mul_(h), x, self.weight)


class _Gamma(_Rule):
    """zennit's generalised LRP-gamma. Where ``z_k > 0``, inputs ``x_j > 0`` see the weights
    ``w + gamma w^+`` and inputs ``x_j < 0`` see ``w + gamma w^-`` (the bias ``b + gamma
    b^+``); where ``z_k < 0`` the two swap (bias ``b + gamma b^-``). The message divides
    ``R_k = z_k h_k`` by the stabilised modified output ``z'_k`` and transposes the same
    weights.

    The modified output adds ``gamma`` times the positive contributions to ``z`` (the
    negative ones where ``z < 0``), so ``z' >= z > 0`` (``z' <= z < 0``) and the ratio
    ``z / (z' + epsilon sign z')`` is ``z / (|z'| + epsilon)`` (``-z / (|z'| + epsilon)``)
    there: three passes over one fresh tensor, whose other half is cleared only when ``h``
    does not vanish there. The forward pass adds one convolution (two for inputs of both
    signs); the ``z < 0`` half costs nothing where ``h`` vanishes there, as below a ReLU,
    else the backward pass computes it.
    """

    def __init__(self, module: nn.Module, gamma: float):
        super().__init__(module)
        self.up = (self.weight + gamma * self.weight.clamp(min=0),
                   _part(module.bias, lambda b: b + gamma * b.clamp(min=0)))
        self.down = (self.weight + gamma * self.weight.clamp(max=0),
                     _part(module.bias, lambda b: b + gamma * b.clamp(max=0)))

    def ratio(self, x, z, signed, sign):
        """``z / z'`` of the half ``sign * z > 0`` (elsewhere any finite value)."""
        favoured, other = (self.up, self.down) if sign > 0 else (self.down, self.up)
        if signed:
            modified = (self.linear(x.clamp(min=0), *favoured)
                        + self.linear(x.clamp(max=0), other[0]))
        else:
            modified = self.linear(x, *favoured)
        modified.abs_().add_(STABILISER)
        return torch.div(z, modified.neg_() if sign < 0 else modified, out=modified)

    def prepare(self, x, z):
        signed = bool(x.min() < 0)
        return self.ratio(x, z, signed, 1), signed

    def message(self, h, x, z, positive, signed):
        stray = z.le(0).logical_and_(h.ne(0))
        if not stray.any():  # h vanishes where z <= 0, as below a ReLU
            return self.gradient(positive.mul_(h), None, x, signed)
        up = positive.clamp_(min=0).mul_(h)
        return self.gradient(up, self.ratio(x, z, signed, -1).clamp_(min=0).mul_(h), x, signed)

    def gradient(self, up, down, x, signed):
        """``(up, down)`` transposed with the weights that each sign of ``x`` sees."""
        def transposed(first, second):
            result = self.transposed(up, x, first[0])
            return result if down is None else result + self.transposed(down, x, second[0])

        if not signed:
            return transposed(self.up, self.down)
        return torch.where(x < 0, transposed(self.down, self.up), transposed(self.up, self.down))


class _Box(_Rule):
    """z^B (Montavon et al. 2017): ``R_j = sum_k (x_j w_jk - l_j w_jk^+ - h_j w_jk^-) R_k /
    sum_j (...)``. The denominator is ``z`` minus the layer's map of ``l`` with ``w^+, b^+``
    and of ``h`` with ``w^-, b^-`` (batch-constant bounds: one sample each); the input
    relevance is ``(x - l) W+^T s + (x - h) W-^T s`` with ``s = z h / denominator``, both
    transposes in one (the weights stacked along the input channels of each group). With
    the inputs inside the bounds, every term of the denominator is non-negative."""

    def __init__(self, module: nn.Module, low: Bound, high: Bound):
        super().__init__(module)
        self.low, self.high = low, high
        self.plus = self.weight.clamp(min=0), _part(module.bias, lambda b: b.clamp(min=0))
        self.minus = self.weight.clamp(max=0), _part(module.bias, lambda b: b.clamp(max=0))
        self.stacked = torch.cat([self.plus[0], self.minus[0]], dim=1)

    @staticmethod
    def bound(bound: Bound, x: torch.Tensor) -> torch.Tensor:
        """``bound`` expanded to ``x`` as zennit's ZBox does; one sample if batch-constant."""
        expanded = expand(bound, x.shape, cut_batch_dim=True).to(x)
        return expanded[:1] if expanded.stride(0) == 0 else expanded

    def prepare(self, x, z):
        low, high = self.bound(self.low, x), self.bound(self.high, x)
        offset = self.linear(low, *self.plus) + self.linear(high, *self.minus)
        if ((low <= x) & (x <= high)).all():  # every term >= 0: the stabiliser is +epsilon
            box = z - (offset - STABILISER)
        else:  # zennit's stabilize: d + epsilon sign d, with sign(0) = 1
            box = z - offset
            box = torch.where(box < 0, box - STABILISER, box + STABILISER)
        return torch.div(z, box, out=box), low, high

    def message(self, h, x, z, ratio, low, high):
        s = ratio.mul_(h)
        if isinstance(self.module, nn.Linear):
            plus, minus = self.transposed(s, x, self.stacked).chunk(2, dim=-1)
        else:  # uninitialised memory, for the shape only: its pages are never touched
            both = self.transposed(s, x.new_empty(len(x), 2 * x.shape[1], *x.shape[2:]),
                                   self.stacked)
            plus, minus = (part.flatten(1, 2) for part in
                           both.unflatten(1, (self.module.groups, 2, -1)).unbind(2))
        return (x - low).mul_(plus).addcmul_(x - high, minus)


def _without_rule(module: nn.Module) -> bool:
    """Whether :func:`fast_relevance` has no rule for the leaf ``module``."""
    if isinstance(module, _CONVOLUTIONS):
        return module.padding_mode != "zeros" or isinstance(module.padding, str)
    if isinstance(module, nn.ReLU):
        return module.inplace  # would overwrite the output that the rule keeps
    return not isinstance(module, (nn.Linear, *_PASS_THROUGH))


@contextmanager
def _fast_rules(model: nn.Module, low: Bound, high: Bound, epsilon: float, gamma: float):
    """The rules of :func:`~speechxai.attribution.lrp.lrp_composite` as forward hooks of
    ``model``'s layers."""
    leaves = [(name, m) for name, m in model.named_modules() if next(m.children(), None) is None]
    unsupported = [f"{name or 'model'} ({m})" for name, m in leaves if _without_rule(m)]
    if unsupported:
        raise AttributionError(
            f"fast_relevance has no rule for {', '.join(unsupported)}: it supports convolutions "
            f"with zero padding, Linear, ReLU, max-pooling, Dropout and Flatten; use relevance")
    weighted = [i for i, (_, m) in enumerate(leaves) if isinstance(m, (nn.Linear, *_CONVOLUTIONS))]
    if not weighted:
        raise AttributionError("the model has no convolution or dense layer to explain")
    early = [name for name, m in leaves[:weighted[0]]
             if not isinstance(m, (nn.Flatten, nn.Dropout, nn.Identity))]
    if early:
        raise AttributionError(f"fast_relevance has no rule for {', '.join(early)} before the "
                               f"first convolution or dense layer; use relevance")
    first, *others = (leaves[i][1] for i in weighted)
    rules = [_Box(first, low, high)] + [
        _Gamma(m, gamma) if isinstance(m, _CONVOLUTIONS) else _Epsilon(m, epsilon)
        for m in others]
    handles = [rule.module.register_forward_hook(rule.hook) for rule in rules]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def fast_relevance(
    model: nn.Module,
    inputs: torch.Tensor,
    target: Target,
    low: Bound | None = None,
    high: Bound | None = None,
    epsilon: float = 1e-6,
    gamma: float = 0.25,
) -> Explanation:
    """:func:`~speechxai.attribution.lrp.relevance` with ``lrp_composite(low, high, epsilon,
    gamma)`` (bounds by default
    ``inputs.min()``/``inputs.max()``, as there) in one forward and one backward pass: equal
    up to rounding, for 1.2-1.4 times the cost of an input gradient where zennit's hooks
    take 5-6 (``benchmarks/lrp_cost.py``: AudioNet and AlexNet, batch 64, 2 cores).

    Montavon et al. (2019, Sec. 10.2.2) compute a rule ``R_j = x_j sum_k rho(w_jk) R_k /
    z'_k`` in four steps: the denominators ``z'`` forwards, ``s = R / z'``, ``c = rho(W)^T
    s`` as a gradient, ``R = x c``. Here every convolution and dense layer keeps its output
    ``z`` and computes ``z'`` in the forward pass, and its backward pass maps the gradient
    ``h`` at its output to ``rho(W)^T (z h / z')`` (a transposed convolution), instead of
    zennit's hooks that repeat three to five modified forward passes per layer in the
    backward pass. Then the relevance of every tensor ``t`` above the first layer is ``t *
    grad_t``: at the top, ``f_target(x)`` times the one-hot gradient; below a layer, ``R_j =
    x_j c_j`` as in step 4 given ``R_k = z_k h_k``; through a ReLU, ``z (h 1[z > 0]) =
    relu(z) h``, the relevance passed on unchanged as in the composite; through max-pooling,
    to the winner, whose value is the output. The first layer's backward pass returns its
    z^B relevance itself.

    Supported layers: convolutions (zero padding given as numbers), dense layers, ReLU (not
    in place), max-pooling, dropout, flattening and identities, with only the last three
    before the first convolution or dense layer; the model's forward must chain them in the
    order of registration, as AudioNet and AlexNet do. :class:`AttributionError` names any
    other layer (use :func:`~speechxai.attribution.lrp.relevance` there) and problems of the
    inputs' shape and the targets; :class:`~speechxai.errors.AudioError` inputs that are not
    finite floating-point numbers.
    """
    return lrp_explanation(inputs, target, *fast_outputs_and_relevance(
        model, inputs, target, low, high, epsilon, gamma))


def fast_outputs_and_relevance(
    model: nn.Module,
    inputs: torch.Tensor,
    target: Target,
    low: Bound | None = None,
    high: Bound | None = None,
    epsilon: float = 1e-6,
    gamma: float = 0.25,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`fast_relevance`'s explained outputs ``f_target(x)`` (N,) and relevances (shape of
    ``inputs``) as tensors, as :func:`~speechxai.attribution.lrp.outputs_and_relevance`."""
    check_inputs(inputs)
    low = inputs.min().item() if low is None else low
    high = inputs.max().item() if high is None else high
    outputs, relevances = backpropagate(model, inputs, target,
                                        lambda: _fast_rules(model, low, high, epsilon, gamma),
                                        False)
    return outputs, mutated("lrp", relevances)
