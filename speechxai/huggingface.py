"""Hugging Face ``transformers`` audio classifiers as black boxes (Pastor et al. 2024 explain
the SUPERB fine-tuned wav2vec 2.0 base on Fluent Speech Commands and IEMOCAP).

``transformers`` is an optional dependency: ``pip install -e ".[hf]"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from speechxai.features import resample


def require_transformers():
    """The ``transformers`` module, or an ``ImportError`` naming the ``hf`` extra."""
    try:
        import transformers
    except ImportError as error:
        raise ImportError("Hugging Face models need the optional dependency transformers: "
                          "pip install -e \".[hf]\" (or pip install transformers)") from error
    return transformers


def hf_predict_proba(model, feature_extractor, sample_rate: int,
                     slots: Mapping[str, int] | None = None, batch_size: int = 16):
    """``predict_proba(waveforms)`` of a ``transformers`` audio-classification model (e.g.
    ``Wav2Vec2ForSequenceClassification``) with its feature extractor (e.g.
    ``Wav2Vec2FeatureExtractor``), for 1-D waveforms at ``sample_rate``.

    Waveforms are resampled to the extractor's ``sampling_rate``
    (:func:`speechxai.features.resample`, torchaudio's sinc interpolation), padded by the
    extractor in batches of ``batch_size``, and the logits turned into probabilities in eval
    mode without gradients. Batches are padded only when the extractor gives an attention
    mask (``return_attention_mask``, Hugging Face's rule): a model without one (e.g. wav2vec
    2.0 base) would read the padding, and a waveform's probabilities would depend on the
    others in its batch, so it runs one waveform at a time. Without ``slots`` the
    result is one (N, num_labels) table; with ``slots`` (name -> classes, in order) the logits
    are consecutive blocks, one softmax each, as in the SUPERB intent-classification heads
    (e.g. action 6, object 14, location 4 for Fluent Speech Commands).
    """
    transformers = require_transformers()
    if not isinstance(model, transformers.PreTrainedModel):
        raise TypeError(f"expected a transformers PreTrainedModel, got {type(model).__name__}")
    n_labels = model.config.num_labels
    if slots is not None and sum(slots.values()) != n_labels:
        raise ValueError(f"the slots' classes {dict(slots)} do not add up to the model's "
                         f"{n_labels} labels")
    rate = feature_extractor.sampling_rate
    if not getattr(feature_extractor, "return_attention_mask", False):
        batch_size = 1

    def logits_of(chunk: Sequence[torch.Tensor]) -> torch.Tensor:
        arrays = [resample(waveform, sample_rate, rate).numpy() for waveform in chunk]
        inputs = feature_extractor(arrays, sampling_rate=rate, padding=True, return_tensors="pt")
        return model(**inputs).logits.float()

    def predict_proba(waveforms: Sequence[torch.Tensor]):
        model.eval()
        with torch.no_grad():
            logits = torch.cat([logits_of(waveforms[start:start + batch_size])
                                for start in range(0, len(waveforms), batch_size)]
                               or [torch.empty(0, n_labels)])
        if slots is None:
            return logits.softmax(-1)
        blocks = logits.split(list(slots.values()), dim=1)
        return {slot: block.softmax(-1) for slot, block in zip(slots, blocks, strict=True)}

    return predict_proba
