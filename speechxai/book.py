"""Run the book's chapters with papermill, record their headline figures, check them.

A chapter is a jupytext MyST file in ``book/`` listed in ``_toc.yml``. ``run`` converts it
with jupytext, executes it with papermill into ``_build/notebooks/`` and collects what it
``record``-ed into ``_build/records/<chapter>.<profile>.json`` and its wall time into
``_build/records/timing.json`` (:mod:`speechxai.baselines` checks those records against
``tests/baselines/<chapter>.<profile>.json``); ``build`` renders the executed notebooks with
Jupyter Book (execution off) into ``_build/html/``.
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import json
import numbers
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

from speechxai.locking import exclusive_lock
from speechxai.paths import project_root
from speechxai.profiles import COMMON, chapter_parameters

RECORDS_FILE_ENV = "SPEECHXAI_RECORDS_FILE"
TRAINED_LOG_ENV = "SPEECHXAI_TRAINED_LOG"
RETRAIN_ENV = "SPEECHXAI_RETRAIN"
"""Set (not "0"): :func:`speechxai.model_cache.load_or_train` trains again whatever is cached
(``speechxai book run --retrain`` sets it for the chapters' kernels)."""
DEVICE_PARAMETER = "device"
"""``-p device cuda|mps|cpu``: taken by every chapter through the runner, which hands it to
the kernel as ``$SPEECHXAI_DEVICE`` (:mod:`speechxai.device`), not as a notebook parameter."""
"""Inside ``speechxai book run``: the file that :func:`speechxai.model_cache.load_or_train`
appends the name of every checkpoint the chapter's kernel trains to, a line each (how the
runner tells a chapter that trained from one that loaded)."""
BUILD_CONFIG_NAME = "_config.yml"


# --------------------------------------------------------------------------- records


def inside_runner() -> bool:
    """Whether this code runs in a chapter that ``speechxai book run`` executes (headless,
    for the built book), rather than in a reader's live kernel."""
    return bool(os.environ.get(RECORDS_FILE_ENV))


def record(name: str, value: float) -> float:
    """Record a headline figure of the running chapter (accuracy, AOPC, correlation...).

    Inside ``speechxai book run`` the value lands in the chapter's records file silently
    (the built page shows the chapter's tables, not a line per record); in an interactive
    session it is only printed. Returns the value as a float.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"a record needs a non-empty string name, got {name!r}")
    number = float(value)  # raises TypeError/ValueError for anything but a number
    if inside_runner():
        records_file = Path(os.environ[RECORDS_FILE_ENV])
        records = json.loads(records_file.read_text()) if records_file.exists() else {}
        records[name] = number
        write_json(records_file, records)
    else:
        print(f"record: {name} = {number:.6g}")
    return number


def records_dir() -> Path:
    """The folder of the running chapter's records (beside ``$SPEECHXAI_RECORDS_FILE``
    inside ``speechxai book run``), else ``_build/records`` of the project."""
    path = os.environ.get(RECORDS_FILE_ENV)
    return Path(path).parent if path else project_root() / "_build" / "records"


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` atomically: readers never see a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(f.name, path)


# --------------------------------------------------------------------------- chapters


@dataclass(frozen=True)
class Chapter:
    """An executable chapter: a jupytext MyST source listed in the table of contents."""

    name: str
    source: Path


def toc_files(root: Path) -> list[str]:
    """Every page of ``_toc.yml`` in reading order, as written there (no suffix)."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    pages = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                pages.append(entry["file"])
            walk(entry.get("sections"))
            for part in entry.get("parts", []):
                walk(part.get("chapters"))

    walk(toc.get("chapters"))
    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    return pages


def is_executable(source: Path) -> bool:
    """A MyST page is an executable chapter when its front matter names a kernel."""
    text = source.read_text()
    if not text.startswith("---"):
        return False
    front_matter = yaml.safe_load(text.split("---", 2)[1]) or {}
    return "kernelspec" in front_matter


def chapters(root: Path) -> list[Chapter]:
    """The executable chapters of the book, in the order of ``_toc.yml``."""
    found = []
    for page in toc_files(root):
        source = root / f"{page}.md"
        if source.is_file() and is_executable(source):
            found.append(Chapter(source.stem, source))
    return found


SUMMARY_CHAPTERS = ("findings",)
"""Chapters that read the other chapters' records: they run after all others."""


