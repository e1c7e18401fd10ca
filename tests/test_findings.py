"""The findings page: claims evaluated on records files, and run after the other chapters."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import ROOT

from speechxai import book, findings
from speechxai.findings import (
    CLAIMS,
    COLUMNS,
    Claim,
    Shown,
    counts,
    evaluate,
    findings_table,
    record_names,
    style_findings,
    summary,
)
from speechxai.profiles import chapter_parameters

TOY = (
    Claim("toy.holds", "alpha", "becker2018", "LRP deletes faster than amplitude", "77 vs 85",
          (Shown("LRP - amplitude", "flip.diff", interval=True, fmt="+.2f"),),
          "flip.diff_hi < 0"),
    Claim("toy.fails", "alpha", "becker2018", "accuracy beats the paper's", "95.8 %",
          (Shown("accuracy", "accuracy.net", fmt=".1%"),), "accuracy.net > 0.9582 - 2 * 0.0149"),
    Claim("toy.missing", "alpha", "krug2018", "aligned beats unaligned", "Fig. 3",
          (Shown("none", "spec.none"), Shown("aligned", "spec.aligned")),
          "spec.aligned < spec.none"),
    Claim("toy.unrun", "beta", "pastor2024", "comprehensive beyond random", "0.62 vs 0.29",
          (Shown("ours", "aopc.c"),), "aopc.c > aopc.c_random"),
    Claim("toy.unmeasured", "alpha", "becker2024", "people hear it", "0.12",
          unmeasured="no study.* record"),
)


def write(folder: Path, name: str, records: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(records))


@pytest.fixture
def toy_table(tmp_path):
    write(tmp_path, "alpha.quick.json", {"flip.diff": -0.3, "flip.diff_lo": -0.5,
                                         "flip.diff_hi": -0.1, "accuracy.net": 0.5,
                                         "spec.none": 0.2})
    write(tmp_path, "alpha.quick.real.json", {"flip.diff": 0.1, "flip.diff_lo": -0.2,
                                              "flip.diff_hi": 0.4, "accuracy.net": 0.99,
                                              "spec.none": 0.2, "spec.aligned": float("nan")})
    return findings_table(tmp_path, "quick", TOY)


def test_a_claim_that_holds_is_reproduced_and_shows_its_interval(toy_table):
    row = toy_table.loc["toy.holds"]
    assert row["embedded verdict"] == "reproduced"
    assert row["embedded"] == "LRP - amplitude -0.30 [-0.50, -0.10]"
    assert row["test"] == "flip.diff_hi < 0"
    assert row["paper"] == "Becker et al. 2018" and row["paper value"] == "77 vs 85"


def test_a_claim_that_fails_is_not_reproduced(toy_table):
    assert toy_table.loc["toy.fails", "embedded verdict"] == "not reproduced"
    assert toy_table.loc["toy.fails", "embedded"] == "accuracy 50.0%"
    # the interval straddles zero on real speech: one-sided, so not reproduced
    assert toy_table.loc["toy.holds", "real speech verdict"] == "not reproduced"


def test_a_missing_or_non_finite_record_is_not_measured_naming_it(toy_table):
    verdict = toy_table.loc["toy.missing", "embedded verdict"]
    assert verdict == "not measured (missing record 'spec.aligned' in alpha.quick.json)"
    assert toy_table.loc["toy.missing", "embedded"] == "none 0.200; aligned -"
    real = toy_table.loc["toy.missing", "real speech verdict"]
    assert real.startswith("not measured (missing record 'spec.aligned' (nan)")
    assert toy_table.loc["toy.unmeasured", "embedded verdict"] == \
        "not measured (no study.* record)"


def test_a_missing_records_file_says_how_to_run_it(toy_table):
    row = toy_table.loc["toy.unrun"]
    assert row["embedded verdict"] == "not run (speechxai book run --profile quick --chapter beta)"
    assert row["real speech verdict"] == \
        "not run (speechxai book run --profile quick --chapter beta --dataset real)"
    assert row["embedded"] == "" and row["real speech"] == ""


def test_the_real_speech_run_is_read_from_its_own_file(toy_table):
    assert toy_table.loc["toy.fails", "real speech verdict"] == "reproduced"
    assert toy_table.loc["toy.fails", "real speech"] == "accuracy 99.0%"
    assert toy_table.loc["toy.holds", "real speech"] == "LRP - amplitude +0.10 [-0.20, +0.40]"


def test_the_table_counts_and_summarises(toy_table):
    assert list(toy_table.columns) == list(COLUMNS) and toy_table.index.name == "id"
    n = counts(toy_table)
    assert n == {"claims": 5, "missing_records": 2, "measured.embedded": 2,
                 "reproduced.embedded": 1, "measured.real": 2, "reproduced.real": 1}
    assert summary(toy_table).startswith(
        "1 of 5 claims reproduced on the embedded corpus (2 measured), 1 on real speech")


def test_the_styled_table_colours_verdicts_and_escapes_text(toy_table):
    html = style_findings(toy_table, "caption").to_html()
    assert "background-color: #c8e6c9" in html and "background-color: #ffcdd2" in html
    assert "background-color: #fff3c4" in html and "background-color: #eeeeee" in html
    assert "<code>flip.diff_hi &lt; 0</code>" in html and "white-space: normal" in html


def test_expressions_are_arithmetic_over_records_only():
    assert record_names("max(a.b, c_d) - 2 * 1e-3 < abs(a.b) and not x") == ["a.b", "c_d", "x"]
    assert evaluate("min(a.x, b) > 1e-3", {"a.x": 0.5, "b": 2.0}) is True
    for bad in ("__import__('os')", "a.b.__class__ ()", "open(a)", "a if b else c", "[a]"):
        with pytest.raises((ValueError, SyntaxError)):
            Claim("bad", "alpha", "becker2018", "", "", predicate=bad)
    with pytest.raises(ValueError, match="predicate or say why"):
        Claim("neither", "alpha", "becker2018", "", "")
    with pytest.raises(ValueError, match="single record name"):
        Shown("x", "a - b", interval=True)


# --------------------------------------------------------------------------- the real claims


def baseline_records() -> dict[str, set[str]]:
    """Per chapter, every record name of its committed baselines."""
    names: dict[str, set[str]] = {}
    for path in (ROOT / "tests" / "baselines").glob("*.json"):
        names.setdefault(path.name.split(".")[0], set()).update(
            json.loads(path.read_text())["records"])
    return names


def recorded_patterns(chapter: str) -> list[re.Pattern]:
    """The names a chapter's ``record(...)`` calls can write, as regular expressions (an
    f-string's ``{...}`` matches anything)."""
    text = (ROOT / "book" / f"{chapter}.md").read_text()
    patterns = []
    for literal in re.findall(r"record\(\s*f?\"([^\"]+)\"", text):
        parts = re.split(r"\{[^}]*\}", literal)
        patterns.append(re.compile(".*".join(re.escape(part) for part in parts)))
    return patterns


