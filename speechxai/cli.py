"""The ``speechxai`` command line: ``speechxai book run|build|check|baseline``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import yaml

from speechxai import book
from speechxai.profiles import DEFAULT_PROFILE, PROFILES


def _parse_value(text: str) -> object:
    """``-p`` values are read as YAML scalars: 3 -> int, 0.5 -> float, true -> bool."""
    value = yaml.safe_load(text)
    return text if value is None or isinstance(value, (list, dict)) else value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="speechxai", description=__doc__)
    commands = parser.add_subparsers(dest="group", required=True)
    book_parser = commands.add_parser("book", help="run, build and check the book")
    actions = book_parser.add_subparsers(dest="action", required=True)

    def common(action: argparse.ArgumentParser, profile: bool = True) -> None:
        action.add_argument(
            "--build-dir",
            type=Path,
            default=None,
            help="where output lands (default: _build in the project)",
        )
        action.add_argument(
            "--chapter",
            action="append",
            dest="chapters",
            metavar="NAME",
            help="only this chapter (repeatable; default: all)",
        )
        if profile:
            action.add_argument("--profile", choices=PROFILES, default=DEFAULT_PROFILE)

    run = actions.add_parser("run", help="execute chapters headless with papermill")
    common(run)
    run.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("KEY", "VALUE"),
        help="override a chapter parameter",
    )
    run.add_argument("--no-progress", action="store_true", help="hide per-cell progress bars")
    common(actions.add_parser("build", help="render the executed chapters to HTML"), profile=False)
    common(actions.add_parser("check", help="compare records with tests/baselines"))
    baseline = actions.add_parser("baseline", help="write current records as baselines")
    common(baseline)
    baseline.add_argument(
        "--tolerance", type=float, default=1e-6, help="tolerance for names that have none yet"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    root = book.project_root()
    build_dir = (args.build_dir or root / "_build").resolve()
    try:
        selected = book.select(book.chapters(root), args.chapters)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    if args.action == "run":
        overrides = {key: _parse_value(value) for key, value in args.parameter}
        for chapter in selected:
            print(f"== {chapter.name} ({args.profile})", flush=True)
            started = time.perf_counter()
            try:
                records = book.run_chapter(
                    chapter, args.profile, build_dir, overrides, progress_bar=not args.no_progress
                )
            except book.ChapterFailed as error:
                print(f"error: {error}", file=sys.stderr)
                return 1
            print(f"   {len(records)} records, {time.perf_counter() - started:.1f} s", flush=True)
        return 0

    if args.action == "build":
        html = book.build(root, build_dir)
        print(f"book built: {html / 'index.html'}")
        return 0

    if args.action == "check":
        problems = book.check(root, build_dir, args.profile, args.chapters)
        for problem in problems:
            print(f"FAIL {problem}", file=sys.stderr)
        if problems:
            return 1
        print(
            f"records agree with the {args.profile} baselines of "
            f"{', '.join(c.name for c in selected)}"
        )
        return 0

    for chapter in selected:
        path = book.write_baseline(root, build_dir, chapter.name, args.profile, args.tolerance)
        print(f"wrote {path.relative_to(root)}: commit it with a message that says why")
    return 0


if __name__ == "__main__":
    sys.exit(main())
