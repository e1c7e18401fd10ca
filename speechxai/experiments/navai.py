"""The NAvAI chapter's protocol (Krug & Stober 2018, "Introspection for convolutional
automatic speech recognition"): a small Wav2Letter-like recognizer
(:class:`speechxai.models.Wav2Letter`) is trained with CTC on the spoken digit sequences of
the DeepSpeech chapter (:func:`speechxai.experiments.deepspeech.sequence_split`), scored by
character and word error rates, and its letter windows are cut for introspection.

Input: the z-normalised 128-bin log-mel spectrogram of :func:`speechxai.features.log_mel`
(10 ms hop), cached in memory by waveform content.

Silence padding: the convolutions are valid, so an output frame exists only where the whole
receptive field ``rf`` fits into the input, and letters spoken within ``rf/2`` frames of an
utterance's edges would have no output frame centred on them. During training and evaluation
every utterance therefore gets ``config.pad`` frames of silence (default ``rf // 2``) on both
sides. The silence value of a mel bin is that bin's minimum over the utterance (the
z-normalised floor: in digital silence ``log(0 + 1e-6)`` after normalisation; in real
recordings the quietest frame). The same per-utterance floor fills the tail of the shorter
utterances of a batch; output lengths ``(T + 2 pad - rf) // stride + 1`` leave the tail out
of the CTC loss, and filling it with silence rather than zeros keeps it from skewing the
BatchNorm batch statistics. The windows analysed (:func:`analysis_windows`) are cut from the
unpadded spectrogram and hold no padding.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
from torch import nn

from speechxai import device as devices
from speechxai.attribution.navai import (
    NULLS,
    LetterMaps,
    LetterWindows,
    letter_windows,
    lrp_bn_rule,
    navai_grid,
    sensitivity,
    specificity_against_null,
)
from speechxai.augment import spec_augment_masks, spec_augment_transform, with_channel_copies
from speechxai.ctc import character_error_rate, greedy_decode, word_error_rate
from speechxai.datasets import data_root
from speechxai.experiments.deepspeech import Recognition, _content_key, _data_key
from speechxai.features import log_mel
from speechxai.model_cache import cache_file, code_version, load_or_train
from speechxai.models.wav2letter import Wav2Letter, output_stride, receptive_field
from speechxai.progress import tqdm
from speechxai.resume import Resume
from speechxai.training import config_key, fit, fit_ctc, supported_precision

_LOG_MELS: dict[bytes, torch.Tensor] = {}  # log-mel spectrograms by utterance content


def utterance_log_mel(item) -> torch.Tensor:
    """The (128, T) z-normalised log-mel spectrogram of an utterance (``item.waveform``,
    ``item.sample_rate``; :func:`speechxai.features.log_mel`), cached in memory by the
    waveform's content."""
    key = _content_key(item)
    if key not in _LOG_MELS:
        _LOG_MELS[key] = log_mel(item.waveform, item.sample_rate)
    return _LOG_MELS[key]


