"""Download and unpack the real corpora: streamed, verified, atomic, safe to retry.

Layout made by `fetch_into` (and `fetch`), everything for a corpus under its own root::

    <root>/downloads/<archive.filename>           the archive, kept for re-extraction
    <root>/downloads/<archive.filename>.sha256    "<sha256>  <size>" recorded on first download
    <root>/<folder>/                              the kept part of the archive
    <root>/<folder>.manifest.json                 size and SHA-256 of every extracted file

Nothing half-done is ever left at a final path: downloads and extractions go to hidden
temporary siblings that are renamed into place only when complete, and removed on failure,
so calling again simply starts over; temporaries that a killed process left behind are removed
by the next fetch. One process at a time fetches into a folder (a lock in ``<root>/.locks/``):
a second one waits and then finds the corpus there. A download of unpinned size stops at
`MAX_UNPINNED_BYTES`, every download at `DEADLINE` seconds, and an extraction that would
expand the archive more than `MAX_EXPANSION_RATIO`-fold (or beyond `MAX_EXTRACTED_BYTES`)
stops as a likely decompression bomb.

The GitHub archives' sizes and hashes are not pinned (``None``): they were written without
internet access, and GitHub generates these archives on the fly (a branch archive changes
with every commit). Their first download is therefore not trusted silently: its hash is
printed and the download stops until the user confirms it (``SPEECHXAI_TRUST_UNPINNED=1``,
`TRUST_ENV`) or pins it; the confirmed copy is recorded, and later uses verify against that
record. Pin ``size`` and ``sha256`` in an `Archive` to verify against known values, as
`LIBRISPEECH_ARCHIVE` does.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import secrets
import shutil
import stat
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, NamedTuple

from speechxai.locking import exclusive_lock
from speechxai.progress import tqdm

CHUNK_SIZE = 1 << 20
TIMEOUT = 60.0
DEADLINE = 4 * 3600.0
"""Seconds a whole download may take."""
MAX_UNPINNED_BYTES = 10 * 2**30
"""Largest download accepted from an archive whose size is not pinned."""
USER_AGENT = "speechxai/0.1 (corpus downloader; Python urllib)"
MANIFEST_VERSION = 1


class DownloadError(RuntimeError):
    """A download, verification or extraction failed; the message says what and how to retry."""


class Digest(NamedTuple):
    """SHA-256 hex digest and size in bytes of a file."""

    sha256: str
    size: int


def _is_absolute(name: str) -> bool:
    return name.startswith("/") or re.match(r"[A-Za-z]:", name) is not None


def _member_parts(name: str, what: str | None = None) -> tuple[str, ...]:
    """Path components of an archive member name, refusing absolute paths and ``..``."""
    what = what or f"archive member {name!r}"
    normal = name.replace("\\", "/")
    if _is_absolute(normal):
        raise DownloadError(f"refusing {what}: absolute path {name!r}")
    parts = tuple(part for part in normal.split("/") if part not in ("", "."))
    if ".." in parts:
        raise DownloadError(f"refusing {what}: '..' in {name!r} leads outside the destination")
    return parts


def _prefix_parts(prefix: str) -> tuple[str, ...]:
    try:
        return _member_parts(prefix.strip("/\\"), what=f"member prefix {prefix!r}")
    except DownloadError as error:
        raise ValueError(str(error)) from None


@dataclass(frozen=True)
class Archive:
    """A remote archive of a corpus, and which folder of it to keep.

    Parameters
    ----------
    url
        Where to download the archive from.
    filename
        File name for the downloaded archive (``.tar.gz``, ``.tgz``, ``.tar`` or ``.zip``).
    size, sha256
        Size in bytes and SHA-256 hex digest, or ``None`` when unknown: the first download
        is then recorded once the user confirms its printed hash (see `download`).
    member_prefix
        Folder inside the archive to keep, e.g. ``"AudioMNIST-master/data"``; extracted with
        the prefix stripped. ``""`` keeps everything.
    name
        Short name of the corpus (``"audiomnist"``): its folder under a data root in `fetch`.
    """

    url: str
    filename: str
    size: int | None
    sha256: str | None
    member_prefix: str
    name: str

    def __post_init__(self):
        if self.sha256 is not None:
            if not re.fullmatch(r"[0-9a-fA-F]{64}", self.sha256):
                raise ValueError(f"sha256 must be 64 hex digits, not {self.sha256!r}")
            object.__setattr__(self, "sha256", self.sha256.lower())
        if self.size is not None and self.size < 0:
            raise ValueError(f"size must be >= 0, not {self.size}")
        if not self.filename or "/" in self.filename or "\\" in self.filename:
            raise ValueError(f"filename must be a plain file name, not {self.filename!r}")
        object.__setattr__(self, "member_prefix", "/".join(_prefix_parts(self.member_prefix)))

    @property
    def folder(self) -> str:
        """Last component of ``member_prefix`` (``"data"``): the folder `fetch` extracts to."""
        return PurePosixPath(self.member_prefix).name or self.name


AUDIOMNIST_ARCHIVE = Archive(
    url="https://github.com/soerenab/AudioMNIST/archive/refs/heads/master.tar.gz",
    filename="AudioMNIST-master.tar.gz",
    size=None,  # unknown: no internet when this was written; recorded on first download
    sha256=None,
    member_prefix="AudioMNIST-master/data",
    name="audiomnist",
)

FSDD_ARCHIVE = Archive(
    url="https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/v1.0.10.tar.gz",
    filename="free-spoken-digit-dataset-1.0.10.tar.gz",
    size=None,  # unknown: no internet when this was written; recorded on first download
    sha256=None,
    member_prefix="free-spoken-digit-dataset-1.0.10/recordings",
    name="fsdd",
)

LIBRISPEECH_ARCHIVE = Archive(
    url="https://www.openslr.org/resources/12/dev-clean.tar.gz",
    filename="dev-clean.tar.gz",
    size=337_926_286,
    sha256="76f87d090650617fca0cac8f88b9416e0ebf80350acb97b343a85fa903728ab3",
    member_prefix="LibriSpeech",
    name="librispeech-speakers",
)
"""LibriSpeech dev-clean (OpenSLR 12; 40 speakers, 20 female; CC BY 4.0), read by
`LibriSpeechSpeakers` from ``LibriSpeech/``. Pinned: its size and the
SHA-256 that torchaudio's ``datasets/librispeech.py`` checks this URL against (neither
recomputed here: no internet when this was written)."""


# ---------------------------------------------------------------------------- downloading


def file_digest(path: Path) -> Digest:
    """SHA-256 and size of the file at ``path``, read in chunks."""
    hasher = hashlib.sha256()
    size = 0
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK_SIZE):
            hasher.update(chunk)
            size += len(chunk)
    return Digest(hasher.hexdigest(), size)


def record_path(target: Path) -> Path:
    """Where `download` records the digest of ``target``: ``<target>.sha256``."""
    target = Path(target)
    return target.with_name(target.name + ".sha256")


def read_record(target: Path) -> Digest | None:
    """The digest recorded for ``target`` by an earlier download, or ``None``."""
    path = record_path(target)
    if not path.is_file():
        return None
    match = re.fullmatch(r"\s*([0-9a-f]{64})\s+(\d+)\s*", path.read_text(encoding="ascii"))
    if match is None:
        raise DownloadError(f"{path}: not a '<sha256>  <size>' record; delete it to re-trust")
    return Digest(match[1], int(match[2]))


def download(archive: Archive, target: Path, progress: bool = True, *, timeout=TIMEOUT,
             deadline: float = DEADLINE, max_bytes: int = MAX_UNPINNED_BYTES) -> Path:
    """Download ``archive.url`` to ``target``, verified, atomically.

    The body is streamed in chunks (with a ``tqdm`` bar sized from Content-Length, when
    sent) into a hidden temporary file next to ``target`` that is renamed into place only
    once complete and verified; on any failure it is deleted, so a call again starts over.

    Verification: pinned ``archive.size``/``archive.sha256`` when given; otherwise the
    digest recorded in ``<target>.sha256`` (see `record_path`) by the first download, which
    is verified only against Content-Length and so is recorded only once the user confirms
    its printed hash (``$SPEECHXAI_TRUST_UNPINNED=1``; else :class:`DownloadError`, the file
    kept). The record is (re)written after every successful download.

    Parameters
    ----------
    archive
        What to download and what it must hash to.
    target
        Final path of the file; its folder is created.
    progress
        Show a progress bar.
    timeout
        Seconds to wait for the server on connect and on each read.
    deadline
        Seconds the whole download may take (a server trickling bytes never ends otherwise).
    max_bytes
        Largest download accepted when ``archive.size`` is not pinned.

    One process at a time downloads ``target`` (a lock beside it: a second one waits, then
    finds the file verified); temporaries of downloads that were killed are removed first.

    Returns
    -------
    Path
        ``target``. If it already existed and verified, nothing was downloaded (an existing
        file with neither pin nor record is recorded once confirmed, as a first download).

    Raises
    ------
    DownloadError
        Network or HTTP failure, short read, or size/SHA-256 mismatch (naming expected and
        got). No file is left at ``target`` and no temporary file next to it.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(target):
        _remove_stale_temporaries(target.parent)
        return _download(archive, target, progress, timeout, deadline, max_bytes)


