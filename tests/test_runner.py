"""The runner executes chapters headless with papermill and reports failures precisely."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from speechxai import baselines, book
from speechxai.profiles import chapter_parameters


def speechxai(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "speechxai.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_chapters_follow_the_toc_and_skip_plain_pages(tiny_book):
    assert [c.name for c in book.chapters(tiny_book)] == ["echo", "broken"]


def test_an_unknown_chapter_is_refused(tiny_book):
    with pytest.raises(ValueError, match="unknown chapter.*nope.*echo, broken"):
        book.select(book.chapters(tiny_book), ["nope"])


def test_profiles_set_parameters_and_overrides_win():
    assert chapter_parameters("listening", "smoke")["profile"] == "smoke"
    assert chapter_parameters("any", "quick", {"seed": 7})["seed"] == 7
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        chapter_parameters("any", "fast")


def test_a_dataset_brings_its_own_sizes():
    smoke_sample = chapter_parameters("audiomnist", "smoke")["audiomnist_root"]
    assert smoke_sample.endswith("audiomnist-sample")
    # FSDD is not looked for in the AudioMNIST sample's folder
    assert chapter_parameters("audiomnist", "smoke", {"dataset": "fsdd"})["audiomnist_root"] is None
    real = chapter_parameters("audiomnist", "quick", {"dataset": "real"})
    assert real["n_folds"] == 2 and real["mix_embedded"] == ["digit"]
    assert "mix_embedded" not in chapter_parameters("audiomnist", "quick")


def test_run_injects_profile_and_overrides_and_collects_records(tiny_book):
    result = speechxai(
        "book",
        "run",
        "--profile",
        "smoke",
        "--chapter",
        "echo",
        "-p",
        "seed",
        "5",
        "-p",
        "scale",
        "0.5",
        "--no-progress",
        cwd=tiny_book,
    )
    assert result.returncode == 0, result.stderr
    records = json.loads((tiny_book / "_build/records/echo.smoke.json").read_text())
    assert records == {"seed": 5.0, "scaled": 1.25, "is_smoke": 1.0}
    executed = json.loads((tiny_book / "_build/notebooks/echo.ipynb").read_text())
    injected = [
        c for c in executed["cells"] if "injected-parameters" in c["metadata"].get("tags", [])
    ]
    assert len(injected) == 1 and "seed = 5" in "".join(injected[0]["source"])


def test_a_failing_chapter_exits_non_zero_and_prints_the_cell(tiny_book):
    result = speechxai("book", "run", "--profile", "smoke", "--no-progress", cwd=tiny_book)
    assert result.returncode == 1
    assert "chapter 'broken' failed in this cell" in result.stderr
    assert "answer = 42" in result.stderr
    assert "RuntimeError: the model did not converge" in result.stderr
    # the chapter before it ran and kept its records; the failed notebook is kept to read
    assert (tiny_book / "_build/records/echo.smoke.json").exists()
    assert (tiny_book / "_build/notebooks/broken.ipynb").exists()


def test_check_cli_fails_on_drift_naming_chapter_and_record(tiny_book):
    build_dir = tiny_book / "_build"
    book._write_json(book.records_path(build_dir, "echo", "smoke"), {"seed": 1.0})
    book._write_json(baselines.baseline_path(tiny_book, "echo", "smoke"),
                     {"records": {"seed": {"value": 0.0, "tolerance": 0.1}}, "claims": {}})
    result = speechxai("book", "check", "--profile", "smoke", "--chapter", "echo", cwd=tiny_book)
    assert result.returncode == 1
    assert "FAIL echo: record 'seed' drifted" in result.stderr


def test_build_refuses_chapters_that_were_not_run(tiny_book):
    with pytest.raises(FileNotFoundError, match="echo, broken have not been run"):
        book.build(tiny_book, tiny_book / "_build")


def test_a_run_on_another_dataset_keeps_the_default_runs_notebooks(tiny_book):
    for dataset in (None, "real"):
        result = speechxai("book", "run", "--profile", "smoke", "--chapter", "echo",
                           *(("--dataset", dataset) if dataset else ()), "--no-progress",
                           cwd=tiny_book)
        assert result.returncode == 0, result.stderr
    def sources(folder):
        cells = json.loads((tiny_book / "_build" / folder / "echo.ipynb").read_text())["cells"]
        return "".join("".join(cell["source"]) for cell in cells)

    assert 'dataset = "real"' not in sources("notebooks")
    assert 'dataset = "real"' in sources("notebooks-real")
    assert book.variant_dir(tiny_book, "html", "embedded") == tiny_book / "html"
    assert book.variant_dir(tiny_book, "html", "real") == tiny_book / "html-real"
    with pytest.raises(FileNotFoundError, match=r"`speechxai book run --dataset real` first"):
        book.build(tiny_book, tiny_book / "_build", "real")  # 'broken' was not run on it
