"""The one cache of the book's trained models (AudioNet, AlexNet, DeepSpeech, Wav2Letter and the
command classifier) under ``data_root()/models``.

A model's file name holds a key of its training configuration, its training data and the
*code version* of what computes it (:func:`code_version`: the network, the features, the
training loop), so a changed network or feature pipeline never loads stale weights. A file is
written to a unique temporary name, synced and renamed into place, with a SHA-256 of its
content in its first line; writers of one model take a lock, so a second process waits for
the first and loads its result instead of training again. A file that fails its checksum,
is not in this format or does not fit the network is reported with its path and trained
again (never loaded silently); ``speechxai book run --retrain`` trains every model of the
chapters it runs afresh.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import inspect
import io
import os
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import torch

from speechxai.book import RETRAIN_ENV, TRAINED_LOG_ENV
from speechxai.locking import exclusive_lock

if TYPE_CHECKING:
    from speechxai.resume import Resume

MAGIC = b"speechxai-model-v1 sha256="

T = TypeVar("T")


class ModelNotCached(FileNotFoundError):
    """A model asked for with ``cached_only=True`` is not in the model cache (or its file is
    unusable): ``path`` is the checkpoint, ``command`` (if known) the command that trains it."""

    def __init__(self, path: Path, command: str | None = None, reason: str | None = None):
        self.path, self.command = Path(path), command
        how = (f"run `{command}` to train it" if command
               else "run the book chapter that trains it (speechxai book run)")
        problem = f"cached model {self.path} is unusable ({reason})" if reason \
            else f"no cached model {self.path}"
        super().__init__(f"{problem}: {how}")


class CorruptModel(ValueError):
    """A cache file that is not a complete checkpoint of this format: names file and cause."""

    def __init__(self, path: Path, reason: str):
        self.path, self.reason = Path(path), reason
        super().__init__(f"{path}: {reason}")


class _WithoutText(ast.NodeTransformer):
    """Drops docstrings and string constants: messages and documentation do not decide a
    model, code and numbers do."""

    def visit_Constant(self, node: ast.Constant) -> ast.Constant:
        return ast.Constant("") if isinstance(node.value, str) else node


def code_version(*objects: object) -> str:
    """12 hex digits of the SHA-256 of the source of ``objects`` (modules, classes,
    functions) with docstrings and string constants removed: it changes when their code or
    numbers do, not when a message or a comment does."""
    digest = hashlib.sha256()
    for item in objects:
        tree = _WithoutText().visit(ast.parse(textwrap.dedent(inspect.getsource(item))))
        digest.update(ast.dump(tree, annotate_fields=False).encode())
    return digest.hexdigest()[:12]


def cache_file(cache_dir: Path, prefix: str, *parts: object) -> Path:
    """``cache_dir/<prefix>-<16 hex digits of the key parts' SHA-256>.pt``."""
    key = hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:16]
    return Path(cache_dir) / f"{prefix}-{key}.pt"


def save(payload: dict, path: Path) -> None:
    """Write ``payload`` (``torch.save``) with its checksum atomically: a unique temporary
    file beside ``path``, flushed and synced to disk, then renamed into place; concurrent
    savers never share a temporary file and readers never see a partial one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    content = buffer.getvalue()
    header = MAGIC + hashlib.sha256(content).hexdigest().encode() + b"\n"
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                         suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(header + content)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def load(path: Path) -> dict:
    """The payload :func:`save` wrote to ``path``; :class:`CorruptModel` if the file is not
    in this format, is truncated or changed (checksum) or does not unpickle."""
    path = Path(path)
    data = path.read_bytes()
    header, _, content = data.partition(b"\n")
    if not header.startswith(MAGIC):
        raise CorruptModel(path, "not a speechxai model file (written by another version "
                                 "or another program)")
    if hashlib.sha256(content).hexdigest().encode() != header[len(MAGIC):]:
        raise CorruptModel(path, "checksum mismatch: the file is truncated or was changed")
    try:
        return torch.load(io.BytesIO(content), weights_only=True, map_location="cpu")
    except Exception as error:  # torch raises many kinds on a bad archive
        raise CorruptModel(path, f"unreadable checkpoint ({type(error).__name__}: {error})") \
            from None


def _retrain_requested() -> bool:
    return os.environ.get(RETRAIN_ENV, "") not in ("", "0")


def load_or_train(path: Path, train: Callable[[Resume], dict], restore: Callable[[dict], T], *,
                  cached_only: bool = False, command: str | None = None) -> T:
    """``restore(payload)`` of the model cached at ``path``, or of ``train(resume)``'s payload,
    which is then cached. An unusable file (:class:`CorruptModel`, or ``restore`` failing on
    it: another network's weights) is reported with its path and trained again; with
    ``cached_only`` it raises :class:`ModelNotCached` instead, as a missing file does.
    ``$SPEECHXAI_RETRAIN`` trains again whatever is cached, from step 0. ``resume``
    (:class:`speechxai.resume.Resume`) holds the state an interrupted training of this model
    saved; it is removed once the model is saved."""
    path = Path(path)
    lock = contextlib.nullcontext() if cached_only else exclusive_lock(path)
    with lock:
        problem = None
        if path.exists() and not (_retrain_requested() and not cached_only):
            try:
                return restore(load(path))
            except CorruptModel as error:
                problem = error.reason
            except (RuntimeError, KeyError, TypeError) as error:  # weights of another network
                problem = f"does not fit the model ({type(error).__name__}: {error})"
        if cached_only:
            raise ModelNotCached(path, command, problem)
        if problem:
            print(f"model cache: {path} is unusable ({problem}); training it again")
        from speechxai.resume import Resume  # it saves with this module's save()

        resume = Resume(path)
        if _retrain_requested():
            resume.clear()
        payload = train(resume)
        save(payload, path)
        resume.clear()
        _log_trained(path)
        return restore(payload)


def _log_trained(path: Path) -> None:
    log = os.environ.get(TRAINED_LOG_ENV)
    if log:
        with open(log, "a") as file:
            file.write(f"{path.name}\n")
