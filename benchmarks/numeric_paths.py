"""Smoke baselines whose windows cover other CPUs: one chapter at ``smoke``, run four times on
this CPU with the numeric libraries on four code paths standing in for other CPUs.

A trained smoke model's records depend on the last bits of every sum, and those on the CPU
(benchmarks/README.md, "Smoke models trained past chance"). The four paths:

- A: the libraries as installed (their best code path for this CPU);
- B: oneDNN and MKL limited to AVX2;
- C: B, and ATen's own kernels at AVX2 too;
- D: oneDNN at AVX-512 without its BF16 / AMX kernels.

Every run retrains its models (``SPEECHXAI_RETRAIN=1``). The baseline then holds run A's
values; each record's tolerance is at least 1.25 x its largest deviation over B, C and D, and
at least the floor its name has in the chapter's embedded smoke baseline (0.05 where it has
none); a claim counts as holding only where it held in all four runs. Prints the records whose
window the paths widened.

    .venv/bin/python benchmarks/numeric_paths.py --chapter deepspeech --dataset real --write
"""

from __future__ import annotations

import argparse
import json
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


def run_path(chapter: str, dataset: str | None, env: dict[str, str], build_dir: Path) -> dict:
    """The chapter's smoke records, its models retrained under ``env``."""
    command = [str(ROOT / ".venv" / "bin" / "speechxai"), "book", "run", "--profile", "smoke",
               "--chapter", chapter, "--no-progress", "--build-dir", str(build_dir)]
    if dataset:
        command += ["--dataset", dataset]
    subprocess.run(command, cwd=ROOT, check=True,
                   env={**os.environ, **env, "SPEECHXAI_RETRAIN": "1"})
    return json.loads(records_path(build_dir, chapter, "smoke", dataset).read_text())


def tolerances(runs: dict[str, dict], floors: dict[str, float]) -> dict[str, float]:
    """Per record of run A: max(floor, WIDENING x the largest deviation of the other runs)."""
    reference = runs["A"]
    widened = {}
    for name, value in reference.items():
        deviation = max(abs(run[name] - value) for run in runs.values() if name in run)
        widened[name] = round(max(floors.get(name, DEFAULT_FLOOR), WIDENING * deviation), 4)
    return widened


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chapter", required=True)
    parser.add_argument("--dataset", help="as book run's --dataset (default: the embedded one)")
    parser.add_argument("--write", action="store_true",
                        help="write tests/baselines/<chapter>.smoke[.<dataset>].json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        runs = {name: run_path(args.chapter, args.dataset, env, Path(scratch) / name)
                for name, env in PATHS.items()}
    embedded = baseline_path(ROOT, args.chapter, "smoke")
    floors = ({name: entry["tolerance"]
               for name, entry in json.loads(embedded.read_text())["records"].items()}
              if embedded.exists() else {})
    widths = tolerances(runs, floors)
    for name, width in widths.items():
        if width > floors.get(name, DEFAULT_FLOOR):
            values = " / ".join(f"{run.get(name, float('nan')):.4g}" for run in runs.values())
            print(f"{name}: {values} -> tolerance {width:g}")
    claims = {claim.id: {"predicate": claim.predicate,
                         "holds": all(bool(predicate_holds(claim.predicate, run))
                                      for run in runs.values())}
              for claim in claims_of(args.chapter) if claim.predicate is not None}
    print(f"{sum(c['holds'] for c in claims.values())} of {len(claims)} claims hold on all "
          f"four paths")
    if args.write:
        path = baseline_path(ROOT, args.chapter, "smoke", args.dataset)
        write_json(path, {"records": {name: {"value": value, "tolerance": widths[name]}
                                      for name, value in runs["A"].items()},
                          "claims": claims})
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
