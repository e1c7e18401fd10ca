"""The word-level and paralinguistic chapter's models (Pastor et al. 2024, "Explaining speech
classification models via word-level audio segments and paralinguistic features").

The paper explains wav2vec 2.0 intent classifiers on Fluent Speech Commands (slots action,
object, location). Here a :class:`speechxai.models.CommandClassifier` learns the command
slots of spoken digit sequences (:mod:`speechxai.datasets.sequences`), whose deciding words
are known; the AudioMNIST chapter's AudioNet sex classifier serves as a paralinguistic task.
Both are black boxes with ``predict_proba`` (:mod:`speechxai.attribution.blackbox`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from speechxai import device as devices
from speechxai.datasets import data_root
from speechxai.datasets.corpus import SEXES
from speechxai.datasets.sequences import slot_classes
from speechxai.experiments.deepspeech import _data_key
from speechxai.features import AUDIOMNIST_LENGTH, AUDIOMNIST_RATE, resample
from speechxai.inputs import DigitSignals
from speechxai.model_cache import cache_file, code_version, load_or_train
from speechxai.models import CommandClassifier
from speechxai.models.commands import pad_features
from speechxai.progress import tqdm
from speechxai.resume import Resume
from speechxai.training import TrainedModel, config_key, fit


@dataclass(frozen=True)
class CommandConfig:
    """Everything that decides a trained command classifier besides its training data
    (whose content joins the cache key in :func:`train_command_classifier`)."""

    width: int = 64
    steps: int = 400
    batch_size: int = 32
    learning_rate: float = 3e-3
    seed: int = 0
    gradient_clip: float = 5.0
    cosine: bool = True  # anneal the learning rate to zero over the steps

    def __post_init__(self):
        if min(self.width, self.steps, self.batch_size) < 1 or self.learning_rate <= 0:
            raise ValueError(f"width, steps and batch_size must be >= 1 and the learning rate "
                             f"positive, got {self}")

    def key(self) -> str:
        return config_key(self)


@dataclass
class TrainedCommandClassifier:
    """A trained command classifier and its training loss per step (``history["loss"]``)."""

    model: CommandClassifier
    config: CommandConfig
    history: dict[str, list[float]]


def _sample_rate(items: Sequence) -> int:
    rates = {item.sample_rate for item in items}
    if len(rates) != 1:
        raise ValueError(f"the items must share one sample rate, got {sorted(rates)}")
    return rates.pop()


def slot_labels(items: Sequence, slots: Sequence[str]) -> dict[str, torch.Tensor]:
    """Per slot, the class index (in :func:`slot_classes` order) of each item's command."""
    return {slot: torch.tensor([slot_classes(slot).index(item.command[slot]) for item in items])
            for slot in slots}


def train_command_classifier(
    config: CommandConfig,
    train_items: Sequence,
    progress: bool = True,
    cache_dir: str | Path | None = None,
) -> TrainedCommandClassifier:
    """Train (or load from the cache) a :class:`CommandClassifier` on digit sequences.

    Seeded Adam on random batches of zero-padded log-mel spectrograms, the cross-entropy
    summed over the slots, gradient norm clipping and optionally cosine annealing. Items
    need ``waveform``, ``sample_rate``, ``transcript`` and ``command``. Cached at
    ``<cache_dir or data_root()/models>/commands-<key>.pt``, keyed by the configuration, the
    training waveforms and transcripts (which decide the commands) and
    :func:`classifier_code`.
    """
    items = list(train_items)
    if not items:
        raise ValueError("no training items")
    sample_rate = _sample_rate(items)
    path = cache_file(cache_dir or data_root() / "models", "commands", config.key(),
                      _data_key(items), classifier_code())

    def restore(saved: dict) -> TrainedCommandClassifier:
        model = CommandClassifier(sample_rate, width=config.width)
        model.load_state_dict(saved["state"])
        return TrainedCommandClassifier(model.eval(), config, saved["history"])

    return load_or_train(
        path, lambda resume: _train(config, items, sample_rate, progress, resume), restore)


@functools.cache
def classifier_code() -> str:
    """The code version (:func:`~speechxai.model_cache.code_version`) of the command
    classifier: its network and log-mel features and the training loop."""
    from speechxai import features
    from speechxai.models import commands

    return code_version(commands, features, fit, CommandConfig, train_command_classifier,
                        _train, slot_labels)