def _download(archive: Archive, target: Path, progress: bool, timeout, deadline: float,
              max_bytes: int) -> Path:
    if target.is_file():
        digest, record = file_digest(target), read_record(target)
        if not _mismatches(archive, digest, record, target):
            if record is None:
                _confirm_unpinned(archive, target, digest)
                _write_record(target, digest)
            return target
        target.unlink()  # damaged or changed copy: fetch a fresh one
    first = read_record(target) is None
    digest = _download_verified(archive, target, progress, timeout, deadline, max_bytes)
    if first:
        _confirm_unpinned(archive, target, digest)
    _write_record(target, digest)
    return target


TRUST_ENV = "SPEECHXAI_TRUST_UNPINNED"
"""Set to 1 to accept (and record) the first copy of an archive whose SHA-256 is not pinned."""


def _confirm_unpinned(archive: Archive, target: Path, digest: Digest) -> None:
    """Nothing vouches for the first copy of an archive without a pinned SHA-256: print its
    hash and accept it only when ``$SPEECHXAI_TRUST_UNPINNED`` is 1; otherwise raise, keeping
    the file, so that a run with the variable set records it without downloading again."""
    if archive.sha256 is not None:
        return
    seen = f"{target}: sha256 {digest.sha256}, {digest.size:,} bytes, from {archive.url}"
    if os.environ.get(TRUST_ENV, "") == "1":
        print(f"trusting the first copy (not pinned): {seen}")
        return
    raise DownloadError(
        f"{seen}; this archive's hash is not pinned, so nothing vouches for this first copy. "
        f"Compare the hash with the publisher's, then pin it (Archive(sha256=..., size=...)) "
        f"or run again with {TRUST_ENV}=1 to record it (the file stays, nothing is downloaded "
        f"again)")