@dataclass(frozen=True)
class Wav2LetterConfig:
    """Everything that decides a trained Wav2Letter besides its training data (whose content
    joins the cache key in :func:`train_wav2letter`).

    ``channels``, ``kernels`` and ``strides`` (one entry per hidden convolution) build the
    network (:meth:`build`); ``pad`` is the number of silence frames added on both sides of
    every utterance in training and evaluation so that letters near the edges get an output
    frame centred on them (None: half the receptive field, :attr:`padding`).
    ``spec_augment`` masks one random band of up to that many mel bins and one random span of
    up to that many frames in every training example (SpecAugment, Park et al. 2019, with
    torchaudio's masking transforms), a regulariser for the quick profile's few voices.
    """

    channels: tuple[int, ...] = (96, 96, 96, 96)
    kernels: tuple[int, ...] = (13, 13, 13, 13)
    strides: tuple[int, ...] = (1, 1, 1, 1)
    steps: int = 600
    batch_size: int = 16
    learning_rate: float = 3e-3
    seed: int = 0
    bf16: bool = False
    gradient_clip: float = 5.0
    cosine: bool = True  # anneal the learning rate to zero over the steps
    warmup: int = 0  # steps of linear learning-rate warm-up (training.learning_rate_factor)
    pad: int | None = None
    spec_augment: tuple[int, int] | None = None  # (max mel bins, max frames) masked
    augment: int = 0  # channel copies of every training sequence (augment.with_channel_copies)
    channel_seed: int | None = None  # the channel copies' seed (None: ``seed``)

    def __post_init__(self):
        if self.channel_seed == self.seed:  # one key for one recogniser
            object.__setattr__(self, "channel_seed", None)
        for name in ("channels", "kernels", "strides"):
            object.__setattr__(self, name, tuple(int(v) for v in getattr(self, name)))
        if not len(self.channels) == len(self.kernels) == len(self.strides) >= 1:
            raise ValueError(f"channels, kernels and strides need one entry per hidden layer "
                             f"(at least one), got {self.channels}, {self.kernels} and "
                             f"{self.strides}")
        if min(*self.channels, *self.kernels, *self.strides) < 1:
            raise ValueError(f"channels, kernels and strides must be positive, got {self}")
        if min(self.steps, self.batch_size) < 1 or self.learning_rate <= 0:
            raise ValueError(f"steps and batch_size must be >= 1 and the learning rate "
                             f"positive, got {self}")
        object.__setattr__(self, "spec_augment", spec_augment_masks(self.spec_augment))
        if self.augment < 0:
            raise ValueError(f"augment counts channel copies (>= 0), got {self.augment}")
        if self.warmup < 0:
            raise ValueError(f"warmup counts steps (>= 0), got {self.warmup}")
        if self.pad is not None and self.pad < 0:
            raise ValueError(f"pad must be None or >= 0 frames, got {self.pad}")

    def build(self) -> Wav2Letter:
        """A freshly initialised network of this shape (seed the global RNG first)."""
        return Wav2Letter(self.channels, self.kernels, strides=self.strides)

    @property
    def receptive_field(self) -> int:
        rf, jump = 1, 1
        for kernel, stride in zip(self.kernels, self.strides, strict=True):
            rf += (kernel - 1) * jump
            jump *= stride
        return rf

    @property
    def padding(self) -> int:
        """Silence frames added on each side: ``pad``, or half the receptive field."""
        return self.receptive_field // 2 if self.pad is None else self.pad

    @property
    def copies_seed(self) -> int:
        """The seed the channel copies are drawn from."""
        return self.seed if self.channel_seed is None else self.channel_seed

    def with_training_seed(self, seed: int) -> Wav2LetterConfig:
        """This recogniser trained with ``seed`` instead (other initial weights and batches)
        on the same training set: the same channel copies."""
        return replace(self, seed=seed, channel_seed=self.copies_seed)

    def key(self) -> str:
        return config_key(self)


@dataclass
class TrainedWav2Letter:
    """A trained Wav2Letter (eval mode) reading (N, 128, T) log-mels, and how training went."""

    model: Wav2Letter
    config: Wav2LetterConfig
    history: dict[str, list[float]]  # "loss" per step; "step", "cer" when monitored


def _silence_padded(spectrogram: torch.Tensor, pad: int, length: int) -> torch.Tensor:
    """``spectrogram`` with ``pad`` frames of its per-bin minimum before and after, then more
    of it on the right up to ``length`` frames."""
    floor = spectrogram.min(dim=1, keepdim=True).values
    total = max(length, spectrogram.shape[1] + 2 * pad)
    return torch.cat([floor.expand(-1, pad), spectrogram,
                      floor.expand(-1, total - spectrogram.shape[1] - pad)], dim=1)


