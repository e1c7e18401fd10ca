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

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.stats
import torch
from torch import nn

from speechxai import device as devices
from speechxai.adversarial import targeted_attack
from speechxai.attribution.asr import LETTERS, METHODS, attribute, saliency_error
from speechxai.attribution.explanation import Explanation, concatenate
from speechxai.attribution.lrp import without_biases
from speechxai.attribution.lstm_lrp import deepspeech_lrp
from speechxai.attribution.sanity import cascading_randomization, local_accuracy_error
from speechxai.augment import with_channel_copies
from speechxai.ctc import (
    BLANK,
    character_error_rate,
    greedy_decode,
    word_error_rate,
)
from speechxai.datasets import DigitCorpus, DigitSequences, data_root, folds
from speechxai.evaluation.asr import (
    letters_vs_space,
    share_late_frames,
    share_low_mfcc,
    summed_per_frame,
)
from speechxai.evaluation.bootstrap import paired_bootstrap
from speechxai.evaluation.curves import curve_area
from speechxai.evaluation.deletion import DEFAULT_FRACTIONS as DELETION_FRACTIONS
from speechxai.evaluation.deletion import deletion_curve
from speechxai.features import context_windows, mfcc_frames, mfcc_windows
from speechxai.model_cache import cache_file, code_version, load_or_train
from speechxai.models import DeepSpeech
from speechxai.models.deepspeech import WINDOW
from speechxai.progress import tqdm
from speechxai.resume import Resume
from speechxai.training import config_key, fit, fit_ctc, supported_precision

_FRAMES: dict[bytes, torch.Tensor] = {}  # MFCC frames by utterance content


def sequence_split(
    corpus: DigitCorpus, n_sequences: tuple[int, int], seed: int = 0,
    kind: type[DigitSequences] = DigitSequences,
) -> tuple[DigitSequences, DigitSequences]:
    """Training and test digit sequences spoken by disjoint speakers.

    The test speakers are the test group of the corpus's first digit fold
    (:func:`speechxai.datasets.folds`); its training and validation groups speak the
    ``n_sequences[0]`` training sequences. Both are ``kind`` (random digit sequences, or
    :class:`speechxai.datasets.DigitCommands`) with its default lengths, seeded by ``seed``
    and ``seed + 1``.
    """
    n_train, n_test = n_sequences
    if n_train < 1 or n_test < 1:
        raise ValueError(f"n_sequences must be two positive counts (train, test), got "
                         f"{n_sequences}")
    fold = folds(corpus, "digit")[0]
    return (kind(corpus, seed=seed, n_sequences=n_train, speakers=fold.train + fold.val),
            kind(corpus, seed=seed + 1, n_sequences=n_test, speakers=fold.test))


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


MONITORED = 20
"""Held-out sequences the chapter scores five times during training (the CER curve of the
recogniser's history; they do not change the weights)."""


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
    augment: int = 0  # channel copies of every training sequence (augment.with_channel_copies)

    def __post_init__(self):
        if min(self.hidden, self.steps, self.batch_size) < 1 or self.learning_rate <= 0:
            raise ValueError(f"hidden, steps and batch_size must be >= 1 and the learning rate "
                             f"positive, got {self}")
        if self.augment < 0:
            raise ValueError(f"augment counts channel copies (>= 0), got {self.augment}")

    def key(self) -> str:
        return config_key(self)


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
        self.model = model
        self.register_buffer("mean", mean)  # buffers: they move with the network
        self.register_buffer("std", std)

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
    *,
    cached_only: bool = False,
) -> TrainedRecognizer:
    """Train (or load from the cache) DeepSpeech with CTC on ``train_items``.

    Seeded Adam on random batches of zero-padded utterances with their lengths
    (:func:`speechxai.ctc.ctc_loss`), gradient norm clipping, optionally cosine annealing and
    bfloat16 autocast (where the CPU has it natively:
    :func:`speechxai.training.supported_precision`). Items need ``waveform``, ``sample_rate``
    and ``transcript``; with ``config.augment`` the training set holds that many channel copies
    of each besides the originals (:func:`speechxai.augment.with_channel_copies`). Cached at
    ``<cache_dir or data_root()/models>/deepspeech-<key>.pt``, keyed by the configuration,
    the training data's waveforms and transcripts and :func:`recognizer_code`.

    ``monitor_items`` (e.g. held-out sequences) are scored by :func:`evaluate` five times
    during training; their CERs land in ``history["cer"]`` (they do not change the weights).
    ``cached_only``: never train; a recognizer not in the cache raises
    :class:`~speechxai.model_cache.ModelNotCached`.
    """
    items = list(train_items)
    if not items:
        raise ValueError("no training items")
    config = supported_precision(config)
    path = cache_file(cache_dir or data_root() / "models", "deepspeech", config.key(),
                      _data_key(items), recognizer_code())

    def restore(saved: dict) -> TrainedRecognizer:
        model = DeepSpeech(config.hidden)
        model.load_state_dict(saved["state"])
        return TrainedRecognizer(model.to(devices.current()).eval(), config, saved["history"],
                                 saved["mean"], saved["std"])

    return load_or_train(
        path, lambda resume: _train(config, items, monitor_items, progress, resume), restore,
        cached_only=cached_only)


