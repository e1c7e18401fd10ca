"""Records and their check against baselines."""

from __future__ import annotations

import json
import math

import pytest

from speechxai import baselines, book

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
    assert capsys.readouterr().out == ""  # the built page shows tables, not record lines


def test_record_outside_the_runner_only_prints(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(book.RECORDS_FILE_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    book.record("accuracy", 0.5)
    assert list(tmp_path.iterdir()) == []
    assert capsys.readouterr().out == "record: accuracy = 0.5\n"


@pytest.mark.parametrize("bad", ["high", None, [1, 2]])
def test_record_refuses_what_is_not_a_number(bad):
    with pytest.raises((TypeError, ValueError)):
        book.record("accuracy", bad)


def test_records_within_tolerance_agree():
    assert baselines.compare("ch", {"accuracy": 0.905, "auc": 0.35}, BASELINE) == []


def test_drift_names_chapter_and_record():
    (problem,) = baselines.compare("ch", {"accuracy": 0.95, "auc": 0.35}, BASELINE)
    assert "ch" in problem and "'accuracy'" in problem and "drifted" in problem


def test_a_missing_record_fails():
    (problem,) = baselines.compare("ch", {"accuracy": 0.9}, BASELINE)
    assert "'auc'" in problem and "missing" in problem


@pytest.mark.parametrize("bad", [math.nan, math.inf, None])
def test_a_nan_record_fails(bad):
    (problem,) = baselines.compare("ch", {"accuracy": 0.9, "auc": bad}, BASELINE)
    assert "'auc'" in problem and "not a finite number" in problem


def test_a_record_without_baseline_fails():
    problems = baselines.compare("ch", {"accuracy": 0.9, "auc": 0.35, "new": 1.0}, BASELINE)
    assert len(problems) == 1 and "'new'" in problems[0] and "no baseline" in problems[0]


def test_an_altered_committed_baseline_fails(tiny_book):
    """Records equal to a baseline pass; changing one number in it fails the check."""
    build_dir = tiny_book / "_build"
    records = {"seed": 0.0, "scaled": 2.5, "is_smoke": 1.0}
    book.write_json(book.records_path(build_dir, "echo", "smoke"), records)
    book.write_json(book.records_path(build_dir, "broken", "smoke"), {})
    baselines.write_baseline(tiny_book, build_dir, "echo", "smoke", tolerance=1e-6)
    baselines.write_baseline(tiny_book, build_dir, "broken", "smoke", tolerance=1e-6)
    assert baselines.check(tiny_book, build_dir, "smoke").problems == []

    baseline_file = baselines.baseline_path(tiny_book, "echo", "smoke")
    baseline = json.loads(baseline_file.read_text())
    baseline["records"]["scaled"]["value"] = 2.6
    baseline_file.write_text(json.dumps(baseline))
    (problem,) = baselines.check(tiny_book, build_dir, "smoke").problems
    assert problem.startswith("echo: record 'scaled' drifted")


def test_rewriting_a_baseline_keeps_its_tolerances(tiny_book):
    build_dir = tiny_book / "_build"
    book.write_json(book.records_path(build_dir, "echo", "smoke"), {"seed": 0.0})
    path = baselines.write_baseline(tiny_book, build_dir, "echo", "smoke", tolerance=0.5)
    baseline = json.loads(path.read_text())
    baseline["records"]["seed"]["tolerance"] = 0.25
    path.write_text(json.dumps(baseline))
    book.write_json(book.records_path(build_dir, "echo", "smoke"), {"seed": 1.0})
    baselines.write_baseline(tiny_book, build_dir, "echo", "smoke", tolerance=0.5)
    assert json.loads(path.read_text()) == {
        "records": {"seed": {"value": 1.0, "tolerance": 0.25}}, "claims": {}}


def test_check_without_records_says_how_to_make_them(tiny_book):
    book.write_json(baselines.baseline_path(tiny_book, "echo", "smoke"),
                     {"records": BASELINE, "claims": {}})
    problems = baselines.check(tiny_book, tiny_book / "_build", "smoke", ["echo"]).problems
    assert problems == [
        "echo: no records at 'smoke': run `speechxai book run --profile smoke --chapter echo` first"
    ]


LRP_DELETION = "deepspeech.deletion.lrp"
LRP_PREDICATE = "deletion.neutral.minus_random.lrp_hi < 0"


def deletion_records(hi: float) -> dict[str, float]:
    return {"deletion.neutral.minus_random.lrp": hi - 0.1,
            "deletion.neutral.minus_random.lrp_lo": hi - 0.2,
            "deletion.neutral.minus_random.lrp_hi": hi, "deletion.neutral.auc.lrp": 0.5,
            "deletion.neutral.auc.random": 0.6}


def test_a_claim_that_held_in_the_baseline_and_now_fails_fails_the_check():
    claims = {LRP_DELETION: {"predicate": LRP_PREDICATE, "holds": True}}
    (result,), problems = baselines.check_claims("deepspeech", deletion_records(-0.05), claims)
    assert result.holds is True and "[-0.250, -0.050]" in result.ours
    assert not [p for p in problems if LRP_DELETION in p]

    (result,), problems = baselines.check_claims("deepspeech", deletion_records(0.02), claims)
    assert result.verdict == "fails" and "held in the baseline" in result.line()
    assert [p for p in problems if f"claim {LRP_DELETION!r} fails" in p]


def test_a_claim_missing_its_record_counts_as_failing():
    claims = {LRP_DELETION: {"predicate": LRP_PREDICATE, "holds": True}}
    (result,), problems = baselines.check_claims("deepspeech", {}, claims)
    assert result.holds is None and any("not measured" in p for p in problems)


def test_a_claim_that_now_holds_is_reported_not_failed():
    claims = {LRP_DELETION: {"predicate": LRP_PREDICATE, "holds": False}}
    (result,), problems = baselines.check_claims("deepspeech", deletion_records(-0.05), claims)
    assert result.holds and "re-record" in result.line()
    assert not [p for p in problems if LRP_DELETION in p]


def test_a_predicate_other_than_the_findings_one_fails_until_re_recorded():
    claims = {LRP_DELETION: {"predicate": "deletion.neutral.minus_random.lrp_hi < 1",
                             "holds": True}}
    _, problems = baselines.check_claims("deepspeech", deletion_records(-0.05), claims)
    assert [p for p in problems if "another predicate" in p]


def test_a_claim_of_the_chapter_without_baseline_fails():
    _, problems = baselines.check_claims("deepspeech", deletion_records(-0.05), {})
    assert f"deepspeech: claim {LRP_DELETION!r} has no baseline" in " ".join(problems)


def test_write_baseline_records_which_claims_hold(tiny_book):
    build_dir = tiny_book / "_build"
    book.write_json(book.records_path(build_dir, "deepspeech", "smoke"), deletion_records(-0.05))
    path = baselines.write_baseline(tiny_book, build_dir, "deepspeech", "smoke", tolerance=0.1)
    claims = json.loads(path.read_text())["claims"]
    assert claims[LRP_DELETION] == {"predicate": LRP_PREDICATE, "holds": True}
    assert claims["deepspeech.lrp_low_mfcc"]["holds"] is False  # its records are missing
