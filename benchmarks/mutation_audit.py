"""Which smoke tolerance windows still hold what a broken method produces (issue 16).

Each attribution method is replaced in turn by zeros and by seeded noise
(``SPEECHXAI_MUTATE``), every chapter that uses it runs at ``smoke`` with the models cached,
and each record the replacement moved is compared with its window in
``tests/baselines/<chapter>.smoke.json``: a window that holds the broken value cannot tell the
broken method by that record. Prints one line per (method, kind, chapter) and the records whose
window holds the broken value. Not part of ``make bench`` (it runs 24 chapters, minutes).

    .venv/bin/python benchmarks/mutation_audit.py [--build-dir /tmp/audit]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from speechxai.attribution.mutation import KINDS, MUTATION_ENV  # noqa: E402
from speechxai.baselines import baseline_path  # noqa: E402

USED_IN = {"lrp": ("audiomnist", "deepspeech", "navai"), "saliency": ("audiomnist", "deepspeech"),
           "shap": ("audiomnist", "deepspeech"), "occlusion": ("wordlevel",),
           "paralinguistic": ("wordlevel",), "navai": ("navai",)}
"""The chapters whose records each method's output reaches."""


def run(chapter: str, build_dir: Path, mutation: str | None) -> dict[str, float]:
    env = {**os.environ}
    env.pop(MUTATION_ENV, None)
    if mutation:
        env[MUTATION_ENV] = mutation
    subprocess.run([sys.executable, "-m", "speechxai.cli", "book", "run", "--profile", "smoke",
                    "--chapter", chapter, "--no-progress", "--build-dir", str(build_dir)],
                   cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    path = build_dir / "records" / f"{chapter}.smoke.json"
    return json.loads(path.read_text()) if path.exists() else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build-dir", type=Path, default=Path("/tmp/mutation-audit"))
    build = parser.parse_args().build_dir
    chapters = sorted({c for used in USED_IN.values() for c in used})
    intact = {c: run(c, build / "intact", None) for c in chapters}
    total_moved = total_held = 0
    for method, used in USED_IN.items():
        for kind in KINDS:
            for chapter in used:
                broken = run(chapter, build / f"{method}-{kind}", f"{method}:{kind}")
                windows = json.loads(baseline_path(ROOT, chapter, "smoke").read_text())["records"]
                moved = {k: v for k, v in broken.items()
                         if k in windows and k in intact[chapter]
                         and not abs(v - intact[chapter][k]) <= 1e-9}
                held = sorted(k for k, v in moved.items()
                              if abs(v - windows[k]["value"]) <= windows[k]["tolerance"])
                total_moved += len(moved)
                total_held += len(held)
                stopped = "" if broken else " (the chapter stopped)"
                print(f"{method:>14} {kind:<6} {chapter:<10} moved {len(moved):3d}, window holds "
                      f"the broken value {len(held):3d}{stopped}: {', '.join(held)}", flush=True)
    print(f"all: {total_moved} records moved by a broken method, {total_held} of them inside "
          f"their window")


if __name__ == "__main__":
    main()
