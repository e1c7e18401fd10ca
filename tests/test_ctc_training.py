"""The DeepSpeech chapter's protocol (speechxai.experiments.deepspeech): speaker-disjoint
sequence splits, cached MFCC windows, seeded and cached CTC training with the input
standardisation folded into the model, and greedy-decoding error rates (tiny models, toy
tones)."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import NamedTuple

import numpy as np
import pytest
import torch

import speechxai.device
import speechxai.training
from speechxai.ctc import character_error_rate, word_error_rate
from speechxai.experiments.deepspeech import (
    CTCConfig,
    _fold,
    _frames,
    _Standardised,
    evaluate,
    sequence_split,
    train_recognizer,
    utterance_windows,
)
from speechxai.features import mfcc_windows
from speechxai.models import DeepSpeech


class Item(NamedTuple):
    waveform: torch.Tensor
    sample_rate: int
    transcript: str


RATE = 16000
TONES = {"one": 300.0, "two": 1500.0}


def toy_items() -> list[Item]:
    """Four 'sentences' of 0.25-s tones, one pitch per word, with 0.05 s of silence around."""
    t = torch.arange(int(0.25 * RATE)) / RATE
    gap = torch.zeros(int(0.05 * RATE))
    items = []
    for words in (["one"], ["two"], ["one", "two"], ["two", "one"]):
        pieces = [gap]
        for word in words:
            pieces += [0.5 * torch.sin(2 * torch.pi * TONES[word] * t), gap]
        items.append(Item(torch.cat(pieces), RATE, " ".join(words)))
    return items


CONFIG = CTCConfig(hidden=16, steps=25, batch_size=4, learning_rate=1e-2, cosine=False)


def test_utterance_windows_equal_mfcc_windows_and_their_frames_are_cached():
    item = toy_items()[2]
    torch.testing.assert_close(utterance_windows(item), mfcc_windows(item.waveform, RATE),
                               rtol=0, atol=0)
    assert _frames(item) is _frames(Item(item.waveform.clone(), RATE, "other"))


def test_training_lowers_the_ctc_loss(tmp_path):
    history = train_recognizer(CONFIG, toy_items(), progress=False, cache_dir=tmp_path).history
    assert len(history["loss"]) == CONFIG.steps and history["step"] == history["cer"] == []
    assert np.mean(history["loss"][-5:]) < 0.7 * np.mean(history["loss"][:5])


def test_same_seed_same_weights_and_the_cache_returns_them(tmp_path):
    config = replace(CONFIG, steps=3)
    first = train_recognizer(config, toy_items(), progress=False, cache_dir=tmp_path / "a")
    second = train_recognizer(config, toy_items(), progress=False, cache_dir=tmp_path / "b")
    cached = train_recognizer(config, toy_items(), progress=False, cache_dir=tmp_path / "a")
    for other in (second, cached):
        for a, b in zip(first.model.state_dict().values(), other.model.state_dict().values(),
                        strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
        assert other.history == first.history
        torch.testing.assert_close(other.mean, first.mean, rtol=0, atol=0)
    assert len(list((tmp_path / "a").glob("deepspeech-*.pt"))) == 1
    reseeded = train_recognizer(replace(config, seed=1), toy_items(), progress=False,
                                cache_dir=tmp_path / "a")
    assert not torch.equal(reseeded.model.head[-1].weight, first.model.head[-1].weight)
    fewer = train_recognizer(config, toy_items()[:3], progress=False, cache_dir=tmp_path / "a")
    assert len(list((tmp_path / "a").glob("deepspeech-*.pt"))) == 3  # data are in the key
    assert fewer.mean.shape == (26,)


def test_every_config_field_changes_the_key():
    changed = [replace(CONFIG, hidden=8), replace(CONFIG, steps=4), replace(CONFIG, seed=1),
               replace(CONFIG, batch_size=2), replace(CONFIG, learning_rate=1e-3),
               replace(CONFIG, bf16=True), replace(CONFIG, gradient_clip=1.0),
               replace(CONFIG, cosine=True), replace(CONFIG, augment=1)]
    assert len({CONFIG.key(), *(c.key() for c in changed)}) == 1 + len(changed)
    with pytest.raises(ValueError, match="must be >= 1"):
        CTCConfig(steps=0)
    with pytest.raises(ValueError, match="channel copies"):
        CTCConfig(augment=-1)


def test_channel_copies_join_the_training_frames(tmp_path):
    config = replace(CONFIG, steps=2)
    plain = train_recognizer(config, toy_items(), progress=False, cache_dir=tmp_path)
    copied = train_recognizer(replace(config, augment=2), toy_items(), progress=False,
                              cache_dir=tmp_path)
    # the standardisation is taken over every training frame: copies through other channels
    # (band limits, rooms, noise) move the per-coefficient means
    assert not torch.allclose(plain.mean, copied.mean, atol=1e-2)
    assert len(list(tmp_path.glob("deepspeech-*.pt"))) == 2


def test_folding_the_standardisation_keeps_the_function():
    torch.manual_seed(0)
    model = DeepSpeech(hidden=8).double()
    mean, std = torch.randn(26, dtype=torch.float64), torch.rand(26, dtype=torch.float64) + 0.5
    windows = torch.randn(2, 5, 19, 26, dtype=torch.float64) * 3
    expected = _Standardised(model, mean, std)(windows)
    torch.testing.assert_close(_fold(copy.deepcopy(model), mean, std)(windows), expected)


def test_evaluate_scores_the_greedy_transcripts_and_training_can_monitor(tmp_path):
    config = replace(CONFIG, steps=5)
    trained = train_recognizer(config, toy_items(), progress=False, monitor_items=toy_items(),
                               cache_dir=tmp_path)
    assert trained.history["step"] == [1, 2, 3, 4, 5] and len(trained.history["cer"]) == 5
    scores = evaluate(trained.model, toy_items(), batch_size=3)
    references = [item.transcript for item in toy_items()]
    assert len(scores.hypotheses) == 4
    assert scores.cer == character_error_rate(references, scores.hypotheses)
    assert scores.wer == word_error_rate(references, scores.hypotheses)
    assert scores.cer == trained.history["cer"][-1]
    with pytest.raises(ValueError, match="no items"):
        evaluate(trained.model, [])


def test_sequence_split_holds_out_speakers(tmp_path):
    from speechxai.datasets import SpokenDigits

    corpus = SpokenDigits(n_speakers=6, per_digit=1, seed=0, root=tmp_path, progress=False)
    train, test = sequence_split(corpus, (5, 3), seed=0)
    assert (len(train), len(test)) == (5, 3)
    assert not set(train.speakers) & set(test.speakers)
    assert set(train.speakers) | set(test.speakers) <= set(corpus.speakers)
    assert {test[i].speaker for i in range(3)} <= set(test.speakers)
    with pytest.raises(ValueError, match="two positive counts"):
        sequence_split(corpus, (5, 0))


def test_bf16_is_switched_off_on_a_cpu_without_it(tmp_path, monkeypatch):
    monkeypatch.setattr(speechxai.device, "native_bf16", lambda device=None: False)
    config = replace(CONFIG, steps=2, bf16=True)
    trained = train_recognizer(config, toy_items(), progress=False, cache_dir=tmp_path)
    assert trained.config == replace(config, bf16=False)
