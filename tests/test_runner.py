"""The runner executes chapters headless with papermill and reports failures precisely."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, write_chapter

from speechxai import baselines, book
from speechxai.profiles import PROFILES, chapter_parameters


def speechxai(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "speechxai.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_chapters_follow_the_toc_and_skip_plain_pages(tiny_book):
    assert [c.name for c in book.chapters(tiny_book)] == ["echo", "broken"]


def test_an_unknown_chapter_is_refused(tiny_book):
    with pytest.raises(ValueError, match="unknown chapter.*nope.*echo, broken"):
        book.select(book.chapters(tiny_book), ["nope"])


def test_profiles_set_parameters_and_overrides_win():
    assert chapter_parameters("listening", "smoke")["profile"] == "smoke"
    assert chapter_parameters("any", "quick", {"seed": 7})["seed"] == 7
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        chapter_parameters("any", "fast")


def test_a_dataset_brings_its_own_sizes():
    # smoke trains on the embedded corpus; AudioMNIST's format runs on its shared sample
    assert chapter_parameters("audiomnist", "smoke")["dataset"] == "embedded"
    sample = chapter_parameters("audiomnist", "smoke", {"dataset": "audiomnist"})
    assert sample["audiomnist_root"].endswith("audiomnist-sample")
    assert sample["training"]["alexnet"]["digit"]["steps"] == 3
    assert "audiomnist_root" not in chapter_parameters("audiomnist", "smoke", {"dataset": "fsdd"})
    real = chapter_parameters("audiomnist", "quick", {"dataset": "real"})
    assert real["n_folds"] == 2 and real["mix_embedded"] == ["digit"]
    assert "mix_embedded" not in chapter_parameters("audiomnist", "quick")


def test_run_injects_profile_and_overrides_and_collects_records(tiny_book):
    result = speechxai(
        "book",
        "run",
        "--profile",
        "smoke",
        "--chapter",
        "echo",
        "-p",
        "seed",
        "5",
        "-p",
        "scale",
        "0.5",
        "--no-progress",
        cwd=tiny_book,
    )
    assert result.returncode == 0, result.stderr
    # the kernel talks over Unix sockets in a private folder: ipykernel >= 7 warns on stderr
    # when it listens on localhost TCP without encryption
    assert "without encryption" not in result.stderr
    records = json.loads((tiny_book / "_build/records/echo.smoke.json").read_text())
    assert records == {"seed": 5.0, "scaled": 1.25, "is_smoke": 1.0}
    executed = json.loads((tiny_book / "_build/notebooks/echo.ipynb").read_text())
    injected = [
        c for c in executed["cells"] if "injected-parameters" in c["metadata"].get("tags", [])
    ]
    assert len(injected) == 1 and "seed = 5" in "".join(injected[0]["source"])


def test_a_failing_chapter_exits_non_zero_and_prints_the_cell(tiny_book):
    result = speechxai("book", "run", "--profile", "smoke", "--no-progress", cwd=tiny_book)
    assert result.returncode == 1
    assert "chapter 'broken' failed in this cell" in result.stderr
    assert "answer = 42" in result.stderr
    assert "RuntimeError: the model did not converge" in result.stderr
    # the chapter before it ran and kept its records; the failed notebook is kept to read
    assert (tiny_book / "_build/records/echo.smoke.json").exists()
    assert (tiny_book / "_build/notebooks/broken.ipynb").exists()


@pytest.mark.parametrize(("arguments", "message"), [
    (("-p", "seeed", "3"), "no chapter of echo takes a parameter 'seeed'; did you mean 'seed'?"),
    (("-p", "profile", "paper"), "-p profile paper conflicts with --profile smoke"),
    (("-p", "seed", "0.5"), "-p seed must be an integer, got 0.5"),
    (("-p", "seed", "true"), "-p seed must be an integer, got True"),
])
def test_overrides_that_would_run_something_else_are_refused_before_any_kernel(
        tiny_book, arguments, message):
    result = speechxai("book", "run", "--profile", "smoke", "--chapter", "echo", *arguments,
                       "--no-progress", cwd=tiny_book)
    assert result.returncode == 2
    assert message in result.stderr
    assert not (tiny_book / "_build/notebooks/echo.ipynb").exists()  # no kernel started


def test_a_chapter_gets_only_the_overrides_it_declares(tiny_book):
    write_chapter(tiny_book, "other", ['from speechxai.book import record\nrecord("depth", depth)'],
                  'profile = "quick"\ndataset = "embedded"\nseed = 0\ndepth = 1')
    (tiny_book / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n"
                                        "  - file: book/echo\n  - file: book/other\n")
    result = speechxai("book", "run", "--profile", "smoke", "-p", "depth", "4", "-p", "scale",
                       "2", "--no-progress", cwd=tiny_book)
    assert result.returncode == 0, result.stderr
    assert json.loads((tiny_book / "_build/records/other.smoke.json").read_text()) == {
        "depth": 4.0}
    assert json.loads((tiny_book / "_build/records/echo.smoke.json").read_text())["scaled"] == 5


def test_a_dead_kernel_names_the_chapter_the_cell_and_the_likely_cause(tiny_book):
    write_chapter(tiny_book, "dies",
                  ["x = 1", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"],
                  'profile = "quick"\ndataset = "embedded"\nseed = 0')
    (tiny_book / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n"
                                        "  - file: book/dies\n")
    result = speechxai("book", "run", "--profile", "smoke", "--no-progress", cwd=tiny_book)
    assert result.returncode == 1
    assert "chapter 'dies' failed in this cell" in result.stderr
    assert "os.kill(os.getpid(), signal.SIGKILL)" in result.stderr
    assert "the kernel died without a Python error" in result.stderr and "memory" in result.stderr
    assert "Traceback" not in result.stderr


def test_every_parameter_a_profile_sets_is_declared_by_its_chapter():
    for chapter in book.chapters(ROOT):
        declared = book.declared_parameters(chapter.source)
        for profile in PROFILES:
            missing = set(chapter_parameters(chapter.name, profile)) - declared
            assert not missing, f"{chapter.name} at {profile} sets undeclared {missing}"


def test_check_cli_fails_on_drift_naming_chapter_and_record(tiny_book):
    build_dir = tiny_book / "_build"
    book.write_json(book.records_path(build_dir, "echo", "smoke"), {"seed": 1.0})
    book.write_json(baselines.baseline_path(tiny_book, "echo", "smoke"),
                     {"records": {"seed": {"value": 0.0, "tolerance": 0.1}}, "claims": {}})
    result = speechxai("book", "check", "--profile", "smoke", "--chapter", "echo", cwd=tiny_book)
    assert result.returncode == 1
    assert "FAIL echo: record 'seed' drifted" in result.stderr


def test_build_refuses_chapters_that_were_not_run(tiny_book):
    with pytest.raises(FileNotFoundError, match="echo, broken have not been run"):
        book.build(tiny_book, tiny_book / "_build")


def test_a_run_on_another_dataset_keeps_the_default_runs_notebooks(tiny_book):
    for dataset in (None, "real"):
        result = speechxai("book", "run", "--profile", "smoke", "--chapter", "echo",
                           *(("--dataset", dataset) if dataset else ()), "--no-progress",
                           cwd=tiny_book)
        assert result.returncode == 0, result.stderr
    def sources(folder):
        cells = json.loads((tiny_book / "_build" / folder / "echo.ipynb").read_text())["cells"]
        return "".join("".join(cell["source"]) for cell in cells)

    assert 'dataset = "real"' not in sources("notebooks")
    assert 'dataset = "real"' in sources("notebooks-real")
    assert book.variant_dir(tiny_book, "html", "embedded") == tiny_book / "html"
    assert book.variant_dir(tiny_book, "html", "real") == tiny_book / "html-real"
    with pytest.raises(FileNotFoundError, match=r"`speechxai book run --dataset real` first"):
        book.build(tiny_book, tiny_book / "_build", "real")  # 'broken' was not run on it


TRAINS_A_NETWORK = """
    import os
    import torch
    from speechxai.book import record
    torch.manual_seed(seed)
    network = torch.nn.Sequential(torch.nn.Conv1d(1, 8, 9), torch.nn.ReLU(),
                                  torch.nn.Flatten(), torch.nn.Linear(8 * 56, 3))
    optimizer = torch.optim.Adam(network.parameters(), 1e-2)
    signals, labels = torch.randn(32, 1, 64), torch.randint(0, 3, (32,))
    for _ in range(20):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(network(signals), labels)
        loss.backward()
        optimizer.step()
    record("loss", loss.item())
    record("passive", os.environ.get("OMP_WAIT_POLICY") == "PASSIVE")
    record("kept_heap", os.environ.get("GLIBC_TUNABLES", "").endswith(
        "glibc.malloc.trim_threshold=4294967295") and os.environ["THP_MEM_ALLOC_ENABLE"] == "0")