def select(all_chapters: list[Chapter], names: list[str] | None) -> list[Chapter]:
    """The chapters called ``names`` (all when ``None``) in the order to run them: as given,
    with the :data:`SUMMARY_CHAPTERS` last; an unknown name raises."""
    if not names:
        return _summaries_last(all_chapters)
    by_name = {chapter.name: chapter for chapter in all_chapters}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise ValueError(
            f"unknown chapter(s) {', '.join(unknown)}; the book has {', '.join(by_name)}"
        )
    return _summaries_last([by_name[name] for name in names])


def _summaries_last(selected: list[Chapter]) -> list[Chapter]:
    return sorted(selected, key=lambda chapter: chapter.name in SUMMARY_CHAPTERS)


# --------------------------------------------------------------------------- run


class ChapterFailed(RuntimeError):
    """A chapter raised: names the chapter, the failing cell's source and the error."""

    def __init__(self, chapter: str, cell_source: str, error: str):
        self.chapter, self.cell_source, self.error = chapter, cell_source, error
        super().__init__(
            f"chapter {chapter!r} failed in this cell:\n{_indent(cell_source)}\n{error}"
        )

    def __reduce__(self):  # raised in a worker process of run_chapters, re-raised here
        return ChapterFailed, (self.chapter, self.cell_source, self.error)


@dataclass(frozen=True)
class ChapterRun:
    """One chapter's run: its records, wall time and how many models it trained."""

    chapter: str
    records: dict[str, float]
    seconds: float
    trained: int


class ParameterError(ValueError):
    """A ``-p`` override no chapter takes, a ``profile`` override against ``--profile``, or
    a seed that is not an integer: refused before any kernel starts."""


def declared_parameters(source: Path) -> set[str]:
    """Names the chapter assigns in its cell tagged ``parameters`` (papermill's)."""
    import jupytext

    for cell in jupytext.read(source).cells:
        if "parameters" in cell.metadata.get("tags", []):
            names = set()
            for node in ast.parse(cell.source).body:
                targets = node.targets if isinstance(node, ast.Assign) else \
                    [node.target] if isinstance(node, ast.AnnAssign) else []
                names |= {target.id for target in targets if isinstance(target, ast.Name)}
            return names
    return set()


def declared_overrides(source: Path, overrides: dict) -> dict:
    """The ``overrides`` that the chapter at ``source`` declares in its parameters cell (what
    its kernel gets)."""
    declared = declared_parameters(source)
    return {name: value for name, value in overrides.items() if name in declared}


def check_overrides(selected: list[Chapter], profile: str, overrides: dict) -> None:
    """Refuse overrides that would run something else than asked: a name that none of the
    ``selected`` chapters declares (a typo such as ``seeed`` would otherwise run with exit 0),
    ``profile`` other than ``--profile`` (records would be stored under the wrong profile),
    a ``seed`` that is not an integer. Raises :class:`ParameterError`."""
    if "profile" in overrides and overrides["profile"] != profile:
        raise ParameterError(f"-p profile {overrides['profile']} conflicts with --profile "
                             f"{profile}: choose the profile with --profile only")
    seed = overrides.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ParameterError(f"-p seed must be an integer, got {seed!r}")
    if DEVICE_PARAMETER in overrides:
        from speechxai import device

        try:
            device.resolve(str(overrides[DEVICE_PARAMETER]))
        except (ValueError, device.DeviceUnavailable) as error:
            raise ParameterError(f"-p device: {error}") from None
    declared = set().union(*(declared_parameters(c.source) for c in selected),
                           {DEVICE_PARAMETER})
    for name in sorted(set(overrides) - declared):
        close = difflib.get_close_matches(name, declared, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ParameterError(
            f"no chapter of {', '.join(c.name for c in selected)} takes a parameter {name!r}; "
            f"{hint}they take {', '.join(sorted(declared))}")


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())


def run_name(profile: str, dataset: str | None = None) -> str:
    """``<profile>``, or ``<profile>.<dataset>`` for a run on another dataset than the
    profile's own (``quick.real``): how records, baselines and timings name a run."""
    return f"{profile}.{dataset}" if dataset else profile