@functools.cache
def recognizer_code() -> str:
    """The code version (:func:`~speechxai.model_cache.code_version`) of the recogniser: its
    network, MFCC features, channel copies, CTC loss and training loop."""
    from speechxai import augment, ctc, features
    from speechxai.models import deepspeech

    return code_version(deepspeech, features, augment, ctc, fit, fit_ctc, CTCConfig,
                        train_recognizer, _train, _frames, _batch, _Standardised, _fold)


def _train(config: CTCConfig, items: list, monitor_items: Sequence | None,
           progress: bool, resume: Resume | None = None) -> dict:
    """:func:`train_recognizer`'s training: the checkpoint payload."""
    items = with_channel_copies(items, config.augment, config.seed)
    frames = [_frames(item) for item in tqdm(items, desc="MFCC", disable=not progress)]
    transcripts = [item.transcript for item in items]
    every_frame = torch.cat(frames)
    mean, std = every_frame.mean(0), every_frame.std(0).clamp_min(1e-3)
    torch.manual_seed(config.seed)
    network = _Standardised(DeepSpeech(config.hidden), mean, std).to(devices.current())

    def batch(chosen):
        return _batch([frames[i] for i in chosen])

    def score():
        return evaluate(network, monitor_items).cer

    history = fit_ctc(network, config, batch, transcripts,
                      None if monitor_items is None else score, f"DeepSpeech({config.hidden})",
                      progress, resume)
    model = _fold(network.model, network.mean, network.std).eval()
    return {"state": devices.on_cpu(model.state_dict()), "history": history, "mean": mean,
            "std": std}


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
            logits = model(windows.to(devices.device_of(model))).cpu()
            hypotheses += [greedy_decode(row[:n]) for row, n in zip(logits, lengths, strict=True)]
    references = [item.transcript for item in items]
    return Recognition(character_error_rate(references, hypotheses),
                       word_error_rate(references, hypotheses), hypotheses)



def frame_targets(model: DeepSpeech, windows: torch.Tensor, n: int, seed: int = 0,
                  letters_only: bool = False) -> list[tuple[int, int]]:
    """A seeded choice of at most ``n`` (frame, predicted class) pairs of one utterance
    (blank frames left out; with ``letters_only`` spaces too), in frame order."""
    with torch.no_grad():
        predicted = devices.to_numpy(model(windows.to(devices.device_of(model))).argmax(1))
    wanted = predicted != BLANK
    if letters_only:
        wanted &= np.isin(predicted, LETTERS)
    frames = np.flatnonzero(wanted)
    chosen = np.sort(np.random.default_rng(seed).permutation(frames)[:n])
    return [(int(i), int(predicted[i])) for i in chosen]


@dataclass
class ExplainedUtterance:
    """Every method's attributions of some frames of one utterance."""

    item: object
    windows: torch.Tensor
    explanations: dict[str, Explanation]


