"""``speechxai evaluate``: the book's cached models on your own labelled recordings.

A manifest (CSV) lists the recordings: a ``path`` column (relative paths are relative to the
manifest's folder) and any of ``digit`` (0-9), ``sex`` (female/male, or F/M) and
``transcript`` (digit words, e.g. ``"one two"``). An empty cell means "not labelled"; a row
without any label the chapter scores is left out.

- ``audiomnist``: fold 0's AlexNet and AudioNet of every task with a label column, scored
  by accuracy (digit) or balanced accuracy (sex). Every recording is resampled to 8 kHz and,
  if longer than the 1-s frame, cropped to the second around its speech, then placed in the
  frame at its seeded offset - as the chapter treats its corpus
  (:func:`speechxai.inputs.load_signals`, :meth:`speechxai.training.TrainedModel.inputs`).
- ``deepspeech`` and ``navai``: the chapter's recogniser, scored by the character error
  rate of its greedy transcripts of the rows with a transcript, each recording through the
  recogniser's own feature pipeline at its own rate (any length).

Nothing is trained: each model is looked up exactly as its chapter looks it up (same corpus,
fold speakers, configuration and cache key, from the working directory the chapters run
in), and a model the cache lacks raises :class:`~speechxai.model_cache.ModelNotCached` naming
the ``speechxai book run`` command that trains it.

:func:`chapter_classifiers` and :func:`chapter_recognizer` look a chapter's models up the
same way for other chapters (the comparison of methods), training what the cache lacks.
"""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from speechxai.audio import load
from speechxai.datasets import open_corpus
from speechxai.datasets.corpus import DIGIT_WORDS, SEXES
from speechxai.datasets.real import Utterance
from speechxai.errors import AudioError
from speechxai.inputs import DigitSignals, frame_signal
from speechxai.model_cache import ModelNotCached
from speechxai.profiles import COMMON, DEFAULT_PROFILE, chapter_parameters
from speechxai.training import predict, train

CHAPTERS = ("audiomnist", "deepspeech", "navai")
LABEL_COLUMNS = {"audiomnist": ("digit", "sex"), "deepspeech": ("transcript",),
                 "navai": ("transcript",)}
COLUMNS = ("chapter", "model", "task", "metric", "value", "recordings")
CHAPTER_DEFAULTS: dict[str, dict[str, object]] = {
    "audiomnist": {"n_speakers": 24, "per_digit": 10, "audiomnist_root": None,
                   "mix_embedded": [], "n_folds": 1, "start_from_embedded": [],
                   "voices": {}},
    "deepspeech": {"n_speakers": 24, "per_digit": 10, "audiomnist_root": None,
                   "n_train": 2000, "n_test": 100},
    "navai": {"n_speakers": 24, "per_digit": 10, "audiomnist_root": None,
              "n_train": 1000, "n_test": 100, "n_seeds": 1},
    "wordlevel": {"n_speakers": 24, "per_digit": 10, "audiomnist_root": None,
                  "n_train": 2000, "n_test": 100},
}
"""The chapters' parameter cells' values of what a profile may leave out (the chapter then
runs with these; ``tests/test_evaluate.py`` checks them against ``book/<chapter>.md``)."""
SEX_CODES = {**{sex: code for code, sex in enumerate(SEXES)},
             **{sex[0]: code for code, sex in enumerate(SEXES)}}  # female/f 0, male/m 1
_NO_SIGNALS = DigitSignals([], np.zeros(0, dtype=int), np.zeros(0, dtype=int), [])


@dataclass(frozen=True)
class Recording:
    """One manifest row's recording at its own rate with its labels (-1 / "": none)."""

    row: int  # 1 = the first row below the header
    path: Path
    waveform: torch.Tensor
    sample_rate: int
    digit: int = -1
    sex: int = -1  # 0 female, 1 male
    transcript: str = ""


