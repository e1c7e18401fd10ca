"""Seeded training of the AudioMNIST classifiers, cached on disk by their configuration.

Measured on 2 CPU cores (see DESIGN.md): He initialisation and a fresh random placement of
every signal in every batch (Becker et al. 2018's augmentation) decide whether a small
budget reaches the papers' accuracies; bfloat16 autocast roughly doubles the throughput.
The paper's protocols (SGD with momentum, 10,000 steps) are the ``paper`` profile's; the
``quick`` profile uses Adam to converge within minutes.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from speechxai import device as devices
from speechxai.augment import TRAINING_AUGMENTATIONS, spec_augment_masks, spec_augment_transform
from speechxai.ctc import ctc_loss
from speechxai.datasets.corpus import data_root
from speechxai.inputs import (
    DigitSignals,
    augmented,
    model_inputs,
    placement_seeds,
    training_mean,
)
from speechxai.model_cache import cache_file, code_version, load_or_train
from speechxai.progress import tqdm
from speechxai.resume import Resume, restore_training, training_state

N_CLASSES = {"digit": 10, "sex": 2}
TRAINING_MEMORY_FORMAT = {"alexnet": torch.channels_last}
"""Memory format of the 2-D convolutions while training: channels-last trains AlexNet 1.2x
faster than the plain eager fp32 loop on 2 cores of an AVX2 CPU, and with native bfloat16
1.7-2.2x against 1.1-1.7x for bfloat16 alone (``benchmarks/training_throughput.py``,
figure 5). AudioNet's convolutions over one row are channels-last always, trained and
loaded alike (:mod:`speechxai.models.audionet`): its layout is left as it is."""
VALIDATION_SIZE = 128  # validation signals scored during training (a seeded subset)


def supported_precision(config, device: torch.device | None = None):
    """``config`` (any trainer's, with a ``bf16`` field) with bfloat16 autocast switched off
    where ``device`` (default: this process's, :func:`speechxai.device.current`) does not run
    bfloat16 natively (:func:`speechxai.device.native_bf16`), so the cache key names the
    precision really trained.

    Measured on 2 cores of an AVX2-only CPU (AMD EPYC, family 25): bf16 autocast made the
    training steps 4x (AudioNet), 10x (AlexNet) and 7x (DeepSpeech) slower than fp32, where on
    a CPU with native bfloat16 it made them 1.3-2x faster (``benchmarks/training_throughput.py``).
    """
    native = devices.native_bf16(device or devices.current())
    return replace(config, bf16=False) if config.bf16 and not native else config


def config_key(config) -> str:
    """16 hex digits of the SHA-256 of a dataclass config's fields: the model cache's key."""
    return hashlib.sha256(json.dumps(asdict(config), sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TrainingConfig:
    """Everything that decides a trained model; its hash keys the cache."""

    architecture: str  # "audionet" | "alexnet"
    task: str  # "digit" | "sex"
    data_key: str  # identifies corpus and training speakers
    steps: int = 600
    batch_size: int = 64
    optimizer: str = "adam"  # "adam" | "sgd" (momentum 0.9, the paper's)
    learning_rate: float = 3e-4
    width: float = 1.0
    seed: int = 0
    bf16: bool = True
    gradient_clip: float = 5.0
    halve_lr_every: int = 0  # steps; 0 keeps the learning rate (the paper's AlexNet: 2,500)
    cosine: bool = False  # anneal the learning rate to zero over the steps (short budgets)
    # perturb every training clip: "channel" or "speed" (speechxai.augment.TRAINING_AUGMENTATIONS)
    augment: str | None = None
    unit_input_init: bool = False  # scale the first layer's initial weights to unit inputs
    # AlexNet: (max frequency bins, max frames) masked in every training spectrogram
    # (SpecAugment, speechxai.augment.spec_augment_transform)
    spec_augment: tuple[int, int] | None = None
    # the cache key of the trained model whose weights training starts from (fine-tuning,
    # e.g. the embedded corpus's model on real speech); None: a fresh initialisation
    start: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "spec_augment", spec_augment_masks(self.spec_augment))
        if self.augment is not None and self.augment not in TRAINING_AUGMENTATIONS:
            raise ValueError(f"unknown augmentation {self.augment!r}; choose None or one of "
                             f"{', '.join(TRAINING_AUGMENTATIONS)}")
        if self.start is not None and self.unit_input_init:
            raise ValueError("a model started from trained weights keeps them: unit_input_init "
                             "rescales a fresh first layer, set it False with start")
        if self.spec_augment is not None and self.architecture != "alexnet":
            raise ValueError(f"spec_augment masks spectrograms: AlexNet's inputs, not "
                             f"{self.architecture}'s")

    def key(self) -> str:
        return config_key(self)


@dataclass
class TrainedModel:
    """A trained classifier with what it needs at inference and how training went."""

    model: nn.Module
    config: TrainingConfig
    mean: torch.Tensor | None  # AlexNet's training-fold mean spectrogram
    history: dict[str, list[float]]

    def inputs(self, signals: DigitSignals, seed: int) -> torch.Tensor:
        """Model inputs for ``signals`` at seeded placements."""
        seeds = placement_seeds(len(signals), seed)
        return model_inputs(self.config.architecture, signals, seeds, self.mean)


def build_model(architecture: str, task: str, width: float = 1.0) -> nn.Module:
    from speechxai.models import AlexNet, AudioNet

    models = {"audionet": AudioNet, "alexnet": AlexNet}
    if architecture not in models:
        raise ValueError(f"unknown architecture {architecture!r}; choose {', '.join(models)}")
    return models[architecture](N_CLASSES[task], width=width)


def predict(model: nn.Module, inputs: torch.Tensor, batch_size: int = 128) -> torch.Tensor:
    """Predicted classes of ``inputs`` (eval mode, no gradients, batched on the model's
    device; on the CPU)."""
    model.eval()
    device = devices.device_of(model)
    with torch.no_grad():
        return torch.cat([model(batch.to(device)).argmax(1).cpu()
                          for batch in inputs.split(batch_size)])


def accuracy(model: nn.Module, inputs: torch.Tensor, labels: np.ndarray) -> float:
    return float((predict(model, inputs).numpy() == labels).mean())


def _optimizer(config: TrainingConfig, model: nn.Module) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.learning_rate, momentum=0.9)
    raise ValueError(f"unknown optimizer {config.optimizer!r}; choose adam or sgd")


def _schedule(config: TrainingConfig, optimizer: torch.optim.Optimizer):
    if config.cosine and config.halve_lr_every:
        raise ValueError("choose either cosine annealing or halving the learning rate")
    if config.cosine:
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, config.steps)
    return torch.optim.lr_scheduler.StepLR(optimizer, config.halve_lr_every or config.steps,
                                           gamma=0.5 if config.halve_lr_every else 1.0)


def scale_first_layer(model: nn.Module, probe: torch.Tensor) -> None:
    """Divide the first layer's weights by the standard deviation of ``probe`` inputs, so
    that He initialisation, derived for unit-variance inputs, meets them at unit variance
    (a data-dependent initialisation, as LSUV, Mishkin & Matas 2016, for the first layer).
    Measured on FSDD: AlexNet's dB spectrograms minus the fold mean have a standard deviation
    of 14-16, its initial logits one of about 100, and training with Adam at 1e-3 collapsed
    to a constant output (loss ln 10 after 600 steps); scaled, the logits start near 7 and
    the loss falls from the first hundred steps."""
    first = next(m for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)))
    with torch.no_grad():
        first.weight /= probe.float().std()


def train(
    config: TrainingConfig,
    train_signals: DigitSignals,
    val_signals: DigitSignals,
    cache_dir: Path | None = None,
    progress: bool = True,
    *,
    cached_only: bool = False,
    start: TrainedModel | None = None,
) -> TrainedModel:
    """Train (or load from the cache) the classifier that ``config`` describes.

    Every batch draws its signals and their placements from a generator seeded by
    ``config.seed``, and with ``config.augment`` a fresh channel (or speed) for every clip
    (:data:`~speechxai.augment.TRAINING_AUGMENTATIONS`; AlexNet's mean spectrogram then comes
    from one augmented pass over the training signals); validation accuracy is measured four
    times at fixed placements on at most ``VALIDATION_SIZE`` seeded validation signals.
    Cached by :func:`speechxai.model_cache.load_or_train`, keyed by ``config`` and
    :func:`classifier_code`. ``cached_only``: never train; a model not in the cache raises
    :class:`~speechxai.model_cache.ModelNotCached`. ``start``: the trained model whose
    weights training starts from, the one ``config.start`` names by its key (its own
    training-fold mean is not used: AlexNet's inputs take the new training set's).
    """
    check_start(config, start)
    config = supported_precision(config)
    path = cache_file(cache_dir or data_root() / "models",
                      f"{config.architecture}-{config.task}", config.key(), classifier_code())

    def restore(saved: dict) -> TrainedModel:
        model = build_model(config.architecture, config.task, config.width)
        model.load_state_dict(saved["state"])
        return TrainedModel(model.to(devices.current()).eval(), config, saved["mean"],
                            saved["history"])

    return load_or_train(
        path, lambda resume: _train(config, train_signals, val_signals, progress, start, resume),
        restore, cached_only=cached_only)


def check_start(config: TrainingConfig, start: TrainedModel | None) -> None:
    """Raise ``ValueError`` unless ``start`` is the model ``config.start`` names (by its cache
    key) and has ``config``'s network: its weights must fit the model being trained."""
    named = start.config.key() if start is not None else None
    if named != config.start:
        raise ValueError(f"config.start names the model {config.start!r}, the start model "
                         f"given is {named!r}")
    if start is not None:
        theirs = (start.config.architecture, start.config.task, start.config.width)
        ours = (config.architecture, config.task, config.width)
        if theirs != ours:
            raise ValueError(f"cannot start a {ours} model (architecture, task, width) from "
                             f"the weights of a {theirs} one")


@functools.cache
def classifier_code() -> str:
    """The code version (:func:`~speechxai.model_cache.code_version`) of the AudioMNIST
    classifiers: their networks, inputs, features, channel augmentation and this loop."""
    from speechxai import augment, features, inputs, models, training

    return code_version(models.audionet, models.alexnet, models.init, inputs, features,
                        augment, training)


def _train(config: TrainingConfig, train_signals: DigitSignals, val_signals: DigitSignals,
           progress: bool, start: TrainedModel | None = None,
           resume: Resume | None = None) -> dict:
    """:func:`train`'s training: the checkpoint payload (weights, mean, history), resumed
    from ``resume``'s saved state if there is one."""
    torch.manual_seed(config.seed)
    device = devices.current()
    model = build_model(config.architecture, config.task, config.width)
    if start is not None:
        model.load_state_dict(start.model.state_dict())
    memory_format = TRAINING_MEMORY_FORMAT.get(config.architecture)
    model = model.to(device, memory_format=memory_format or torch.preserve_format)
    rng = np.random.default_rng(config.seed)
    augmentation = TRAINING_AUGMENTATIONS[config.augment] if config.augment else None
    masking = spec_augment_transform(config.spec_augment)

    def channel(signals: DigitSignals) -> DigitSignals:
        return augmented(signals, augmentation, rng) if augmentation else signals

    mean = (training_mean(channel(train_signals), config.seed)
            if config.architecture == "alexnet" else None)
    labels = torch.as_tensor(train_signals.labels(config.task), device=device)
    if config.unit_input_init:
        scale_first_layer(model, model_inputs(
            config.architecture, channel(train_signals.select(rng.choice(len(train_signals), 256))),
            rng.integers(0, 2**31, 256), mean))
    val_signals = val_signals.select(
        np.sort(rng.permutation(len(val_signals))[:VALIDATION_SIZE]).tolist())
    val_inputs = model_inputs(config.architecture, val_signals,
                              placement_seeds(len(val_signals), config.seed + 1), mean)
    val_labels = val_signals.labels(config.task)
    optimizer = _optimizer(config, model)
    schedule = _schedule(config, optimizer)
    history: dict[str, list[float]] = {"step": [], "loss": [], "val_accuracy": []}
    evaluate_every = max(1, config.steps // 4)
    modules = {"model": model, "optimizer": optimizer, "schedule": schedule}
    saved = resume.load() if resume else None
    first, history = restore_training(saved, modules, rng) if saved else (0, history)
    bar = tqdm(range(first, config.steps), desc=f"{config.architecture} {config.task}",
               initial=first, total=config.steps, disable=not progress)
    for step in bar:
        model.train()
        batch = rng.choice(len(train_signals), config.batch_size,
                           replace=len(train_signals) < config.batch_size)
        inputs = model_inputs(config.architecture, channel(train_signals.select(batch)),
                              rng.integers(0, 2**31, config.batch_size), mean)
        inputs = masking(inputs).to(device)
        if memory_format is not None:
            inputs = inputs.contiguous(memory_format=memory_format)
        with devices.autocast(device, config.bf16):
            loss = nn.functional.cross_entropy(model(inputs), labels[batch])
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), config.gradient_clip)
        optimizer.step()
        schedule.step()
        if (step + 1) % evaluate_every == 0 or step + 1 == config.steps:
            history["step"].append(step + 1)
            history["loss"].append(float(loss.detach()))
            history["val_accuracy"].append(accuracy(model, val_inputs, val_labels))
            bar.set_postfix(loss=f"{history['loss'][-1]:.3f}",
                            val=f"{history['val_accuracy'][-1]:.3f}")
        if resume:
            resume.step_done(step + 1, config.steps,
                             lambda: training_state(modules, rng, history))
    if memory_format is not None:
        model = model.to(memory_format=torch.contiguous_format)  # as a loaded model is
    model = model.eval()
    return {"state": devices.on_cpu(model.state_dict()), "mean": mean, "history": history}


def learning_rate_factor(step: int, steps: int, cosine: bool, warmup: int = 0) -> float:
    """The factor on the learning rate at ``step`` (0-based) of ``steps``: cosine annealing
    to zero if ``cosine``, times a linear warm-up from ``1 / warmup`` to 1 over the first
    ``warmup`` steps (Goyal et al. 2017; it lets a CTC recogniser leave the all-blank
    plateau that a full learning rate from the first step can trap it in)."""
    annealed = 0.5 * (1 + np.cos(np.pi * step / steps)) if cosine else 1.0
    return annealed * min(1.0, (step + 1) / warmup) if warmup else annealed


def fit(network: nn.Module, config, loss_of, n_items: int, score=None,
        description: str = "training", progress: bool = True,
        resume: Resume | None = None, warmup: int = 0) -> dict[str, list[float]]:
    """Seeded Adam on random batches of ``n_items`` training items (every trainer of the book
    except the AudioMNIST classifiers').

    ``config`` has ``steps``, ``batch_size``, ``learning_rate``, ``seed``, ``gradient_clip``
    and ``cosine`` (anneal the learning rate to zero); ``loss_of(indices)`` returns the loss
    of those items. ``score()``, if given, returns an error rate on held-out items and is
    called five times. Returns the history: the loss per step, and "step"/"cer" where scored.
    ``resume`` (:class:`speechxai.resume.Resume`): start from its saved state if there is one,
    and save the state at its interval. ``warmup``: steps of linear learning-rate warm-up
    (:func:`learning_rate_factor`).
    """
    optimizer = torch.optim.Adam(network.parameters(), lr=config.learning_rate)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: learning_rate_factor(step, config.steps, config.cosine, warmup))
    rng = np.random.default_rng(config.seed)
    history: dict[str, list[float]] = {"loss": [], "step": [], "cer": []}
    modules = {"network": network, "optimizer": optimizer, "schedule": schedule}
    saved = resume.load() if resume else None
    first, history = restore_training(saved, modules, rng) if saved else (0, history)
    bar = tqdm(range(first, config.steps), desc=description, initial=first, total=config.steps,
               disable=not progress)
    for step in bar:
        network.train()
        loss = loss_of(rng.choice(n_items, config.batch_size, replace=n_items < config.batch_size))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(network.parameters(), config.gradient_clip)
        optimizer.step()
        schedule.step()
        history["loss"].append(float(loss.detach()))
        bar.set_postfix(loss=f"{np.mean(history['loss'][-20:]):.3f}")
        if score is not None and ((step + 1) % max(1, config.steps // 5) == 0
                                  or step + 1 == config.steps):
            history["step"].append(step + 1)
            history["cer"].append(score())
            bar.set_postfix(loss=f"{np.mean(history['loss'][-20:]):.3f}",
                            cer=f"{history['cer'][-1]:.3f}")
        if resume:
            resume.step_done(step + 1, config.steps,
                             lambda: training_state(modules, rng, history))
    return history


def fit_ctc(network: nn.Module, config, batch, transcripts: list[str], score=None,
            description: str = "CTC", progress: bool = True,
            resume: Resume | None = None, warmup: int = 0) -> dict[str, list[float]]:
    """:func:`fit` on the CTC loss (the recognizers of the DeepSpeech and NAvAI chapters):
    ``batch(indices)`` returns the inputs and output lengths of those training items, the
    network runs on its device under bfloat16 autocast if ``config.bf16``."""

    device = devices.device_of(network)

    def loss_of(chosen):
        inputs, lengths = batch(chosen)
        with devices.autocast(device, config.bf16):
            logits = network(inputs.to(device))
        return ctc_loss(logits.float(), lengths, [transcripts[i] for i in chosen])

    return fit(network, config, loss_of, len(transcripts), score, description, progress, resume,
               warmup)
