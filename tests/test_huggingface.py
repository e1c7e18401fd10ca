"""A tiny randomly initialised wav2vec 2.0 classifier as a black box (no download)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from speechxai.attribution.blackbox import slot_probabilities
from speechxai.features import resample
from speechxai.huggingface import hf_predict_proba, require_transformers

transformers = pytest.importorskip("transformers")


def tiny_model(num_labels: int = 3):
    torch.manual_seed(0)
    config = transformers.Wav2Vec2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        conv_dim=(16, 16, 16), conv_stride=(5, 4, 4), conv_kernel=(10, 8, 8),
        num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4, classifier_proj_size=16,
        feat_extract_norm="layer", num_labels=num_labels)
    return transformers.Wav2Vec2ForSequenceClassification(config)


class Spy:
    """A feature extractor that records the lengths of the arrays it pads."""

    def __init__(self, return_attention_mask: bool = True):
        self.extractor = transformers.Wav2Vec2FeatureExtractor(
            sampling_rate=16000, return_attention_mask=return_attention_mask)
        self.sampling_rate = self.extractor.sampling_rate
        self.return_attention_mask = return_attention_mask
        self.calls: list[list[int]] = []

    def __call__(self, arrays, **kwargs):
        self.calls.append([len(array) for array in arrays])
        return self.extractor(arrays, **kwargs)


def waveforms(rate: int, seconds=(0.5, 0.3, 0.4)) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return [0.1 * torch.randn(int(s * rate), generator=generator) for s in seconds]


def test_probabilities_of_resampled_padded_batches():
    model, spy = tiny_model(), Spy()
    predict_proba = hf_predict_proba(model, spy, 8000, batch_size=2)
    table = slot_probabilities(predict_proba, waveforms(8000))["label"]
    assert table.shape == (3, 3)
    assert spy.calls == [[8000, 4800], [6400]]  # resampled to 16 kHz, two per batch
    at_16k = [resample(w, 8000, 16000) for w in waveforms(8000)]
    alone = [hf_predict_proba(model, spy, 16000)([w]).numpy()[0] for w in at_16k]
    np.testing.assert_allclose(np.stack(alone), table, atol=1e-5)  # padding changes no row


def test_without_attention_mask_every_waveform_runs_alone():
    spy = Spy(return_attention_mask=False)
    table = hf_predict_proba(tiny_model(), spy, 16000)(waveforms(16000))
    assert table.shape == (3, 3) and spy.calls == [[8000], [4800], [6400]]


def test_slots_split_the_logits_into_blocks():
    predict_proba = hf_predict_proba(tiny_model(5), Spy(), 16000, slots={"a": 2, "b": 3})
    tables = slot_probabilities(predict_proba, waveforms(16000))
    assert {slot: t.shape for slot, t in tables.items()} == {"a": (3, 2), "b": (3, 3)}
    with pytest.raises(ValueError, match="add up"):
        hf_predict_proba(tiny_model(5), Spy(), 16000, slots={"a": 2, "b": 2})
    with pytest.raises(TypeError, match="PreTrainedModel"):
        hf_predict_proba(torch.nn.Linear(2, 2), Spy(), 16000)


def test_missing_transformers_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(ImportError, match=r"\.\[hf\]"):
        require_transformers()