def explain_frames(model: DeepSpeech, items: Sequence, frames_per_item: int,
                   methods: Sequence[str], background: np.ndarray, seed: int = 0,
                   progress: bool = True) -> list[ExplainedUtterance]:
    """Every method's attributions of ``frames_per_item`` seeded non-blank frames of each
    item (the sample behind the chapter's measured findings and deletion curves)."""
    explained = []
    for index, item in enumerate(tqdm(items, desc="explaining", disable=not progress)):
        windows = utterance_windows(item)
        targets = frame_targets(model, windows, frames_per_item, seed + index)
        if targets:
            explained.append(ExplainedUtterance(item, windows, {
                method: attribute(model, windows, targets, method,
                                  **({"background": background, "seed": seed}
                                     if method == "shap" else {}))
                for method in methods}))
    return explained


def pooled(explained: Sequence[ExplainedUtterance]) -> dict[str, Explanation]:
    """Per method, the attributions of all explained utterances as one Explanation."""
    methods = explained[0].explanations
    return {m: concatenate([e.explanations[m] for e in explained]) for m in methods}


def parameter_randomization(model: DeepSpeech, windows: torch.Tensor,
                            targets: Sequence[tuple[int, int]], background: np.ndarray,
                            seed: int = 0) -> dict[str, pd.Series]:
    """Adebayo et al.'s (2018) cascading randomisation of the recogniser for saliency, LRP
    and SHAP (against ``background``) of ``targets`` (frame, character) of one utterance."""
    options = {"shap": {"background": background, "seed": seed}}
    return {method: cascading_randomization(
        model, lambda network, method=method: attribute(
            network, windows, targets, method, **options.get(method, {})).values, seed)
        for method in ("saliency", "lrp", "shap")}


def method_errors(model: DeepSpeech, explained: Sequence[ExplainedUtterance]) -> dict[str, float]:
    """Whether saliency and SHAP compute what they define, over every explained frame
    (:mod:`speechxai.attribution.sanity`): saliency against central differences of the
    character's probability, SHAP's values against the output minus the base value. Near 0
    when intact."""
    return {
        "saliency.gradient_error": float(np.mean([
            saliency_error(model, e.windows, e.explanations["saliency"], seed=index)
            for index, e in enumerate(explained)])),
        "shap.local_accuracy_error": local_accuracy_error(pooled(explained)["shap"]),
    }


def findings(explanations: dict[str, Explanation]) -> pd.DataFrame:
    """The paper's findings as numbers, per method: share of |A| in the lowest 10 MFCCs, in
    the later half of the window (relative frames 10-18 of 0-18), and mean |A| for letters
    and for spaces."""
    rows = {}
    for method, explanation in explanations.items():
        kinds = letters_vs_space(explanation)
        rows[method] = {"share lowest 10 MFCCs": share_low_mfcc(explanation),
                        "share later half of window": share_late_frames(explanation),
                        "mean |A| letters": kinds["letter"], "mean |A| spaces": kinds["space"]}
    return pd.DataFrame(rows).T


def attack_targets(items: Sequence, seed: int = 0) -> list[str]:
    """For every item, the transcript of another seeded item with a different transcript
    (what the targeted attack must make the model read)."""
    rng = np.random.default_rng(seed)
    transcripts = [item.transcript for item in items]
    targets = []
    for own in transcripts:
        others = [t for t in transcripts if t != own]
        targets.append(others[rng.integers(len(others))] if others else own[::-1])
    return targets


@dataclass
class Attack:
    """A targeted adversarial example (Carlini & Wagner style, PGD on the CTC loss)."""

    item: object
    target: str
    waveform: torch.Tensor
    success: bool
    decoded: str


def attack_items(model: DeepSpeech, items: Sequence, eps: float, steps: int, alpha: float,
                 seed: int = 0, progress: bool = True) -> list[Attack]:
    """Targeted attacks within an L-infinity bound of ``eps`` times each waveform's peak;
    step size ``alpha`` times the peak."""
    attacks = []
    for item, target in tqdm(list(zip(items, attack_targets(items, seed), strict=True)),
                             desc="attacking", disable=not progress):
        peak = float(item.waveform.abs().max())
        adversarial, success, decoded = targeted_attack(
            model, item.waveform, item.sample_rate, target, eps * peak, steps, alpha * peak,
            seed=seed)
        attacks.append(Attack(item, target, adversarial.detach(), success, decoded))
    return attacks