def _mismatches(archive: Archive, got: Digest, record: Digest | None, target: Path) -> list[str]:
    """What does not match: the pins first, else the trust-on-first-use record."""
    problems = []
    if archive.size is not None and got.size != archive.size:
        problems.append(f"size: expected {archive.size} bytes, got {got.size}")
    if archive.sha256 is not None:
        if got.sha256 != archive.sha256:
            problems.append(f"sha256: expected {archive.sha256}, got {got.sha256}")
    elif record is not None and got != record:
        problems.append(
            f"differs from the first download recorded in {record_path(target)}: expected "
            f"sha256 {record.sha256} ({record.size} bytes), got {got.sha256} ({got.size} "
            f"bytes). The upstream archive changed, or this copy is damaged; delete the record "
            f"to trust the new archive"
        )
    return problems


def _download_verified(archive: Archive, target: Path, progress: bool, timeout,
                       deadline: float, max_bytes: int) -> Digest:
    url = archive.url
    limit = archive.size if archive.size is not None else max_bytes
    started = time.monotonic()
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    with _temporary_sibling(target, ".part") as temporary:
        try:
            with (
                urllib.request.urlopen(request, timeout=timeout) as response,
                open(temporary, "xb") as out,
            ):
                length = response.headers.get("Content-Length", "").strip()
                expected = int(length) if length.isdigit() else None
                if None not in (archive.size, expected) and expected != archive.size:
                    raise DownloadError(
                        f"{url}: size mismatch: expected {archive.size} bytes, the server "
                        f"announces {expected}"
                    )
                hasher = hashlib.sha256()
                got = 0
                bar = tqdm(
                    total=expected,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=archive.filename,
                    disable=not progress,
                )
                with bar:
                    while chunk := response.read1(CHUNK_SIZE):  # what has arrived
                        out.write(chunk)
                        hasher.update(chunk)
                        got += len(chunk)
                        bar.update(len(chunk))
                        if got > limit:
                            raise DownloadError(
                                f"{url}: size mismatch: expected {archive.size} bytes, got more"
                                if archive.size is not None else
                                f"{url}: more than {max_bytes:,} bytes, the most accepted from "
                                "an archive of unpinned size (pass max_bytes to allow more)")
                        if time.monotonic() - started > deadline:
                            raise DownloadError(
                                f"downloading {url} took longer than {deadline:.0f} s (got {got:,} "
                                "bytes): the server is too slow; call again to retry")
                out.flush()
                os.fsync(out.fileno())
        except DownloadError:
            raise
        except (OSError, http.client.HTTPException) as error:  # URLError, HTTPError, timeouts
            raise DownloadError(
                f"downloading {url} failed: {error}. Call again to retry (from scratch), or "
                f"download it yourself and save it as {target}"
            ) from error
        if expected is not None and got != expected:
            raise DownloadError(
                f"downloading {url} was interrupted: got {got} of {expected} bytes "
                f"(Content-Length). Call again to retry"
            )
        digest = Digest(hasher.hexdigest(), got)
        problems = _mismatches(archive, digest, read_record(target), target)
        if problems:
            raise DownloadError(f"{url} -> {target}: " + "; ".join(problems))
        os.replace(temporary, target)
    return digest


