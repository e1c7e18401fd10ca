"""What the benchmarks share: torch threads, interleaved timing, peak memory, the machine
description, the results table and JSON output.

Every benchmark module has ``run(repeats, threads, ...)`` returning one result row or a list
of them: dicts with ``figure``, ``value``, ``unit``, ``target``, ``holds`` (``None``: no
target), ``note`` and any details. ``python -m speechxai.bench`` runs them all in one
process; ``python benchmarks/<name>.py`` runs one.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "_build" / "bench"


@contextmanager
def torch_threads(threads: int | None) -> Iterator[int]:
    """Run the block with ``threads`` intra-op torch threads (``None``: as they are); yields
    the count in effect and restores the previous one."""
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def timings(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Wall seconds of each run in ``repeats`` rounds after an untimed warm-up round; the runs
    alternate within a round, so a change of machine load affects them alike."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for round_ in range(repeats + 1):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            if round_:
                times[name].append(time.perf_counter() - start)
    return times


def medians(times: dict[str, list[float]]) -> dict[str, float]:
    return {name: statistics.median(values) for name, values in times.items()}


def _rss_gb() -> float:
    """Resident memory of this process now (Linux)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**30


@contextmanager
def peak_memory(interval: float = 0.01) -> Iterator[dict[str, float]]:
    """Peak resident memory (GB) while the block runs, sampled every ``interval`` s into the
    yielded dict's ``peak_gb`` (with ``start_gb``). ``ru_maxrss`` cannot be reset: in the
    suite it would hold the peak of earlier benchmarks."""
    result = {"start_gb": _rss_gb(), "peak_gb": _rss_gb()}
    done = threading.Event()

    def sample() -> None:
        while not done.wait(interval):
            result["peak_gb"] = max(result["peak_gb"], _rss_gb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield result
    finally:
        done.set()
        sampler.join()
        result["peak_gb"] = max(result["peak_gb"], _rss_gb())


def machine() -> dict[str, object]:
    """The machine the numbers come from: cores, CPU model, RAM, torch version and threads."""
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    models = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
    meminfo = Path("/proc/meminfo").read_text().split()
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": models[0] if models else platform.processor() or platform.machine(),
        "ram_gb": round(int(meminfo[meminfo.index("MemTotal:") + 1]) / 2**20, 1),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "load_average": [round(load, 2) for load in os.getloadavg()],
    }


def describe(machine: dict[str, object]) -> str:
    """One line for ``machine()``."""
    return (f"{machine['nproc']} cores ({machine['cpu']}), {machine['ram_gb']} GB RAM, "
            f"torch {machine['torch']}, load average {machine['load_average']}")


def _cell(value: object, unit: str = "") -> str:
    if value is None:
        return "-"
    text = f"{value:.3g}" if isinstance(value, float) else str(value)
    return f"{text} {unit}".strip()


HOLDS = {True: "yes", False: "NO", None: "-"}


def table(rows: list[dict]) -> str:
    """The rows as a Markdown table: figure, value, target, holds, note."""
    lines = ["| figure | value | target | holds | note |", "|---|---|---|---|---|"]
    for row in rows:
        cells = (row["figure"], _cell(row.get("value"), row.get("unit", "")),
                 _cell(row.get("target")), HOLDS[row.get("holds")], row.get("note", ""))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_json(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def parser(doc: str, threads: int | None, repeats: int | None = None) -> argparse.ArgumentParser:
    """A standalone benchmark's command line: ``--threads``, and ``--repeats`` unless
    ``repeats`` is ``None`` (one timed pass)."""
    arguments = argparse.ArgumentParser(description=doc.splitlines()[0])
    if repeats is not None:
        arguments.add_argument("--repeats", type=int, default=repeats, help="timed rounds")
    arguments.add_argument("--threads", type=int, default=threads,
                           help="torch threads (default: " + (str(threads) if threads else
                                                              "torch's") + ")")
    return arguments


def finish(name: str, result: dict | list[dict]) -> int:
    """Print a standalone benchmark's rows, write them to ``_build/bench/<name>.json``;
    exit status 0 when no target fails."""
    rows = result if isinstance(result, list) else [result]
    print(table(rows))
    path = write_json(OUT_DIR / f"{name}.json", {"machine": machine(), "results": rows})
    print(f"wrote {path}")
    return 0 if all(row.get("holds") is not False for row in rows) else 1
