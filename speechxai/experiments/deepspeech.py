"""The DeepSpeech chapter's protocol (Markert et al. 2021, "Visualizing automatic speech
recognition - means for a better understanding?"): Mozilla's weights cannot be used here, so
a recognizer of DeepSpeech 0.9's architecture is trained with CTC on spoken digit sequences
and scored by character and word error rates on held-out speakers.

Input normalisation: the network trains on MFCC windows standardised per coefficient with
the mean and deviation of the training frames; after training this affine map is folded
into the first dense layer. The returned model thus reads the raw MFCC windows of
:func:`speechxai.features.mfcc_windows`, like Mozilla's DeepSpeech 0.9 (which does not
normalise its features), and attributions explain exactly those windows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from speechxai.adversarial import context_windows
from speechxai.ctc import character_error_rate, ctc_loss, greedy_decode, word_error_rate
from speechxai.datasets import DigitCorpus, DigitSequences, data_root, folds
from speechxai.features import mfcc_frames
from speechxai.models import DeepSpeech
from speechxai.models.deepspeech import WINDOW

_FRAMES: dict[bytes, torch.Tensor] = {}  # MFCC frames by utterance content


def sequence_split(
    corpus: DigitCorpus, n_sequences: tuple[int, int], seed: int = 0
) -> tuple[DigitSequences, DigitSequences]:
    """Training and test digit sequences spoken by disjoint speakers.

    The test speakers are the test group of the corpus's first digit fold
    (:func:`speechxai.datasets.folds`); its training and validation groups speak the
    ``n_sequences[0]`` training sequences. Both draw 2-5 digits per sequence, seeded by
    ``seed`` and ``seed + 1``.
    """
    n_train, n_test = n_sequences
    if n_train < 1 or n_test < 1:
        raise ValueError(f"n_sequences must be two positive counts (train, test), got "
                         f"{n_sequences}")
    fold = folds(corpus, "digit")[0]
    return (DigitSequences(corpus, seed=seed, n_sequences=n_train, speakers=fold.train + fold.val),
            DigitSequences(corpus, seed=seed + 1, n_sequences=n_test, speakers=fold.test))


def _content_key(item) -> bytes:
    waveform = np.ascontiguousarray(np.asarray(item.waveform, dtype=np.float32))
    return hashlib.sha1(waveform.tobytes() + str(item.sample_rate).encode()).digest()


def _frames(item) -> torch.Tensor:
    key = _content_key(item)
    if key not in _FRAMES:
        _FRAMES[key] = mfcc_frames(item.waveform, item.sample_rate)
    return _FRAMES[key]


def utterance_windows(item) -> torch.Tensor:
    """The (T, 19, 26) MFCC windows of an utterance (``item.waveform``, ``item.sample_rate``),
    equal to :func:`speechxai.features.mfcc_windows`; its MFCC frames are cached in memory
    by the waveform's content (the windows, 19 times larger, are views built on demand)."""
    return context_windows(_frames(item))


@dataclass(frozen=True)
class CTCConfig:
    """Everything that decides a trained recognizer besides its training data (whose content
    joins the cache key in :func:`train_recognizer`)."""

    hidden: int = 128
    steps: int = 1000
    batch_size: int = 32
    learning_rate: float = 1e-3
    seed: int = 0
    bf16: bool = False
    gradient_clip: float = 5.0
    cosine: bool = True  # anneal the learning rate to zero over the steps

    def __post_init__(self):
        if min(self.hidden, self.steps, self.batch_size) < 1 or self.learning_rate <= 0:
            raise ValueError(f"hidden, steps and batch_size must be >= 1 and the learning rate "
                             f"positive, got {self}")

    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class TrainedRecognizer:
    """A trained DeepSpeech reading raw MFCC windows, and how training went."""

    model: DeepSpeech
    config: CTCConfig
    history: dict[str, list[float]]  # "loss" per step; "step", "cer" when monitored
    mean: torch.Tensor  # per-coefficient standardisation folded into the first layer
    std: torch.Tensor


