"""Layer-wise relevance propagation (LRP) for the AudioMNIST classifiers, through zennit.

One composite serves AudioNet (waveforms) and AlexNet (dB spectrograms), chosen by the
layer-type recipe of Montavon et al. (2019), "Layer-wise relevance propagation: an
overview", Sec. 10.3; Becker et al. (2018) start the relevance at the explained output.
:func:`speechxai.attribution.lrp_onepass.fast_relevance` computes the same rules in one
forward and one backward pass (Montavon et al. 2019, Sec. 10.2.2), for about a fifth of
zennit's cost.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable
from contextlib import AbstractContextManager

import torch
from torch import nn
from zennit.composites import EpsilonGammaBox
from zennit.core import Composite
from zennit.rules import ZBox

from speechxai import device as devices
from speechxai.attribution.explanation import Explanation
from speechxai.attribution.mutation import mutated
from speechxai.device import device_of
from speechxai.errors import AttributionError, AudioError
from speechxai.fanout import sharded, sharding
from speechxai.progress import tqdm

Bound = float | torch.Tensor
Target = int | torch.Tensor


def lrp_composite(low: Bound, high: Bound, epsilon: float = 1e-6, gamma: float = 0.25,
                  canonizers: list | None = None) -> Composite:
    """One LRP composite for AudioNet and AlexNet: zennit's ``EpsilonGammaBox``, z^B on the
    first layer, LRP-gamma on the other convolutions, LRP-epsilon on the dense layers
    (the layer-wise recipe of Montavon et al. 2019, Sec. 10.3).

    - z^B (``ZBox``, Sec. 10.3.2) on the first layer: waveforms and dB spectrograms minus a
      mean are real-valued, bounded, and negative as well as positive, so z^+ (non-negative
      inputs only) is wrong there. z^B is the deep-Taylor rule for inputs in
      ``[low, high]``, the data range of the inputs explained (floats, or tensors
      broadcastable to one input of the first layer: AudioNet's sees a waveform as a
      (1, 1, 8000) row); keep the bounds fixed across a data set so that
      relevances are comparable. Its bias terms cancel: it conserves relevance exactly.
    - LRP-gamma (``gamma``, generalised to signed inputs) on the other convolutions, the
      lower and middle layers: favouring positive contributions gives stable, less noisy
      maps than LRP-0, whose explanations there are as noisy as the gradient.
    - LRP-epsilon on the dense layers, the top of both models: with the small default
      ``epsilon`` it is LRP-0 (the recommended top-layer rule) with a stabilised
      denominator.

    ReLUs pass relevance unchanged, max-pooling gives it to the winner (the gradient),
    dropout is the identity in eval mode. The first layer is the first convolution or
    linear layer in registration order (``named_modules``), the order of execution in the
    models of this package; check it for any other model. ``canonizers`` (zennit's, e.g.
    ``SequentialMergeBatchNorm``) rewrite the model while the composite is active.
    """
    return EpsilonGammaBox(
        low, high, epsilon=epsilon, gamma=gamma, first_map=[(nn.Linear, ZBox(low, high))],
        canonizers=canonizers,
    )


def check_inputs(inputs: torch.Tensor) -> None:
    """Raise :class:`AudioError` unless ``inputs`` holds finite floating-point numbers (bad
    data, as everywhere in the package), :class:`AttributionError` unless it is a batch."""
    if not isinstance(inputs, torch.Tensor):
        raise AttributionError(f"inputs must be a tensor, got {type(inputs).__name__}")
    if not inputs.is_floating_point():
        raise AudioError(f"inputs must be a floating-point tensor, got {inputs.dtype}")
    if inputs.ndim < 2 or len(inputs) == 0:
        raise AttributionError(
            f"inputs need a batch dimension first and one input at least, got shape "
            f"{tuple(inputs.shape)}"
        )
    if not torch.isfinite(inputs).all():
        bad = int((~torch.isfinite(inputs)).sum())
        raise AudioError(f"inputs contain {bad} NaN or infinite values")


def check_targets(target: Target, n: int) -> torch.Tensor:
    """``target`` (an int, or one class per sample) as a LongTensor of shape (n,)."""
    target = torch.as_tensor(target)
    if target.dtype == torch.bool or target.is_floating_point() or target.is_complex():
        raise AttributionError(f"target must hold class indices (integers), got {target.dtype}")
    if target.ndim > 1 or (target.ndim == 1 and len(target) != n):
        raise AttributionError(f"target must be an int or have one class per input: got shape "
                               f"{tuple(target.shape)} for {n} inputs")
    return target.long().expand(n)


def outputs_and_relevance(
    model: nn.Module, inputs: torch.Tensor, target: Target, composite: Composite | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The explained outputs ``f_target(x)`` (N,) and the LRP relevances (shape of ``inputs``).

    The output layer's relevance starts as the one-hot target times the output: LRP
    decomposes ``f_target(x)`` (Becker et al. 2018, Sec. 2.3). The model runs in eval mode;
    its mode is restored and the hooks are removed afterwards, also on error.
    """
    check_inputs(inputs)
    if composite is None:
        composite = lrp_composite(inputs.min().item(), inputs.max().item())
    outputs, relevances = backpropagate(model, inputs, target,
                                         lambda: composite.context(model), True)
    return outputs, mutated("lrp", relevances)