def attribution_profile(model: DeepSpeech, waveform: torch.Tensor, sample_rate: int,
                        method: str = "lrp") -> np.ndarray:
    """Where an utterance's attributions lie: mean |A| of its predicted non-blank frames per
    MFCC (26) and per relative frame (19), on a log scale - the detector's features."""
    windows = mfcc_windows(waveform, sample_rate)
    targets = frame_targets(model, windows, n=len(windows))
    return magnitude_profile(attribute(model, windows, targets, method).values)


FIRST_FRAMES = 0.1  # share of an utterance's frames that count as its first frames
HIGH_MFCCS = 6  # the highest MFCCs (20-25 of 0-25)


def adversarial_shares(model: DeepSpeech, attacks: Sequence[Attack], frames_per_item: int,
                       background: np.ndarray, seed: int = 0, n_boot: int = 2000
                       ) -> pd.DataFrame:
    """Where each method puts |A| on the benign and the adversarial version of each attacked
    utterance (Markert et al. 2021, Sec. 4: on adversarial examples SHAP moves relevance to
    the first frames of the audio, the gradient methods to the highest MFCCs): per method and
    version, the share of |A| summed per frame (:func:`summed_per_frame`) that falls in the
    first :data:`FIRST_FRAMES` of the utterance's frames and in the :data:`HIGH_MFCCS`
    highest MFCCs, pooled over ``frames_per_item`` seeded frames of every utterance, and the
    95 % percentile bootstrap interval of adversarial minus benign share over the utterances
    (each drawn with both versions; ``scipy.stats.bootstrap``; NaN with fewer than two
    utterances). Columns: ``("first_frames" | "high_mfcc", "benign" | "adversarial" |
    "minus_benign" | "minus_benign_lo" | "minus_benign_hi")``."""
    rows = {}
    for method in METHODS:
        options = {"background": background, "seed": seed} if method == "shap" else {}
        # per utterance and version: |A| in the first frames, in the highest MFCCs, in all
        sums = np.zeros((2, 3, len(attacks)))
        for v, version in enumerate(("benign", "adversarial")):
            for k, attack in enumerate(attacks):
                waveform = attack.item.waveform if version == "benign" else attack.waveform
                windows = mfcc_windows(waveform, attack.item.sample_rate)
                targets = frame_targets(model, windows, frames_per_item, seed + k)
                if not targets:
                    continue
                explanation = attribute(model, windows, targets, method, **options)
                per_frame = summed_per_frame(np.abs(explanation.values), explanation.frames,
                                             len(windows))
                sums[v, :, k] = (
                    per_frame[:max(1, int(np.ceil(FIRST_FRAMES * len(windows))))].sum(),
                    per_frame[:, -HIGH_MFCCS:].sum(), per_frame.sum())
        row = rows.setdefault(method, {})
        for w, where in enumerate(("first_frames", "high_mfcc")):
            for v, version in enumerate(("benign", "adversarial")):
                total = sums[v, 2].sum() or np.nan  # no explained frame: no share
                row[(where, version)] = sums[v, w].sum() / total
            row[(where, "minus_benign")] = row[(where, "adversarial")] - row[(where, "benign")]
            lo, hi = _share_difference_interval(sums[:, w], sums[:, 2], n_boot, seed)
            row[(where, "minus_benign_lo")], row[(where, "minus_benign_hi")] = lo, hi
    return pd.DataFrame.from_dict(rows, orient="index")


def _share_difference_interval(part: np.ndarray, total: np.ndarray, n_boot: int, seed: int
                               ) -> tuple[float, float]:
    """95 % percentile bootstrap interval of ``sum(part[1]) / sum(total[1]) - sum(part[0]) /
    sum(total[0])`` (adversarial minus benign share; arrays (2, N)) over the N utterances."""
    if part.shape[1] < 2:
        return np.nan, np.nan

    def difference(benign, adversarial, benign_total, adversarial_total, axis=-1):
        return (adversarial.sum(axis) / adversarial_total.sum(axis)
                - benign.sum(axis) / benign_total.sum(axis))

    with np.errstate(invalid="ignore", divide="ignore"):
        result = scipy.stats.bootstrap((part[0], part[1], total[0], total[1]), difference,
                                       paired=True, vectorized=True, n_resamples=n_boot,
                                       method="percentile", rng=np.random.default_rng(seed))
    interval = result.confidence_interval
    return float(interval.low), float(interval.high)


