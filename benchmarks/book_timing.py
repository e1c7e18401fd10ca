"""Benchmark: the book's wall time per chapter, cold and warm, against its targets.

Reads ``_build/records/timing.json``, which ``speechxai book run`` fills (see
:func:`speechxai.book.record_timing`); it runs nothing itself (a cold book takes many
minutes). Targets on 2 cores: cold ``make book`` (after install) under 30 minutes, warm under
8 minutes, ``make test`` under 15 minutes. A chapter that trains no model has only a warm
time, which is also its cold one; any chapter without a cold run on record has its warm time
taken for cold, and the cold total names them. A run of the whole book (``book run``,
chapters beside each other with ``--jobs``) also records its own wall time, which then is the
total: chapters that ran at once overlap. The totals add the last ``book build`` (the
HTML, :data:`speechxai.book.HTML_BUILD`) where one is on record, as ``make book`` runs it
after the chapters, and hold only when every chapter of the table of contents has a time.
``make test`` is not measured here: time it with ``time make test``. To produce the numbers:
``rm -rf data/models``, then ``make book`` (cold), then ``make book`` again (warm).

Run: ``.venv/bin/python benchmarks/book_timing.py [--profile quick]``
"""

from __future__ import annotations

import argparse
import json

from common import ROOT, finish

from speechxai.book import BOOK_RUN, HTML_BUILD, chapters, timing_path

TARGETS_MIN = {"cold": 30, "warm": 8}
MAKE_TEST_MIN = 15


def chapter_seconds(entry: dict) -> dict[str, float | None]:
    """Cold and warm seconds of one chapter's ``timing.json`` entry; without a cold run on
    record, the warm time stands for the cold one (exact for a chapter that trains nothing)."""
    warm = entry.get("warm", {}).get("seconds")
    return {"cold": entry.get("cold", {}).get("seconds", warm), "warm": warm}


def run(repeats: int = 1, threads: int | None = None, profile: str = "quick") -> list[dict]:
    """Figure 6 (``repeats`` and ``threads`` do not apply): a row per chapter, the cold and
    warm totals, and ``make test``."""
    path = timing_path(ROOT / "_build")
    recorded = json.loads(path.read_text()) if path.exists() else {}
    timing, html = recorded.get(profile, {}), recorded.get(HTML_BUILD, {}).get("seconds")
    names = [chapter.name for chapter in chapters(ROOT)]
    seconds = {name: chapter_seconds(timing.get(name, {})) for name in names}
    rows = []
    for name in names:
        cold, warm = seconds[name]["cold"], seconds[name]["warm"]
        rows.append({
            "figure": f"6 book {profile}: {name}", "value": cold, "unit": "s",
            "target": None, "holds": None,
            "note": "not run" if cold is None else f"cold; warm {warm} s" if "cold" in timing[name]
            else "warm run only: taken for cold (right when it trains no model)",
        })
    borrowed = [name for name in names if name in timing and "cold" not in timing[name]]
    for cache, minutes in TARGETS_MIN.items():
        whole = timing.get(BOOK_RUN, {}).get(cache)
        missing = [] if whole else [name for name in names if seconds[name][cache] is None]
        total = (whole["seconds"] if whole else sum(seconds[name][cache] or 0.0 for name in names)
                 ) + (html or 0.0)
        built = f"HTML build {html:.0f} s" if html is not None else "no HTML build on record"
        note = (f"wall time of `book run --jobs {whole['jobs']}` + {built}" if whole
                else f"{len(names)} chapters + {built}")
        if cache == "cold" and borrowed and not whole:
            note += f"; warm time taken for {', '.join(borrowed)}"
        rows.append({
            "figure": f"6 book {profile}, {cache} total", "value": None if missing
            else total / 60, "unit": "min", "target": f"< {minutes} min",
            "holds": None if missing else total < minutes * 60,
            "note": f"no {cache} time for {', '.join(missing)} ({total / 60:.1f} min without)"
            if missing else note,
        })
    rows.append({"figure": "6 make test", "value": None, "target": f"< {MAKE_TEST_MIN} min",
                 "holds": None, "note": "not measured by the suite: `time make test`"})
    return rows


def main() -> int:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--profile", default="quick")
    return finish("book_timing", run(profile=arguments.parse_args().profile))


if __name__ == "__main__":
    raise SystemExit(main())
