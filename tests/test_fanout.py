"""``speechxai book run --executor ray`` (issue 19): the chapters' models as Ray tasks."""

from __future__ import annotations

import functools
import json
import operator
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import ROOT
from conftest import run_book as speechxai

from speechxai.attribution.lrp import SHARD_BATCHES, relevance_stream
from speechxai.book import timing_path
from speechxai.datasets import DATA_DIR_ENV, data_root
from speechxai.fanout import (
    EXECUTOR_ENV,
    TrainingJob,
    ray_cluster,
    sharded,
    train_on_ray,
    training_jobs,
)
from speechxai.model_cache import load
from speechxai.training import build_model


@pytest.fixture(scope="module")
def cluster() -> str:
    """A local Ray cluster for this module's tests (the book run joins it with --address)."""
    with ray_cluster() as address:
        yield address


def test_every_model_of_the_selected_chapters_is_one_job():
    jobs = training_jobs(["audiomnist", "deepspeech", "navai", "wordlevel", "comparison",
                          "yourvoice"], "quick")
    keys = [job.key for job in jobs]
    assert len(keys) == len(set(keys))
    classifiers = {key for key in keys if key[0] == "classifier"}
    # quick: one fold of each network and task; the comparison and your-voice pages add none
    assert classifiers == {("classifier", a, t, 0) for a in ("audionet", "alexnet")
                           for t in ("digit", "sex")}
    assert {key for key in keys if key[0] == "recognizer"} == {
        ("recognizer", "deepspeech", 0), *{("recognizer", "navai", s) for s in range(3)}}
    assert {key for key in keys if key[0] == "wordlevel"} == {
        ("wordlevel", "commands"), ("wordlevel", "aligner"), ("wordlevel", "sex")}


def test_the_folds_and_seeds_follow_the_overrides():
    jobs = training_jobs(["audiomnist", "navai"], "smoke",
                         {"n_folds": 2, "n_seeds": 3, "seed": 5, "n_train": 10})
    keys = {job.key for job in jobs}
    assert {key[3] for key in keys if key[0] == "classifier"} == {0, 1}
    assert {key[2] for key in keys if key[0] == "recognizer"} == {5, 6, 7}
    assert training_jobs(["listening", "findings"], "smoke") == []


TRAIN_HERE = """
from speechxai.fanout import training_jobs
for job in training_jobs(["navai"], "smoke"):
    job.train()
"""
"""The NAvAI chapter's smoke models trained one after the other in a process of their own,
with a chapter kernel's thread count (a training's numbers depend on it), into the suite's
model cache - where the smoke book (``test_book``) trains or finds the same models."""


@pytest.mark.book
def test_ray_trains_the_models_the_chapter_would_and_the_chapter_then_trains_none(
        tmp_path, cluster):
    """The NAvAI chapter at ``smoke`` with ``--executor ray`` (two training seeds: two Ray
    tasks at once on a local cluster): its kernel trains nothing after the tasks, its records
    agree with the smoke baseline, and the checkpoints are bit for bit those trained here
    without Ray. (Equal checkpoints give equal records: a chapter's records do not depend on
    how the run is scheduled, ``test_runner``.) The corpus is the suite's, through a link."""
    shared = data_root()
    (shared / "embedded").mkdir(parents=True, exist_ok=True)
    data = tmp_path / "data"
    data.mkdir()
    (data / "embedded").symlink_to(shared / "embedded", target_is_directory=True)
    on_ray = speechxai("run", "--profile", "smoke", "--chapter", "navai", "--no-progress",
                       "--executor", "ray", "--address", cluster,
                       "--build-dir", str(tmp_path / "ray"), env={DATA_DIR_ENV: str(data)})
    assert on_ray.returncode == 0, on_ray.stderr
    assert "navai: recogniser, seed 1" in on_ray.stdout
    timing = json.loads(timing_path(tmp_path / "ray").read_text())["smoke"]["navai"]
    assert set(timing) == {"warm"}, "the chapter trained a model the Ray tasks did not"
    check = speechxai("check", "--profile", "smoke", "--chapter", "navai",
                      "--build-dir", str(tmp_path / "ray"))
    assert check.returncode == 0, check.stderr

    here = subprocess.run([sys.executable, "-c", TRAIN_HERE], cwd=ROOT, capture_output=True,
                          text=True, timeout=900)
    assert here.returncode == 0, here.stderr
    trained = sorted(path.name for path in (data / "models").glob("*.pt"))
    assert len(trained) == 2
    for name in trained:
        ours, theirs = load(data / "models" / name), load(shared / "models" / name)
        assert ours["history"] == theirs["history"]
        for key, tensor in ours["state"].items():
            assert torch.equal(tensor, theirs["state"][key]), (name, key)


def test_sharded_relevance_on_ray_is_the_relevance_of_one_process(monkeypatch, cluster):
    """``relevance_stream`` in a chapter run under ``--executor ray``: the data set's batches
    go to the cluster in shards, and the relevances are those computed here, bit for bit."""
    torch.manual_seed(0)
    model = build_model("audionet", "digit", width=0.1).eval()
    inputs, targets = torch.randn(40, 1, 8000), torch.arange(40) % 10
    here = relevance_stream(model, inputs, targets, batch_size=2, progress=False, fast=True)
    calls = []
    monkeypatch.setenv(EXECUTOR_ENV, cluster)
    monkeypatch.setattr("speechxai.attribution.lrp.sharded",
                        lambda function, shards: calls.append(len(shards))
                        or sharded(function, shards))
    on_ray = relevance_stream(model, inputs, targets, batch_size=2, progress=False, fast=True)
    assert calls == [-(-40 // (2 * SHARD_BATCHES))]  # 3 shards of at most 8 batches
    np.testing.assert_array_equal(on_ray.values, here.values)
    np.testing.assert_array_equal(on_ray.outputs, here.outputs)


def test_a_failing_training_is_named_after_the_others_end(cluster):
    jobs = [TrainingJob(("fails",), "a training that divides by zero",
                        functools.partial(operator.truediv, 1, 0)),
            TrainingJob(("works",), "a training that ends", functools.partial(operator.add, 1, 1))]
    lines = []
    with pytest.raises(RuntimeError, match="a training that divides by zero: ZeroDivisionError"):
        train_on_ray(jobs, report=lines.append)
    assert any("a training that ends" in line for line in lines)