def padded_batch(spectrograms: Sequence[torch.Tensor], pad: int, model: nn.Module
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 128, T) silence-padded batch of (128, T_i) log-mels and the (N,) numbers of output
    frames of ``model`` that see no batch filling: ``(T_i + 2 pad - rf) // stride + 1``.
    Utterances shorter than the receptive field get more silence on the right (one output
    frame)."""
    rf, stride = receptive_field(model), output_stride(model)
    inputs = [max(s.shape[1] + 2 * pad, rf) for s in spectrograms]
    batch = torch.stack([_silence_padded(s, pad, max(inputs)) for s in spectrograms])
    return batch, torch.tensor([(n - rf) // stride + 1 for n in inputs])


def train_wav2letter(
    config: Wav2LetterConfig,
    train_items: Sequence,
    progress: bool = True,
    cache_dir: str | Path | None = None,
    monitor_items: Sequence | None = None,
    *,
    cached_only: bool = False,
) -> TrainedWav2Letter:
    """Train (or load from the cache) Wav2Letter with CTC on ``train_items``.

    Seeded Adam on random batches of silence-padded log-mels (module docstring) with their
    output lengths (:func:`speechxai.ctc.ctc_loss`), gradient norm clipping, optionally
    cosine annealing and bfloat16 autocast (where the CPU has it natively:
    :func:`speechxai.training.supported_precision`). Items need ``waveform``,
    ``sample_rate`` and ``transcript``; with ``config.augment`` the training set holds that
    many channel copies of each besides the originals
    (:func:`speechxai.augment.with_channel_copies`). Cached at
    ``<cache_dir or data_root()/models>/wav2letter-<key>.pt``, keyed by the configuration,
    the training data's waveforms and transcripts and :func:`wav2letter_code`.

    ``monitor_items`` are scored by :func:`evaluate_wav2letter` five times during training;
    their CERs land in ``history["cer"]`` (they do not change the weights and are not part
    of the cache key). ``cached_only``: never train; a model not in the cache raises
    :class:`~speechxai.model_cache.ModelNotCached`.
    """
    items = list(train_items)
    if not items:
        raise ValueError("no training items")
    config = supported_precision(config)
    path = cache_file(cache_dir or data_root() / "models", "wav2letter", config.key(),
                      _data_key(items), wav2letter_code())

    def restore(saved: dict) -> TrainedWav2Letter:
        model = config.build()
        model.load_state_dict(saved["state"])
        return TrainedWav2Letter(model.to(devices.current()).eval(), config, saved["history"])

    return load_or_train(
        path, lambda resume: _train(config, items, monitor_items, progress, resume), restore,
        cached_only=cached_only)


@functools.cache
def wav2letter_code() -> str:
    """The code version (:func:`~speechxai.model_cache.code_version`) of the recogniser: its
    network, log-mel features, padding, SpecAugment, channel copies, CTC and training loop."""
    from speechxai import augment, ctc, features
    from speechxai.models import wav2letter

    return code_version(wav2letter, features, augment, ctc, fit, fit_ctc, Wav2LetterConfig,
                        train_wav2letter, _train, utterance_log_mel, _silence_padded,
                        padded_batch, spec_augment_transform)


def _train(config: Wav2LetterConfig, items: list, monitor_items: Sequence | None,
           progress: bool, resume: Resume | None = None) -> dict:
    """:func:`train_wav2letter`'s training: the checkpoint payload."""
    items = with_channel_copies(items, config.augment, config.copies_seed)
    spectrograms = [utterance_log_mel(item)
                    for item in tqdm(items, desc="log-mel", disable=not progress)]
    transcripts = [item.transcript for item in items]
    torch.manual_seed(config.seed)
    model = config.build().to(devices.current())

    augment = spec_augment_transform(config.spec_augment)

    def batch(chosen):
        inputs, lengths = padded_batch([spectrograms[i] for i in chosen], config.padding, model)
        return augment(inputs), lengths

    def score():
        return evaluate_wav2letter(model, monitor_items, config.padding).cer

    name = f"Wav2Letter({'-'.join(map(str, config.channels))}, rf {config.receptive_field})"
    history = fit_ctc(model, config, batch, transcripts,
                      None if monitor_items is None else score, name, progress, resume,
                      config.warmup)
    model.eval()
    return {"state": devices.on_cpu(model.state_dict()), "history": history}


