"""Baselines whose windows cover other CPUs: one chapter (at ``smoke`` unless told) run four
times on this CPU, the numeric libraries on four code paths standing in for other CPUs.

A trained smoke model's records depend on the last bits of every sum, and those on the CPU
(benchmarks/README.md, "Smoke models trained past chance"). The four paths:

- A: the libraries as installed (their best code path for this CPU);
- B: oneDNN and MKL limited to AVX2;
- C: B, and ATen's own kernels at AVX2 too;
- D: oneDNN at AVX-512 without its BF16 / AMX kernels.

Every run retrains its models (``SPEECHXAI_RETRAIN=1``). The baseline then holds run A's
values; each record's tolerance is at least 1.25 x its largest deviation over B, C and D, and
at least the floor its name has in the chapter's embedded smoke baseline (0.05 where it has
none); a claim counts as holding only where it held in all four runs and holds in that embedded
baseline (whose windows and claims may cover more CPUs: a claim recorded as failing that holds
is only reported, one recorded as holding that fails fails the check). Prints the records whose
window the runs widened.

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
WIDENING = 1.25
DEFAULT_FLOOR = 0.05


def run_path(chapter: str, profile: str, dataset: str | None, env: dict[str, str],
             build_dir: Path) -> dict:
    """The chapter's records at ``profile``, its models retrained under ``env``."""
    command = [str(ROOT / ".venv" / "bin" / "speechxai"), "book", "run", "--profile", profile,
               "--chapter", chapter, "--no-progress", "--build-dir", str(build_dir)]
    if dataset:
        command += ["--dataset", dataset]
    subprocess.run(command, cwd=ROOT, check=True,
                   env={**os.environ, **env, "SPEECHXAI_RETRAIN": "1"})
    return json.loads(records_path(build_dir, chapter, profile, dataset).read_text())


def tolerances(runs: dict[str, dict], reference: dict[str, float], floors: dict[str, float]
               ) -> dict[str, float]:
    """Per record of ``reference``: its floor, or WIDENING x the largest deviation of the runs
    from it (rounded up to 4 decimals) where that is wider."""
    widened = {}
    for name, value in reference.items():
        floor = floors.get(name, DEFAULT_FLOOR)
        deviation = max(abs(run[name] - value) for run in runs.values() if name in run)
        widened[name] = max(floor, math.ceil(WIDENING * deviation * 1e4) / 1e4)
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
                        help="write tests/baselines/<chapter>.smoke[.<dataset>].json")
    action.add_argument("--widen", action="store_true",
                        help="keep that baseline's values, widen its windows to these runs")
    args = parser.parse_args()
    path = baseline_path(ROOT, args.chapter, args.profile, args.dataset)
    committed = json.loads(path.read_text()) if args.widen else None

    if args.records:
        runs = {"A": json.loads(records_path(args.records, args.chapter, args.profile,
                                             args.dataset).read_text())}
    else:
        with tempfile.TemporaryDirectory() as scratch:
            runs = {name: run_path(args.chapter, args.profile, args.dataset, env,
                                   Path(scratch) / name)
                    for name, env in PATHS.items()}
    # the committed baseline when widening it, else the chapter's embedded one: its windows
    # and claims may cover more CPUs than these runs do
    prior_path = path if args.widen else baseline_path(ROOT, args.chapter, args.profile)
    prior = json.loads(prior_path.read_text()) if prior_path.exists() else None
    floors = ({name: entry["tolerance"] for name, entry in prior["records"].items()}
              if prior else {})
    reference = ({name: entry["value"] for name, entry in committed["records"].items()}
                 if committed else runs["A"])
    widths = tolerances(runs, reference, floors)
    for name, width in widths.items():
        if width > floors.get(name, DEFAULT_FLOOR):
            values = " / ".join(f"{run.get(name, float('nan')):.4g}" for run in runs.values())
            print(f"{name}: {values} -> tolerance {width:g}")
    claims = {claim.id: {"predicate": claim.predicate,
                         "holds": all(bool(predicate_holds(claim.predicate, run))
                                      for run in runs.values())
                         and (prior is None or prior["claims"][claim.id]["holds"])}
              for claim in claims_of(args.chapter) if claim.predicate is not None}
    print(f"{sum(c['holds'] for c in claims.values())} of {len(claims)} claims hold on all "
          f"{len(runs)} runs{f' and in {prior_path.name}' if prior else ''}")
    if args.write or args.widen:
        write_json(path, {"records": {name: {"value": value, "tolerance": widths[name]}
                                      for name, value in reference.items()},
                          "claims": claims})
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