def _write_record(target: Path, digest: Digest) -> None:
    write_atomically(record_path(target), f"{digest.sha256}  {digest.size}\n".encode())


# ---------------------------------------------------------------------------- extracting


@dataclass
class _Member:
    name: str
    kind: str  # "file", "dir", "symlink", "hardlink" or "other"
    link: str = ""
    open: Callable[[], IO[bytes]] | None = None


def extract(archive_path: Path, destination: Path, member_prefix: str = "") -> Path:
    """Extract the members under ``member_prefix`` of a .tar(.gz)/.tgz or .zip archive.

    Parameters
    ----------
    archive_path
        The archive; its format is told by its name, else by its content.
    destination
        Folder to create; it must not exist yet. Members land there with ``member_prefix``
        stripped, e.g. ``AudioMNIST-master/data/01/x.wav`` -> ``destination/01/x.wav``.
    member_prefix
        Folder inside the archive to keep (``""``: everything); other members are skipped.

    Returns
    -------
    Path
        ``destination``, created only when everything was extracted: the work happens in a
        hidden temporary sibling, removed on failure.

    Raises
    ------
    DownloadError
        A member that could land outside the destination (absolute path, ``..`` component,
        symbolic or hard link resolving outside), an unsupported member type, nothing under
        ``member_prefix``, a damaged archive, or an existing ``destination``.
    """
    archive_path, destination = Path(archive_path), Path(destination)
    prefix = _prefix_parts(member_prefix)
    if destination.exists() or destination.is_symlink():
        raise DownloadError(f"{destination} already exists; remove it to extract again")
    destination.parent.mkdir(parents=True, exist_ok=True)
    with _temporary_sibling(destination, ".partial") as temporary:
        temporary.mkdir()
        try:
            budget = _ExpansionBudget(archive_path)
            with _members(archive_path) as members:
                kept = _extract_members(members, temporary, prefix, budget)
        except DownloadError:
            raise
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, OSError) as error:
            raise DownloadError(
                f"cannot extract {archive_path} ({type(error).__name__}: {error}): damaged or "
                f"incomplete archive? Delete it and download again"
            ) from error
        if not kept:
            raise DownloadError(f"{archive_path} holds nothing under {member_prefix!r}")
        os.replace(temporary, destination)
    return destination


