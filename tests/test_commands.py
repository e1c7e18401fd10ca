"""The command classifier, its training and cache, and the sex classifier as a black box."""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

import numpy as np
import pytest
import torch

from speechxai.attribution.blackbox import slot_probabilities
from speechxai.datasets.corpus import DIGIT_WORDS
from speechxai.datasets.sequences import FILLER, KEYWORDS, SLOTS, command, slot_classes
from speechxai.experiments import wordlevel
from speechxai.experiments.wordlevel import (
    CommandConfig,
    sex_classifier,
    slot_accuracy,
    train_command_classifier,
)
from speechxai.models import AudioNet, CommandClassifier
from speechxai.models.commands import MEL_BINS
from speechxai.training import TrainedModel, TrainingConfig

RATE = 8000


class Item(NamedTuple):
    waveform: torch.Tensor
    sample_rate: int
    transcript: str
    command: dict[str, str]


def tone_items(n: int, seed: int = 0) -> list[Item]:
    """Commands of 3-4 'digits', each a 0.15-s tone whose pitch tells the digit."""
    rng = np.random.default_rng(seed)
    t = torch.arange(int(0.15 * RATE)) / RATE
    gap = torch.zeros(int(0.05 * RATE))
    items = []
    for _ in range(n):
        keywords = [int(rng.choice(list(words))) for words in KEYWORDS.values()]
        digits = [int(d) for d in rng.permutation(keywords + [FILLER] * rng.integers(0, 2))]
        pieces = [gap]
        for digit in digits:
            pieces += [0.5 * torch.sin(2 * torch.pi * (200 + 300 * digit) * t), gap]
        items.append(Item(torch.cat(pieces), RATE, " ".join(DIGIT_WORDS[d] for d in digits),
                          command(digits)[0]))
    return items


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return CommandClassifier(RATE, width=8).eval()


def test_default_slots_are_the_command_slots(model):
    assert model.slots == {slot: len(slot_classes(slot)) for slot in SLOTS}
    with pytest.raises(ValueError, match="slot"):
        CommandClassifier(RATE, slots={"action": 1})


