"""The benchmark suite runs fake benchmarks, survives broken and missing ones; the timing
helpers interleave and restore; the book runner records chapter times cold and warm."""

from __future__ import annotations

import importlib
import json
import mmap
import os
import subprocess
import sys
import textwrap
import time

import pytest
import torch
from conftest import ROOT, write_chapter

from speechxai import bench, book


@pytest.fixture
def benchmarks(monkeypatch):
    """Import a module of ``benchmarks/`` by name."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    return importlib.import_module


def test_suite_tabulates_rows_and_lists_missing_and_broken_benchmarks(tmp_path, capsys,
                                                                       monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))  # main() adds the benchmark folders
    (tmp_path / "fake_fast.py").write_text(textwrap.dedent("""
        def run(repeats, threads=3):
            return {"figure": "9 fake", "value": 3.5, "unit": "x", "target": ">= 3x",
                    "holds": True, "note": f"repeats {repeats}, threads {threads}"}
    """))
    (tmp_path / "fake_two.py").write_text(textwrap.dedent("""
        def run(repeats, threads):
            return [{"figure": "9a", "value": 1.0, "target": "< 0.5", "holds": False},
                    {"figure": "9b", "value": None, "target": None, "holds": None}]
    """))
    (tmp_path / "fake_broken.py").write_text("def run(repeats, threads):\n    1 / 0\n")
    out = tmp_path / "suite.json"
    names = {"fake_fast": "fast", "fake_two": "two", "fake_absent": "absent",
             "fake_broken": "broken"}
    status = bench.main(["--quick", "--threads", "1", "--out", str(out)], names, tmp_path)

    assert status == 1
    printed = capsys.readouterr().out
    assert "| 9 fake | 3.5 x | >= 3x | yes | repeats 2, threads 1 |" in printed
    assert "| 9a | 1 | < 0.5 | NO |" in printed
    suite = json.loads(out.read_text())
    assert suite["repeats"] == 2 and suite["machine"]["nproc"] >= 1
    assert [row["status"] for row in suite["results"]] == ["ok", "ok", "ok", "missing", "error"]
    assert "ZeroDivisionError" in suite["results"][-1]["note"]
    assert bench.main(["--only", "fake_fast", "--out", str(out)], names, tmp_path) == 0
    [row] = json.loads(out.read_text())["results"]
    assert row["note"] == "repeats 5, threads 3"  # the benchmark's own default threads


def test_suite_lists_every_figure_of_issue_8():
    assert all((ROOT / "benchmarks" / f"{name}.py").exists()
               for name in bench.BENCHMARKS if name != "lrp_cost")  # figure 1 comes apart
    assert [label.split()[0] for label in bench.BENCHMARKS.values()][:7] == [
        "1", "2", "3a", "3b", "4", "5", "6"]


@pytest.mark.parametrize("native", [True, False])
def test_training_figure_names_the_variant_training_uses(benchmarks, monkeypatch, native):
    import speechxai.device

    monkeypatch.setattr(speechxai.device, "native_bf16", lambda device=None: native)
    throughput = benchmarks("training_throughput")
    expected = {"audionet": "bf16" if native else "eager fp32",
                "alexnet": "bf16 + channels_last" if native else "channels_last"}
    names = {variant.name for variant in throughput.variants("alexnet", 2, None)}
    for architecture, name in expected.items():
        assert throughput.used_variant(architecture) == name
        assert name in names


def test_training_figure_puts_the_reference_without_huge_pages_first(benchmarks):
    throughput = benchmarks("training_throughput")

    def child(step_s: dict, first_loss: float) -> dict:
        return {"step_s": step_s, "times_s": {name: [s] for name, s in step_s.items()},
                "first_step_s": step_s, "losses": {name: [first_loss] for name in step_s},
                "architecture": "audionet"}

    plain = child({"eager fp32": 2.0}, 2.0)
    huge = child({"eager fp32": 1.0, "bf16": 4.0}, 2.5)
    merged = throughput.with_huge_pages(plain, huge)
    assert list(merged["step_s"]) == [throughput.REFERENCE, "eager fp32", "bf16"]
    assert merged["step_s"][throughput.REFERENCE] == 2.0
    assert merged["loss_difference"] == {throughput.REFERENCE: 0.0, "eager fp32": 0.25,
                                         "bf16": 0.25}
    assert merged["architecture"] == "audionet"


def test_importing_speechxai_asks_torch_for_huge_pages_unless_told_otherwise():
    script = "import os, speechxai; print(os.environ['THP_MEM_ALLOC_ENABLE'])"
    for given, expected in ((None, "1"), ("0", "0")):
        env = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
        env.update({} if given is None else {"THP_MEM_ALLOC_ENABLE": given})
        out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                             text=True, check=True)
        assert out.stdout.strip() == expected


def test_timings_interleave_runs_after_an_untimed_warm_up(benchmarks):
    common = benchmarks("common")
    calls = []
    times = common.timings({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, 3)
    assert calls == ["a", "b"] * 4
    assert [len(values) for values in times.values()] == [3, 3]
    assert common.medians({"x": [3.0, 1.0, 2.0]}) == {"x": 2.0}


def test_thread_setting_is_restored_and_peak_memory_sees_an_allocation(benchmarks):
    common = benchmarks("common")
    with common.torch_threads(2) as used:
        assert used == torch.get_num_threads() == 2
    assert torch.get_num_threads() == 1  # the autouse fixture's
    with common.peak_memory() as memory:
        # Fresh pages from the kernel: a heap allocation can reuse memory the suite freed
        # earlier and is already resident (CI saw RSS grow by 16 KB for np.ones of 128 MiB).
        block = mmap.mmap(-1, 2**27)  # 128 MiB, anonymous
        block.write(b"\x01" * 2**27)
        time.sleep(0.5)  # samples every 10 ms: dozens, even on a loaded machine
        block.close()
    assert memory["peak_gb"] - memory["start_gb"] > 0.1


def test_book_timing_totals_against_targets(benchmarks, tiny_book, monkeypatch):
    book_timing = benchmarks("book_timing")
    monkeypatch.setattr(book_timing, "ROOT", tiny_book)
    rows = book_timing.run(profile="quick")
    assert [row["holds"] for row in rows] == [None] * 5  # nothing recorded yet
    book.write_json(book.timing_path(tiny_book / "_build"), {"quick": {
        "echo": {"cold": {"seconds": 1500.0}, "warm": {"seconds": 300.0}},
        "broken": {"warm": {"seconds": 240.0}}}})
    rows = {row["figure"]: row for row in book_timing.run(profile="quick")}
    assert rows["6 book quick: echo"]["value"] == 1500.0
    assert rows["6 book quick, cold total"]["value"] == pytest.approx(29.0)
    assert rows["6 book quick, cold total"]["holds"] is True
    assert rows["6 book quick, cold total"]["note"].endswith("warm time taken for broken")
    assert rows["6 book quick, warm total"]["value"] == pytest.approx(9.0)
    assert rows["6 book quick, warm total"]["holds"] is False
    assert "no HTML build on record" in rows["6 book quick, cold total"]["note"]
    # make book is the chapters and the HTML build: a 90-s build tips the cold total over
    book.record_build_time(tiny_book / "_build", 90.0)
    rows = {row["figure"]: row for row in book_timing.run(profile="quick")}
    assert rows["6 book quick, cold total"]["value"] == pytest.approx(30.5)
    assert rows["6 book quick, cold total"]["holds"] is False
    assert "HTML build 90 s" in rows["6 book quick, cold total"]["note"]
    assert rows["6 book quick, warm total"]["value"] == pytest.approx(10.5)
    # chapters run beside each other overlap: the whole run's wall time is the total
    book.record_run_time(tiny_book / "_build", "quick", 1200.0, trained=3, jobs=2)
    rows = {row["figure"]: row for row in book_timing.run(profile="quick")}
    assert rows["6 book quick, cold total"]["value"] == pytest.approx(21.5)
    assert rows["6 book quick, cold total"]["note"].startswith("wall time of `book run --jobs 2`")
    assert rows["6 book quick, warm total"]["value"] == pytest.approx(10.5)


def test_runner_records_chapter_time_cold_when_it_trained_and_warm_otherwise(tiny_book,
                                                                             monkeypatch):
    monkeypatch.delenv("SPEECHXAI_DATA_DIR", raising=False)
    source = write_chapter(tiny_book, "trains", ["""
        from speechxai.datasets.corpus import data_root
        from speechxai.model_cache import load_or_train
        load_or_train(data_root() / "models" / "toy-digit-0123.pt", lambda resume: {"w": 1},
                      lambda payload: payload)
        # as a chapter running beside this one would: a checkpoint this kernel did not train
        (data_root() / "models" / "written-beside.pt").touch()
    """], 'profile = "smoke"')
    build_dir = tiny_book / "_build"  # not there yet: the first run makes its folders
    chapter = book.Chapter("trains", source)
    runs = [book.run_chapter(chapter, "smoke", build_dir, progress_bar=False)]
    book.record_timing(build_dir, "quick", "echo", 1, trained=0)
    runs.append(book.run_chapter(chapter, "smoke", build_dir, progress_bar=False))
    assert [run.trained for run in runs] == [1, 0]

    book.record_build_time(build_dir, 12.5)
    timing = json.loads(book.timing_path(build_dir).read_text())
    assert timing["quick"]["echo"]["warm"]["seconds"] == 1
    assert timing[book.HTML_BUILD]["seconds"] == 12.5
    entry = timing["smoke"]["trains"]
    assert entry["cold"]["models_trained"] == 1 and entry["warm"]["models_trained"] == 0
    assert 0 < entry["warm"]["seconds"] < 120 and entry["cold"]["seconds"] > 0
    assert (tiny_book / "data" / "models" / "toy-digit-0123.pt").exists()
