"""Targeted adversarial examples for a CTC recognizer, and a detector on attribution features.

Markert et al. (2021), "Visualizing automatic speech recognition - means for a better
understanding?", compare attributions of benign and adversarial inputs of DeepSpeech: the
adversarial ones carry larger relevance, above all in the highest MFCCs and the first frames
of a window. The attack here is projected gradient descent (Madry et al. 2018) on the CTC loss
of a chosen transcript (Carlini & Wagner 2018, "Audio adversarial examples"), bounded in
L-infinity on the waveform and differentiated through the MFCC front end. The detector, a
logistic regression scored by its ROC AUC on held-out utterances, goes beyond the paper.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from speechxai.ctc import ctc_loss, encode, greedy_decode
from speechxai.device import device_of
from speechxai.features import mfcc_windows


def targeted_attack(
    model: nn.Module,
    waveform: torch.Tensor,
    sample_rate: int,
    target_text: str,
    eps: float,
    steps: int,
    alpha: float,
    seed: int = 0,
) -> tuple[torch.Tensor, bool, str]:
    """Projected gradient descent on the CTC loss of ``target_text``, within an L-infinity
    ball of radius ``eps`` around the waveform.

    Starts from a uniform random point of the ball (seeded: in exactly silent frames the
    MFCC's power spectrum has zero gradient, so a start at the waveform could never place
    characters there), then takes up to ``steps`` signed-gradient steps of size ``alpha``,
    each projected onto the ball and onto [-1, 1], and stops as soon as greedy decoding
    (:func:`speechxai.ctc.greedy_decode`) reads ``target_text``.

    Parameters
    ----------
    model : nn.Module
        Maps (T, 19, 26) MFCC windows to (T, 29) logits, e.g. a trained
        :class:`speechxai.models.DeepSpeech` (its input normalisation folded in).
    waveform : torch.Tensor, shape (samples,)
        The benign utterance, float in [-1, 1].
    sample_rate : int
        Its sample rate; the attack perturbs the waveform at this rate.
    target_text : str
        The transcript to force (characters of :data:`speechxai.ctc.ALPHABET`).
    eps, steps, alpha
        L-infinity bound, maximum number of steps, step size.
    seed : int
        Seed of the random start.

    Returns
    -------
    adversarial : torch.Tensor, shape (samples,)
        ``|adversarial - waveform| <= eps`` everywhere.
    success : bool
        Whether ``adversarial`` is transcribed as ``target_text``.
    decoded : str
        Its greedy transcript.
    """
    if eps <= 0 or alpha <= 0 or steps < 0:
        raise ValueError(f"need eps > 0, alpha > 0 and steps >= 0, got {eps}, {alpha}, {steps}")
    if not target_text:
        raise ValueError("target_text is empty: CTC needs at least one character")
    target = encode(target_text)
    signal = torch.as_tensor(waveform, dtype=torch.float32).detach()
    if signal.abs().max() > 1:
        raise ValueError("the waveform leaves [-1, 1]: scale it to float audio first")
    n_frames = len(mfcc_windows(signal, sample_rate, differentiable=True))
    needed = len(target) + int((target[1:] == target[:-1]).sum())  # repeats need a blank
    if needed > n_frames:
        raise ValueError(f"{target_text!r} needs {needed} frames, the utterance has {n_frames}")
    generator = torch.Generator().manual_seed(seed)
    delta = (torch.rand(signal.shape, generator=generator) * 2 - 1) * eps
    delta = _project(signal, delta, eps)
    for step in range(steps + 1):
        delta.requires_grad_(True)
        windows = mfcc_windows(signal + delta, sample_rate, differentiable=True)
        logits = model(windows.to(device_of(model))).cpu()  # features on the CPU, as in training
        decoded = greedy_decode(logits.detach())
        if decoded == target_text or step == steps:
            break
        loss = ctc_loss(logits[None], torch.tensor([len(logits)]), [target_text])
        (gradient,) = torch.autograd.grad(loss, delta)
        delta = _project(signal, delta.detach() - alpha * gradient.sign(), eps)
    return (signal + delta).detach(), decoded == target_text, decoded


def _project(signal: torch.Tensor, delta: torch.Tensor, eps: float) -> torch.Tensor:
    """``delta`` clipped to [-eps, eps] and so that ``signal + delta`` stays in [-1, 1]."""
    return (signal + delta.clamp(-eps, eps)).clamp(-1, 1) - signal


def roc_auc(scores_negative, scores_positive) -> float:
    """Area under the ROC curve: the Mann-Whitney U statistic of the positive scores over
    the negative ones, divided by ``n_negative * n_positive`` (ties count one half)."""
    negative = np.asarray(scores_negative, dtype=np.float64).ravel()
    positive = np.asarray(scores_positive, dtype=np.float64).ravel()
    if negative.size == 0 or positive.size == 0:
        raise ValueError("need at least one negative and one positive score")
    values, inverse, counts = np.unique(np.concatenate([negative, positive]),
                                        return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2)[inverse]  # 1-based, ties averaged
    u = ranks[negative.size:].sum() - positive.size * (positive.size + 1) / 2
    return float(u / (negative.size * positive.size))


def _fit_logistic(features, labels, l2: float = 1e-2, iterations: int = 50) -> np.ndarray:
    """Weights (F + 1,) of an L2-regularised logistic regression (bias last), fitted by
    Newton's method; the penalty keeps them finite on separable data."""
    x = np.column_stack([np.asarray(features, dtype=np.float64), np.ones(len(features))])
    y = np.asarray(labels, dtype=np.float64)
    penalty = l2 * np.eye(x.shape[1])
    penalty[-1, -1] = 0.0  # the bias is not penalised
    weights = np.zeros(x.shape[1])
    for _ in range(iterations):
        p = 0.5 * (1 + np.tanh(0.5 * (x @ weights)))  # the sigmoid, without overflow
        gradient = x.T @ (p - y) + penalty @ weights
        hessian = (x * (p * (1 - p))[:, None]).T @ x + penalty
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.abs(step).max() < 1e-10:
            break
    return weights


