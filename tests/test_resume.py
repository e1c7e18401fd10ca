"""Resumable training (speechxai.resume): an interrupted training starts again from its last
saved state and ends with the same weights as one that was never interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from speechxai import resume as resume_module
from speechxai.model_cache import load
from speechxai.resume import Resume
from speechxai.training import fit


def network() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))


CONFIG = SimpleNamespace(steps=30, batch_size=4, learning_rate=1e-2, seed=3, gradient_clip=1.0,
                         cosine=True)
DATA = torch.randn(50, 6, generator=torch.Generator().manual_seed(1))
LABELS = torch.arange(50) % 3


def run_fit(model: nn.Module, resume: Resume | None = None, stop_after: int | None = None):
    calls = []

    def loss_of(chosen):
        calls.append(1)
        if stop_after is not None and len(calls) > stop_after:
            raise KeyboardInterrupt("interrupted")
        return nn.functional.cross_entropy(model(DATA[chosen]), LABELS[chosen])

    return fit(model, CONFIG, loss_of, len(DATA), progress=False, resume=resume)


def test_an_interrupted_fit_resumes_to_the_same_weights(tmp_path, monkeypatch):
    monkeypatch.setenv(resume_module.EVERY_ENV, "10")
    reference = network()
    history = run_fit(reference)

    resume = Resume(tmp_path / "model.pt")
    interrupted = network()
    with pytest.raises(KeyboardInterrupt):
        run_fit(interrupted, resume, stop_after=15)
    assert load(resume.path)["step"] == 10  # the state after step 10, not 15
    resumed = network()  # a new process would build the network afresh
    resumed_history = run_fit(resumed, resume)
    for ours, theirs in zip(resumed.state_dict().values(), reference.state_dict().values(),
                            strict=True):
        assert torch.equal(ours, theirs)
    assert resumed_history == history


def test_without_a_saved_state_nothing_is_resumed_and_the_interval_is_checked(tmp_path,
                                                                            monkeypatch):
    monkeypatch.setenv(resume_module.EVERY_ENV, "0")
    with pytest.raises(ValueError, match="positive number of steps"):
        Resume(tmp_path / "m.pt")
    monkeypatch.setenv(resume_module.EVERY_ENV, "5")
    resume = Resume(tmp_path / "m.pt")
    assert resume.load() is None
    resume.path.write_bytes(b"garbage")
    assert resume.load() is None  # unusable: reported, training starts from step 0


TRAINING = textwrap.dedent("""
    import sys
    import numpy as np
    import torch
    from speechxai.inputs import DigitSignals
    from speechxai.training import TrainingConfig, train

    rng = np.random.default_rng(0)
    signals = DigitSignals([torch.tensor(rng.normal(0, 0.1, 4000), dtype=torch.float32)
                            for _ in range(40)], np.arange(40) % 10, np.arange(40) % 2,
                           [f"s{i % 4}" for i in range(40)])
    config = TrainingConfig("audionet", "digit", "resume-test", steps=60, batch_size=16,
                            width=0.25, bf16=False, learning_rate=1e-3, cosine=True)
    train(config, signals, signals, cache_dir=sys.argv[1], progress=False)
""")


def train_in_a_process(cache_dir: Path, every: int) -> subprocess.Popen:
    environment = {**os.environ, resume_module.EVERY_ENV: str(every),
                   "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", TRAINING, str(cache_dir)], env=environment)


def test_a_killed_classifier_training_resumes_to_the_weights_of_an_uninterrupted_one(tmp_path):
    uninterrupted, killed = tmp_path / "uninterrupted", tmp_path / "killed"
    assert train_in_a_process(uninterrupted, every=1000).wait(timeout=300) == 0

    process = train_in_a_process(killed, every=10)
    deadline = time.monotonic() + 300
    while not list(killed.glob("*.resume")) and process.poll() is None:
        assert time.monotonic() < deadline, "no state was saved"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert not list(killed.glob("*.pt")), "the training finished before it was killed"
    (state,) = killed.glob("*.resume")
    assert 10 <= load(state)["step"] < 60

    assert train_in_a_process(killed, every=10).wait(timeout=300) == 0
    assert not list(killed.glob("*.resume")), "the saved state outlived the model"
    (model,) = uninterrupted.glob("*.pt")
    (resumed,) = killed.glob("*.pt")
    reference, ours = load(model), load(resumed)
    assert reference["history"] == ours["history"]
    for name, weights in reference["state"].items():
        assert torch.equal(ours["state"][name], weights), name