def evaluate_wav2letter(model: nn.Module, items: Sequence, pad: int,
                        batch_size: int = 32) -> Recognition:
    """Character and word error rates of ``model``'s greedy CTC transcripts
    (:func:`speechxai.ctc.greedy_decode`) of ``items`` padded with ``pad`` silence frames on
    both sides (as in training: ``config.padding``), over the whole set (edits summed, then
    divided). Leaves the model in eval mode."""
    items = list(items)
    if not items:
        raise ValueError("no items to evaluate")
    model.eval()
    hypotheses = []
    with torch.no_grad():
        for start in range(0, len(items), batch_size):
            batch, lengths = padded_batch(
                [utterance_log_mel(item) for item in items[start:start + batch_size]], pad, model)
            logits = model(batch.to(devices.device_of(model))).cpu()
            hypotheses += [greedy_decode(row[:n]) for row, n in zip(logits, lengths, strict=True)]
    references = [item.transcript for item in items]
    return Recognition(character_error_rate(references, hypotheses),
                       word_error_rate(references, hypotheses), hypotheses)


class AnalysisWindows(NamedTuple):
    """The letter windows of several utterances (:class:`LetterWindows`, concatenated)."""

    windows: torch.Tensor  # (K, 128, rf)
    letters: list[str]  # (K,) predicted letters a-z
    frames: np.ndarray  # (K,) output frame in its utterance; input starts at frame * stride
    items: np.ndarray  # (K,) index of the window's utterance in ``items``


def analysis_windows(model: nn.Module, items: Sequence) -> AnalysisWindows:
    """Every output frame of every item predicted as one letter a-z, cut to the receptive
    field (:func:`speechxai.attribution.navai.letter_windows`) from the unpadded log-mel,
    so that no window holds padding. In eval mode each output frame depends only on its own
    window, so these predictions equal those on the silence-padded input of
    :func:`evaluate_wav2letter` minus the frames that would see padding. Utterances shorter
    than the receptive field give no windows."""
    rf = receptive_field(model)
    parts: list[LetterWindows] = []
    owners = []
    for index, item in enumerate(items):
        spectrogram = utterance_log_mel(item)
        if spectrogram.shape[1] >= rf:
            part = letter_windows(model, spectrogram)
            parts.append(part)
            owners.append(np.full(len(part.letters), index))
    if not parts:
        return AnalysisWindows(torch.zeros((0, model.layers[0].in_channels, rf)), [],
                               np.zeros(0, dtype=int), np.zeros(0, dtype=int))
    return AnalysisWindows(torch.cat([p.windows for p in parts]),
                           [letter for p in parts for letter in p.letters],
                           np.concatenate([p.frames for p in parts]).astype(int),
                           np.concatenate(owners).astype(int))


def middle_layer(model: nn.Module) -> int:
    """Index (among the Conv1d layers) of the middle convolution, for activation
    maximisation in "a middle layer"."""
    n_convolutions = sum(isinstance(m, nn.Conv1d) for m in model.modules())
    return n_convolutions // 2


ALIGNED = ("max_lrp", "max_sens", "min_sens")
"""The alignments of :data:`~speechxai.attribution.navai.ALIGNMENTS` that shift the windows."""
ALIGNMENT_NAMES = {"max_lrp": "the LRP maximum", "max_sens": "the sensitivity maximum",
                   "min_sens": "the sensitivity minimum"}


Controls = dict[str, dict[str, tuple[float, float, float]]]
"""Per shifting alignment and null: :func:`~speechxai.attribution.navai.specificity_against_null`'s
``(estimate, lo, hi)``."""


def alignment_controls(model: nn.Module, items: Sequence, min_windows: int = 3,
                       seed: int = 0) -> Controls:
    """The chapter's NAvAI controls for ``model``: its letter windows of ``items``, their
    sensitivity and LRP (the paper's BatchNorm rule), the alignment grid and, for each
    alignment of :data:`ALIGNED`, its specificity against each null."""
    windows = analysis_windows(model, items)
    grid = navai_grid(windows.windows.numpy(), windows.letters,
                      lrp_bn_rule(model, windows.windows, windows.letters).values,
                      sensitivity(model, windows.windows, windows.letters).values, min_windows)
    return grid_controls(windows.windows.numpy(), grid, seed)