def read_manifest(manifest: str | Path, chapter: str) -> list[Recording]:
    """The rows of ``manifest`` that carry a label ``chapter`` scores, with their audio.

    Raises ``ValueError`` naming the manifest, the row and the problem for a manifest without
    a ``path`` column or without any usable label column for ``chapter`` (the message lists
    the columns it needs), and for a bad label; :class:`~speechxai.AudioError` naming the row
    and the file for a recording that cannot be read (:func:`speechxai.audio.load`).
    """
    manifest = Path(manifest)
    needed = LABEL_COLUMNS[chapter]
    try:
        table = pd.read_csv(manifest, dtype=str, keep_default_na=False, skipinitialspace=True)
    except FileNotFoundError:
        raise ValueError(f"{manifest}: no such manifest") from None
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise ValueError(f"{manifest}: not a readable CSV manifest ({error})") from None
    table.columns = [str(c).strip().lower() for c in table.columns]
    table = table.apply(lambda column: column.str.strip())
    wants = f"{' and/or '.join(repr(c) for c in needed)} for the {chapter} chapter"
    if "path" not in table.columns:
        raise ValueError(f"{manifest} has no 'path' column (it has {list(table.columns)}); "
                         f"a manifest needs 'path' and {wants}")
    usable = [c for c in needed if c in table.columns and (table[c] != "").any()]
    if not usable:
        raise ValueError(f"{manifest} has no usable label column: it needs {wants} "
                         f"(it has {list(table.columns)}, with no labels in any of {list(needed)})")
    recordings = []
    for index, row in table.iterrows():
        number = index + 1
        labels = {c: _label(c, row[c], manifest, number) for c in usable if row[c] != ""}
        if not labels:
            continue
        if row["path"] == "":
            raise ValueError(f"{manifest} row {number}: empty path")
        path = Path(row["path"]).expanduser()
        path = path if path.is_absolute() else manifest.parent / path
        try:
            waveform, sample_rate = load(path)
        except AudioError as error:
            raise AudioError(f"{manifest} row {number}: {error}") from error
        recordings.append(Recording(number, path, waveform, sample_rate, **labels))
    return recordings


def _label(column: str, text: str, manifest: Path, row: int) -> int | str:
    where = f"{manifest} row {row}"
    if column == "digit":
        if text.isdigit() and int(text) < 10:
            return int(text)
        raise ValueError(f"{where}: digit {text!r} is not one of 0-9")
    if column == "sex":
        if text.lower() in SEX_CODES:
            return SEX_CODES[text.lower()]
        raise ValueError(f"{where}: sex {text!r} is not female/male (or F/M)")
    words = text.lower().replace(",", " ").split()
    unknown = [w for w in words if w not in DIGIT_WORDS]
    if unknown:
        raise ValueError(f"{where}: transcript {text!r} has words {unknown} that are not "
                         f"digit words ({', '.join(DIGIT_WORDS)})")
    return " ".join(words)


def book_command(chapter: str, profile: str, dataset: str, seed: int,
                 overrides: dict[str, object] | None = None) -> str:
    """The ``speechxai book run`` command line that trains ``chapter``'s models."""
    parameters = {"dataset": dataset, **({"seed": seed} if seed != COMMON["seed"] else {}),
                  **(overrides or {})}
    options = " ".join(f"-p {key} {shlex.quote(str(value))}" for key, value in parameters.items())
    return f"speechxai book run --profile {profile} --chapter {chapter} {options}"


def book_root() -> Path:
    """The folder the chapters run in (the project root, holding ``_toc.yml``): found above
    the working directory or above this package; else the working directory. A relative
    ``$SPEECHXAI_DATA_DIR`` (default ``data``) and ``audiomnist_root`` are relative to it."""
    from speechxai.book import project_root

    for start in (None, Path(__file__).parent):
        with contextlib.suppress(FileNotFoundError):
            return project_root(start)
    return Path.cwd()


def chapter_settings(chapter: str, profile: str = DEFAULT_PROFILE, dataset: str = "embedded",
                     seed: int = 0, overrides: dict[str, object] | None = None) -> dict:
    """Every parameter ``chapter`` runs with at ``profile`` on ``dataset``: its parameter
    cell's defaults (:data:`CHAPTER_DEFAULTS`) under the profile's sizes and ``overrides``."""
    return {**CHAPTER_DEFAULTS[chapter],
            **chapter_parameters(chapter, profile,
                                 {"dataset": dataset, "seed": seed, **(overrides or {})})}


def chapter_classifiers(models: Sequence[tuple[str, str]], profile: str = DEFAULT_PROFILE,
                        dataset: str = "embedded", seed: int = 0, *,
                        overrides: dict[str, object] | None = None, progress: bool = True,
                        fold: int = 0) -> dict:
    """Fold ``fold``'s run of each of ``models`` (``(architecture, task)``) as the AudioMNIST
    chapter trains it at ``profile`` on ``dataset`` - the cached model when the chapter has
    run, else trained and cached - with its held-out test recordings
    (:class:`~speechxai.experiments.audiomnist.FoldRun`). A task the dataset cannot serve is
    left out (one printed line)."""
    from speechxai.experiments import audiomnist

    parameters = chapter_settings("audiomnist", profile, dataset, seed, overrides)
    corpora = audiomnist.open_corpora(dataset, n_speakers=parameters["n_speakers"],
                                      per_digit=parameters["per_digit"], seed=seed,
                                      root=parameters["audiomnist_root"],
                                      voices=parameters["voices"])
    tasks = {task: corpora[task] for _, task in models if task in corpora}
    signals = audiomnist.load_corpora(tasks, progress)
    extras = audiomnist.extra_training(audiomnist.extra_corpora(
        dataset, parameters["mix_embedded"], parameters["n_speakers"], parameters["per_digit"],
        seed, parameters["voices"]), progress)
    starts = audiomnist.embedded_starts(
        extras, parameters["start_from_embedded"],
        chapter_parameters("audiomnist", profile)["training"], seed, progress)
    return {(architecture, task): audiomnist.run_fold(
        corpora[task], architecture, task, fold, parameters["training"][architecture][task],
        seed, progress, signals[task], extras.get(task), starts.get((architecture, task)))
        for architecture, task in models if task in tasks}