def describe_shares(shares: pd.DataFrame) -> str:
    """:func:`adversarial_shares` against the paper's statement, in a sentence per method: the
    paper's direction holds where the whole interval of adversarial minus benign is above 0."""
    lines = []
    for method, row in shares.iterrows():
        moves = [f"{where.replace('_', ' ').replace('mfcc', 'MFCCs')} "
                 f"{row[where, 'benign']:.2f} -> {row[where, 'adversarial']:.2f}"
                 for where in ("first_frames", "high_mfcc")]
        expected = "first_frames" if method == "shap" else "high_mfcc"
        lo, hi = row[expected, "minus_benign_lo"], row[expected, "minus_benign_hi"]
        if not np.isfinite(lo):
            verdict = "too few utterances for an interval"
        elif lo > 0:
            verdict = "so it is"
        elif hi < 0:
            verdict = "less, not more, here"
        else:
            verdict = "not decided here (the interval holds 0)"
        lines.append(f"- **{method}**: {'; '.join(moves)}; the paper expects more in the "
                     f"{expected.replace('_', ' ').replace('mfcc', 'MFCCs')} (adversarial "
                     f"minus benign {row[expected, 'minus_benign']:+.3f}, 95 % interval "
                     f"[{lo:+.3f}, {hi:+.3f}]): {verdict}.")
    return "\n".join(lines)


def input_profile(model: DeepSpeech, waveform: torch.Tensor, sample_rate: int) -> np.ndarray:
    """The detector's features without attributions (its control): the same profile of the
    input windows' own |x| over the same frames, and the waveform's log energy."""
    windows = mfcc_windows(waveform, sample_rate)
    frames = [frame for frame, _ in frame_targets(model, windows, n=len(windows))]
    energy = np.log10(float(torch.as_tensor(waveform).double().pow(2).mean()) + 1e-12)
    return np.append(magnitude_profile(windows[frames].numpy()), energy)


def magnitude_profile(values: np.ndarray) -> np.ndarray:
    """log10 of mean |values| (N, 19, 26) per MFCC (26) and per relative frame (19)."""
    magnitude = np.abs(values)
    return np.log10(np.concatenate([magnitude.mean((0, 1)), magnitude.mean((0, 2))]) + 1e-12)


def deletion_study(model: DeepSpeech, explained: Sequence[ExplainedUtterance],
                   background: np.ndarray, seed: int = 0,
                   fractions: Sequence[float] = DELETION_FRACTIONS,
                   random_orders: int = 10) -> dict[str, np.ndarray]:
    """Deletion curves of every explained frame (its most relevant features first, set to
    ``background``), per method, and the mean curve of ``random_orders`` seeded random
    orders of the same frame (a steadier baseline than one order); (n_fractions, n_frames)
    like the flipping curves (:func:`speechxai.evaluation.curves.curve_area` takes them as
    they are), the columns of every method in the same frame order."""
    if random_orders < 1:
        raise ValueError(f"random_orders must be >= 1, got {random_orders}")
    curves: dict[str, list[np.ndarray]] = {}
    for number, utterance in enumerate(explained):
        for method, explanation in utterance.explanations.items():
            for frame, character, values in zip(explanation.frames, explanation.targets,
                                                explanation.values, strict=True):
                curves.setdefault(method, []).append(deletion_curve(
                    model, utterance.windows, frame, character, values, background, fractions))
        reference = next(iter(utterance.explanations.values()))
        for k, (frame, character) in enumerate(zip(reference.frames, reference.targets,
                                                   strict=True)):
            first = seed + random_orders * (1000 * number + k)
            curves.setdefault("random", []).append(np.mean([deletion_curve(
                model, utterance.windows, frame, character, reference.values[k], background,
                fractions, order="random", seed=first + r) for r in range(random_orders)], 0))
    return {method: np.stack(rows, axis=1) for method, rows in curves.items()}