def test_every_record_a_claim_reads_is_one_its_chapter_records():
    baselines = baseline_records()
    for claim in CLAIMS:
        assert (ROOT / "book" / f"{claim.chapter}.md").is_file(), claim.id
        patterns = recorded_patterns(claim.chapter)
        for name in claim.records:
            assert name in baselines.get(claim.chapter, set()) or any(
                p.fullmatch(name) for p in patterns), (
                f"claim {claim.id} reads {name!r}, which chapter {claim.chapter} does not "
                "record (renamed?)")


def test_the_committed_smoke_baselines_leave_no_claim_without_its_records(tmp_path):
    for path in (ROOT / "tests" / "baselines").glob("*.smoke*.json"):
        records = json.loads(path.read_text())["records"]
        values = {name: entry["value"] for name, entry in records.items()}
        write(tmp_path, path.name, values)
    table = findings_table(tmp_path, "smoke")
    n = counts(table)
    assert n["missing_records"] == 0, table[table.filter(like="verdict").apply(
        lambda column: column.str.contains("missing record")).any(axis=1)]
    assert n["measured.embedded"] == sum(claim.predicate is not None for claim in CLAIMS)
    assert {claim.chapter for claim in CLAIMS} == {"audiomnist", "deepspeech", "navai",
                                                   "wordlevel"}
    assert len({claim.id for claim in CLAIMS}) == len(CLAIMS)


# --------------------------------------------------------------------------- the runner


def test_the_runner_orders_the_findings_chapter_last_and_the_toc_first():
    chapters = book.chapters(ROOT)
    assert [c.name for c in chapters][0] == "findings"  # first after the introduction
    assert book.select(chapters, None)[-1].name == "findings"
    assert [c.name for c in book.select(chapters, None)][:-1] == \
        [c.name for c in chapters if c.name != "findings"]
    picked = book.select(chapters, ["findings", "navai", "audiomnist"])
    assert [c.name for c in picked] == ["navai", "audiomnist", "findings"]
    assert chapter_parameters("findings", "smoke") == {"profile": "smoke",
                                                       "dataset": "embedded", "seed": 0}


def test_records_dir_is_the_running_chapters_folder_or_the_projects(monkeypatch, tmp_path):
    monkeypatch.setenv(book.RECORDS_FILE_ENV, str(tmp_path / "records" / "x.smoke.json"))
    assert book.records_dir() == tmp_path / "records"
    monkeypatch.delenv(book.RECORDS_FILE_ENV)
    monkeypatch.chdir(ROOT / "book")
    assert book.records_dir() == ROOT / "_build" / "records"


def test_changes_names_the_claims_whose_verdict_real_speech_flips(tmp_path):
    embedded = {"flipping.digit.lrp_minus_amplitude_hi": -0.05,
                "flipping.digit.auc.amplitude": 0.3, "flipping.digit.auc.random": 0.8,
                "flipping.sex.lrp_minus_amplitude_hi": -0.02,
                "flipping.sex.auc.amplitude": 0.3, "flipping.sex.auc.random": 0.8}
    real = {**embedded, "flipping.digit.lrp_minus_amplitude_hi": 0.04}
    chosen = [c for c in findings.claims_of("audiomnist") if c.id.startswith("audiomnist.flip")
              and "robust" not in c.id]
    table = findings.findings_table(tmp_path, "quick", chosen)
    assert "No claim" in findings.changes(table)
    for name, records in (("audiomnist.quick.json", embedded),
                          ("audiomnist.quick.real.json", real)):
        (tmp_path / name).write_text(json.dumps(records))
    text = findings.changes(findings.findings_table(tmp_path, "quick", chosen))
    assert text.startswith("Of the 2 claims decided in both runs, 1 get the same verdict")
    assert text.count("\n- ") == 1 and "not reproduced on real speech" in text
    (tmp_path / "audiomnist.quick.real.json").write_text(json.dumps(embedded))
    assert findings.changes(findings.findings_table(tmp_path, "quick", chosen)).endswith(
        "as on the embedded corpus.")
