"""``speechxai book run --executor ray`` (issue 19): the chapters' models as Ray tasks."""

from __future__ import annotations

import functools
import json
import operator
import shutil

import numpy as np
import pytest
import torch
from conftest import run_book as speechxai

from speechxai.attribution.lrp import SHARD_BATCHES, relevance_stream
from speechxai.book import timing_path
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


@pytest.mark.book
def test_ray_trains_what_the_chapter_would_and_the_records_are_the_local_ones(tmp_path, cluster):
    """The NAvAI chapter at ``smoke`` (two training seeds: two Ray tasks at once on a local
    cluster) gives the records and checkpoints of the local executor, and its chapter then
    trains nothing."""
    data = tmp_path / "data"
    env = {"SPEECHXAI_DATA_DIR": str(data)}
    local = speechxai("run", "--profile", "smoke", "--chapter", "navai", "--no-progress",
                      "--build-dir", str(tmp_path / "local"), env=env)
    assert local.returncode == 0, local.stderr
    shutil.move(data / "models", tmp_path / "local-models")  # the corpus stays: made once
    on_ray = speechxai("run", "--profile", "smoke", "--chapter", "navai", "--no-progress",
                       "--executor", "ray", "--address", cluster,
                       "--build-dir", str(tmp_path / "ray"), env=env)
    assert on_ray.returncode == 0, on_ray.stderr
    assert "navai: recogniser, seed 1" in on_ray.stdout
    timing = json.loads(timing_path(tmp_path / "ray").read_text())["smoke"]["navai"]
    assert set(timing) == {"warm"}, "the chapter trained a model the Ray tasks did not"
    records = [json.loads((tmp_path / run / "records" / "navai.smoke.json").read_text())
               for run in ("local", "ray")]
    assert records[0] == records[1]
    trained = sorted(path.name for path in (data / "models").glob("*.pt"))
    assert len(trained) == 2 and trained == sorted(
        path.name for path in (tmp_path / "local-models").glob("*.pt"))
    for name in trained:
        ours, theirs = load(data / "models" / name), load(tmp_path / "local-models" / name)
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