def mean_window(explained: Sequence[ExplainedUtterance]) -> np.ndarray:
    """The mean (19, 26) window over every frame of the explained utterances: a neutral
    refill for deletion, unlike SHAP's own background (the median letter frame), which
    favours SHAP."""
    return torch.cat([e.windows for e in explained]).double().mean(0).numpy()


def deletion_against_random(curves: dict[str, np.ndarray], seed: int = 0,
                            fractions: Sequence[float] = DELETION_FRACTIONS) -> pd.DataFrame:
    """Per method of :func:`deletion_study`'s curves: the area under its mean curve, and its
    per-frame area minus the random baseline's on the same frame, with a 95 % bootstrap
    interval over frames (:func:`speechxai.evaluation.bootstrap.paired_bootstrap`).
    A method deletes faster than random where the whole interval is below zero."""
    areas = {method: curve_area(fractions, columns) for method, columns in curves.items()}
    rows = {}
    for method, area in areas.items():
        if method != "random":
            estimate, lo, hi = paired_bootstrap(area - areas["random"], seed=seed)
            rows[method] = {"area": float(area.mean()), "minus random": estimate,
                            "lo": lo, "hi": hi}
    rows["random"] = {"area": float(areas["random"].mean()), "minus random": 0.0,
                      "lo": 0.0, "hi": 0.0}
    return pd.DataFrame.from_dict(rows, orient="index")


def lrp_conservation(model: DeepSpeech, windows: torch.Tensor,
                     targets: Sequence[tuple[int, int]]) -> float:
    """Mean relative |sum of relevance - explained logit| of epsilon-LRP through the whole
    recognizer (all windows up to the frame) with every bias set to zero."""
    bias_free = without_biases(model)
    with torch.no_grad():
        logits = bias_free(windows)
    errors = []
    for frame, character in targets:
        total = float(deepspeech_lrp(bias_free, windows, frame, character).values.sum())
        output = float(logits[frame, character])
        errors.append(abs(total - output) / max(abs(output), 1e-12))
    return float(np.mean(errors))


EVEN_LOW10 = 10 / 26  # share of the lowest 10 MFCCs if attributions were spread evenly
EVEN_LATE = 9 / 19  # share of the later half (relative frames 10-18) if spread evenly


def describe_findings(table: pd.DataFrame, deletion: pd.DataFrame) -> str:
    """The paper's claims next to what this run measured, one Markdown bullet each
    (``deletion``: :func:`deletion_against_random`'s table)."""

    def verdict(holds: bool) -> str:
        return "as the paper found" if holds else "**unlike** the paper"

    low = table["share lowest 10 MFCCs"]
    late = table.loc["lrp", "share later half of window"]
    lines = [
        f"- LRP puts {low['lrp']:.0%} of its |relevance| into the lowest 10 MFCCs (even "
        f"spread: {EVEN_LOW10:.0%}), more than saliency ({low['saliency']:.0%}): "
        f"{verdict(low['lrp'] > EVEN_LOW10 and low['lrp'] > low['saliency'])}.",
        f"- The later half of LRP's window holds {late:.0%} (even spread: {EVEN_LATE:.0%}): "
        f"later frames weigh {'more' if late > EVEN_LATE else 'less'}, "
        f"{verdict(late > EVEN_LATE)}.",
    ]
    letters, spaces = table.loc["shap", "mean |A| letters"], table.loc["shap", "mean |A| spaces"]
    if np.isfinite(spaces):
        lines.append(f"- SHAP's mean |A| is {letters:.3g} for letters and {spaces:.3g} for "
                     f"spaces: letters and whitespace are explained "
                     f"{'differently' if abs(np.log(letters / spaces)) > np.log(1.5) else 'alike'}"
                     " (a factor of 1.5 counts as different).")
    random = deletion.loc["random", "area"]
    for method, row in deletion.drop(index="random").iterrows():
        pace = ("faster than random" if row["hi"] < 0 else "slower than random"
                if row["lo"] > 0 else "no faster than random (the interval holds zero)")
        lines.append(f"- Deleting by {method} (neutral refill) leaves an area of "
                     f"{row['area']:.3f} against "
                     f"{random:.3f} for random orders, {row['minus random']:+.3f} "
                     f"[{row['lo']:+.3f}, {row['hi']:+.3f}] per frame: {pace}.")
    return "\n".join(lines)