"""


@pytest.fixture
def parallel_book(tiny_book):
    """Two chapters that train a small network and a summary chapter that counts the other
    chapters' records files."""
    parameters = 'profile = "quick"\ndataset = "embedded"\nseed = 0'
    for name in ("first", "second"):
        write_chapter(tiny_book, name, [TRAINS_A_NETWORK], parameters)
    write_chapter(tiny_book, "findings", ["""
        from speechxai.book import record, records_dir
        record("chapters_before", len([path for path in records_dir().glob("*.smoke.json")
                                       if not path.name.startswith("findings")]))
    """], parameters)
    (tiny_book / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n  - file: book/findings\n"
        "  - file: book/first\n  - file: book/second\n")
    return tiny_book


def test_chapters_beside_each_other_give_the_serial_records(parallel_book):
    records = {}
    for jobs in ("1", "2"):
        build_dir = parallel_book / f"_build-{jobs}"
        result = speechxai("book", "run", "--profile", "smoke", "--jobs", jobs, "--no-progress",
                           "--build-dir", str(build_dir), cwd=parallel_book)
        assert result.returncode == 0, result.stderr
        records[jobs] = {name: json.loads(book.records_path(build_dir, name, "smoke").read_text())
                         for name in ("first", "second", "findings")}
        timing = json.loads(book.timing_path(build_dir).read_text())["smoke"]
        assert timing["first"]["warm"]["jobs"] == int(jobs)
        assert timing[book.BOOK_RUN]["warm"]["jobs"] == int(jobs)
        assert 0 < timing[book.BOOK_RUN]["warm"]["seconds"] < 300
    # same losses bit for bit; the summary ran after both; kernels beside others wait passively;
    # every kernel keeps its freed memory (speechxai.allocation)
    for name in ("first", "second"):
        assert records["1"][name]["loss"] == records["2"][name]["loss"]
        assert records["2"][name]["passive"] == 1.0
        assert records["1"][name]["kept_heap"] == records["2"][name]["kept_heap"] == 1.0
    assert records["1"]["findings"] == records["2"]["findings"] == {"chapters_before": 2.0}