def input_gradient(model: nn.Module, inputs: torch.Tensor, target: Target) -> torch.Tensor:
    """The gradient of the output logit ``target`` at each input (saliency, Simonyan et al.
    2014, before taking its magnitude), with :func:`relevance`'s checks; model in eval mode."""
    check_inputs(inputs)
    return mutated("saliency", backpropagate(model, inputs, target, contextlib.nullcontext,
                                              False)[1])


def class_outputs(model, inputs: torch.Tensor) -> torch.Tensor:
    """``model(inputs)``, checked to be (N, classes) for N inputs; a model that refuses the
    inputs or returns another shape raises :class:`AttributionError`."""
    try:
        output = model(inputs)
    except RuntimeError as error:
        raise AttributionError(f"the model rejected inputs of shape {tuple(inputs.shape)}: "
                               f"{error}") from error
    if not isinstance(output, torch.Tensor) or output.ndim != 2 or len(output) != len(inputs):
        shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output)
        per_frame = isinstance(output, torch.Tensor) and output.ndim == 3
        hint = " (per-frame outputs: explain one frame, explain(..., frame=t))" if per_frame else ""
        raise AttributionError(f"expected outputs of shape ({len(inputs)}, classes) for inputs of "
                               f"shape {tuple(inputs.shape)}, got {shape}{hint}")
    return output


def check_target_range(target: torch.Tensor, n_classes: int) -> None:
    """Raise :class:`AttributionError` unless every class index lies in ``0..n_classes-1``."""
    outside = (target < 0) | (target >= n_classes)
    if outside.any():
        raise AttributionError(f"target {target[outside].unique().tolist()} out of range for a "
                               f"model with {n_classes} outputs")


