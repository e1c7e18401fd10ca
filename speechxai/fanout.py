"""``speechxai book run --executor ray``: the chapters' models trained as Ray tasks first
(issue 19).

The folds of a cross-validation and the seeds of a recogniser are independent trainings: the
textbook case for spreading work over several GPUs or machines. :func:`training_jobs` lists
every model the selected chapters train, each as a call of the same function the chapters
use to get it (:func:`speechxai.evaluate.chapter_classifiers` for a fold of the AudioMNIST
chapter, :func:`~speechxai.evaluate.chapter_recognizer` for a recogniser, the command
classifier's trainer), so a task writes the checkpoint the chapter would have written, under
the same cache key. :func:`train_on_ray` runs them as Ray tasks - each asks for a CPU per
torch thread, and a GPU where the cluster has GPUs - and the chapters then run as usual and
load what the tasks trained: the same seeds give the same checkpoints and records as the local
executor (``tests/test_fanout.py``, on a local Ray cluster at ``smoke``).

Each task uses as many torch threads as a chapter's kernel on the machine that started the run
(numerical results of a training can depend on the thread count), and sees the same
environment (``SPEECHXAI_*``, the data folder): on a cluster of several machines the data
folder (``$SPEECHXAI_DATA_DIR``) must be storage they all mount. Ray is the ``[scale]`` extra.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from speechxai.progress import tqdm

EXECUTORS = ("local", "ray")
EXECUTOR_ENV = "SPEECHXAI_RAY_ADDRESS"
"""Set for the chapters' kernels by ``book run --executor ray``: the address of the run's Ray
cluster, on which they shard dataset-wide work (:func:`sharded`)."""
FORWARDED_ENV_PREFIXES = ("SPEECHXAI_", "OMP_WAIT_POLICY", "THP_MEM_ALLOC_ENABLE",
                          "GLIBC_TUNABLES")
"""The environment a task inherits from the run that started it (a Ray worker on another
machine does not have the driver's environment)."""


@dataclass(frozen=True)
class TrainingJob:
    """One model a chapter trains: ``key`` identifies it (two chapters that share a model list
    it once), ``train()`` trains it into the model cache (or finds it there)."""

    key: tuple
    description: str
    train: Callable[[], None]


def _classifier(profile: str, overrides: dict, architecture: str, task: str, fold: int) -> None:
    from speechxai.evaluate import chapter_classifiers

    chapter_classifiers([(architecture, task)], profile, overrides.get("dataset", "embedded"),
                        overrides.get("seed", 0), overrides=_without(overrides), progress=False,
                        fold=fold)


def _recognizer(profile: str, overrides: dict, chapter: str, training_seed: int) -> None:
    from speechxai.evaluate import chapter_recognizer, chapter_settings

    seed = overrides.get("seed", 0)
    parameters = chapter_settings(chapter, profile, overrides.get("dataset", "embedded"), seed,
                                  _without(overrides))
    chapter_recognizer(chapter, parameters, seed, progress=False, training_seed=training_seed)


def _wordlevel(profile: str, overrides: dict, model: str) -> None:
    """One of the word-level chapter's own models, as its cells train it: the command
    classifier, its forced aligner (a DeepSpeech recogniser of the DeepSpeech chapter's sizes
    on this chapter's corpus) or its sex classifier (fold 0 of the AudioMNIST chapter's
    corpus, without extra training corpora)."""
    from speechxai.datasets import DigitCommands, open_corpus
    from speechxai.evaluate import chapter_settings
    from speechxai.experiments import audiomnist, deepspeech, wordlevel
    from speechxai.profiles import chapter_parameters

    dataset, seed = overrides.get("dataset", "embedded"), overrides.get("seed", 0)
    parameters = chapter_settings("wordlevel", profile, dataset, seed, _without(overrides))
    if model == "sex":
        sex = chapter_parameters("audiomnist", profile, {"dataset": dataset})
        corpus = audiomnist.open_corpora(
            dataset, n_speakers=sex.get("n_speakers", parameters["n_speakers"]),
            per_digit=sex.get("per_digit", parameters["per_digit"]), seed=seed,
            root=parameters["audiomnist_root"], voices=sex.get("voices")).get("sex")
        if corpus is not None:
            audiomnist.run_folds(corpus, "audionet", "sex", 1, sex["training"]["audionet"]["sex"],
                                 seed=seed, progress=False)
        return
    corpus = open_corpus(dataset, n_speakers=parameters["n_speakers"],
                         per_digit=parameters["per_digit"], seed=seed,
                         root=parameters["audiomnist_root"])
    if model == "aligner":
        asr = chapter_parameters("deepspeech", profile)
        train_set, _ = deepspeech.sequence_split(corpus, (asr["n_train"], asr["n_test"]),
                                                 seed=seed)
        deepspeech.train_recognizer(deepspeech.CTCConfig(seed=seed, **asr["recognizer"]),
                                    [train_set[i] for i in range(len(train_set))],
                                    progress=False)
        return
    train_set, _ = deepspeech.sequence_split(corpus, (parameters["n_train"],
                                                      parameters["n_test"]),
                                             seed=seed, kind=DigitCommands)
    wordlevel.train_command_classifier(
        wordlevel.CommandConfig(seed=seed, **parameters["classifier"]),
        [train_set[i] for i in range(len(train_set))], progress=False)


def _without(overrides: dict) -> dict:
    """The overrides a chapter's parameters take (dataset and seed are passed on their own)."""
    return {name: value for name, value in overrides.items() if name not in ("dataset", "seed")}


def training_jobs(chapters: list[str], profile: str, overrides: dict | None = None
                  ) -> list[TrainingJob]:
    """Every model the ``chapters`` train at ``profile`` with ``overrides``, each once."""
    from speechxai.book import declared_overrides
    from speechxai.datasets.folds import folds
    from speechxai.evaluate import chapter_settings
    from speechxai.experiments.audiomnist import ARCHITECTURES, open_corpora
    from speechxai.paths import project_root

    given = dict(overrides or {})
    dataset, seed = given.get("dataset", "embedded"), given.get("seed", 0)
    jobs: dict[tuple, TrainingJob] = {}

    def declared(chapter: str) -> dict:  # what the chapter's kernel gets (as the runner does)
        return declared_overrides(project_root() / "book" / f"{chapter}.md", given)

    def classifier(architecture: str, task: str, fold: int) -> None:
        key = ("classifier", architecture, task, fold)
        jobs.setdefault(key, TrainingJob(key, f"audiomnist: {architecture} {task}, fold {fold}",
                                         functools.partial(_classifier, profile,
                                                           declared("audiomnist"),
                                                           architecture, task, fold)))

    def recognizer(chapter: str, training_seed: int) -> None:
        key = ("recognizer", chapter, training_seed)
        jobs.setdefault(key, TrainingJob(key, f"{chapter}: recogniser, seed {training_seed}",
                                         functools.partial(_recognizer, profile,
                                                           declared(chapter), chapter,
                                                           training_seed)))

    if "audiomnist" in chapters:
        parameters = chapter_settings("audiomnist", profile, dataset, seed,
                                      _without(declared("audiomnist")))
        corpora = open_corpora(dataset, n_speakers=parameters["n_speakers"],
                               per_digit=parameters["per_digit"], seed=seed,
                               root=parameters["audiomnist_root"], voices=parameters["voices"])
        for architecture in ARCHITECTURES:
            for task, corpus in corpora.items():
                for fold in range(len(folds(corpus, task)))[:parameters["n_folds"]]:
                    classifier(architecture, task, fold)
    if "deepspeech" in chapters or "comparison" in chapters or "yourvoice" in chapters:
        recognizer("deepspeech", seed)
    if "navai" in chapters:
        n_seeds = int(chapter_settings("navai", profile, dataset, seed,
                                       _without(declared("navai")))["n_seeds"])
        for training_seed in range(seed, seed + n_seeds):
            recognizer("navai", training_seed)
    if "wordlevel" in chapters:
        for model in ("commands", "aligner", "sex"):
            key = ("wordlevel", model)
            jobs[key] = TrainingJob(key, f"wordlevel: {model} model",
                                    functools.partial(_wordlevel, profile,
                                                      declared("wordlevel"), model))
    if "comparison" in chapters:
        classifier("audionet", "digit", 0)
        classifier("alexnet", "digit", 0)
    if "yourvoice" in chapters:
        for task in ("digit", "sex"):
            for architecture in ARCHITECTURES:
                classifier(architecture, task, 0)
    return list(jobs.values())


@dataclass(frozen=True)
class JobRun:
    """What one task did: its job's description, where it ran and its wall time."""

    description: str
    node: str
    seconds: float


def _in_task(function: Callable, threads: int, environment: dict[str, str], *arguments):
    """A Ray task's body: the chapter kernel's thread count and environment, then
    ``function(*arguments)``."""
    import torch

    os.environ.update(environment)
    torch.set_num_threads(threads)
    return function(*arguments)


def _run_job(job: TrainingJob) -> JobRun:
    import socket

    started = time.perf_counter()
    job.train()
    return JobRun(job.description, socket.gethostname(), time.perf_counter() - started)


def forwarded_environment() -> dict[str, str]:
    """The variables of :data:`FORWARDED_ENV_PREFIXES` as set here, and the data folder."""
    from speechxai.datasets.corpus import DATA_DIR_ENV, data_root

    environment = {name: value for name, value in os.environ.items()
                   if name.startswith(FORWARDED_ENV_PREFIXES)}
    environment[DATA_DIR_ENV] = str(data_root().resolve())
    return environment


def _ray():
    try:
        import ray
    except ImportError:
        raise RuntimeError("--executor ray needs Ray: pip install 'speechxai[scale]' (or "
                           "make install, which installs it)") from None
    return ray


@contextlib.contextmanager
def ray_cluster(address: str | None = None):
    """Ray joined at ``address`` (``None``: a local cluster started on this machine's cores)
    for the duration of the block; yields the cluster's address, which the chapters' kernels
    join through :data:`EXECUTOR_ENV` to shard their work (:func:`sharded`)."""
    ray = _ray()
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        if started_here:
            ray.shutdown()


def _remote(function: Callable, environment: dict[str, str] | None = None):
    """``function`` as a Ray task with this process's torch threads and environment, asking
    for a CPU per thread (and a GPU, which the task then uses, where the cluster has GPUs): a
    callable that submits one call.

    A task gets as many cores as threads because the thread count changes a training's
    numbers (a NAvAI smoke recogniser trained with 1 and with 2 threads ends with other
    weights) and because threads that share cores with another task's run slower than one
    task alone (``benchmarks/README.md``, "The Ray executor")."""
    import torch

    ray = _ray()
    threads = torch.get_num_threads()
    largest = max((node["Resources"].get("CPU", 0) for node in ray.nodes() if node["Alive"]),
                  default=0)
    if largest < threads:
        raise RuntimeError(f"every Ray task asks for {threads} CPUs (a chapter's torch "
                           f"threads here, which its numbers depend on), but the largest node "
                           f"of the cluster has {largest:g}")
    environment = {**forwarded_environment(), **(environment or {})}
    gpus = ray.cluster_resources().get("GPU", 0) > 0
    if gpus:
        environment.setdefault("SPEECHXAI_DEVICE", "cuda")
    task = ray.remote(num_cpus=threads, num_gpus=1 if gpus else 0, max_retries=0)(_in_task)
    return lambda *arguments: task.remote(function, threads, environment, *arguments)


def train_on_ray(jobs: list[TrainingJob], environment: dict[str, str] | None = None,
                 report: Callable[[str], None] = print) -> list[JobRun]:
    """Run ``jobs`` as Ray tasks (:func:`_remote`) on the cluster this process has joined
    (:func:`ray_cluster`), as many at once as its CPUs (and GPUs) allow, and wait for all of
    them; one that fails raises its error here once the others have ended."""
    if not jobs:
        return []
    ray = _ray()
    submit = _remote(_run_job, environment)
    resources = ray.cluster_resources()
    report(f"ray: {len(jobs)} trainings on {resources.get('CPU', 0):g} CPUs"
           f"{' and {:g} GPUs'.format(resources['GPU']) if resources.get('GPU') else ''}")
    pending = {submit(job): job for job in jobs}
    runs, failures = [], []
    with tqdm(total=len(jobs), desc="trainings on Ray") as bar:
        while pending:
            (done,), _ = ray.wait(list(pending), num_returns=1)
            job = pending.pop(done)
            try:
                run = ray.get(done)
            except ray.exceptions.RayTaskError as error:
                failures.append(f"{job.description}: {type(error.cause).__name__}: "
                                f"{error.cause}")
                report(f"   failed: {job.description}")
            else:
                runs.append(run)
                report(f"   {run.description}: {run.seconds:.1f} s on {run.node}")
            bar.update()
    if failures:
        raise RuntimeError("training on Ray failed: " + "; ".join(failures))
    return runs


def sharding() -> bool:
    """Whether this process runs under ``book run --executor ray`` (:func:`sharded` then
    sends its calls to the run's cluster)."""
    return bool(os.environ.get(EXECUTOR_ENV))


def sharded(function: Callable, calls: list[tuple]) -> list:
    """``[function(*call) for call in calls]``: as Ray tasks on the run's cluster where the
    chapter runs under ``book run --executor ray`` (:data:`EXECUTOR_ENV` holds its address),
    else here, one after another. The calls must not depend on each other."""
    if not sharding() or len(calls) < 2:
        return [function(*call) for call in calls]
    ray = _ray()
    if not ray.is_initialized():
        ray.init(address=os.environ[EXECUTOR_ENV], log_to_driver=False, configure_logging=False)
    submit = _remote(function)
    return ray.get([submit(*call) for call in calls])