@contextmanager
def _members(path: Path) -> Iterator[Iterator[_Member]]:
    name = path.name.lower()
    is_zip = name.endswith(".zip") or (
        not name.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz"))
        and zipfile.is_zipfile(path)
    )
    if is_zip:
        with zipfile.ZipFile(path) as archive:
            yield _zip_members(archive)
    else:
        with tarfile.open(path, "r:*") as archive:
            yield _tar_members(archive)


def _tar_members(archive: tarfile.TarFile) -> Iterator[_Member]:
    for info in archive:  # lazily: one pass over a compressed stream
        if info.isreg():
            yield _Member(info.name, "file", open=lambda info=info: archive.extractfile(info))
        elif info.isdir():
            yield _Member(info.name, "dir")
        elif info.issym():
            yield _Member(info.name, "symlink", info.linkname)
        elif info.islnk():
            yield _Member(info.name, "hardlink", info.linkname)
        else:
            yield _Member(info.name, "other")


def _zip_members(archive: zipfile.ZipFile) -> Iterator[_Member]:
    for info in archive.infolist():
        if info.is_dir():
            yield _Member(info.filename, "dir")
        elif stat.S_ISLNK(info.external_attr >> 16):
            link = archive.read(info).decode("utf-8", errors="surrogateescape")
            yield _Member(info.filename, "symlink", link)
        else:
            yield _Member(info.filename, "file", open=lambda info=info: archive.open(info))


MAX_EXPANSION_RATIO = 50
"""Extracted bytes per archive byte beyond which extraction stops: audio archives expand by
1-2x (WAV in a zip, FLAC in a tar), a decompression bomb by thousands."""
MAX_EXTRACTED_BYTES = 50 * 2**30
"""Extracted bytes beyond which extraction stops, whatever the archive's size."""


class _ExpansionBudget:
    """Counts extracted bytes against :data:`MAX_EXPANSION_RATIO` times the archive's size
    and :data:`MAX_EXTRACTED_BYTES`, whichever is smaller."""

    def __init__(self, archive_path: Path):
        self.archive_path = archive_path
        self.limit = min(MAX_EXTRACTED_BYTES,
                         MAX_EXPANSION_RATIO * max(archive_path.stat().st_size, 1))
        self.used = 0

    def copy(self, source: IO[bytes], out: IO[bytes]) -> None:
        while chunk := source.read(CHUNK_SIZE):
            self.used += len(chunk)
            if self.used > self.limit:
                raise DownloadError(
                    f"{self.archive_path} expands beyond {self.limit:,} bytes "
                    f"({MAX_EXPANSION_RATIO}x its {self.archive_path.stat().st_size:,} bytes or "
                    f"{MAX_EXTRACTED_BYTES:,} at most): refusing a likely decompression bomb")
            out.write(chunk)