def chapter_sequences(parameters: dict, seed: int = 0) -> tuple[list, list]:
    """The training and held-out test digit sequences of a recogniser chapter with
    ``parameters`` (:func:`chapter_settings`), as the chapter splits its corpus."""
    from speechxai.experiments import deepspeech

    train_set, test_set = deepspeech.sequence_split(
        _corpus(parameters), (parameters["n_train"], parameters["n_test"]), seed=seed)
    return ([train_set[i] for i in range(len(train_set))],
            [test_set[i] for i in range(len(test_set))])


def chapter_recognizer(chapter: str, parameters: dict, seed: int = 0, *, progress: bool = True,
                       cached_only: bool = False, training_seed: int | None = None):
    """The recogniser of ``chapter`` (``deepspeech`` or ``navai``) with ``parameters``
    (:func:`chapter_settings`), trained on the chapter's training sequences as the chapter
    trains it - the cached one when the chapter has run; ``cached_only``: never train (a
    recogniser not in the cache raises :class:`~speechxai.model_cache.ModelNotCached`).
    ``training_seed``: the seed of its weights and batches where it is not ``seed`` (the NAvAI
    chapter's further training seeds)."""
    from speechxai.experiments import deepspeech, navai

    train_items, test_items = chapter_sequences(parameters, seed)
    if chapter == "deepspeech":
        config = deepspeech.CTCConfig(seed=seed if training_seed is None else training_seed,
                                      **parameters["recognizer"])
        return deepspeech.train_recognizer(config, train_items, progress=progress,
                                           monitor_items=test_items[:deepspeech.MONITORED],
                                           cached_only=cached_only)
    config = navai.Wav2LetterConfig(seed=seed, **parameters["recognizer"])
    if training_seed is not None:
        config = config.with_training_seed(training_seed)
    return navai.train_wav2letter(config, train_items, progress=progress,
                                  cached_only=cached_only)


def evaluate(
    manifest: str | Path,
    chapter: str = "audiomnist",
    profile: str = DEFAULT_PROFILE,
    dataset: str = "embedded",
    seed: int = 0,
    *,
    overrides: dict[str, object] | None = None,
) -> pd.DataFrame:
    """Score the cached models of ``chapter`` (run at ``profile`` on ``dataset`` with
    ``seed``) on the labelled recordings of ``manifest`` (module docstring; rows are read
    by :func:`read_manifest`).

    Returns one row per model: ``chapter``, ``model``, ``task``, ``metric`` ("accuracy",
    "balanced accuracy" or "CER"), ``value`` and ``recordings`` (how many were scored).

    ``overrides``: further chapter parameters, as ``speechxai book run -p KEY VALUE`` gave
    them when the models were trained (e.g. ``{"n_speakers": 6}``). Never trains: a model
    not in the cache raises :class:`~speechxai.model_cache.ModelNotCached` naming the command
    that trains it. Opening the chapter's corpus (for its speakers and, for the
    recognisers, its training sequences, which key their cache) synthesises the embedded
    corpus if it is absent (seconds to minutes; that is not training) and may download a
    real one as the chapter would. The models are looked up with the working directory set
    to :func:`book_root`, as the chapters run.
    """
    if chapter not in CHAPTERS:
        raise ValueError(f"unknown chapter {chapter!r}; choose one of {', '.join(CHAPTERS)}")
    parameters = chapter_settings(chapter, profile, dataset, seed, overrides)
    recordings = read_manifest(Path(manifest).absolute(), chapter)
    command = book_command(chapter, profile, dataset, seed, overrides)
    try:
        with contextlib.chdir(book_root()):
            if chapter == "audiomnist":
                rows = _classifiers(recordings, parameters, seed)
            else:
                rows = _recognizer(recordings, chapter, parameters, seed)
    except ModelNotCached as error:
        raise ModelNotCached(error.path, command) from None
    return pd.DataFrame([{"chapter": chapter, **row} for row in rows], columns=list(COLUMNS))


