"""Where torch's large CPU buffers get their memory from.

A training step of AudioNet or AlexNet allocates and frees hundreds of MB of activations.
glibc returns every buffer above its mmap threshold (at most 32 MB unless told) to the
operating system when it is freed, so the next step faults the pages in again and the kernel
zero-fills them: system time, a quarter of an AudioNet step on 2 cores of an AMD EPYC with
native bfloat16 (``benchmarks/training_throughput.py``, figure 5). Two remedies:

- **huge pages** (``THP_MEM_ALLOC_ENABLE=1``, PyTorch PR 107697): each fault covers 2 MB;
  torch reads the setting at its first allocation, so importing speechxai turns it on for
  the process itself (unless the variable is set);
- **a kept heap** (:data:`KEPT_HEAP`): glibc serves every allocation below 4 GiB from its
  heap and never gives freed memory back, so a step reuses the previous step's pages. glibc
  reads ``GLIBC_TUNABLES`` only when a process starts: the book's runner starts every
  chapter's kernel with it (:func:`kernel_environment`), and there turns huge pages off
  (their 2-MB alignment fragments the kept heap: slower than either alone, measured).

Neither changes a number a model computes (torch aligns every buffer to 64 bytes either way;
the benchmark's losses agree to the bit). The kept heap makes a process hold its peak memory
until it ends, which a chapter kernel does.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

HUGE_PAGES_ENV = "THP_MEM_ALLOC_ENABLE"
TUNABLES_ENV = "GLIBC_TUNABLES"
KEPT_HEAP = "glibc.malloc.mmap_threshold=4294967295:glibc.malloc.trim_threshold=4294967295"
"""glibc tunables: no buffer below 4 GiB gets its own mapping, and freed memory stays in the
heap (the trim threshold, also 4 GiB)."""
_KEPT_HEAP_NAMES = tuple(part.partition("=")[0] + "=" for part in KEPT_HEAP.split(":"))

MEMORY_SETTINGS = ("no huge pages", "huge pages", "kept heap")


def keeps_heap(environment: Mapping[str, str]) -> bool:
    """Whether a process started with ``environment`` keeps its freed memory (glibc's mmap
    threshold is among its tunables)."""
    return _KEPT_HEAP_NAMES[0] in environment.get(TUNABLES_ENV, "")


def default_huge_pages() -> None:
    """Huge pages for this process's torch unless ``THP_MEM_ALLOC_ENABLE`` is set, or the
    process started with a kept heap (:func:`keeps_heap`): then off."""
    os.environ.setdefault(HUGE_PAGES_ENV, "0" if keeps_heap(os.environ) else "1")


def memory_environment(setting: str, environment: Mapping[str, str] | None = None
                       ) -> dict[str, str]:
    """``environment`` (default: this process's) for a process started with one of
    :data:`MEMORY_SETTINGS`: huge pages off, on, or off with :data:`KEPT_HEAP` added to
    whatever glibc tunables are already given."""
    if setting not in MEMORY_SETTINGS:
        raise ValueError(f"unknown memory setting {setting!r}; choose one of "
                         f"{', '.join(MEMORY_SETTINGS)}")
    environment = dict(os.environ if environment is None else environment)
    environment[HUGE_PAGES_ENV] = "1" if setting == "huge pages" else "0"
    tunables = [part for part in environment.get(TUNABLES_ENV, "").split(":")
                if part and not part.startswith(_KEPT_HEAP_NAMES)]
    if setting == "kept heap":
        tunables.append(KEPT_HEAP)
    if tunables:
        environment[TUNABLES_ENV] = ":".join(tunables)
    else:
        environment.pop(TUNABLES_ENV, None)
    return environment


def kernel_environment(environment: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables a chapter's kernel starts with besides ``environment``'s: the kept heap."""
    started = memory_environment("kept heap", environment)
    return {name: started[name] for name in (HUGE_PAGES_ENV, TUNABLES_ENV)}
