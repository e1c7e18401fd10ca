"""Shared fixtures: a tiny book project to run the runner on, and the project root."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_book(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``speechxai book <args>`` in the project, with ``env`` added to the environment."""
    return subprocess.run(
        [sys.executable, "-m", "speechxai.cli", "book", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=1800,
        env={**os.environ, **(env or {})},
    )


def chromium() -> str:
    """The system's Chromium (Debian package ``chromium``): skips without it, fails in CI."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs it (apt-get install chromium)")
        pytest.skip("headless Chromium is not installed (Debian package `chromium`)")
    return found


CHAPTER_HEADER = """\
---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
    format_version: 0.13
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
"""


def write_chapter(folder: Path, name: str, cells: list[str], parameters: str) -> Path:
    """A jupytext MyST chapter with a parameters cell followed by ``cells``."""
    body = [CHAPTER_HEADER, f"# {name}\n"]
    body.append(f"```{{code-cell}} ipython3\n:tags: [parameters]\n\n{parameters}\n```\n")
    for cell in cells:
        body.append(f"```{{code-cell}} ipython3\n{textwrap.dedent(cell).strip()}\n```\n")
    path = folder / "book" / f"{name}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(body))
    return path


@pytest.fixture
def tiny_book(tmp_path: Path) -> Path:
    """A book with an intro page and two chapters: ``echo`` records its parameters,
    ``broken`` raises in its second code cell."""
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n  - file: book/echo\n  - file: book/broken\n"
    )
    (tmp_path / "_config.yml").write_text("title: tiny\n")
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "intro.md").write_text("# Intro\n\nNo code here.\n")
    parameters = 'profile = "quick"\ndataset = "embedded"\nseed = 0\nscale = 1.0'
    write_chapter(
        tmp_path,
        "echo",
        [
            """
            from speechxai.book import record
            record("seed", seed)
            record("scaled", 2.5 * scale)
            record("is_smoke", profile == "smoke")
            """
        ],
        parameters,
    )
    write_chapter(
        tmp_path,
        "broken",
        ["x = 1", "answer = 42\nraise RuntimeError('the model did not converge')"],
        parameters,
    )
    return tmp_path


def shared_data_dir() -> Path:
    """Real speech for tests: ``$SPEECHXAI_SHARED_DATA`` or ``../shared/data``."""
    return Path(os.environ.get("SPEECHXAI_SHARED_DATA") or ROOT.parent / "shared" / "data")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    folder = shared_data_dir()
    if not folder.is_dir():
        pytest.skip(f"real speech not available: no folder {folder} (set SPEECHXAI_SHARED_DATA)")
    return folder


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One intra-op thread for the tiny models of the unit tests: on a busy 2-core machine
    torch's thread pool made them up to 100x slower (1.5 s vs 13 ms per LRP call measured)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