def test_a_failing_chapter_beside_others_stops_the_run_and_names_its_cell(tiny_book):
    result = speechxai("book", "run", "--profile", "smoke", "--jobs", "2", "--no-progress",
                       cwd=tiny_book)
    assert result.returncode == 1
    assert "chapter 'broken' failed in this cell" in result.stderr
    assert "RuntimeError: the model did not converge" in result.stderr
    assert (tiny_book / "_build/records/echo.smoke.json").exists()
    assert "book run" not in json.loads(book.timing_path(tiny_book / "_build").read_text())["smoke"]


def test_jobs_must_be_a_positive_count(tiny_book):
    result = speechxai("book", "run", "--jobs", "0", cwd=tiny_book)
    assert result.returncode == 2 and "must be at least 1, got 0" in result.stderr


def test_longest_chapters_start_first(tiny_book):
    chapters = book.chapters(tiny_book)
    build_dir = tiny_book / "_build"
    assert book.longest_first(chapters, build_dir, "quick") == chapters  # nothing on record
    book.write_json(book.timing_path(build_dir), {"quick": {
        "echo": {"warm": {"seconds": 5}}, "broken": {"warm": {"seconds": 1},
                                                     "cold": {"seconds": 60}}}})
    assert [c.name for c in book.longest_first(chapters, build_dir, "quick")] == ["broken",
                                                                                   "echo"]
    assert book.longest_first(chapters, build_dir, "smoke") == chapters


def test_kernel_sockets_live_in_a_private_folder_that_is_removed():
    with book.private_kernel_sockets() as config:
        sockets = Path(config.KernelManager.ip)
        assert config.KernelManager.transport == "ipc"
        assert sockets.parent.is_dir() and sockets.parent.stat().st_mode & 0o077 == 0
    assert not sockets.parent.exists()