def _corpus(parameters: dict):
    return open_corpus(parameters["dataset"], n_speakers=parameters["n_speakers"],
                       per_digit=parameters["per_digit"], seed=parameters["seed"],
                       root=parameters["audiomnist_root"])


def _cached(error: ModelNotCached) -> ModelNotCached:
    return ModelNotCached(error.path.absolute())


def _classifiers(recordings: Sequence[Recording], parameters: dict, seed: int) -> list[dict]:
    """Fold 0's AlexNet and AudioNet of each labelled task that the chapter's corpora serve
    (:func:`~speechxai.experiments.audiomnist.open_corpora`; cached only), and their scores."""
    from speechxai.experiments.audiomnist import (
        ARCHITECTURES,
        TASKS,
        balanced_accuracy,
        extra_corpora,
        fold_config,
        fold_speakers,
        open_corpora,
    )

    signals = DigitSignals(
        [frame_signal(r.waveform, r.sample_rate) for r in recordings],
        np.array([r.digit for r in recordings]), np.array([r.sex for r in recordings]),
        [f"row {r.row}" for r in recordings])
    labelled = [task for task in TASKS if (signals.labels(task) >= 0).any()]
    corpora = open_corpora(parameters["dataset"], n_speakers=parameters["n_speakers"],
                           per_digit=parameters["per_digit"], seed=parameters["seed"],
                           root=parameters["audiomnist_root"], voices=parameters["voices"])
    if not set(labelled) & set(corpora):
        raise ValueError(f"the audiomnist chapter trains no {' or '.join(labelled)} model on "
                         f"dataset {parameters['dataset']!r} (its tasks there: "
                         f"{', '.join(corpora) or 'none'})")
    extras = extra_corpora(parameters["dataset"], parameters["mix_embedded"],
                           parameters["n_speakers"], parameters["per_digit"], parameters["seed"],
                           parameters["voices"])
    models = []
    for task in (task for task in TASKS if task in labelled and task in corpora):
        train_speakers = fold_speakers(corpora[task], task, 0)[0]
        for architecture in ARCHITECTURES:
            config = fold_config(corpora[task], architecture, task, 0,
                                 parameters["training"][architecture][task], seed,
                                 train_speakers, extras.get(task))
            try:
                models.append(train(config, _NO_SIGNALS, _NO_SIGNALS, progress=False,
                                    cached_only=True))
            except ModelNotCached as error:
                raise _cached(error) from None
    rows = []
    for trained in models:
        task = trained.config.task
        labels = signals.labels(task)
        labelled = labels >= 0
        predicted = predict(trained.model, trained.inputs(signals, seed)).numpy()[labelled]
        value = (balanced_accuracy(labels[labelled], predicted) if task == "sex"
                 else float((predicted == labels[labelled]).mean()))
        rows.append({"model": trained.config.architecture, "task": task,
                     "metric": "balanced accuracy" if task == "sex" else "accuracy",
                     "value": value, "recordings": int(labelled.sum())})
    return rows


def _recognizer(recordings: Sequence[Recording], chapter: str, parameters: dict,
                seed: int) -> list[dict]:
    """The chapter's recogniser (cached only) and its CER on the rows with a transcript."""
    from speechxai.experiments import deepspeech, navai

    items = [Utterance(r.waveform, r.sample_rate, r.transcript) for r in recordings]
    features = (deepspeech.utterance_windows if chapter == "deepspeech"
                else navai.utterance_log_mel)
    for recording, item in zip(recordings, items, strict=True):
        try:
            features(item)  # cached in memory for the evaluation below
        except ValueError as error:  # AudioError: too short for one feature window
            kind = AudioError if isinstance(error, AudioError) else ValueError
            raise kind(f"manifest row {recording.row}: {recording.path}: {error}") from None
    try:
        trained = chapter_recognizer(chapter, parameters, seed, progress=False,
                                     cached_only=True)
    except ModelNotCached as error:
        raise _cached(error) from None
    if chapter == "deepspeech":
        scores = deepspeech.evaluate(trained.model, items)
    else:
        scores = navai.evaluate_wav2letter(trained.model, items, trained.config.padding)
    name = "deepspeech" if chapter == "deepspeech" else "wav2letter"
    return [{"model": name, "task": "transcript", "metric": "CER", "value": scores.cer,
             "recordings": len(items)}]


__all__ = ["CHAPTERS", "ModelNotCached", "Recording", "book_command", "chapter_classifiers",
           "chapter_recognizer", "chapter_sequences", "chapter_settings", "evaluate",
           "read_manifest"]
