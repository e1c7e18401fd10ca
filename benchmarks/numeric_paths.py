"""Baselines whose windows cover other CPUs: one chapter (at ``smoke`` unless told) run four
times on this CPU, the numeric libraries on four code paths standing in for other CPUs.

A trained smoke model's records depend on the last bits of every sum, and those on the CPU
(benchmarks/README.md, "Smoke models trained past chance"). The four paths:

- A: the libraries as installed (their best code path for this CPU);
- B: oneDNN and MKL limited to AVX2;
- C: B, and ATen's own kernels at AVX2 too;
- D: oneDNN at AVX-512 without its BF16 / AMX kernels.

Every run retrains its models (``SPEECHXAI_RETRAIN=1``; A drops inherited ISA limits). With
``--write`` the baseline holds run A's values; each record's tolerance is at least 1.25 x its
largest deviation over B, C and D (rounded up), and at least the floor it has in the chapter's
embedded baseline at that profile (its tolerance there: a rewritten baseline keeps its windows;
0.05 where it has none); a claim counts as holding only where it held in all four runs - and,
for another dataset (``--dataset real``), where it also holds in that embedded baseline, whose
windows and claims cover more CPUs. That is cautious on purpose: a claim recorded as failing
that holds is only reported by ``book check``, one recorded as holding that fails fails it.
Prints the records whose window the runs widened.

``--widen`` instead keeps a committed baseline's values (recorded on another CPU) and widens
its windows to cover this CPU's four runs as well (at least 1.25 x each run's deviation from the
committed value); a claim then holds only where it held before and in all four runs.

    .venv/bin/python benchmarks/numeric_paths.py --chapter deepspeech --dataset real --write
    .venv/bin/python benchmarks/numeric_paths.py --chapter navai --widen

``--records BUILD_DIR`` takes the records of a run already made on this CPU (one run, e.g. the
cold ``quick`` book, too long to repeat four times) instead of running the four paths:

    .venv/bin/python benchmarks/numeric_paths.py --chapter navai --profile quick --widen \
        --records _build
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from speechxai.baselines import baseline_path, predicate_holds  # noqa: E402
from speechxai.book import records_path, write_json  # noqa: E402
from speechxai.findings import claims_of  # noqa: E402

PATHS = {
    "A": {},
    "B": {"ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "C": {"ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2",
          "ATEN_CPU_CAPABILITY": "avx2"},
    "D": {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE"},
}
ISA_VARIABLES = ("ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS", "ATEN_CPU_CAPABILITY")
WIDENING = 1.25
DEFAULT_FLOOR = 0.05


def run_path(chapter: str, profile: str, dataset: str | None, env: dict[str, str],
             build_dir: Path) -> dict:
    """The chapter's records at ``profile``, its models retrained under ``env``."""
    command = [str(ROOT / ".venv" / "bin" / "speechxai"), "book", "run", "--profile", profile,
               "--chapter", chapter, "--no-progress", "--build-dir", str(build_dir)]
    if dataset:
        command += ["--dataset", dataset]
    inherited = {key: value for key, value in os.environ.items() if key not in ISA_VARIABLES}
    subprocess.run(command, cwd=ROOT, check=True,
                   env={**inherited, **env, "SPEECHXAI_RETRAIN": "1"})
    return json.loads(records_path(build_dir, chapter, profile, dataset).read_text())


def tolerances(runs: dict[str, dict], reference: dict[str, float], floors: dict[str, float]
               ) -> dict[str, float]:
    """Per record of ``reference``: its floor, or WIDENING x the largest deviation of the runs
    from it (rounded up to 4 decimals) where that is wider."""
    widened = {}
    for name, value in reference.items():
        values = [run.get(name) for run in runs.values()]
        if any(v is None or not math.isfinite(v) for v in values):
            raise SystemExit(f"{name}: {values} in the runs - a record every run must give as a "
                             f"finite number (fix the chapter first)")
        deviation = max(abs(v - value) for v in values)
        widened[name] = max(floors.get(name, DEFAULT_FLOOR),
                            math.ceil(WIDENING * deviation * 1e4) / 1e4)
    return widened


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chapter", required=True)
    parser.add_argument("--dataset", help="as book run's --dataset (default: the embedded one)")
    parser.add_argument("--profile", default="smoke")
    parser.add_argument("--records", type=Path, metavar="BUILD_DIR",
                        help="this CPU's records from a run already made, instead of four runs")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true",
                        help="write tests/baselines/<chapter>.<profile>[.<dataset>].json")
    action.add_argument("--widen", action="store_true",
                        help="keep that baseline's values, widen its windows to these runs")
    args = parser.parse_args()
    if args.records and not args.widen:
        parser.error("--records gives one run: it can only widen a committed baseline (--widen)")
    path = baseline_path(ROOT, args.chapter, args.profile, args.dataset)

    if args.records:
        runs = {"A": json.loads(records_path(args.records, args.chapter, args.profile,
                                             args.dataset).read_text())}
    else:
        with tempfile.TemporaryDirectory() as scratch:
            runs = {name: run_path(args.chapter, args.profile, args.dataset, env,
                                   Path(scratch) / name)
                    for name, env in PATHS.items()}
    # the committed baseline when widening it, else the chapter's embedded one at this profile:
    # its windows are the floors (they may cover more CPUs than these runs do), and its claims
    # bound these runs' unless a baseline of the embedded dataset is written afresh
    prior_path = path if args.widen else baseline_path(ROOT, args.chapter, args.profile)
    prior = json.loads(prior_path.read_text()) if prior_path.exists() else None
    floors = ({name: entry["tolerance"] for name, entry in prior["records"].items()}
              if prior else {})
    prior_claims = prior["claims"] if prior and (args.widen or args.dataset) else {}
    reference = ({name: entry["value"] for name, entry in prior["records"].items()}
                 if args.widen else runs["A"])
    if args.widen and (new := sorted(set(runs["A"]) - set(reference))):
        raise SystemExit(f"records without a committed value: {new} - record them with "
                         f"`speechxai book baseline` first")
    widths = tolerances(runs, reference, floors)
    for name, width in widths.items():
        if width > floors.get(name, DEFAULT_FLOOR):
            values = " / ".join(f"{run.get(name, float('nan')):.4g}" for run in runs.values())
            print(f"{name}: {values} -> tolerance {width:g}")
    claims = {claim.id: {"predicate": claim.predicate,
                         "holds": all(bool(predicate_holds(claim.predicate, run))
                                      for run in runs.values())
                         and prior_claims.get(claim.id, {}).get("holds", True)}
              for claim in claims_of(args.chapter) if claim.predicate is not None}
    print(f"{sum(c['holds'] for c in claims.values())} of {len(claims)} claims hold on all "
          f"{len(runs)} runs{f' and in {prior_path.name}' if prior_claims else ''}")
    if args.write or args.widen:
        write_json(path, {"records": {name: {"value": value, "tolerance": widths[name]}
                                      for name, value in reference.items()},
                          "claims": claims})
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
