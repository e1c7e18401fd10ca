"""Relative data paths start at the project root, wherever inside the book the kernel runs."""

from __future__ import annotations

from pathlib import Path

from speechxai.datasets import data_root
from speechxai.datasets.real import real_data_root
from speechxai.paths import from_project, project_root


def test_relative_paths_start_at_the_project_root_from_a_subfolder(tmp_path, monkeypatch):
    (tmp_path / "_toc.yml").write_text("root: book/intro\n")
    (tmp_path / "book").mkdir()
    monkeypatch.chdir(tmp_path / "book")  # where JupyterLab starts a chapter's kernel
    monkeypatch.delenv("SPEECHXAI_DATA_DIR", raising=False)
    monkeypatch.delenv("SPEECHXAI_REAL_DATA", raising=False)
    assert project_root() == tmp_path.resolve()
    assert data_root() == tmp_path.resolve() / "data"
    assert real_data_root() == tmp_path.resolve() / "../shared/data"
    assert from_project("/abs/folder") == Path("/abs/folder")


def test_outside_a_book_relative_paths_stay_relative_to_the_working_directory(tmp_path,
                                                                              monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPEECHXAI_DATA_DIR", "elsewhere")
    assert data_root() == Path("elsewhere")