def detector_auc(
    features_benign, features_adversarial, seed: int = 0, heldout: float = 0.5,
    paired: bool = False,
) -> tuple[float, int]:
    """ROC AUC of a logistic-regression detector of adversarial inputs on held-out utterances.

    Features (N, F) are standardised with the training part's mean and deviation. A seeded
    ``heldout`` share of each class is held out; with ``paired`` (row i of both arrays from
    the same utterance) the same utterances are held out of both classes, so that no
    utterance is seen in training through its other version.

    Returns
    -------
    auc : float
        :func:`roc_auc` of the held-out adversarial over benign scores.
    n_heldout : int
        Number of held-out feature rows (both classes).
    """
    benign = np.asarray(features_benign, dtype=np.float64)
    adversarial = np.asarray(features_adversarial, dtype=np.float64)
    if benign.ndim != 2 or adversarial.ndim != 2 or benign.shape[1] != adversarial.shape[1]:
        raise ValueError(f"expected two (N, F) feature arrays with the same F, got "
                         f"{benign.shape} and {adversarial.shape}")
    if paired and len(benign) != len(adversarial):
        raise ValueError(f"paired features need as many benign as adversarial rows, got "
                         f"{len(benign)} and {len(adversarial)}")
    if not 0 < heldout < 1:
        raise ValueError(f"heldout must be a share in (0, 1), got {heldout}")
    n_b, n_a = (int(round(heldout * len(rows))) for rows in (benign, adversarial))
    if not (0 < n_b < len(benign) and 0 < n_a < len(adversarial)):
        raise ValueError(f"{len(benign)} benign and {len(adversarial)} adversarial rows leave a "
                         f"class without training or held-out rows at heldout={heldout}")
    rng = np.random.default_rng(seed)
    order_b = rng.permutation(len(benign))
    order_a = order_b if paired else rng.permutation(len(adversarial))
    train = np.concatenate([benign[order_b[n_b:]], adversarial[order_a[n_a:]]])
    labels = np.r_[np.zeros(len(benign) - n_b), np.ones(len(adversarial) - n_a)]
    mean, std = train.mean(0), train.std(0)
    std[std == 0] = 1.0
    weights = _fit_logistic((train - mean) / std, labels)

    def score(rows):
        return ((rows - mean) / std) @ weights[:-1] + weights[-1]

    auc = roc_auc(score(benign[order_b[:n_b]]), score(adversarial[order_a[:n_a]]))
    return auc, n_b + n_a