def grid_controls(windows: np.ndarray, grid: dict[str, LetterMaps], seed: int = 0) -> Controls:
    """Each shifting alignment of ``grid`` (:func:`~speechxai.attribution.navai.navai_grid`
    of ``windows``) against each null of :data:`~speechxai.attribution.navai.NULLS`."""
    return {name: {null: specificity_against_null(windows, grid[name], null, seed=seed)
                   for null in NULLS}
            for name in ALIGNED}


class SeedControls(NamedTuple):
    """:func:`alignment_controls` of the recogniser trained with one seed, and its CER on
    the analysed items (a seed that did not learn explains nothing)."""

    seed: int
    cer: float
    controls: Controls


def controls_over_seeds(config: Wav2LetterConfig, train_items: Sequence, items: Sequence,
                        seeds: Sequence[int], min_windows: int = 3, seed: int = 0,
                        progress: bool = True) -> list[SeedControls]:
    """:class:`SeedControls` of the recogniser ``config`` describes trained with each of
    ``seeds`` instead (other initial weights and batches; the same sequences and channel
    copies, whose log-mels are computed once: :meth:`Wav2LetterConfig.with_training_seed`;
    cached)."""
    per_seed = []
    for training_seed in seeds:
        model = train_wav2letter(config.with_training_seed(training_seed), train_items,
                                 progress=progress).model.eval()
        per_seed.append(SeedControls(training_seed,
                                     evaluate_wav2letter(model, items, config.padding).cer,
                                     alignment_controls(model, items, min_windows, seed)))
    return per_seed


LEARNED_CER = 0.5
"""A recogniser whose CER on the analysed sequences is above this did not learn: most of its
letter windows are windows of wrong letters, so its controls are left out of the pool."""


def learned(per_seed: Sequence[SeedControls]) -> list[SeedControls]:
    """The seeds whose recogniser learned (CER at most :data:`LEARNED_CER`); all of them
    if none did."""
    return [s for s in per_seed if s.cer <= LEARNED_CER] or list(per_seed)


def pooled_controls(per_seed: Sequence[Controls]) -> Controls:
    """Controls over several training seeds: the mean estimate, and an interval from the
    lowest to the highest end of the seeds' intervals - below zero only if every seed's
    whole interval is."""
    return {name: {null: (float(np.mean([c[name][null][0] for c in per_seed])),
                          min(c[name][null][1] for c in per_seed),
                          max(c[name][null][2] for c in per_seed))
                   for null in per_seed[0][name]}
            for name in per_seed[0]}


def seed_table(per_seed: Sequence[SeedControls], null: str = "random_shifts") -> pd.DataFrame:
    """One row per training seed: its CER and, per alignment, its specificity minus
    ``null`` with the 95 % interval."""
    return pd.DataFrame([
        {"seed": s.seed, "CER": f"{s.cer:.3f}",
         **{ALIGNMENT_NAMES[name]: "{:+.3f} [{:+.3f}, {:+.3f}]".format(*by_null[null])
            for name, by_null in s.controls.items()}}
        for s in per_seed]).set_index("seed")


def describe_seeds(per_seed: Sequence[SeedControls], null: str = "random_shifts") -> str:
    """How many training seeds put each alignment's specificity below ``null`` (whole
    interval below zero), in a sentence; empty for one seed."""
    if len(per_seed) < 2:
        return ""
    pooled = learned(per_seed)
    failed = [s for s in per_seed if s not in pooled]
    text = ""
    if failed:
        text = (f"The recogniser of seed {', '.join(str(s.seed) for s in failed)} did not learn "
                f"(CER {', '.join(f'{s.cer:.2f}' for s in failed)}, above {LEARNED_CER}): its "
                f"controls are shown but not pooled. ")
    elif any(s.cer > LEARNED_CER for s in per_seed):
        text = f"No recogniser learned (CER above {LEARNED_CER}): all are pooled. "
    counts = [f"{ALIGNMENT_NAMES[name]} in {sum(s.controls[name][null][2] < 0 for s in pooled)}"
              for name in per_seed[0].controls]
    return text + (f"Over the {len(pooled)} pooled training seeds (CER "
                   f"{min(s.cer for s in pooled):.3f} to {max(s.cer for s in pooled):.3f}), "
                   f"aligning beat random shifts at {', '.join(counts)} of them.")


