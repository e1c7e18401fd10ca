"""The AudioMNIST chapter's protocol (Becker et al. 2018; 2024): cross-validated AlexNet
and AudioNet for digit and sex, frequency-axis scaling of spectrograms, pixel-flipping on
AudioNet, and the material of the audible-explanation user study."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

from speechxai.attribution import (
    conservation_error,
    fast_relevance,
    relevance_stream,
    without_biases,
)
from speechxai.attribution.gradient_shap import gradient_shap_values
from speechxai.attribution.lrp import input_gradient
from speechxai.attribution.sanity import cascading_randomization, finite_mean
from speechxai.datasets import DigitCorpus, folds, open_corpus, real_corpus
from speechxai.datasets.corpus import DIGIT_WORDS, SEXES
from speechxai.datasets.real import transfer_unavailable
from speechxai.datasets.synthetic import DEFAULT_VOICES
from speechxai.evaluation import (
    DEFAULT_FRACTIONS,
    FORMATS,
    SEX_SCALING,
    STRATEGIES,
    SimulatedReader,
    bootstrap_difference,
    curve_area,
    flipping_curve,
    make_stimulus,
    scale_by_sex,
    study_scores,
)
from speechxai.experiments.transfer import trained_voices, transfer_verdict
from speechxai.features import (
    audiomnist_spectrogram,
    audiomnist_spectrogram_axes,
    subtract_mean,
)
from speechxai.findings import LARGE_AMPLITUDE_CORRELATION
from speechxai.inputs import DigitSignals, load_signals, padded, placement_seeds
from speechxai.training import TrainedModel, TrainingConfig, predict, train

ARCHITECTURES = ("alexnet", "audionet")
TASKS = ("digit", "sex")
# Becker et al. (2018), Table 1: test accuracy in %, mean and std over the folds.
PAPER_ACCURACY = {
    ("alexnet", "digit"): (95.82, 1.49),
    ("alexnet", "sex"): (95.87, 2.85),
    ("audionet", "digit"): (92.53, 2.04),
    ("audionet", "sex"): (91.74, 8.60),
}
CHANCE = {"digit": 0.1, "sex": 0.5}


@dataclass
class FoldRun:
    """One trained model, the held-out speakers it is evaluated on and, per test signal,
    whether it classifies it correctly."""

    fold: int
    trained: TrainedModel
    train_speakers: list[str]
    test: DigitSignals
    correct: np.ndarray

    @property
    def accuracy(self) -> float:
        return float(self.correct.mean())


def corpus_key(corpus: DigitCorpus) -> str:
    """Identifies a corpus's content for the model cache (config, or its item list)."""
    content = getattr(corpus, "config", None) or [
        (e.digit, e.speaker, e.repetition) for e in corpus.entries
    ]
    text = json.dumps([corpus.name, content], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def fold_speakers(corpus: DigitCorpus, task: str, index: int) -> tuple[list[str], ...]:
    """Train, validation and test speakers of fold ``index`` that ``corpus`` holds.

    A corpus that lacks a part's speakers entirely (the 6-recording AudioMNIST sample that
    the smoke profile runs on) uses all its speakers for that part, and says so: such a
    run checks the code path and makes no accuracy claim.
    """
    fold = folds(corpus, task)[index]
    present = set(corpus.speakers)
    parts = [[s for s in speakers if s in present] for speakers in (fold.train, fold.val,
                                                                      fold.test)]
    if not all(parts):
        print(f"{corpus.name} lacks speakers of {task} fold {index}: every part uses all "
              f"{len(present)} speakers (a smoke run, no accuracy claim)")
        parts = [part or sorted(present) for part in parts]
    return tuple(parts)


def fold_config(corpus: DigitCorpus, architecture: str, task: str, index: int,
                training: dict, seed: int = 0,
                train_speakers: list[str] | None = None,
                extra: DigitCorpus | None = None,
                start: TrainedModel | None = None) -> TrainingConfig:
    """The ``TrainingConfig`` of :func:`run_fold`'s model (its cache key): the corpus, the
    fold's training speakers (``train_speakers`` if already known, else
    :func:`fold_speakers`), the ``extra`` corpus whose recordings join them, the profile's
    ``training`` fields, the seed ``seed + index`` and the key of the ``start`` model (whose
    weights are kept as they are: no unit-input scaling of a started model)."""
    train_speakers = train_speakers or fold_speakers(corpus, task, index)[0]
    data_key = f"{corpus_key(corpus)}:{task}:{','.join(train_speakers)}"
    if extra is not None:
        data_key += f"+{corpus_key(extra)}"
    if start is not None:
        training = {**training, "unit_input_init": False, "start": start.config.key()}
    return TrainingConfig(architecture, task, data_key, seed=seed + index, **training)


@dataclass(frozen=True)
class ExtraTraining:
    """A corpus whose every recording joins each fold's training set (the embedded voices
    beside a real corpus's few speakers), with its signals at 8 kHz."""

    corpus: DigitCorpus
    signals: DigitSignals


def extra_corpora(dataset: str, tasks: Sequence[str], n_speakers: int, per_digit: int,
                  seed: int = 0, voices: Mapping[str, str] | None = None,
                  ) -> dict[str, DigitCorpus]:
    """For each of ``tasks``, the embedded corpus (``n_speakers`` x ``per_digit`` of the
    task's ``voices``: the embedded run's) whose recordings join the training folds of a run
    on ``dataset`` (none for the embedded run itself). Measured on FSDD, 4 training speakers:
    AlexNet on the held-out speaker george 0.53 without, 0.68 with 48 embedded voices
    (benchmarks/README)."""
    if dataset == "embedded" or not tasks:
        return {}
    embedded = open_corpora("embedded", n_speakers, per_digit, seed, voices=voices)
    return {task: embedded[task] for task in tasks}


def extra_training(corpora: dict[str, DigitCorpus], progress: bool = True
                   ) -> dict[str, ExtraTraining]:
    """:class:`ExtraTraining` of each task of :func:`extra_corpora`, a corpus loaded once."""
    signals = load_corpora(corpora, progress)
    return {task: ExtraTraining(corpus, signals[task]) for task, corpus in corpora.items()}


def embedded_starts(extras: dict[str, ExtraTraining], models: Sequence[str], training: dict,
                    seed: int = 0, progress: bool = True,
                    ) -> dict[tuple[str, str], TrainedModel]:
    """For each of ``models`` (``"<architecture>.<task>"``, as the records name them), the
    embedded run's fold-0 model (trained on the ``extras`` corpus with the embedded profile's
    ``training[architecture][task]``, so the model ``make book`` caches): the start of
    fine-tuning on real speech."""
    named = [(architecture, task) for architecture, _, task in
             (model.partition(".") for model in models)]
    if unknown := [model for model, (architecture, task) in zip(models, named, strict=True)
                   if architecture not in ARCHITECTURES or task not in TASKS]:
        raise ValueError(f"unknown model(s) {', '.join(unknown)}: name them <architecture>."
                         f"<task>, architecture one of {', '.join(ARCHITECTURES)}, task one of "
                         f"{', '.join(TASKS)}")
    if missing := sorted({task for _, task in named} - set(extras)):
        raise ValueError(f"no embedded corpus to start the {', '.join(missing)} models from: "
                         f"list the task in mix_embedded too")
    return {(architecture, task): run_fold(extras[task].corpus, architecture, task, 0,
                                           training[architecture][task], seed, progress,
                                           extras[task].signals).trained
            for architecture, task in named}


def run_fold(
    corpus: DigitCorpus,
    architecture: str,
    task: str,
    index: int,
    training: dict,
    seed: int = 0,
    progress: bool = True,
    signals: DigitSignals | None = None,
    extra: ExtraTraining | None = None,
    start: TrainedModel | None = None,
) -> FoldRun:
    """Train ``architecture`` for ``task`` on fold ``index`` (or load it from the on-disk
    cache) and measure test accuracy on the fold's held-out speakers.

    ``training`` holds the ``TrainingConfig`` fields the profile sets (steps, optimizer,
    learning rate, width, augment, ...). ``signals``: the corpus already loaded at 8 kHz
    (``load_signals``), to load it once for several calls. ``extra``: recordings of another
    corpus that join the training set (:func:`extra_training`). ``start``: a trained model
    whose weights training starts from (:func:`embedded_starts`; fine-tuning).
    """
    signals = signals or load_signals(corpus, corpus.speakers, progress=progress)
    train_speakers, val_speakers, test_speakers = fold_speakers(corpus, task, index)
    parts = [signals.of_speakers(s) for s in (train_speakers, val_speakers, test_speakers)]
    config = fold_config(corpus, architecture, task, index, training, seed, train_speakers,
                         extra.corpus if extra else None, start)
    trained = train(config, parts[0] + extra.signals if extra else parts[0], parts[1],
                    progress=progress, start=start)
    test = parts[2]
    predicted = predict(trained.model, trained.inputs(test, seed)).numpy()
    return FoldRun(index, trained, train_speakers, test, predicted == test.labels(task))


def run_folds(
    corpus: DigitCorpus,
    architecture: str,
    task: str,
    n_folds: int | None,
    training: dict,
    seed: int = 0,
    progress: bool = True,
    signals: DigitSignals | None = None,
    extra: ExtraTraining | None = None,
    start: TrainedModel | None = None,
) -> list[FoldRun]:
    """:func:`run_fold` on the first ``n_folds`` folds (all when ``None``)."""
    signals = signals or load_signals(corpus, corpus.speakers, progress=progress)
    return [run_fold(corpus, architecture, task, index, training, seed, progress, signals,
                     extra, start)
            for index in range(len(folds(corpus, task)))[:n_folds]]


TRANSFER_CORPORA = {"digit": "fsdd", "sex": "librispeech"}
"""The real corpus a model of each task is tried on, by its record name."""


@functools.lru_cache(maxsize=2)
def transfer_signals(task: str, limit: int | None = None) -> DigitSignals:
    """Every recording of the real corpus of ``task`` at 8 kHz (all 3,000 FSDD digits; the
    1-s crops of every LibriSpeech speaker), or ``limit`` of them spread over the corpus,
    loaded once per process."""
    corpus = real_corpus(task, download=False)
    return load_signals(corpus, corpus.speakers, progress=False, limit=limit)


def transfer_table(runs: dict[tuple[str, str], list[FoldRun]], dataset: str, seed: int = 0,
                   limit: int | None = None) -> pd.DataFrame | None:
    """Per model of the first fold: held-out accuracy, the real corpus and the accuracy on it
    (:func:`transfer`, on ``limit`` recordings: all when ``None``); ``None`` when
    :func:`transfer_unavailable` gives a reason."""
    if transfer_unavailable(dataset):
        return None
    rows = []
    for (architecture, task), fold_runs in runs.items():
        (name, value), = transfer(fold_runs[0].trained, seed, limit).items()
        rows.append({"model": architecture, "task": task,
                     "held-out speakers": fold_runs[0].accuracy,
                     "corpus": name.split(".")[1], "real speech": value})
    return pd.DataFrame(rows).set_index(["model", "task"])


def describe_transfer(table: pd.DataFrame, dataset: str = "embedded") -> str:
    """One sentence per task from :func:`transfer_table`: how much worse (or not) the best
    model hears real people than held-out speakers of its own corpus."""
    lines = []
    for task, rows in table.groupby(level="task"):
        best = rows["real speech"].idxmax()
        verdict = transfer_verdict(rows.loc[best, "held-out speakers"],
                                   rows.loc[best, "real speech"],
                                   trained_on=trained_voices(dataset))
        lines.append(
            f"- **{task}**: the better model, {best[0]}, scores "
            f"{rows.loc[best, 'real speech']:.2f} on {rows.loc[best, 'corpus']} against "
            f"{rows.loc[best, 'held-out speakers']:.2f} on held-out speakers of its own corpus "
            f"(chance {CHANCE[task]:.2f}): it {verdict}.")
    return "\n".join(lines)


def balanced_accuracy(labels: np.ndarray, predicted: np.ndarray) -> float:
    """Mean over the classes present of the share of that class predicted correctly."""
    return float(np.mean([(predicted[labels == c] == c).mean() for c in np.unique(labels)]))


def transfer(trained: TrainedModel, seed: int = 0, limit: int | None = None
             ) -> dict[str, float]:
    """How a model hears real people it never heard: ``{"transfer.<corpus>.accuracy": x}``,
    the digit accuracy on every FSDD recording, or the balanced sex accuracy on every
    LibriSpeech speaker's 1-s crops (:func:`transfer_signals`; ``limit``: on that many)."""
    task = trained.config.task
    signals = transfer_signals(task, limit)
    labels = signals.labels(task)
    predicted = predict(trained.model, trained.inputs(signals, seed)).numpy()
    return {f"transfer.{TRANSFER_CORPORA[task]}.accuracy": balanced_accuracy(labels, predicted)
            if task == "sex" else float((predicted == labels).mean())}


def open_corpora(dataset: str, n_speakers: int = 24, per_digit: int = 10, seed: int = 0,
                 root: str | None = None, voices: Mapping[str, str] | None = None,
                 ) -> dict[str, DigitCorpus]:
    """The corpus of each task the chapter's ``dataset`` serves: ``"real"`` gives FSDD
    for digits and LibriSpeech speakers for sex, ``"embedded"`` the corpus of each task's
    ``voices`` (:data:`~speechxai.datasets.synthetic.VOICE_SETS`, default ``"f1-m8"``), the
    others one corpus for both. A task the corpus cannot serve (sex on all-male FSDD) is
    left out with one printed line."""
    voices = dict(voices or {})
    unknown = set(voices) - set(TASKS)
    if unknown:
        raise ValueError(f"voices names unknown tasks {sorted(unknown)}; tasks: {TASKS}")
    corpora, opened = {}, {}
    for task in TASKS:
        task_voices = voices.get(task, DEFAULT_VOICES)
        key = task if dataset == "real" else task_voices  # tasks share what they can
        if key not in opened:
            opened[key] = open_corpus(dataset, n_speakers=n_speakers, per_digit=per_digit,
                                      seed=seed, root=root, task=task, voices=task_voices)
        try:
            folds(opened[key], task)
        except ValueError as error:
            print(f"{error}: the chapter leaves the {task} task out.")
            continue
        corpora[task] = opened[key]
    return corpora


def load_corpora(corpora: dict[str, DigitCorpus], progress: bool = True
                 ) -> dict[str, DigitSignals]:
    """Every recording of each task's corpus at 8 kHz, a corpus serving two tasks once."""
    loaded: dict[int, DigitSignals] = {}
    for corpus in corpora.values():
        if id(corpus) not in loaded:
            loaded[id(corpus)] = load_signals(corpus, corpus.speakers, progress=progress)
    return {task: loaded[id(corpus)] for task, corpus in corpora.items()}


def accuracy_interval(fold_runs: Sequence[FoldRun], n_boot: int = 2000,
                      seed: int = 0) -> tuple[float, float]:
    """95 % percentile bootstrap interval of the accuracy averaged over ``fold_runs``: each
    fold's test signals resampled with replacement, the folds' accuracies averaged."""
    rng = np.random.default_rng(seed)
    means = np.mean([run.correct[rng.integers(0, len(run.correct), (n_boot, len(run.correct)))]
                     .mean(axis=1) for run in fold_runs], axis=0)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(lo), float(hi)


def accuracy_table(runs: dict[tuple[str, str], list[FoldRun]], seed: int = 0) -> pd.DataFrame:
    """Table 1: test accuracy (%) mean +- std over the folds run with its 95 % bootstrap
    interval over test signals (:func:`accuracy_interval`), beside the paper's."""
    rows = []
    for (architecture, task), fold_runs in runs.items():
        scores = 100 * np.array([run.accuracy for run in fold_runs])
        paper_mean, paper_std = PAPER_ACCURACY[architecture, task]
        lo, hi = accuracy_interval(fold_runs, seed=seed)
        rows.append({
            "model": architecture, "task": task, "folds": len(scores),
            "accuracy (%)": scores.mean(),
            "std": scores.std(ddof=1) if len(scores) > 1 else np.nan,
            "95% low": 100 * lo, "95% high": 100 * hi,
            "paper (%)": paper_mean, "paper std": paper_std,
        })
    return pd.DataFrame(rows).set_index(["model", "task"])


def class_name(task: str, label: int) -> str:
    """The word of a digit label, or "female"/"male" of a sex label."""
    return DIGIT_WORDS[label] if task == "digit" else SEXES[label]


def common_example(first: FoldRun, second: FoldRun, seed: int = 0) -> DigitSignals:
    """One test recording of ``first`` whose speaker neither model trained on and that
    both classify correctly (among 32 seeded candidates; failing that, the first of them),
    for explaining the same input with two models."""
    unseen = [i for i, s in enumerate(first.test.speakers)
              if s not in first.train_speakers and s not in second.train_speakers]
    pool = unseen or list(range(len(first.test)))
    chosen = np.random.default_rng(seed).permutation(len(pool))[:32]
    candidates = first.test.select([pool[i] for i in sorted(chosen)])
    right = np.ones(len(candidates), dtype=bool)
    for run in (first, second):
        task = run.trained.config.task
        predicted = predict(run.trained.model, run.trained.inputs(candidates, seed)).numpy()
        right &= predicted == candidates.labels(task)
    return candidates.select([int(np.argmax(right))])


def frequency_scaling(trained: TrainedModel, signals: DigitSignals, seed: int = 0,
                      scaling: dict[str, float] = SEX_SCALING) -> dict:
    """Sex accuracy of an AlexNet sex model before and after scaling the spectrograms'
    frequency axis (``scaling`` per sex; default the paper's male x1.5, female x0.66, Becker
    et al. 2018, Sec. 4.2), overall and per sex."""
    if trained.config.architecture != "alexnet" or trained.config.task != "sex":
        raise ValueError("frequency scaling needs an AlexNet sex model")
    spectrograms = audiomnist_spectrogram(padded(signals, placement_seeds(len(signals), seed)))
    scaled = torch.as_tensor(scale_by_sex(spectrograms.numpy(), signals.sexes,
                                          scaling=scaling))
    labels = signals.labels("sex")
    result = {}
    for name, images in (("before", spectrograms), ("scaled", scaled)):
        inputs = subtract_mean(images, trained.mean).unsqueeze(1)
        predicted = predict(trained.model, inputs).numpy()
        result[name] = float((predicted == labels).mean())
        for code, sex in enumerate(("female", "male")):
            chosen = labels == code
            result[f"{name}.{sex}"] = float((predicted[chosen] == code).mean()) if chosen.any() \
                else float("nan")
    return result


def explained_inputs(
    trained: TrainedModel, signals: DigitSignals, n: int, seed: int = 0
) -> tuple[DigitSignals, torch.Tensor, np.ndarray]:
    """A seeded choice of at most ``n`` signals, their model inputs and their labels."""
    chosen = np.sort(np.random.default_rng(seed).permutation(len(signals))[:n])
    subset = signals.select(chosen.tolist())
    return subset, trained.inputs(subset, seed), subset.labels(trained.config.task)


LOW_BAND_HZ = 1000.0
"""Upper edge of the "lowest bands" of Fig. 1: the fundamental frequency and its first
harmonics (F0 about 85-255 Hz in adult speech)."""


def _true_class_relevance(trained: TrainedModel, signals: DigitSignals, n: int,
                          seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Model inputs of at most ``n`` seeded signals and the LRP relevance of their true
    class (the chapter's composite, fast path)."""
    _, inputs, labels = explained_inputs(trained, signals, n, seed)
    return inputs, torch.from_numpy(relevance_stream(trained.model, inputs,
                                                     torch.as_tensor(labels), progress=False,
                                                     fast=True).values)


def low_band_share(trained: TrainedModel, signals: DigitSignals, n: int, seed: int = 0,
                   cutoff_hz: float = LOW_BAND_HZ) -> float:
    """Share of AlexNet's positive relevance (the red of Fig. 1) for the true class that lies
    below ``cutoff_hz``, mean over at most ``n`` seeded signals (Becker et al. 2018, Fig. 1:
    the sex model's evidence along the lowest bands)."""
    if trained.config.architecture != "alexnet":
        raise ValueError("the low-band share reads AlexNet's spectrogram relevance")
    _, relevances = _true_class_relevance(trained, signals, n, seed)
    positive = relevances[:, 0].clamp_min(0).double()
    low = torch.as_tensor(audiomnist_spectrogram_axes()[0] < cutoff_hz)
    totals = positive.sum((1, 2)).clamp_min(torch.finfo(torch.float64).tiny)
    return float((positive[:, low].sum((1, 2)) / totals).mean())


def amplitude_rank_correlation(trained: TrainedModel, signals: DigitSignals, n: int,
                               seed: int = 0) -> float:
    """Spearman correlation of AudioNet's |relevance| for the true class with |amplitude|
    over each waveform's non-zero samples, mean over at most ``n`` seeded signals (leaving out
    a waveform whose relevance is constant; Becker et
    al. 2018, Fig. 2: the relevant samples are mostly those of large amplitude)."""
    if trained.config.architecture != "audionet":
        raise ValueError("the amplitude correlation reads AudioNet's waveform relevance")
    inputs, relevances = _true_class_relevance(trained, signals, n, seed)
    correlations = []
    for x, r in zip(inputs[:, 0].numpy(), relevances[:, 0].numpy(), strict=True):
        spoken = x != 0
        correlations.append(spearmanr(np.abs(x[spoken]), np.abs(r[spoken])).statistic)
    return finite_mean(correlations)


def describe_bands(shares: dict[str, float], cutoff_hz: float = LOW_BAND_HZ) -> str:
    """Fig. 1 in a sentence from :func:`low_band_share` per task."""
    band = float(np.mean(audiomnist_spectrogram_axes()[0] < cutoff_hz))
    parts = ", ".join(f"the {task} model {share:.0%}" for task, share in shares.items())
    text = (f"Of the positive (red) relevance for the true class, {parts} lies below "
            f"{cutoff_hz:.0f} Hz, where the fundamental frequency and its first harmonics sit "
            f"(a band of {band:.0%} of the image)")
    if {"sex", "digit"} <= set(shares):
        more = shares["sex"] > shares["digit"]
        text += (f": the sex model's evidence lies {'more' if more else 'no more'} along the "
                 f"lowest bands than the digit model's"
                 + (", as the paper found." if more else ", unlike in the paper."))
    return text + "."


def describe_amplitude(correlation: float) -> str:
    """Fig. 2 in a sentence from :func:`amplitude_rank_correlation`."""
    if correlation > LARGE_AMPLITUDE_CORRELATION:
        verdict = "mostly those of large amplitude, as in the paper"
    elif correlation > 0:
        verdict = "only weakly those of large amplitude"
    else:
        verdict = "not those of large amplitude, unlike in the paper"
    return (f"Sample by sample, |relevance| and |amplitude| have a mean Spearman correlation of "
            f"{correlation:.2f}: the relevant samples are {verdict}.")


def flipping_study(
    trained: TrainedModel,
    signals: DigitSignals,
    n_inputs: int,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, np.ndarray]:
    """Pixel-flipping on AudioNet (Becker et al. 2018, Fig. 3): per strategy, a 0/1 array
    (n_fractions, n_inputs) telling whether each input is still classified correctly
    after zeroing that fraction of its non-zero samples. LRP explains the true class (the
    chapter's composite through :func:`~speechxai.attribution.fast_relevance`: zennit's
    relevances up to rounding, at a quarter of the cost)."""
    if trained.config.architecture != "audionet":
        raise ValueError("pixel-flipping runs on AudioNet's waveforms")
    _, inputs, labels = explained_inputs(trained, signals, n_inputs, seed)
    relevances = relevance_stream(trained.model, inputs, torch.as_tensor(labels),
                                  progress=progress, fast=True).values

    def predict_batch(batch: np.ndarray) -> np.ndarray:
        return predict(trained.model, torch.from_numpy(batch)).numpy()

    return {
        strategy: flipping_curve(predict_batch, inputs.numpy(), labels, relevances,
                                 fractions, strategy, seed)
        for strategy in STRATEGIES
    }


def unflipped_accuracy(trained: TrainedModel, signals: DigitSignals, n_inputs: int,
                       seed: int = 0) -> float:
    """Accuracy on the inputs :func:`flipping_study` flips, before any flipping."""
    _, inputs, labels = explained_inputs(trained, signals, n_inputs, seed)
    return float((predict(trained.model, inputs).numpy() == labels).mean())


def describe_flipping(curves: dict[str, dict[str, np.ndarray]], fractions: Sequence[float],
                      seed: int = 0) -> str:
    """What the flipping areas and the bootstrap interval of LRP minus amplitude show, per
    task, in a sentence each (Markdown)."""
    lines = []
    for task, by_strategy in curves.items():
        areas = {s: curve_area(fractions, c.mean(axis=1), log_fractions=True)
                 for s, c in by_strategy.items()}
        estimate, lo, hi = bootstrap_difference(by_strategy["lrp"], by_strategy["amplitude"],
                                                fractions, seed=seed)
        if hi < 0:
            verdict = ("LRP-guided deletion destroys the decision faster than amplitude-guided "
                       "deletion, as the paper found: the whole interval lies below zero")
        elif lo > 0:
            verdict = ("amplitude-guided deletion destroys the decision faster than LRP-guided "
                       "deletion, unlike in the paper: the whole interval lies above zero")
        else:
            verdict = ("LRP- and amplitude-guided deletion cannot be told apart on these "
                       "utterances: the interval includes zero")
        against_random = ("both fall faster than random deletion"
                          if max(areas["lrp"], areas["amplitude"]) < areas["random"]
                          else "not both fall faster than random deletion")
        lines.append(
            f"- **{task}**: area LRP {areas['lrp']:.3f}, amplitude {areas['amplitude']:.3f}, "
            f"random {areas['random']:.3f}; {against_random}. LRP - amplitude = "
            f"{estimate:+.3f}, 95% bootstrap interval [{lo:+.3f}, {hi:+.3f}] over "
            f"{by_strategy['lrp'].shape[1]} utterances: {verdict}."
        )
    return "\n".join(lines)


def bias_free_conservation(trained: TrainedModel, signals: DigitSignals, n: int = 8,
                           seed: int = 0) -> float:
    """``lrp.conservation_error`` of the trained model with its biases set to zero."""
    _, inputs, labels = explained_inputs(trained, signals, n, seed)
    return conservation_error(without_biases(trained.model), inputs, torch.as_tensor(labels))


def parameter_randomization(trained: TrainedModel, signals: DigitSignals, n: int = 8,
                            seed: int = 0, n_background: int = 16,
                            shap_samples: int = 16) -> dict[str, pd.Series]:
    """Adebayo et al.'s (2018) cascading randomisation of ``trained`` for saliency (the input
    gradient), LRP (the chapter's composite, bounds of the unrandomised inputs) and SHAP
    (expected gradients against ``n_background`` other seeded test inputs, ``shap_samples``
    draws per input) of the true class, on at most ``n`` seeded test signals."""
    _, inputs, labels = explained_inputs(trained, signals, n, seed)
    _, background, _ = explained_inputs(trained, signals, n_background, seed + 1)
    targets = torch.as_tensor(labels)
    low, high = inputs.min().item(), inputs.max().item()
    methods = {
        "saliency": lambda model: input_gradient(model, inputs, targets).numpy(),
        "lrp": lambda model: fast_relevance(model, inputs, targets, low, high).values,
        "shap": lambda model: gradient_shap_values(model, inputs, labels, background, shap_samples,
                                            seed),
    }
    return {name: cascading_randomization(trained.model, method, seed)
            for name, method in methods.items()}


@dataclass
class StudyItem:
    """One utterance of the user study: AudioNet's input waveform, the LRP relevance of
    the model's prediction, the prediction and the true digit."""

    waveform: np.ndarray
    relevance: np.ndarray
    prediction: int
    digit: int

    @property
    def correct(self) -> bool:
        return self.prediction == self.digit


def study_items(trained: TrainedModel, signals: DigitSignals, n: int, seed: int = 0,
                progress: bool = True) -> list[StudyItem]:
    """A seeded choice of at most ``n`` signals as ``StudyItem``s of an AudioNet digit
    model (Becker et al. 2024, Sec. 3.4: relevance of the predicted class, by LRP)."""
    if trained.config.architecture != "audionet" or trained.config.task != "digit":
        raise ValueError("the user study explains an AudioNet digit model")
    subset, inputs, digits = explained_inputs(trained, signals, n, seed)
    predictions = predict(trained.model, inputs)
    relevances = relevance_stream(trained.model, inputs, predictions, progress=progress,
                                  fast=True).values
    return [
        StudyItem(x[0].numpy(), r[0], int(p), int(d))
        for x, r, p, d in zip(inputs, relevances, predictions, digits, strict=True)
    ]


def study_halves(items: Sequence[StudyItem], seed: int = 0
                 ) -> tuple[list[StudyItem], list[StudyItem]]:
    """Seeded halves of ``items``: (questions, references) - what the reader is asked about,
    and the reader's reference material."""
    order = np.random.default_rng(seed).permutation(len(items))
    return [items[i] for i in order[1::2]], [items[i] for i in order[::2]]


def by_outcome(questions: Sequence[StudyItem], n_per_outcome: int
               ) -> tuple[list[StudyItem], list[StudyItem]]:
    """The first ``n_per_outcome`` correctly and as many incorrectly predicted ``questions``
    (fewer where the model makes fewer errors): (correct, incorrect)."""
    correct = [item for item in questions if item.correct][:n_per_outcome]
    incorrect = [item for item in questions if not item.correct][:n_per_outcome]
    return correct, incorrect


def quiz_choice(questions: Sequence[StudyItem], n: int) -> list[StudyItem]:
    """``n`` of ``questions`` for the quiz (Becker et al. 2024 asked about correct and
    incorrect predictions alike): half predicted correctly, half not, each outcome in the
    questions' order; where the model made too few of one (an untrained smoke model may
    make no correct prediction at all), the other fills the quiz up to ``n``."""
    correct = [item for item in questions if item.correct]
    incorrect = [item for item in questions if not item.correct]
    n_correct = min(len(correct), max(n // 2, n - len(incorrect)))
    return correct[:n_correct] + incorrect[:n - n_correct]


def simulated_study(
    questions: dict[str, Sequence[StudyItem]], references: Sequence[StudyItem], seed: int = 0
) -> pd.DataFrame:
    """Informedness and markedness of a seeded ``SimulatedReader`` per explanation format
    and per group of questions (e.g. ``{"correct": [...], "incorrect": [...]}``), the
    reader having learnt each format from ``references`` labelled with the model's
    predictions (Becker et al. 2024, Fig. 5)."""
    tables = []
    for format in FORMATS:
        reader = SimulatedReader(format, seed=seed).fit(
            [make_stimulus(format, r.waveform, r.relevance) for r in references],
            [r.prediction for r in references],
        )
        for group, items in questions.items():
            if not items:
                continue
            guesses = reader.guess([make_stimulus(format, i.waveform, i.relevance)
                                    for i in items])
            table = study_scores([i.prediction for i in items], guesses, [format] * len(items),
                                 labels=range(10))
            tables.append(table.assign(predictions=group).set_index("predictions", append=True))
    return pd.concat(tables).swaplevel().sort_index(level=0, sort_remaining=False)