def _extract_members(members: Iterator[_Member], root: Path, prefix: tuple[str, ...],
                     budget: _ExpansionBudget) -> int:
    """Write the members under ``prefix`` into ``root``, within ``budget``; symbolic links
    last, so that no file is ever written through one. Returns how many members were kept."""
    kept = 0
    links = []
    for member in members:
        parts = _member_parts(member.name)  # checks every member, kept or not
        if parts[: len(prefix)] != prefix or len(parts) == len(prefix):
            continue
        relative = parts[len(prefix) :]
        path = root.joinpath(*relative)
        if member.kind == "dir":
            path.mkdir(parents=True, exist_ok=True)
        elif member.kind == "file":
            path.parent.mkdir(parents=True, exist_ok=True)
            with member.open() as source, open(path, "wb") as out:
                budget.copy(source, out)
        elif member.kind == "symlink":
            if _lexically_outside(relative[:-1], member.link):
                raise _refuse(member, f"symbolic link to {member.link!r} leaves the destination")
            links.append((member, path))
        elif member.kind == "hardlink":
            source = _member_parts(member.link, what=f"hard link target of {member.name!r}")
            inside = source[: len(prefix)] == prefix and len(source) > len(prefix)
            source_path = root.joinpath(*source[len(prefix) :])
            if not inside or not source_path.is_file():
                raise _refuse(member, f"hard link to {member.link!r} outside the kept files")
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(source_path, "rb") as source, open(path, "wb") as out:
                budget.copy(source, out)
        else:
            raise _refuse(member, "unsupported member type (device, fifo...)")
        kept += 1
    for member, path in links:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(member.link, path)
    real_root = os.path.realpath(root)
    for member, path in links:  # chains of links can escape where each alone does not
        if os.path.commonpath([real_root, os.path.realpath(path)]) != real_root:
            raise _refuse(member, f"symbolic link to {member.link!r} resolves outside")
    return kept


def _refuse(member: _Member, why: str) -> DownloadError:
    return DownloadError(f"refusing archive member {member.name!r}: {why}")


def _lexically_outside(folder: tuple[str, ...], link: str) -> bool:
    normal = link.replace("\\", "/")
    if _is_absolute(normal):
        return True
    parts = list(folder)
    for part in normal.split("/"):
        if part == "..":
            if not parts:
                return True
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return False


# ---------------------------------------------------------------------------- manifests


def manifest_path(folder: Path) -> Path:
    """Where `fetch_into` keeps the manifest of ``folder``: ``<folder>.manifest.json``."""
    folder = Path(folder)
    return folder.with_name(folder.name + ".manifest.json")


def _files(folder: Path, exclude: Path) -> dict[str, Path]:
    files = {}
    exclude = exclude.resolve()
    for directory, subfolders, names in os.walk(folder):
        subfolders.sort()
        for name in sorted(names):
            path = Path(directory, name)
            if path.resolve() != exclude:
                files[path.relative_to(folder).as_posix()] = path
    return files


def write_manifest(folder: Path, path: Path) -> Path:
    """Record the relative path, size and SHA-256 of every file under ``folder``.

    Written as sorted JSON, atomically, to ``path`` (which is left out if inside
    ``folder``). Returns ``path``; see `verify_manifest`.
    """
    folder, path = Path(folder), Path(path)
    files = {}
    for relative, file in _files(folder, path).items():
        digest = file_digest(file)
        files[relative] = {"sha256": digest.sha256, "size": digest.size}
    text = json.dumps({"version": MANIFEST_VERSION, "files": files}, indent=1, sort_keys=True)
    write_atomically(path, (text + "\n").encode())
    return path


def verify_manifest(folder: Path, path: Path, *, hashes: bool = True) -> list[str]:
    """Compare ``folder`` with the manifest at ``path``.

    Parameters
    ----------
    folder, path
        The folder and its manifest (from `write_manifest`).
    hashes
        Also compare SHA-256 (slow for a large corpus); ``False`` compares sizes only.

    Returns
    -------
    list of str
        Problems, sorted by path: ``"missing: <path>"``, ``"changed: <path> (...)"``,
        ``"extra: <path>"``; empty when the folder matches.
    """
    folder, path = Path(folder), Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        expected = data["files"]
        if data.get("version") != MANIFEST_VERSION or not isinstance(expected, dict):
            raise ValueError("unknown layout")
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"{path}: not a manifest ({error})") from None
    present = _files(folder, path) if folder.is_dir() else {}
    problems = []
    for relative in sorted(set(expected) | set(present)):
        if relative not in present:
            problems.append(f"missing: {relative}")
        elif relative not in expected:
            problems.append(f"extra: {relative}")
        else:
            size = present[relative].stat().st_size
            if size != expected[relative]["size"]:
                problems.append(
                    f"changed: {relative} (size {expected[relative]['size']} -> {size})"
                )
            elif hashes and file_digest(present[relative]).sha256 != expected[relative]["sha256"]:
                problems.append(f"changed: {relative} (sha256 differs)")
    return problems