def describe_controls(controls: Controls) -> str:
    """Which alignments are more specific than the same shifts at random (the interval below
    zero), and how many beat shuffled letter labels (a weak control: any letter-dependent
    average does), from :func:`~speechxai.attribution.navai.specificity_against_null` per
    alignment and null, in a sentence."""
    def below(name: str, null: str) -> bool:
        return controls[name][null][2] < 0

    def named(names):
        return " and ".join(ALIGNMENT_NAMES[name] for name in names)

    beat = [name for name in controls if below(name, "random_shifts")]
    rest = [name for name in controls if name not in beat]
    if not beat:
        text = ("No alignment is more specific than the same shifts at random: what the aligned "
                "averages show could come from shifting alone")
    else:
        text = f"Aligned at {named(beat)}, the maps are more specific than with random shifts"
        if rest:
            text += (f"; aligned at {named(rest)}, not (the interval reaches zero): there the "
                     "attribution adds nothing a random shift would not")
    shuffled = sum(below(name, "shuffled_letters") for name in controls)
    return (text + f". {shuffled} of {len(controls)} alignments beat shuffled letter labels, "
            "the weaker control.")


def describe_specificity(specificity: dict[str, float]) -> str:
    """The paper's NAvAI statements against this run's letter specificity per alignment
    (lower: more specific), in a sentence: aligning beats not aligning, and the minimum of
    the sensitivity aligns best (Krug & Stober 2018, Sec. 4)."""
    aligned = {name: specificity[name] for name in ALIGNED}
    best = min(aligned, key=aligned.get)
    beating = [name for name, value in aligned.items() if value < specificity["none"]]
    text = (f"Unaligned, the letters' averages correlate {specificity['none']:+.2f}; aligned, "
            + ", ".join(f"at {ALIGNMENT_NAMES[name]} {value:+.2f}"
                        for name, value in aligned.items())
            + f". {len(beating)} of {len(aligned)} alignments make the maps more letter-specific "
            "than no alignment. The paper found the sensitivity minimum the most specific: "
            + ("so it is here." if best == "min_sens" else
               f"here {ALIGNMENT_NAMES[best]} is ({aligned[best]:+.2f} against "
               f"{aligned['min_sens']:+.2f})."))
    return text


PLOSIVE = "t"
"""The plosive letter whose release burst Krug & Stober (2018, Sec. 4.2) discuss."""


def describe_smearing(spread: dict[str, float], contrast: dict[str, float] | None) -> str:
    """The paper's "LRP smears" statement against this run, in a sentence: the letter maps'
    :func:`~speechxai.attribution.navai.temporal_spread` per alignment and, where the run
    has maps of :data:`PLOSIVE`, its :func:`~speechxai.attribution.navai.burst_contrast`."""
    by_sensitivity = min(spread["max_sens"], spread["min_sens"])
    wider = spread["max_lrp"] > max(spread["max_sens"], spread["min_sens"])
    text = (f"Aligned at the LRP maximum the letter maps lie {spread['max_lrp']:.1f} frames "
            f"from the centre (root mean square), aligned by sensitivity "
            f"{spread['max_sens']:.1f} (maximum) and {spread['min_sens']:.1f} (minimum): "
            + ("wider with LRP, as the paper found." if wider else
               f"{'not wider' if spread['max_lrp'] <= by_sensitivity else 'not wider than both'}"
               " with LRP, unlike the paper."))
    if contrast is None:
        return text + f" No map of '{PLOSIVE}' to look for a release burst in."
    burst = {name: value for name, value in contrast.items() if name != "none"}
    sharpest = max(burst, key=burst.get)
    return text + (
        f" The centre of '{PLOSIVE}' rises above its flanks by "
        + ", ".join(f"{value:+.2f} at {ALIGNMENT_NAMES[name]}" for name, value in burst.items())
        + f": the burst is sharpest at {ALIGNMENT_NAMES[sharpest]}"
        + (" (the paper saw it with sensitivity, not with LRP)." if sharpest != "max_lrp" else
           ", where the paper did not see it."))
