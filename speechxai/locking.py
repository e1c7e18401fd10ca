"""One process at a time: an exclusive file lock beside what it guards."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock (``fcntl.flock``) on ``.locks/<name>.lock`` beside ``path``
    for the block: a second process asking for the same ``path`` waits until the first is
    done, then finds its result. The lock goes with the process if it dies."""
    path = Path(path)
    locks = path.parent / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / f"{path.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
