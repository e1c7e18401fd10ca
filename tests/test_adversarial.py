"""Targeted CTC attacks and the attribution-feature detector (speechxai.adversarial): the
MFCC path is differentiable and exact, the attack stays in its L-infinity ball, is seeded and
moves towards its target; the Mann-Whitney AUC against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from speechxai.adversarial import detector_auc, roc_auc, targeted_attack
from speechxai.ctc import ctc_loss, greedy_decode
from speechxai.features import mfcc_windows
from speechxai.models import DeepSpeech

RATE = 22050


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return DeepSpeech(hidden=16).eval()


def utterance(seconds: float = 0.3) -> torch.Tensor:
    """A tone with silence at both ends (exact zeros, as between the words of a sequence)."""
    t = torch.arange(int(seconds * RATE)) / RATE
    signal = 0.3 * torch.sin(2 * torch.pi * 440 * t)
    signal[: RATE // 20] = 0
    signal[-RATE // 20:] = 0
    return signal


def target_loss(model, waveform, target):
    with torch.no_grad():
        logits = model(mfcc_windows(waveform, RATE))
    return float(ctc_loss(logits[None], torch.tensor([len(logits)]), [target]))


@pytest.mark.parametrize("rate", [16000, RATE])
def test_differentiable_windows_equal_mfcc_windows_and_pass_gradients(rate):
    signal = torch.randn(rate // 4, generator=torch.Generator().manual_seed(0)) * 0.1
    torch.testing.assert_close(mfcc_windows(signal, rate, differentiable=True),
                               mfcc_windows(signal, rate), rtol=0, atol=0)
    signal.requires_grad_(True)
    mfcc_windows(signal, rate, differentiable=True).sum().backward()
    assert signal.grad.abs().sum() > 0


def test_attack_stays_within_the_bound_is_seeded_and_lowers_the_target_loss(model):
    waveform, eps = utterance(), 0.02
    adversarial, success, decoded = targeted_attack(model, waveform, RATE, "ab", eps=eps,
                                                    steps=15, alpha=0.004, seed=3)
    assert adversarial.shape == waveform.shape
    assert (adversarial - waveform).abs().max() <= eps + 2**-23  # float32 rounding at |x| <= 1
    assert adversarial.abs().max() <= 1
    assert decoded == greedy_decode(model(mfcc_windows(adversarial, RATE)))
    assert success == (decoded == "ab")
    assert target_loss(model, adversarial, "ab") < target_loss(model, waveform, "ab")
    again = targeted_attack(model, waveform, RATE, "ab", eps=eps, steps=15, alpha=0.004, seed=3)
    torch.testing.assert_close(again[0], adversarial, rtol=0, atol=0)
    other = targeted_attack(model, waveform, RATE, "ab", eps=eps, steps=0, alpha=0.004, seed=4)
    assert not torch.equal(other[0], adversarial)


def test_attack_reaches_a_feasible_target_and_stops_there(model):
    """The untrained model reads 'cchzhd'; 'z' is within its reach (most other letters are
    not: its random weights barely let the input move the scores)."""
    waveform = utterance()
    adversarial, success, decoded = targeted_attack(model, waveform, RATE, "z", eps=0.1,
                                                    steps=60, alpha=0.01)
    assert success and decoded == "z"
    assert greedy_decode(model(mfcc_windows(adversarial, RATE))) == "z"
    _, success, decoded = targeted_attack(model, waveform, RATE, "z", eps=0.1, steps=0,
                                          alpha=0.01)
    assert not success and decoded != "z"  # the random start alone does not do it


def test_attack_rejects_bad_input(model):
    waveform = utterance()
    with pytest.raises(ValueError, match="eps > 0"):
        targeted_attack(model, waveform, RATE, "a", eps=0, steps=1, alpha=0.1)
    with pytest.raises(ValueError, match="not in the alphabet"):
        targeted_attack(model, waveform, RATE, "A1", eps=0.1, steps=1, alpha=0.1)
    with pytest.raises(ValueError, match="needs 15 frames, the utterance has 14"):
        targeted_attack(model, waveform, RATE, "a" * 8, eps=0.1, steps=1, alpha=0.1)
    with pytest.raises(ValueError, match="leaves"):
        targeted_attack(model, 2 * waveform / waveform.abs().max(), RATE, "a", eps=0.1,
                        steps=1, alpha=0.1)


def test_roc_auc_by_hand():
    assert roc_auc([0.1, 0.4], [0.35, 0.8]) == 0.75  # pairs: 1 of 4 wrong
    assert roc_auc([1, 2], [2, 3]) == 3.5 / 4  # a tie counts one half
    assert roc_auc([0, 1, 2], [3, 4]) == 1.0
    assert roc_auc([3, 4], [0, 1, 2]) == 0.0
    assert roc_auc([1, 2, 3], [1, 2, 3]) == 0.5
    with pytest.raises(ValueError, match="at least one"):
        roc_auc([], [1])


def test_detector_separates_separable_features_and_not_identical_ones():
    rng = np.random.default_rng(0)
    benign = rng.normal(0, 1, (20, 3))
    auc, n_heldout = detector_auc(benign, benign + [5, 0, 0], seed=0)
    assert (auc, n_heldout) == (1.0, 20)
    assert detector_auc(benign, benign.copy(), seed=1, paired=True) == (0.5, 20)
    assert detector_auc(benign, benign + 5, seed=0) == detector_auc(benign, benign + 5, seed=0)
    with pytest.raises(ValueError, match="same F"):
        detector_auc(benign, benign[:, :2])
    with pytest.raises(ValueError, match="paired"):
        detector_auc(benign, benign[:5], paired=True)
    with pytest.raises(ValueError, match="without training or held-out"):
        detector_auc(benign[:1], benign[:1] + 1)
