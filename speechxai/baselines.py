"""Regression baselines of the book's records: ``tests/baselines/<chapter>.<run>.json``.

A baseline holds, for one chapter and one run (profile, and dataset when not the profile's
own):

- ``records``: each record's ``value`` and ``tolerance``; a record drifts when
  ``|record - value| > tolerance``, and a record missing, not finite or without a baseline
  fails too;
- ``claims``: each of the chapter's paper claims (:data:`speechxai.findings.CLAIMS`) with its
  one-sided ``predicate`` over records and whether it ``holds`` in the run the baseline was
  written from. A claim that held and now fails fails the check (the regression a broken
  explainer causes); one that failed and now holds is reported, so that the baseline is
  re-recorded in a commit that says why. A predicate that differs from the claim's in
  :data:`~speechxai.findings.CLAIMS` fails until the baseline is re-recorded.

:func:`check` returns both the problems and one :class:`ClaimCheck` per claim, which
``speechxai book check`` prints: the paper's statement and value, ours with its interval,
and holds / fails.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from speechxai.book import chapters, records_path, run_command, run_name, select, write_json
from speechxai.findings import MissingRecord, claims_of, evaluate, our_value


def baseline_path(root: Path, chapter: str, profile: str, dataset: str | None = None) -> Path:
    return root / "tests" / "baselines" / f"{chapter}.{run_name(profile, dataset)}.json"


def compare(chapter: str, records: dict, baseline: dict) -> list[str]:
    """Problems of one chapter's records against the ``records`` part of its baseline
    (empty when they agree)."""
    problems = []
    for name, expected in sorted(baseline.items()):
        where = f"{chapter}: record {name!r}"
        if name not in records:
            problems.append(f"{where} is missing (baseline {expected['value']})")
            continue
        value = records[name]
        if value is None or not math.isfinite(value):
            problems.append(f"{where} is {value}, not a finite number")
        elif abs(value - expected["value"]) > expected["tolerance"]:
            problems.append(
                f"{where} drifted: {value:.6g}, baseline {expected['value']:.6g} "
                f"+- {expected['tolerance']:.3g}"
            )
    for name in sorted(set(records) - set(baseline)):
        problems.append(
            f"{chapter}: record {name!r} has no baseline (add it with `speechxai book baseline`)"
        )
    return problems


def predicate_holds(predicate: str, records: dict) -> bool | None:
    """Whether ``predicate`` holds on ``records``; ``None`` when a record it reads is missing
    or not finite."""
    try:
        return bool(evaluate(predicate, records))
    except MissingRecord:
        return None


@dataclass(frozen=True)
class ClaimCheck:
    """One claim of a chapter, checked: the paper's statement and value, our numbers (with
    intervals where recorded), the baseline's predicate, whether it holds now (``None``: a
    record is missing) and whether it held when the baseline was written."""

    chapter: str
    id: str
    statement: str
    paper_value: str
    ours: str
    predicate: str
    holds: bool | None
    expected: bool

    @property
    def verdict(self) -> str:
        return {True: "holds", False: "fails", None: "not measured"}[self.holds]

    @property
    def problem(self) -> str | None:
        """The check's failure, when the claim held in the baseline and does not now."""
        if self.expected and not self.holds:
            return (f"{self.chapter}: claim {self.id!r} {self.verdict}: {self.predicate} "
                    f"({self.ours}) held in the baseline")
        return None

    def line(self) -> str:
        """``holds`` / ``fails`` (and a change from the baseline), id, statement, values."""
        change = "" if bool(self.holds) == self.expected else (
            " (held in the baseline)" if self.expected else " (failed in the baseline: "
            "re-record it in a commit that says why)")
        return (f"{self.verdict:>12}{change}  {self.id}: {self.statement}\n"
                f"{'':14}paper: {self.paper_value}; ours: {self.ours}; test: {self.predicate}")


def check_claims(chapter: str, records: dict, claims: dict) -> tuple[list[ClaimCheck], list[str]]:
    """The ``claims`` part of a baseline on ``records``: one :class:`ClaimCheck` per claim,
    and the problems (a claim that held and now fails, a predicate that differs from
    :data:`~speechxai.findings.CLAIMS`, a claim of the chapter the baseline lacks)."""
    known = {claim.id: claim for claim in claims_of(chapter)}
    checks, problems = [], []
    for claim_id, expected in sorted(claims.items()):
        claim = known.get(claim_id)
        if claim is None or claim.predicate != expected["predicate"]:
            what = ("is not a claim of the chapter" if claim is None
                    else "has another predicate in speechxai.findings")
            problems.append(f"{chapter}: claim {claim_id!r} of the baseline {what}: "
                            "re-record the baseline")
        result = ClaimCheck(chapter, claim_id, claim.statement if claim else claim_id,
                            claim.paper_value if claim else "-",
                            our_value(claim, records) if claim else "-",
                            expected["predicate"], predicate_holds(expected["predicate"], records),
                            expected["holds"])
        checks.append(result)
        if result.problem:
            problems.append(result.problem)
    for claim_id in sorted(set(known) - set(claims)):
        if known[claim_id].predicate is not None:
            problems.append(f"{chapter}: claim {claim_id!r} has no baseline (add it with "
                            "`speechxai book baseline`)")
    return checks, problems


@dataclass
class Report:
    """What :func:`check` found: the problems (empty when everything agrees) and every claim
    checked."""

    problems: list[str] = field(default_factory=list)
    claims: list[ClaimCheck] = field(default_factory=list)


def check(root: Path, build_dir: Path, profile: str, names: list[str] | None = None,
          dataset: str | None = None) -> Report:
    """Compare every selected chapter's records at ``profile`` (on ``dataset``, when not the
    profile's own) with its baseline: records against tolerances, claims against whether
    they held."""
    report = Report()
    for chapter in select(chapters(root), names):
        baseline_file = baseline_path(root, chapter.name, profile, dataset)
        records_file = records_path(build_dir, chapter.name, profile, dataset)
        if not baseline_file.exists():
            report.problems.append(
                f"{chapter.name}: no baseline {baseline_file.relative_to(root)}")
            continue
        if not records_file.exists():
            report.problems.append(
                f"{chapter.name}: no records at {run_name(profile, dataset)!r}: run "
                f"`{run_command(chapter.name, profile, dataset)}` first"
            )
            continue
        records = json.loads(records_file.read_text())
        baseline = json.loads(baseline_file.read_text())
        report.problems += compare(chapter.name, records, baseline["records"])
        claims, problems = check_claims(chapter.name, records, baseline.get("claims", {}))
        report.claims += claims
        report.problems += problems
    return report


def write_baseline(
    root: Path, build_dir: Path, chapter: str, profile: str, tolerance: float,
    dataset: str | None = None,
) -> Path:
    """Write the chapter's current records, and whether each of its claims holds on them,
    as its baseline; the tolerances of records already there stay."""
    records = json.loads(records_path(build_dir, chapter, profile, dataset).read_text())
    path = baseline_path(root, chapter, profile, dataset)
    old = json.loads(path.read_text())["records"] if path.exists() else {}
    claims = {claim.id: {"predicate": claim.predicate,
                         "holds": bool(predicate_holds(claim.predicate, records))}
              for claim in claims_of(chapter) if claim.predicate is not None}
    write_json(path, {
        "records": {name: {"value": value,
                           "tolerance": old.get(name, {}).get("tolerance", tolerance)}
                    for name, value in records.items()},
        "claims": claims,
    })
    return path
