"""Memory settings of the book's processes (speechxai.allocation): what each process starts
with, and that no setting changes what a network computes."""

import json
import subprocess
import sys

import pytest

from speechxai import allocation

TRAINS = """
import json, speechxai, torch
torch.manual_seed(0)
network = torch.nn.Sequential(torch.nn.Conv1d(1, 64, 9), torch.nn.ReLU(), torch.nn.MaxPool1d(3, 2),
                              torch.nn.Flatten(), torch.nn.Linear(64 * 3995, 3))
optimizer = torch.optim.Adam(network.parameters(), 1e-3)
losses = []
for _ in range(3):
    signals, labels = torch.randn(16, 1, 8000), torch.randint(0, 3, (16,))
    optimizer.zero_grad()
    loss = torch.nn.functional.cross_entropy(network(signals), labels)
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
import os
print(json.dumps({"losses": losses, "huge_pages": os.environ["THP_MEM_ALLOC_ENABLE"]}))
"""


def started(setting: str, script: str) -> dict:
    """``script``'s JSON line, run in a process started with ``setting``; with a kept heap the
    process chooses its huge pages itself (no THP_MEM_ALLOC_ENABLE given)."""
    environment = allocation.memory_environment(setting)
    if setting == "kept heap":
        environment.pop(allocation.HUGE_PAGES_ENV)
    out = subprocess.run([sys.executable, "-c", script], env=environment, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.splitlines()[-1])


def test_every_memory_setting_trains_the_same_numbers():
    runs = {setting: started(setting, TRAINS) for setting in allocation.MEMORY_SETTINGS}
    assert runs["huge pages"]["losses"] == runs["kept heap"]["losses"] \
        == runs["no huge pages"]["losses"]
    # a process started with a kept heap turns huge pages off by itself
    assert [runs[s]["huge_pages"] for s in allocation.MEMORY_SETTINGS] == ["0", "1", "0"]


def test_the_kept_heap_joins_the_tunables_already_given():
    given = {"GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX2:glibc.malloc.trim_threshold=9",
             "THP_MEM_ALLOC_ENABLE": "1", "OTHER": "x"}
    kernel = allocation.kernel_environment(given)
    assert kernel == {"THP_MEM_ALLOC_ENABLE": "0",
                      "GLIBC_TUNABLES": f"glibc.cpu.hwcaps=-AVX2:{allocation.KEPT_HEAP}"}
    assert allocation.keeps_heap(kernel) and not allocation.keeps_heap(given)
    plain = allocation.memory_environment("no huge pages", given)
    assert plain["GLIBC_TUNABLES"] == "glibc.cpu.hwcaps=-AVX2"
    assert plain["THP_MEM_ALLOC_ENABLE"] == "0" and plain["OTHER"] == "x"
    assert "GLIBC_TUNABLES" not in allocation.memory_environment("huge pages", {})
    with pytest.raises(ValueError, match="unknown memory setting 'fast'; choose one of"):
        allocation.memory_environment("fast", given)