def run_command(chapter: str | None = None, profile: str | None = None,
                dataset: str | None = None) -> str:
    """The command that writes ``<chapter>.<run_name(profile, dataset)>.json`` (without a
    chapter or profile: every chapter, at the default profile)."""
    return ("speechxai book run" + (f" --profile {profile}" if profile else "")
            + (f" --chapter {chapter}" if chapter else "")
            + (f" --dataset {dataset}" if dataset else ""))


def dataset_variant(chapter: str, profile: str, overrides: dict | None) -> str | None:
    """The dataset a run's overrides choose when it is not the profile's own, else ``None``."""
    dataset = (overrides or {}).get("dataset")
    return None if dataset in (None, chapter_parameters(chapter, profile)["dataset"]) \
        else str(dataset)


def variant_dir(build_dir: Path, name: str, dataset: str | None = None) -> Path:
    """``build_dir/<name>``, or ``build_dir/<name>-<dataset>`` for a run asked to use another
    dataset than the default (``notebooks-real``, ``html-real``): a real-speech run never
    overwrites the executed notebooks or the HTML of the embedded one (records share one
    folder, told apart by their names)."""
    default = dataset in (None, COMMON["dataset"])
    return build_dir / (name if default else f"{name}-{dataset}")


def records_path(build_dir: Path, chapter: str, profile: str,
                 dataset: str | None = None) -> Path:
    return build_dir / "records" / f"{chapter}.{run_name(profile, dataset)}.json"


def timing_path(build_dir: Path) -> Path:
    return build_dir / "records" / "timing.json"


def _merge_timing(build_dir: Path, keys: tuple[str, ...], entry: dict) -> None:
    """Set ``timing.json[keys[0]]...[keys[-1]]`` to ``entry`` stamped with the time
    ("at"), keeping everything else in the file (under a lock: chapters running beside each
    other finish at any time)."""
    path = timing_path(build_dir)
    with exclusive_lock(path):
        timing = json.loads(path.read_text()) if path.exists() else {}
        node = timing
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = {**entry, "at": datetime.now(UTC).isoformat(timespec="seconds")}
        write_json(path, timing)


def record_timing(build_dir: Path, profile: str, chapter: str, seconds: float,
                  trained: int, jobs: int = 1) -> None:
    """Merge one chapter's wall time into ``timing.json``: ``{profile: {chapter: {cache:
    {"seconds", "models_trained", "jobs", "at"}}}}``. ``cache`` is "cold" when the chapter
    trained ``trained`` > 0 models (its kernel wrote them into the model cache instead of
    loading them) and "warm" otherwise, so a cold and a warm run of the book both stay on
    record; a chapter that trains nothing costs the same either way and only has "warm".
    ``jobs`` > 1: the chapter ran beside others (:func:`run_chapters`), sharing the cores."""
    _merge_timing(build_dir, (profile, chapter, "cold" if trained else "warm"),
                  {"seconds": round(seconds, 3), "models_trained": trained, "jobs": jobs})


BOOK_RUN = "book run"
"""Key of ``timing.json[profile]`` that holds the wall time of the last ``book run`` of every
chapter, beside the chapters' own times (which overlap when chapters ran beside each other)."""


def record_run_time(build_dir: Path, profile: str, seconds: float, trained: int,
                    jobs: int) -> None:
    """Merge the wall time of a run of every chapter into ``timing.json[profile][BOOK_RUN]``,
    "cold" or "warm" as :func:`record_timing`."""
    _merge_timing(build_dir, (profile, BOOK_RUN, "cold" if trained else "warm"),
                  {"seconds": round(seconds, 3), "models_trained": trained, "jobs": jobs})


HTML_BUILD = "html build"
"""Key of ``timing.json`` that holds the last :func:`build`'s wall time (no profile: the
HTML build renders whatever chapters ran)."""


def record_build_time(build_dir: Path, seconds: float) -> None:
    """Merge the HTML build's wall time into ``timing.json`` as ``{HTML_BUILD: {"seconds",
    "at"}}`` beside the profiles' chapter times: ``make book`` is the chapters and the build."""
    _merge_timing(build_dir, (HTML_BUILD,), {"seconds": round(seconds, 3)})


@contextlib.contextmanager
def private_kernel_sockets():
    """The traitlets config that makes a chapter's kernel talk over Unix sockets in a fresh
    folder only this user can open (removed afterwards), instead of the default localhost
    TCP ports, over which ipykernel >= 7 warns that code and outputs travel unencrypted."""
    from traitlets.config import Config

    with tempfile.TemporaryDirectory(prefix="speechxai-kernel-") as folder:
        yield Config({"KernelManager": {"transport": "ipc", "ip": str(Path(folder) / "kernel")}})


