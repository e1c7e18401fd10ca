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
import difflib
import json
import numbers
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

from speechxai.profiles import COMMON, chapter_parameters

RECORDS_FILE_ENV = "SPEECHXAI_RECORDS_FILE"
BUILD_CONFIG_NAME = "_config.yml"


# --------------------------------------------------------------------------- records


def record(name: str, value: float) -> float:
    """Record a headline figure of the running chapter (accuracy, AOPC, correlation...).

    Inside ``speechxai book run`` the value lands in the chapter's records file; in an
    interactive session it is only printed. Returns the value as a float.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"a record needs a non-empty string name, got {name!r}")
    number = float(value)  # raises TypeError/ValueError for anything but a number
    path = os.environ.get(RECORDS_FILE_ENV)
    if path:
        records_file = Path(path)
        records = json.loads(records_file.read_text()) if records_file.exists() else {}
        records[name] = number
        write_json(records_file, records)
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


def project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: the working directory) that
    holds ``_toc.yml``."""
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / "_toc.yml").is_file():
            return folder
    raise FileNotFoundError(f"no _toc.yml in {start} or above: run this inside the book")


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
    declared = set().union(*(declared_parameters(c.source) for c in selected))
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


def cached_models(root: Path) -> set[str]:
    """The checkpoints in the model cache the chapters of ``root`` use (``data_root()/models``
    seen from ``root``, their working directory)."""
    from speechxai.datasets.corpus import data_root

    return {path.name for path in (root / data_root() / "models").glob("*.pt")}


def _merge_timing(build_dir: Path, keys: tuple[str, ...], entry: dict) -> None:
    """Set ``timing.json[keys[0]]...[keys[-1]]`` to ``entry`` stamped with the time
    ("at"), keeping everything else in the file."""
    path = timing_path(build_dir)
    timing = json.loads(path.read_text()) if path.exists() else {}
    node = timing
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = {**entry, "at": datetime.now(UTC).isoformat(timespec="seconds")}
    write_json(path, timing)


def record_timing(build_dir: Path, profile: str, chapter: str, seconds: float,
                  trained: int) -> None:
    """Merge one chapter's wall time into ``timing.json``: ``{profile: {chapter: {cache:
    {"seconds", "models_trained", "at"}}}}``. ``cache`` is "cold" when the chapter wrote
    ``trained`` > 0 checkpoints into the model cache (it trained instead of loading) and
    "warm" otherwise, so a cold and a warm run of the book both stay on record; a chapter
    that trains nothing costs the same either way and only has "warm"."""
    _merge_timing(build_dir, (profile, chapter, "cold" if trained else "warm"),
                  {"seconds": round(seconds, 3), "models_trained": trained})


HTML_BUILD = "html build"
"""Key of ``timing.json`` that holds the last :func:`build`'s wall time (no profile: the
HTML build renders whatever chapters ran)."""


def record_build_time(build_dir: Path, seconds: float) -> None:
    """Merge the HTML build's wall time into ``timing.json`` as ``{HTML_BUILD: {"seconds",
    "at"}}`` beside the profiles' chapter times: ``make book`` is the chapters and the build."""
    _merge_timing(build_dir, (HTML_BUILD,), {"seconds": round(seconds, 3)})


def run_chapter(
    chapter: Chapter,
    profile: str,
    build_dir: Path,
    overrides: dict[str, object] | None = None,
    progress_bar: bool = True,
) -> dict[str, float]:
    """Execute one chapter headless; return its records.

    The executed notebook lands in ``build_dir/notebooks/<chapter>.ipynb`` (``notebooks-<dataset>``
    for a run on another dataset, :func:`variant_dir`; also when it fails, so the traceback
    can be read there); the chapter runs with the project root as
    its working directory. Overrides the chapter does not declare in its parameters cell are
    not passed to it (:func:`check_overrides` refuses those that no chapter run takes). A
    chapter that succeeds has its wall time recorded (:func:`record_timing`); one whose
    kernel dies raises :class:`ChapterFailed` naming the cell that was running.
    """
    import jupytext
    import papermill
    from nbclient.exceptions import DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    declared = declared_parameters(chapter.source)
    overrides = {name: value for name, value in (overrides or {}).items() if name in declared}
    parameters = chapter_parameters(chapter.name, profile, overrides)
    notebook = jupytext.read(chapter.source)
    dataset = dataset_variant(chapter.name, profile, overrides)
    output = (variant_dir(build_dir, "notebooks", (overrides or {}).get("dataset"))
              / f"{chapter.name}.ipynb")
    output.parent.mkdir(parents=True, exist_ok=True)
    records_file = records_path(build_dir, chapter.name, profile, dataset)
    records_file.unlink(missing_ok=True)
    previous = os.environ.get(RECORDS_FILE_ENV)
    os.environ[RECORDS_FILE_ENV] = str(records_file.resolve())
    root = chapter.source.parent.parent
    models_before = cached_models(root)
    started = time.perf_counter()
    try:
        papermill.execute_notebook(
            notebook,
            str(output),
            parameters=parameters,
            kernel_name="python3",
            cwd=str(root),
            progress_bar=progress_bar,
        )
    except PapermillExecutionError as error:
        raise ChapterFailed(chapter.name, error.source, f"{error.ename}: {error.evalue}") from None
    except DeadKernelError:
        raise ChapterFailed(chapter.name, _running_cell(output), DEAD_KERNEL) from None
    finally:
        if previous is None:
            os.environ.pop(RECORDS_FILE_ENV, None)
        else:
            os.environ[RECORDS_FILE_ENV] = previous
    trained = len(cached_models(root) - models_before)
    record_timing(build_dir, run_name(profile, dataset), chapter.name,
                  time.perf_counter() - started, trained)
    return json.loads(records_file.read_text()) if records_file.exists() else {}


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
    is replaced by its executed notebook (never both: Sphinx refuses duplicates). The wall
    time lands in ``timing.json`` (:func:`record_build_time`).
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
    for chapter in chapters(root):
        staged = site / chapter.source.relative_to(root)
        staged.unlink()
        shutil.copy(executed / f"{chapter.name}.ipynb", staged.with_suffix(".ipynb"))

    config = yaml.safe_load((root / BUILD_CONFIG_NAME).read_text())
    config.setdefault("execute", {})["execute_notebooks"] = "off"
    widget_js = vendor_widget_js(build_dir / "npm-cache", site / "_widgets_js")
    if widget_js is not None:
        sphinx_config = config.setdefault("sphinx", {}).setdefault("config", {})
        sphinx_config["html_static_path"] = ["_widgets_js"]
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