def backpropagate(
    model: nn.Module,
    inputs: torch.Tensor,
    target: Target,
    context: Callable[[], AbstractContextManager],
    start_with_output: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The outputs ``f_target(x)`` and the gradient of the outputs at ``inputs`` under
    ``context()``, started at the one-hot target times the output (``start_with_output``,
    a relevance) or at the one-hot target (a gradient), in eval mode (restored after), on the
    model's device; both on the CPU."""
    device = device_of(model)
    target = check_targets(target, len(inputs)).to(device)
    training = model.training
    model.eval()
    try:
        with context(), torch.enable_grad():
            x = inputs.detach().to(device).clone().requires_grad_()
            output = class_outputs(model, x)
            check_target_range(target, output.shape[1])
            start = nn.functional.one_hot(target, output.shape[1]).to(output)
            if start_with_output:
                # detached: a start that requires grad makes zennit's top hook build a graph
                start = start * output.detach()
            (relevances,) = torch.autograd.grad(output, x, grad_outputs=start)
    finally:
        model.train(training)
    return output.detach().gather(1, target[:, None])[:, 0].cpu(), relevances.cpu()


def lrp_explanation(inputs: torch.Tensor, target: Target, outputs: torch.Tensor,
                    relevances: torch.Tensor) -> Explanation:
    """The :class:`~speechxai.attribution.explanation.Explanation` (method ``"lrp"``) of
    ``relevances`` of ``inputs`` for the class ``target``, whose logits are ``outputs``."""
    return Explanation(values=relevances, data=inputs.detach(), method="lrp",
                       targets=check_targets(target, len(inputs)), outputs=outputs)


def relevance(
    model: nn.Module, inputs: torch.Tensor, target: Target, composite: Composite | None = None
) -> Explanation:
    """LRP relevance of the output logit ``target`` for each input.

    Parameters
    ----------
    model : torch.nn.Module
        The classifier, returning (N, classes) logits.
    inputs : torch.Tensor
        (N, ...) finite floating-point inputs.
    target : int or torch.Tensor
        A class index, or a LongTensor of one class per input.
    composite : zennit.core.Composite, optional
        Default :func:`lrp_composite` with the bounds ``inputs.min()``/``inputs.max()``
        of this batch.

    Returns
    -------
    Explanation
        ``values``: relevances of the shape and dtype of ``inputs``, summing per input to
        the explained output (``outputs``) up to the stabilisers and the biases' share.
    """
    return lrp_explanation(inputs, target, *outputs_and_relevance(model, inputs, target,
                                                                  composite))


def relevance_stream(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: Target,
    batch_size: int = 32,
    progress: bool = True,
    low: Bound | None = None,
    high: Bound | None = None,
    fast: bool = False,
) -> Explanation:
    """:func:`relevance` of a whole data set in batches, as one float32 explanation.

    One :func:`lrp_composite` serves every batch, with ``low``/``high`` defaulting to the
    minimum/maximum of all ``inputs``, so the result does not depend on ``batch_size``.
    No graph outlives its batch. ``fast``: the same rules in one pass
    (:func:`speechxai.attribution.lrp_onepass.fast_relevance`). In a chapter run with ``book
    run --executor ray`` the batches go to the run's Ray cluster, :data:`SHARD_BATCHES` per
    task (:func:`speechxai.fanout.sharded`).
    """
    check_inputs(inputs)
    targets = check_targets(targets, len(inputs))
    if not isinstance(batch_size, int) or batch_size < 1:
        raise AttributionError(f"batch_size must be a positive int, got {batch_size!r}")
    low = inputs.min().item() if low is None else low
    high = inputs.max().item() if high is None else high
    if (inputs < low).any() or (inputs > high).any():
        raise AttributionError(f"inputs fall outside the z^B bounds [{low}, {high}]")
    if sharding():  # book run --executor ray: shards of whole batches, as Ray tasks
        span, shipped = batch_size * SHARD_BATCHES, copy.deepcopy(model).cpu()
        parts = sharded(_relevance_batches, [
            (shipped, inputs[start:start + span], targets[start:start + span], batch_size, low,
             high, fast, False, True) for start in range(0, len(inputs), span)])
    else:
        parts = [_relevance_batches(model, inputs, targets, batch_size, low, high, fast,
                                    progress)]
    outputs, result = (torch.cat(tensors) for tensors in zip(*parts, strict=True))
    return lrp_explanation(inputs, targets, outputs, result)


SHARD_BATCHES = 8
"""Batches per Ray task where :func:`relevance_stream` shards a data set (the same batches as
in one process, so the same relevances)."""


def _relevance_batches(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor,
                       batch_size: int, low: Bound, high: Bound, fast: bool, progress: bool,
                       to_device: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`relevance_stream`'s loop over batches: outputs and relevances (float32, CPU);
    ``to_device``: first move ``model`` (a copy shipped to a Ray task) to this process's
    device."""
    from speechxai.attribution.lrp_onepass import (  # it builds on this module
        fast_outputs_and_relevance,
    )

    if to_device:
        model = model.to(devices.current())
    composite = lrp_composite(low, high)
    result = torch.empty(inputs.shape, dtype=torch.float32)
    outputs = torch.empty(len(inputs), dtype=torch.float32)
    for start in tqdm(range(0, len(inputs), batch_size), desc="LRP", disable=not progress):
        stop = start + batch_size
        batch, batch_targets = inputs[start:stop], targets[start:stop]
        outputs[start:stop], result[start:stop] = (
            fast_outputs_and_relevance(model, batch, batch_targets, low, high) if fast
            else outputs_and_relevance(model, batch, batch_targets, composite))
    return outputs, result


def without_biases(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` with every bias zero, so that LRP's relevances sum to the
    output up to the stabilisers: biases absorb relevance (Montavon et al. 2019, Sec. 10.2.1)."""
    unbiased = copy.deepcopy(model)
    with torch.no_grad():
        for name, parameter in unbiased.named_parameters():
            if name.rsplit(".", 1)[-1] == "bias":
                parameter.zero_()
    return unbiased


def conservation_error(
    model: nn.Module, inputs: torch.Tensor, target: Target, composite: Composite | None = None
) -> float:
    """Mean over the inputs of ``|sum_i R_i - f_target(x)| / |f_target(x)|``.

    Pass ``without_biases(model)`` to test the rules themselves (the error is then ~0 up
    to the stabilisers); on the model as trained it also counts the relevance absorbed by
    the biases (Montavon et al. 2019, Sec. 10.2.1). ``composite`` as in :func:`relevance`.
    """
    outputs, relevances = outputs_and_relevance(model, inputs, target, composite)
    errors = (relevances.flatten(1).sum(1) - outputs).abs()
    return (errors / outputs.abs().clamp_min(torch.finfo(outputs.dtype).tiny)).mean().item()