class _Standardised(nn.Module):
    """``model((windows - mean) / std)``: the network during training."""

    def __init__(self, model: DeepSpeech, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.model, self.mean, self.std = model, mean, std

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        return self.model((windows - self.mean) / self.std)


def _fold(model: DeepSpeech, mean: torch.Tensor, std: torch.Tensor) -> DeepSpeech:
    """``model`` with ``(x - mean) / std`` merged into its first linear layer:
    ``W (x - m) / s + b = (W / s) x + (b - W m / s)``."""
    first = model.dense[1]
    with torch.no_grad():
        first.bias -= first.weight @ (mean / std).repeat(WINDOW[0])
        first.weight /= std.repeat(WINDOW[0])  # flattened (19, 26): coefficient varies fastest
    return model


def _batch(frames: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    windows = nn.utils.rnn.pad_sequence([context_windows(f) for f in frames], batch_first=True)
    return windows, torch.tensor([len(f) for f in frames])


def _data_key(items: Sequence) -> str:
    digest = hashlib.sha256()
    for item in items:
        digest.update(_content_key(item) + item.transcript.encode() + b"\0")
    return digest.hexdigest()[:16]


def train_recognizer(
    config: CTCConfig,
    train_items: Sequence,
    progress: bool = True,
    monitor_items: Sequence | None = None,
    cache_dir: str | Path | None = None,
) -> TrainedRecognizer:
    """Train (or load from the cache) DeepSpeech with CTC on ``train_items``.

    Seeded Adam on random batches of zero-padded utterances with their lengths
    (:func:`speechxai.ctc.ctc_loss`), gradient norm clipping, optionally cosine annealing and
    bfloat16 autocast. Items need ``waveform``, ``sample_rate`` and ``transcript``. Cached at
    ``<cache_dir or data_root()/models>/deepspeech-<key>.pt``, keyed by the configuration and
    the training data's waveforms and transcripts.

    ``monitor_items`` (e.g. held-out sequences) are scored by :func:`evaluate` five times
    during training; their CERs land in ``history["cer"]`` (they do not change the weights).
    """
    items = list(train_items)
    if not items:
        raise ValueError("no training items")
    key = hashlib.sha256(f"{config.key()}:{_data_key(items)}".encode())
    path = Path(cache_dir or data_root() / "models") / f"deepspeech-{key.hexdigest()[:16]}.pt"
    if path.exists():
        saved = torch.load(path, weights_only=True)
        model = DeepSpeech(config.hidden)
        model.load_state_dict(saved["state"])
        return TrainedRecognizer(model.eval(), config, saved["history"], saved["mean"],
                                 saved["std"])

    frames = [_frames(item) for item in tqdm(items, desc="MFCC", disable=not progress)]
    transcripts = [item.transcript for item in items]
    every_frame = torch.cat(frames)
    mean, std = every_frame.mean(0), every_frame.std(0).clamp_min(1e-3)
    torch.manual_seed(config.seed)
    network = _Standardised(DeepSpeech(config.hidden), mean, std)
    optimizer = torch.optim.Adam(network.parameters(), lr=config.learning_rate)

    def factor(step: int) -> float:
        return 0.5 * (1 + np.cos(np.pi * step / config.steps)) if config.cosine else 1.0

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    rng = np.random.default_rng(config.seed)
    history: dict[str, list[float]] = {"loss": [], "step": [], "cer": []}
    bar = tqdm(range(config.steps), desc=f"DeepSpeech({config.hidden})", disable=not progress)
    for step in bar:
        network.train()
        chosen = rng.choice(len(items), config.batch_size, replace=len(items) < config.batch_size)
        windows, lengths = _batch([frames[i] for i in chosen])
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.bf16):
            logits = network(windows)
        loss = ctc_loss(logits.float(), lengths, [transcripts[i] for i in chosen])
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(network.parameters(), config.gradient_clip)
        optimizer.step()
        schedule.step()
        history["loss"].append(float(loss.detach()))
        bar.set_postfix(loss=f"{np.mean(history['loss'][-20:]):.3f}")
        if monitor_items is not None and ((step + 1) % max(1, config.steps // 5) == 0
                                          or step + 1 == config.steps):
            history["step"].append(step + 1)
            history["cer"].append(evaluate(network, monitor_items).cer)
            bar.set_postfix(loss=f"{np.mean(history['loss'][-20:]):.3f}",
                            cer=f"{history['cer'][-1]:.3f}")
    model = _fold(network.model, mean, std).eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    torch.save({"state": model.state_dict(), "history": history, "mean": mean, "std": std},
               partial)
    partial.replace(path)
    return TrainedRecognizer(model, config, history, mean, std)


class Recognition(NamedTuple):
    """Error rates of greedy transcripts against the references, and the transcripts."""

    cer: float
    wer: float
    hypotheses: list[str]


def evaluate(model: nn.Module, items: Sequence, batch_size: int = 32) -> Recognition:
    """Character and word error rates of ``model``'s greedy CTC transcripts of ``items``
    (:func:`speechxai.ctc.greedy_decode`), over the whole set (edits summed, then divided)."""
    items = list(items)
    if not items:
        raise ValueError("no items to evaluate")
    model.eval()
    hypotheses = []
    with torch.no_grad():
        for start in range(0, len(items), batch_size):
            windows, lengths = _batch([_frames(item) for item in items[start:start + batch_size]])
            logits = model(windows)
            hypotheses += [greedy_decode(row[:n]) for row, n in zip(logits, lengths, strict=True)]
    references = [item.transcript for item in items]
    return Recognition(character_error_rate(references, hypotheses),
                       word_error_rate(references, hypotheses), hypotheses)