def test_features_are_normalised_log_mels_independent_of_the_batch(model):
    waveforms = [item.waveform for item in tone_items(3)]
    padded, lengths = model.features(waveforms)
    # frames of 256 samples (2^8 nearest 25 ms at 8 kHz) every 20 ms (160), not centred
    assert lengths.tolist() == [1 + (w.numel() - 256) // 160 for w in waveforms]
    assert padded.shape == (3, MEL_BINS, max(lengths))
    for row, (waveform, n) in enumerate(zip(waveforms, lengths, strict=True)):
        alone, length = model.features([waveform])
        assert length.tolist() == [n]
        torch.testing.assert_close(alone[0], padded[row, :, :n], atol=1e-5, rtol=1e-4)
        assert padded[row, :, n:].abs().sum() == 0
        unit = (alone[0].std(1, unbiased=False) - 1).abs() < 1e-3  # z-normalised bins
        torch.testing.assert_close(alone[0].mean(1), torch.zeros(MEL_BINS), atol=1e-4, rtol=0)
        assert unit.sum() > 5


def test_mel_power_is_torchaudios_mel_spectrogram(model):
    batch = torch.stack([item.waveform[:2000] for item in tone_items(3)])
    expected = model.mel(batch)
    torch.testing.assert_close(model.mel_power(batch), expected, rtol=1e-5,
                               atol=1e-6 * float(expected.abs().max()))


def test_an_unpadded_batch_skips_packing_with_the_same_logits(model, monkeypatch):
    padded, lengths = model.features([item.waveform[:2000] for item in tone_items(3)])
    packs = []
    original = torch.nn.utils.rnn.pack_padded_sequence
    monkeypatch.setattr(torch.nn.utils.rnn, "pack_padded_sequence",
                        lambda *args, **kwargs: packs.append(1) or original(*args, **kwargs))
    direct = model(padded, lengths)
    assert not packs
    # four frames of padding (one step after convolutions of strides 2, 2 and 1) make the
    # same rows go through the packed GRU
    through_packing = model(torch.nn.functional.pad(padded, (0, 4)), lengths)
    assert len(packs) == 1
    for slot in model.slots:
        torch.testing.assert_close(direct[slot], through_packing[slot], atol=1e-5, rtol=1e-4)


def test_forward_gives_logits_per_slot_and_padding_changes_no_row(model):
    padded, lengths = model.features([item.waveform for item in tone_items(3)])
    logits = model(padded, lengths)
    assert {slot: tuple(table.shape) for slot, table in logits.items()} == {
        slot: (3, n) for slot, n in model.slots.items()}
    alone = model(padded[:1, :, :lengths[0]], lengths[:1])
    for slot in model.slots:
        torch.testing.assert_close(alone[slot][0], logits[slot][0], atol=1e-5, rtol=1e-4)


def test_predict_proba_is_a_deterministic_black_box_of_any_batch(model):
    waveforms = [item.waveform for item in tone_items(5)]
    tables = slot_probabilities(model.predict_proba, waveforms)
    assert set(tables) == set(SLOTS)
    assert all(table.shape == (5, model.slots[slot]) for slot, table in tables.items())
    chunked = model.predict_proba(waveforms, batch_size=2)
    again = model.predict_proba(waveforms[::-1])
    for slot in SLOTS:
        np.testing.assert_allclose(chunked[slot].numpy(), tables[slot], atol=1e-6)
        np.testing.assert_allclose(again[slot].numpy()[::-1], tables[slot], atol=1e-6)
    assert all(len(table) == 0 for table in model.predict_proba([]).values())


CONFIG = CommandConfig(width=8, steps=30, batch_size=4, learning_rate=1e-2, cosine=False)


def test_training_lowers_the_loss_and_the_cache_returns_the_model(tmp_path, monkeypatch):
    items = tone_items(8)
    trained = train_command_classifier(CONFIG, items, progress=False, cache_dir=tmp_path)
    loss = trained.history["loss"]
    assert len(loss) == CONFIG.steps
    assert np.mean(loss[-5:]) < 0.7 * np.mean(loss[:5])
    assert [p.name[:9] for p in tmp_path.glob("*.pt")] == ["commands-"]
    cached = train_command_classifier(CONFIG, items, progress=False, cache_dir=tmp_path)
    assert cached.history == trained.history
    for name, weight in trained.model.state_dict().items():
        torch.testing.assert_close(cached.model.state_dict()[name], weight, rtol=0, atol=0)
    accuracy = slot_accuracy(cached.model, items)
    assert set(accuracy) == set(SLOTS) and all(0 <= a <= 1 for a in accuracy.values())
    train_command_classifier(replace(CONFIG, steps=2), items[:4], progress=False,
                             cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.pt"))) == 2  # other config, other data: another entry
    monkeypatch.setattr(wordlevel, "classifier_code", lambda: "changed network")
    train_command_classifier(CONFIG, items, progress=False, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.pt"))) == 3  # a changed network never loads old weights


def test_training_and_scoring_refuse_bad_input(model, tmp_path):
    with pytest.raises(ValueError, match="no training items"):
        train_command_classifier(CONFIG, [], progress=False, cache_dir=tmp_path)
    item = tone_items(1)[0]
    with pytest.raises(ValueError, match="one sample rate"):
        train_command_classifier(CONFIG, [item, item._replace(sample_rate=16000)],
                                 progress=False, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="16000 Hz"):
        slot_accuracy(model, [item._replace(sample_rate=16000)])
    with pytest.raises(ValueError, match="steps"):
        CommandConfig(steps=0)


def tiny_sex_model(task: str = "sex") -> TrainedModel:
    torch.manual_seed(0)
    config = TrainingConfig("audionet", task, "toy", width=0.05)
    return TrainedModel(AudioNet(2 if task == "sex" else 10, width=0.05), config, None, {})


def test_sex_classifier_returns_female_male_probabilities_per_waveform():
    rate = 16000
    predict_proba = sex_classifier(tiny_sex_model(), rate)
    t = torch.arange(rate * 5 // 2) / rate  # 2.5 s: three pieces of at most 1 s
    waveforms = [0.3 * torch.sin(2 * torch.pi * 220 * t), 0.1 * torch.randn(rate // 2)]
    table = slot_probabilities(predict_proba, waveforms)["label"]
    assert table.shape == (2, 2)
    np.testing.assert_allclose(predict_proba(waveforms[1:]).numpy(), table[1:], atol=1e-6)
    np.testing.assert_allclose(sex_classifier(tiny_sex_model(), rate, batch_size=1)(
        waveforms).numpy(), table, atol=1e-6)
    assert predict_proba([]).shape == (0, 2)
    with pytest.raises(ValueError, match="sex classifier"):
        sex_classifier(tiny_sex_model("digit"), rate)