# ---------------------------------------------------------------------------- fetching


def fetch_into(
    archive: Archive,
    root: Path,
    folder: str,
    *,
    downloads: Path | None = None,
    progress: bool = True,
    verify: bool = False,
) -> Path:
    """Make sure ``root / folder`` holds the kept part of ``archive``; idempotent.

    Downloads into ``downloads`` (default ``root / "downloads"``, the archive is kept for
    re-extraction: delete it to save space), extracts into ``root / folder`` and writes its
    manifest (`manifest_path`). An existing ``root / folder`` is returned as is, checked
    against its manifest (sizes only) when ``verify``.

    Returns
    -------
    Path
        ``root / folder``.
    """
    destination = Path(root) / folder
    with exclusive_lock(destination):  # a second fetch into the same folder waits, then reuses
        _remove_stale_temporaries(Path(root))
        return _fetch_into(archive, root, destination, downloads, progress, verify)


def _fetch_into(archive: Archive, root: Path, destination: Path, downloads: Path | None,
                progress: bool, verify: bool) -> Path:
    if destination.is_dir():
        manifest = manifest_path(destination)
        if verify and manifest.is_file():
            problems = verify_manifest(destination, manifest, hashes=False)
            if problems:
                shown = "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else "")
                raise DownloadError(
                    f"{destination} does not match {manifest}: {shown}. Delete the folder to "
                    f"extract it again"
                )
        return destination
    downloads = Path(downloads) if downloads is not None else Path(root) / "downloads"
    archive_path = download(archive, downloads / archive.filename, progress)
    extract(archive_path, destination, archive.member_prefix)
    write_manifest(destination, manifest_path(destination))
    return destination


def fetch(archive: Archive, root: Path, *, progress: bool = True) -> Path:
    """Download and extract ``archive`` under the data root ``root``; idempotent.

    Everything goes under ``root / archive.name`` (see the module docstring): e.g.
    ``root/audiomnist/downloads/AudioMNIST-master.tar.gz`` and ``root/audiomnist/data/``,
    the layout `AudioMNIST` and `FSDD` read.

    Returns
    -------
    Path
        The extracted folder, ``root / archive.name / archive.folder``.
    """
    return fetch_into(archive, Path(root) / archive.name, archive.folder, progress=progress)


# ---------------------------------------------------------------------------- helpers


_TEMPORARY = re.compile(r"\..+\.\d+-[0-9a-f]{8}\.(part|partial|tmp)")
"""Names :func:`_temporary_sibling` gives."""


def _remove_stale_temporaries(folder: Path) -> None:
    """Remove the temporaries that killed downloads or extractions left in ``folder`` and
    its ``downloads/``; called under the lock, so none of them belongs to a live fetch."""
    for parent in (folder, folder / "downloads"):
        if not parent.is_dir():
            continue
        for path in parent.iterdir():
            if _TEMPORARY.fullmatch(path.name):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)


@contextmanager
def _temporary_sibling(path: Path, suffix: str) -> Iterator[Path]:
    """A unique hidden path next to ``path`` (same file system, so ``os.replace`` is atomic),
    removed on exit if still present."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}{suffix}")
    try:
        yield temporary
    finally:
        if temporary.is_dir() and not temporary.is_symlink():
            shutil.rmtree(temporary, ignore_errors=True)
        else:
            temporary.unlink(missing_ok=True)


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with _temporary_sibling(path, ".tmp") as temporary:
        with open(temporary, "xb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
