"""Where the book's relative paths start: the project root, the folder holding ``_toc.yml``.

The runner executes every chapter there; JupyterLab starts a chapter's kernel in ``book/``.
Resolving the data folders against the project root makes both read and write the same
``data/`` and ``../shared/data`` (a kernel in ``book/`` would otherwise synthesise and train
everything again into ``book/data``)."""

from __future__ import annotations

from pathlib import Path


def project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: the working directory) that
    holds ``_toc.yml``."""
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / "_toc.yml").is_file():
            return folder
    raise FileNotFoundError(f"no _toc.yml in {start} or above: run this inside the book")


def from_project(path: str | Path) -> Path:
    """``path`` itself if absolute; else relative to the project root when the working
    directory is inside the book, else relative to the working directory."""
    path = Path(path).expanduser()
    if path.is_absolute():
        return path
    try:
        return project_root() / path
    except FileNotFoundError:
        return path
