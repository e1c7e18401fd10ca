"""Records and their check against baselines."""

from __future__ import annotations

import json
import math

import pytest

from speechxai import book

BASELINE = {
    "accuracy": {"value": 0.9, "tolerance": 0.01},
    "auc": {"value": 0.35, "tolerance": 0.0},
}


def test_record_writes_to_the_runner_file(tmp_path, monkeypatch, capsys):
    records_file = tmp_path / "records" / "chapter.smoke.json"
    monkeypatch.setenv(book.RECORDS_FILE_ENV, str(records_file))
    assert book.record("accuracy", 0.875) == 0.875
    book.record("n", 3)
    assert json.loads(records_file.read_text()) == {"accuracy": 0.875, "n": 3.0}
    assert "record: accuracy = 0.875" in capsys.readouterr().out


def test_record_outside_the_runner_only_prints(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(book.RECORDS_FILE_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    book.record("accuracy", 0.5)
    assert list(tmp_path.iterdir()) == []
    assert "accuracy = 0.5" in capsys.readouterr().out


@pytest.mark.parametrize("bad", ["high", None, [1, 2]])
def test_record_refuses_what_is_not_a_number(bad):
    with pytest.raises((TypeError, ValueError)):
        book.record("accuracy", bad)


def test_records_within_tolerance_agree():
    assert book.compare("ch", {"accuracy": 0.905, "auc": 0.35}, BASELINE) == []


def test_drift_names_chapter_and_record():
    (problem,) = book.compare("ch", {"accuracy": 0.95, "auc": 0.35}, BASELINE)
    assert "ch" in problem and "'accuracy'" in problem and "drifted" in problem


def test_a_missing_record_fails():
    (problem,) = book.compare("ch", {"accuracy": 0.9}, BASELINE)
    assert "'auc'" in problem and "missing" in problem


@pytest.mark.parametrize("bad", [math.nan, math.inf, None])
def test_a_nan_record_fails(bad):
    (problem,) = book.compare("ch", {"accuracy": 0.9, "auc": bad}, BASELINE)
    assert "'auc'" in problem and "not a finite number" in problem


def test_a_record_without_baseline_fails():
    problems = book.compare("ch", {"accuracy": 0.9, "auc": 0.35, "new": 1.0}, BASELINE)
    assert len(problems) == 1 and "'new'" in problems[0] and "no baseline" in problems[0]


def test_an_altered_committed_baseline_fails(tiny_book):
    """Records equal to a baseline pass; changing one number in it fails the check."""
    build_dir = tiny_book / "_build"
    records = {"seed": 0.0, "scaled": 2.5, "is_smoke": 1.0}
    book._write_json(book.records_path(build_dir, "echo", "smoke"), records)
    book._write_json(book.records_path(build_dir, "broken", "smoke"), {})
    book.write_baseline(tiny_book, build_dir, "echo", "smoke", tolerance=1e-6)
    book.write_baseline(tiny_book, build_dir, "broken", "smoke", tolerance=1e-6)
    assert book.check(tiny_book, build_dir, "smoke") == []

    baseline_file = book.baseline_path(tiny_book, "echo", "smoke")
    baseline = json.loads(baseline_file.read_text())
    baseline["scaled"]["value"] = 2.6
    baseline_file.write_text(json.dumps(baseline))
    (problem,) = book.check(tiny_book, build_dir, "smoke")
    assert problem.startswith("echo: record 'scaled' drifted")


def test_rewriting_a_baseline_keeps_its_tolerances(tiny_book):
    build_dir = tiny_book / "_build"
    book._write_json(book.records_path(build_dir, "echo", "smoke"), {"seed": 0.0})
    path = book.write_baseline(tiny_book, build_dir, "echo", "smoke", tolerance=0.5)
    baseline = json.loads(path.read_text())
    baseline["seed"]["tolerance"] = 0.25
    path.write_text(json.dumps(baseline))
    book._write_json(book.records_path(build_dir, "echo", "smoke"), {"seed": 1.0})
    book.write_baseline(tiny_book, build_dir, "echo", "smoke", tolerance=0.5)
    assert json.loads(path.read_text()) == {"seed": {"value": 1.0, "tolerance": 0.25}}


def test_check_without_records_says_how_to_make_them(tiny_book):
    book._write_json(book.baseline_path(tiny_book, "echo", "smoke"), BASELINE)
    problems = book.check(tiny_book, tiny_book / "_build", "smoke", ["echo"])
    assert problems == [
        "echo: no records at 'smoke': run `speechxai book run --profile smoke --chapter echo` first"
    ]