def run_chapter(
    chapter: Chapter,
    profile: str,
    build_dir: Path,
    overrides: dict[str, object] | None = None,
    progress_bar: bool = True,
    jobs: int = 1,
) -> ChapterRun:
    """Execute one chapter headless; return its records and what it cost.

    The executed notebook lands in ``build_dir/notebooks/<chapter>.ipynb`` (``notebooks-<dataset>``
    for a run on another dataset, :func:`variant_dir`; also when it fails, so the traceback
    can be read there); the chapter runs with the project root as
    its working directory. Overrides the chapter does not declare in its parameters cell are
    not passed to it (:func:`check_overrides` refuses those that no chapter run takes). A
    chapter that succeeds has its wall time recorded (:func:`record_timing`); one whose
    kernel dies raises :class:`ChapterFailed` naming the cell that was running. ``jobs`` is
    how many chapters run at once (:func:`run_chapters`), noted beside the wall time.
    """
    import jupytext
    import papermill
    from nbclient.exceptions import DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    from speechxai.allocation import kernel_environment
    from speechxai.device import DEVICE_ENV

    device = (overrides or {}).get(DEVICE_PARAMETER)
    overrides = declared_overrides(chapter.source, overrides or {})
    parameters = chapter_parameters(chapter.name, profile, overrides)
    notebook = jupytext.read(chapter.source)
    dataset = dataset_variant(chapter.name, profile, overrides)
    output = (variant_dir(build_dir, "notebooks", (overrides or {}).get("dataset"))
              / f"{chapter.name}.ipynb")
    output.parent.mkdir(parents=True, exist_ok=True)
    records_file = records_path(build_dir, chapter.name, profile, dataset)
    records_file.parent.mkdir(parents=True, exist_ok=True)  # the kernel writes beside it
    records_file.unlink(missing_ok=True)
    trained_log = records_file.with_suffix(".trained")
    trained_log.unlink(missing_ok=True)
    environment = {RECORDS_FILE_ENV: str(records_file.resolve()),
                   TRAINED_LOG_ENV: str(trained_log.resolve()), **kernel_environment(),
                   **({DEVICE_ENV: str(device)} if device is not None else {})}
    previous = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)  # the kernel inherits them
    root = chapter.source.parent.parent
    started = time.perf_counter()
    try:
        with private_kernel_sockets() as kernel_config:
            papermill.execute_notebook(
                notebook,
                str(output),
                parameters=parameters,
                kernel_name="python3",
                cwd=str(root),
                progress_bar=progress_bar,
                config=kernel_config,
            )
    except PapermillExecutionError as error:
        raise ChapterFailed(chapter.name, error.source, f"{error.ename}: {error.evalue}") from None
    except DeadKernelError:
        raise ChapterFailed(chapter.name, _running_cell(output), DEAD_KERNEL) from None
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    seconds = time.perf_counter() - started
    trained = len(trained_log.read_text().splitlines()) if trained_log.exists() else 0
    trained_log.unlink(missing_ok=True)
    record_timing(build_dir, run_name(profile, dataset), chapter.name, seconds, trained, jobs)
    records = json.loads(records_file.read_text()) if records_file.exists() else {}
    return ChapterRun(chapter.name, records, seconds, trained)


def run_chapters(
    selected: list[Chapter],
    profile: str,
    build_dir: Path,
    overrides: dict[str, object] | None = None,
    progress_bar: bool = True,
    jobs: int = 1,
    report: Callable[[str], None] = print,
) -> list[ChapterRun]:
    """Run ``selected`` (in :func:`select`'s order) with up to ``jobs`` chapters at once and
    return their runs in the order they ended; ``report`` gets a line as chapters start and as
    each ends.

    With ``jobs`` > 1 the chapters run in worker processes, the longest first (by their last
    time on record: :func:`longest_first`), and the :data:`SUMMARY_CHAPTERS` after all others.
    Each kernel keeps its thread count, so the records are a serial run's; a model two
    chapters share is trained once (the model cache's lock); idle OpenMP threads wait
    passively (``OMP_WAIT_POLICY=PASSIVE`` unless set) instead of spinning against the other
    kernel's, which slowed two kernels several-fold (``benchmarks/README.md``, make test's
    time). A chapter that fails raises :class:`ChapterFailed` once the chapters already
    running end; none starts after it (serially: the first failure stops the run)."""
    others = [chapter for chapter in selected if chapter.name not in SUMMARY_CHAPTERS]
    runs, serial = [], selected
    if jobs > 1 and len(others) > 1:
        runs = _run_beside(longest_first(others, build_dir, profile, overrides),
                           profile, build_dir, overrides, jobs, report)
        serial = [chapter for chapter in selected if chapter.name in SUMMARY_CHAPTERS]
    for chapter in serial:
        report(f"== {chapter.name} ({profile})")
        run = run_chapter(chapter, profile, build_dir, overrides, progress_bar, jobs=1)
        report(_ended(run))
        runs.append(run)
    return runs


