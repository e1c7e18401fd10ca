"""The chapters on the other datasets at ``smoke``: the DeepSpeech chapter on real speech
(issue 15: ``make test`` runs a chapter on real human speech) and the AudioMNIST chapter on
AudioMNIST's own layout. A file of their own so that ``make test``'s second worker runs them
beside the smoke book (``test_book.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT
from conftest import run_book as speechxai

from speechxai.datasets import REAL_DATA_ENV, real_data_root
from speechxai.datasets.real import REAL_CORPORA
from speechxai.profiles import chapter_parameters

pytestmark = pytest.mark.book


@pytest.fixture(scope="module")
def real_smoke_build(tmp_path_factory) -> Path:
    """The DeepSpeech chapter at ``smoke`` on real speech: digit sequences of FSDD's speakers,
    a held-out speaker's CER, LRP, saliency and SHAP with their checks on real voices. (The
    cheapest chapter that trains on real speech and runs every method check: 35 s, against
    110 s for AudioMNIST's four models on FSDD and LibriSpeech; benchmarks/README.md.)"""
    real = ROOT / real_data_root()
    if not (real / REAL_CORPORA["digit"]).is_dir():
        pytest.skip(f"no real speech beside the project: {real} lacks "
                    f"{REAL_CORPORA['digit']} (set ${REAL_DATA_ENV})")
    build_dir = tmp_path_factory.mktemp("real")
    run = speechxai("run", "--profile", "smoke", "--dataset", "real", "--chapter", "deepspeech",
                    "--no-progress", "--build-dir", str(build_dir))
    assert run.returncode == 0, f"the DeepSpeech chapter failed on real speech:\n{run.stderr}"
    return build_dir


def test_the_deepspeech_chapter_runs_on_real_speech(real_smoke_build):
    records = json.loads((real_smoke_build / "records" / "deepspeech.smoke.real.json").read_text())
    assert {"asr.cer", "lrp.conservation_error", "shap.local_accuracy_error"} <= set(records)
    assert "transfer.fsdd.cer" not in records  # trained on FSDD: no transfer to measure
    result = speechxai("check", "--profile", "smoke", "--dataset", "real", "--chapter",
                       "deepspeech", "--build-dir", str(real_smoke_build))
    assert result.returncode == 0, f"records drifted from tests/baselines:\n{result.stderr}"


def test_the_audiomnist_chapter_reads_the_audiomnist_format(tmp_path):
    """The smoke chapter trains on the embedded corpus; AudioMNIST's own layout (the paper
    profile's corpus) goes through the chapter on its 6-recording sample."""
    sample = ROOT / chapter_parameters("audiomnist", "smoke", {"dataset": "audiomnist"})[
        "audiomnist_root"]
    if not (sample / "data").is_dir():
        pytest.skip(f"no AudioMNIST sample at {sample}")
    run = speechxai("run", "--profile", "smoke", "--dataset", "audiomnist", "--chapter",
                    "audiomnist", "--no-progress", "--build-dir", str(tmp_path))
    assert run.returncode == 0, f"the AudioMNIST chapter failed on AudioMNIST:\n{run.stderr}"
    records = json.loads((tmp_path / "records" / "audiomnist.smoke.audiomnist.json").read_text())
    assert {"accuracy.alexnet.digit", "accuracy.audionet.sex", "flipping.digit.auc.lrp"} <= set(
        records)