def _train(config: CommandConfig, items: list, sample_rate: int, progress: bool,
           resume: Resume | None = None) -> dict:
    """:func:`train_command_classifier`'s training: the checkpoint payload."""
    torch.manual_seed(config.seed)
    device = devices.current()
    model = CommandClassifier(sample_rate, width=config.width)  # log-mel on the CPU, then:
    features = []
    for start in tqdm(range(0, len(items), 64), desc="log-mel", disable=not progress):
        padded, lengths = model.features([item.waveform for item in items[start:start + 64]])
        features += [row[:, :n] for row, n in zip(padded, lengths, strict=True)]
    labels = {slot: table.to(device) for slot, table in slot_labels(items, model.slots).items()}
    model = model.to(device)

    def loss_of(chosen):
        logits = model(*(tensor.to(device) for tensor in pad_features([features[i]
                                                                       for i in chosen])))
        return sum(nn.functional.cross_entropy(logits[slot], labels[slot][chosen])
                   for slot in model.slots)

    history = fit(model, config, loss_of, len(items),
                  description=f"CommandClassifier({config.width})", progress=progress,
                  resume=resume)
    model.eval()
    return {"state": devices.on_cpu(model.state_dict()), "history": history}


def slot_accuracy(model: CommandClassifier, items: Sequence) -> dict[str, float]:
    """Per slot, the share of ``items`` whose command the model's most probable class gets
    right."""
    items = list(items)
    if not items:
        raise ValueError("no items to score")
    if _sample_rate(items) != model.sample_rate:
        raise ValueError(f"the items are at {items[0].sample_rate} Hz, the model reads "
                         f"{model.sample_rate} Hz")
    probabilities = model.predict_proba([item.waveform for item in items])
    labels = slot_labels(items, model.slots)
    return {slot: float((probabilities[slot].argmax(1) == labels[slot]).float().mean())
            for slot in model.slots}


def at_rate(items: Sequence, sample_rate: int) -> list:
    """``items`` (digit sequences) resampled to ``sample_rate``, word boundaries rescaled:
    real commands at the rate a classifier of the embedded corpus reads."""
    resampled = []
    for item in items:
        factor = sample_rate / item.sample_rate
        resampled.append(replace(
            item, waveform=resample(item.waveform, item.sample_rate, sample_rate),
            sample_rate=sample_rate,
            boundaries=tuple((round(a * factor), round(b * factor)) for a, b in item.boundaries)))
    return resampled


def sex_classifier(trained: TrainedModel, sample_rate: int, seed: int = 0,
                   batch_size: int = 64):
    """The AudioMNIST chapter's sex classifier as a black box on raw waveforms at
    ``sample_rate``: ``predict_proba(waveforms) -> (N, 2)`` probabilities of female, male
    (the training labels' order, :data:`speechxai.datasets.corpus.SEXES`).

    Each waveform is resampled to 8 kHz and turned into the model's input as in training
    (:meth:`speechxai.training.TrainedModel.inputs`: placed in a 1-s frame at an offset
    drawn from ``seed``, so one that depends only on the length, and scaled). A waveform
    longer than 1 s is cut into the fewest equal pieces of at most 1 s, and the pieces'
    probabilities are averaged (not in the paper, whose classifiers read whole utterances).
    The model runs in eval mode, ``batch_size`` inputs at a time.
    """
    if trained.config.task != "sex":
        raise ValueError(f"need a sex classifier, got a {trained.config.task} model")

    def inputs(signal: torch.Tensor) -> torch.Tensor:
        """The model inputs of the <= 1-s pieces of one 8-kHz signal."""
        pieces = signal.tensor_split(-(-signal.numel() // AUDIOMNIST_LENGTH))
        return torch.cat([trained.inputs(DigitSignals([piece], np.zeros(1, int), np.zeros(1, int),
                                                      [""]), seed) for piece in pieces])

    def predict_proba(waveforms: Sequence[torch.Tensor]) -> torch.Tensor:
        batches = [inputs(resample(w, sample_rate, AUDIOMNIST_RATE)) for w in waveforms]
        if not batches:
            return torch.empty(0, len(SEXES))
        trained.model.eval()
        device = devices.device_of(trained.model)
        with torch.no_grad():
            probabilities = torch.cat([trained.model(chunk.to(device)).softmax(-1).cpu()
                                       for chunk in torch.cat(batches).split(batch_size)])
        pieces = probabilities.split([len(batch) for batch in batches])
        return torch.stack([piece.mean(0) for piece in pieces])

    return predict_proba