def longest_first(selected: list[Chapter], build_dir: Path, profile: str,
                  overrides: dict[str, object] | None = None) -> list[Chapter]:
    """``selected`` by their last wall time on record in ``timing.json`` for this run (cold
    where on record, else warm), longest first; chapters never timed keep their order, last."""
    path = timing_path(build_dir)
    timing = json.loads(path.read_text()) if path.exists() else {}

    def seconds(chapter: Chapter) -> float:
        name = run_name(profile, dataset_variant(chapter.name, profile, overrides))
        entry = timing.get(name, {}).get(chapter.name, {})
        return entry.get("cold", entry.get("warm", {})).get("seconds", 0.0)

    return sorted(selected, key=seconds, reverse=True)


def _ended(run: ChapterRun) -> str:
    trained = f", {run.trained} models trained" if run.trained else ""
    return f"   {run.chapter}: {len(run.records)} records, {run.seconds:.1f} s{trained}"


def _passive_waiting() -> None:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # the worker's kernels inherit it


def _run_beside(ordered: list[Chapter], profile: str, build_dir: Path,
                overrides: dict[str, object] | None, jobs: int,
                report: Callable[[str], None]) -> list[ChapterRun]:
    """:func:`run_chapters`' parallel part: ``ordered`` on a pool of ``jobs`` processes."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    report(f"== {', '.join(chapter.name for chapter in ordered)} ({profile}), "
           f"{jobs} at a time")
    runs, failures = [], []
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_passive_waiting) as pool:
        futures = {pool.submit(run_chapter, chapter, profile, build_dir, overrides, False,
                               jobs): chapter for chapter in ordered}
        for future in as_completed(futures):
            try:
                runs.append(future.result())
                report(_ended(runs[-1]))
            except ChapterFailed as failure:
                failures.append(failure)
            except BrokenProcessPool:
                failures.append(ChapterFailed(futures[future].name, "(its runner process)",
                                              DEAD_KERNEL))
            if failures:
                for pending in futures:
                    pending.cancel()
    if failures:
        for failure in failures[1:]:
            report(f"error: {failure}")
        raise failures[0]
    return runs


DEAD_KERNEL = ("the kernel died without a Python error: most often the system killed it for "
               "memory (see `dmesg`); run a smaller profile or free memory, then run the "
               "chapter again")


def _running_cell(notebook_path: Path) -> str:
    """Source of the last code cell papermill started in the notebook it wrote (the one the
    kernel died in: papermill closes it as completed, the cells after it stay pending), or a
    note when there is none."""
    import nbformat

    try:
        cells = nbformat.read(notebook_path, as_version=4).cells
    except (OSError, ValueError):
        return "(no executed notebook was written)"
    started = [cell for cell in cells if cell.cell_type == "code"
               and cell.get("metadata", {}).get("papermill", {}).get("start_time")]
    return started[-1].source if started else "(no cell had started)"


# --------------------------------------------------------------------------- build

# npm package -> the files of its tarball that the static pages need
WIDGET_PACKAGES = {
    "@jupyter-widgets/html-manager@1.0.6": "package/dist",
    "requirejs@2.3.7": "package/require.js",
}
WIDGET_CDN = "https://cdn.jsdelivr.net/npm/"
STYLE_DIR = "_style"  # the book's style sheets (every *.css in it joins each page); not "_static",
# which Jupyter Book scans, adding every script of every static folder (the widget JS thrice)


def vendor_widget_js(cache: Path, target: Path) -> dict[str, dict[str, str]] | None:
    """Put require.js and the ipywidgets embed manager into ``target`` for offline pages.

    The packages come from the npm registry (``npm pack``) once, into ``cache``. Returns
    the ``nb_ipywidgets_js`` setting that loads them from ``_static``, or ``None`` when
    they are not cached and npm is missing (the pages then load the widget JS from the CDN).
    """
    npm = shutil.which("npm")
    cache.mkdir(parents=True, exist_ok=True)
    target.mkdir(parents=True, exist_ok=True)
    for spec, member in WIDGET_PACKAGES.items():
        name, version = spec.rsplit("@", 1)
        tarball = cache / f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"
        if not tarball.exists():
            if npm is None:
                return None
            subprocess.run(
                [npm, "pack", spec, "--pack-destination", str(cache)],
                check=True,
                capture_output=True,
            )
        with tempfile.TemporaryDirectory() as unpacked:
            subprocess.run(["tar", "xzf", str(tarball), "-C", unpacked, member], check=True)
            source = Path(unpacked) / member
            for file in source.iterdir() if source.is_dir() else [source]:
                if not file.name.endswith(".map"):
                    shutil.copy(file, target)
    return {
        "require.js": {},
        "embed-amd.js": {"data-jupyter-widgets-cdn": WIDGET_CDN},
    }


def build(root: Path, build_dir: Path, dataset: str | None = None) -> Path:
    """Render the executed chapters and the other pages into ``build_dir/html`` (those of a
    run on another ``dataset`` into ``build_dir/html-<dataset>``, :func:`variant_dir`).

    Jupyter Book runs on a staging copy of the book in which every chapter's MyST source
    is replaced by its executed notebook (never both: Sphinx refuses duplicates); every page
    links the style sheets of :data:`STYLE_DIR`. The wall time lands in ``timing.json``
    (:func:`record_build_time`).
    """
    started = time.perf_counter()
    executed = variant_dir(build_dir, "notebooks", dataset)
    missing = [c.name for c in chapters(root) if not (executed / f"{c.name}.ipynb").exists()]
    if missing:
        raise FileNotFoundError(
            f"chapter(s) {', '.join(missing)} have not been run: `{run_command(dataset=dataset)}`"
            " first"
        )
    site = variant_dir(build_dir, "site", dataset)
    shutil.rmtree(site, ignore_errors=True)
    shutil.copytree(root / "book", site / "book", ignore=shutil.ignore_patterns("*.ipynb"))
    if (root / "examples").is_dir():  # the API reference includes them
        shutil.copytree(root / "examples", site / "examples")
    shutil.copy(root / "_toc.yml", site)
    shutil.copytree(root / STYLE_DIR, site / STYLE_DIR)
    for chapter in chapters(root):
        staged = site / chapter.source.relative_to(root)
        staged.unlink()
        shutil.copy(executed / f"{chapter.name}.ipynb", staged.with_suffix(".ipynb"))

    config = yaml.safe_load((root / BUILD_CONFIG_NAME).read_text())
    config.setdefault("execute", {})["execute_notebooks"] = "off"
    sphinx_config = config.setdefault("sphinx", {}).setdefault("config", {})
    sphinx_config["html_static_path"] = [STYLE_DIR]
    sphinx_config["html_css_files"] = sorted(p.name for p in (root / STYLE_DIR).glob("*.css"))
    widget_js = vendor_widget_js(build_dir / "npm-cache", site / "_widgets_js")
    if widget_js is not None:
        sphinx_config["html_static_path"].append("_widgets_js")
        sphinx_config["nb_ipywidgets_js"] = widget_js
    else:
        print("npm not found: the widget players will load their JavaScript from the CDN")
    (site / BUILD_CONFIG_NAME).write_text(yaml.safe_dump(config, sort_keys=False))

    output = variant_dir(build_dir, "jupyter-book", dataset)
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    command = [str(jupyter_book if jupyter_book.exists() else "jupyter-book")]
    result = subprocess.run(
        [*command, "build", str(site), "--path-output", str(output), "--builder", "html"],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"jupyter-book build failed:\n{result.stdout}\n{result.stderr}")
    html = variant_dir(build_dir, "html", dataset)
    shutil.rmtree(html, ignore_errors=True)
    shutil.move(output / "_build" / "html", html)
    record_build_time(build_dir, time.perf_counter() - started)
    return html
