"""The benchmark suite (issue 8): ``python -m speechxai.bench`` or ``make bench``.

Runs, in one process, ``run(repeats=..., [threads=...])`` of every module of the project's
``benchmarks/`` folder named in :data:`BENCHMARKS`, prints a table of figure, value, target
and whether it holds, and writes it with the machine's description to
``_build/bench/suite.json``. A module that does not exist is listed as missing and one that
raises as an error; the others still run. Exit status 1 when a target fails or a benchmark is
missing or raised.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from pathlib import Path

from speechxai.book import project_root

# module in benchmarks/ -> what it measures; the order is the table's
BENCHMARKS = {
    "lrp_cost": "1 LRP / input-gradient cost",
    "lrp_stream": "2 dataset-wide LRP",
    "word_loo": "3a word leave-one-out",
    "paralinguistic": "3b paralinguistic explanation",
    "shap_frame": "4 SHAP per DeepSpeech window",
    "training_throughput": "5 training throughput",
    "book_timing": "6 book wall time",
    "features": "featurisation (before issue 8)",
}
REPEATS = 5
QUICK_REPEATS = 2


def run_benchmark(name: str, label: str, repeats: int, threads: int | None) -> list[dict]:
    """The rows of one benchmark module (``threads=None``: the module's default); a row with
    status "missing" or "error" and the figure ``label`` instead when it does not exist or
    raises."""
    import common

    def failed(status: str, note: str) -> list[dict]:
        return [{"benchmark": name, "status": status, "figure": label, "value": None,
                 "target": None, "holds": None, "note": note}]

    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name != name:
            raise
        return failed("missing", f"missing: no benchmarks/{name}.py")
    started = time.perf_counter()
    try:
        with common.torch_threads(None):  # restores the thread count the benchmark changes
            result = module.run(repeats=repeats, **({} if threads is None else
                                                   {"threads": threads}))
    except Exception as error:  # one broken benchmark must not hide the others
        traceback.print_exc()
        return failed("error", f"error: {type(error).__name__}: {error}")
    seconds = time.perf_counter() - started
    return [{"benchmark": name, "status": "ok", **row, "benchmark_seconds": seconds}
            for row in (result if isinstance(result, list) else [result])]


def _parser(names: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m speechxai.bench",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=names, metavar="NAME",
                        help=f"only this benchmark (repeatable): {', '.join(names)}")
    repeats = parser.add_mutually_exclusive_group()
    repeats.add_argument("--repeats", type=int, default=REPEATS,
                         help=f"timed rounds after the warm-up (default {REPEATS})")
    repeats.add_argument("--quick", action="store_const", const=QUICK_REPEATS, dest="repeats",
                         help=f"{QUICK_REPEATS} timed rounds")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads for every benchmark (default: each one's own)")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON output (default: _build/bench/suite.json)")
    return parser


def main(argv: list[str] | None = None, benchmarks: dict[str, str] | None = None,
         folder: Path | None = None) -> int:
    """Run the suite; ``benchmarks`` and ``folder`` replace :data:`BENCHMARKS` and the
    project's ``benchmarks/`` (the tests' fakes)."""
    root = project_root()
    benchmarks = BENCHMARKS if benchmarks is None else benchmarks
    args = _parser(list(benchmarks)).parse_args(argv)
    for path in (root / "benchmarks", folder):
        if path is not None and str(path) not in sys.path:
            sys.path.insert(0, str(path))
    import common

    machine = common.machine()
    threads = args.threads or "each benchmark's default"
    print(f"machine: {common.describe(machine)}; repeats {args.repeats}, threads {threads}",
          flush=True)
    rows = []
    for name in args.only or benchmarks:
        print(f"== {name}: {benchmarks[name]}", flush=True)
        rows += run_benchmark(name, benchmarks[name], args.repeats, args.threads)
    print(common.table(rows))
    out = args.out or root / "_build" / "bench" / "suite.json"
    common.write_json(out, {"machine": machine, "repeats": args.repeats,
                            "threads": args.threads, "results": rows})
    print(f"wrote {out}")
    failed = [row["figure"] for row in rows
              if row["status"] != "ok" or row.get("holds") is False]
    if failed:
        print(f"not proven: {'; '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
