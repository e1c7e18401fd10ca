"""The ``speechxai`` command line: ``speechxai book run|build|check|baseline`` and
``speechxai evaluate MANIFEST`` (the book's cached models on your own recordings)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import yaml

from speechxai import book
from speechxai.book import RETRAIN_ENV
from speechxai.fanout import EXECUTORS
from speechxai.profiles import COMMON, DATASETS, DEFAULT_PROFILE, PROFILES


def _parse_value(text: str) -> object:
    """``-p`` values are read as YAML scalars: 3 -> int, 0.5 -> float, true -> bool."""
    value = yaml.safe_load(text)
    return text if value is None or isinstance(value, (list, dict)) else value


def _positive(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


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
            action.add_argument(
                "--dataset",
                choices=DATASETS,
                default=None,
                help="run on this dataset instead of the profile's own (records then go to "
                "<chapter>.<profile>.<dataset>.json; same as -p dataset NAME)",
            )

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
    run.add_argument("--jobs", type=_positive, default=1, metavar="N",
                     help="run up to N chapters at once, each in its own kernel (same "
                          "records; per-cell progress bars only with 1; default 1)")
    run.add_argument("--retrain", action="store_true",
                     help="train every model the chapters use again instead of loading it "
                          "from the model cache")
    run.add_argument("--executor", choices=EXECUTORS, default="local",
                     help="ray: train the chapters' models (folds, seeds) as Ray tasks first, "
                          "a GPU each where the cluster has GPUs, then run the chapters on "
                          "them (needs the [scale] extra; default local: each chapter trains "
                          "its own)")
    run.add_argument("--address", default=None,
                     help="with --executor ray: the cluster to join (e.g. ray://head:10001 "
                          "or auto); default: a local cluster on this machine's cores")
    build = actions.add_parser("build", help="render the executed chapters to HTML")
    common(build, profile=False)
    build.add_argument("--dataset", choices=DATASETS, default=None,
                       help="render the run on this dataset (notebooks-<dataset>/ into "
                       "html-<dataset>/)")
    common(actions.add_parser("check", help="compare records with tests/baselines"))
    baseline = actions.add_parser("baseline", help="write current records as baselines")
    common(baseline)
    baseline.add_argument(
        "--tolerance", type=float, default=1e-6, help="tolerance for names that have none yet"
    )
    plan = actions.add_parser(
        "plan", help="list the models a profile trains, with the training time estimated here")
    plan.add_argument("--profile", choices=PROFILES, default=DEFAULT_PROFILE)
    plan.add_argument("--dataset", choices=DATASETS, default=None,
                      help="plan the run on this dataset instead of the profile's own")
    plan.add_argument("--repeats", type=_positive, default=3, metavar="N",
                      help="training steps timed per model after two warm-up steps (default 3)")
    _evaluate_parser(commands)
    return parser


EVALUATED_CHAPTERS = ("audiomnist", "deepspeech", "navai")
"""``speechxai.evaluate.CHAPTERS``, not imported here: that module loads torch."""


def _evaluate_parser(commands) -> None:
    evaluate = commands.add_parser(
        "evaluate", help="score the book's cached models on your own labelled recordings",
        description="Score a chapter's cached models on the recordings a CSV manifest lists "
        "(columns: path, and digit, sex or transcript). Never trains.")
    evaluate.add_argument("manifest", type=Path, help="CSV with a path column and labels")
    evaluate.add_argument("--chapter", choices=EVALUATED_CHAPTERS, default="audiomnist")
    evaluate.add_argument("--profile", choices=PROFILES, default=DEFAULT_PROFILE)
    evaluate.add_argument("--dataset", default="embedded", help="the chapter's dataset")
    evaluate.add_argument("--seed", type=int, default=0, help="the chapter's seed")
    evaluate.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                          metavar=("KEY", "VALUE"),
                          help="another chapter parameter the models were trained with")
    evaluate.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _evaluate(args: argparse.Namespace) -> int:
    import contextlib
    import json

    from speechxai.evaluate import evaluate

    overrides = {key: _parse_value(value) for key, value in args.parameter}
    try:
        with contextlib.redirect_stdout(sys.stderr if args.json else sys.stdout):
            table = evaluate(args.manifest, args.chapter, args.profile, args.dataset,
                             args.seed, overrides=overrides)
    except (ValueError, FileNotFoundError) as error:  # AudioError, ModelNotCached among them
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(table.to_dict(orient="records"), indent=2))
    else:
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return 0


def _run_on_ray(selected: list, args, overrides: dict, build_dir: Path, started: float) -> int:
    """``book run --executor ray``: every model of the ``selected`` chapters trained as a Ray
    task (retrained there with ``--retrain``), then the chapters, whose kernels shard their
    dataset-wide relevance on the same cluster; an exit status."""
    from speechxai.device import DEVICE_ENV
    from speechxai.fanout import EXECUTOR_ENV, ray_cluster, train_on_ray, training_jobs

    environment = {RETRAIN_ENV: "1"} if args.retrain else {}
    if "device" in overrides:
        environment[DEVICE_ENV] = str(overrides["device"])
    jobs = training_jobs([chapter.name for chapter in selected], args.profile, overrides)
    try:
        with ray_cluster(args.address) as address:
            train_on_ray(jobs, environment, report=lambda line: print(line, flush=True))
            os.environ[EXECUTOR_ENV] = address  # the chapters' kernels inherit it
            return _run_chapters(selected, args, overrides, build_dir, started)
    except (RuntimeError, ConnectionError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _run_chapters(selected: list, args, overrides: dict, build_dir: Path,
                  started: float) -> int:
    try:
        runs = book.run_chapters(selected, args.profile, build_dir, overrides,
                                 progress_bar=not args.no_progress, jobs=args.jobs,
                                 report=lambda line: print(line, flush=True))
    except book.ChapterFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if not args.chapters:  # the whole book: its wall time beside the chapters'
        dataset = overrides.get("dataset")
        name = book.run_name(args.profile, None if dataset in (None, COMMON["dataset"])
                             else dataset)
        book.record_run_time(build_dir, name, time.perf_counter() - started,
                             sum(run.trained for run in runs), args.jobs)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.group == "evaluate":
        return _evaluate(args)
    if args.action == "plan":
        from speechxai.plan import describe_plan, plan_table, planned_models

        table = plan_table(planned_models(args.profile, args.dataset), args.repeats,
                           progress=lambda line: print(line, file=sys.stderr, flush=True))
        print(describe_plan(table, args.profile))
        return 0
    root = book.project_root()
    build_dir = (args.build_dir or root / "_build").resolve()
    try:
        selected = book.select(book.chapters(root), args.chapters)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    if args.action == "run":
        overrides = {key: _parse_value(value) for key, value in args.parameter}
        if args.dataset:
            overrides.setdefault("dataset", args.dataset)
        try:
            book.check_overrides(selected, args.profile, overrides)
        except book.ParameterError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        started = time.perf_counter()
        if args.executor == "ray":
            return _run_on_ray(selected, args, overrides, build_dir, started)
        if args.retrain:
            os.environ[RETRAIN_ENV] = "1"  # the chapters' kernels inherit it
        return _run_chapters(selected, args, overrides, build_dir, started)

    if args.action == "build":
        try:
            html = book.build(root, build_dir, args.dataset)
        except FileNotFoundError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        print(f"book built: {html / 'index.html'}")
        return 0

    from speechxai import baselines  # pandas: only the commands that read records

    if args.action == "check":
        report = baselines.check(root, build_dir, args.profile, args.chapters, args.dataset)
        for claim in report.claims:
            print(claim.line())
        for problem in report.problems:
            print(f"FAIL {problem}", file=sys.stderr)
        if report.problems:
            return 1
        held = sum(bool(claim.holds) for claim in report.claims)
        print(
            f"records agree with the {args.profile} baselines of "
            f"{', '.join(c.name for c in selected)}; {held} of {len(report.claims)} claims hold"
        )
        return 0

    for chapter in selected:
        path = baselines.write_baseline(root, build_dir, chapter.name, args.profile,
                                        args.tolerance, args.dataset)
        print(f"wrote {path.relative_to(root)}: commit it with a message that says why")
    return 0


if __name__ == "__main__":
    sys.exit(main())
