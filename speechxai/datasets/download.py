"""Download and unpack the real corpora: streamed, verified, atomic, safe to retry.

Layout made by `fetch_into` (and `fetch`), everything for a corpus under its own root::

    <root>/downloads/<archive.filename>           the archive, kept for re-extraction
    <root>/downloads/<archive.filename>.sha256    "<sha256>  <size>" recorded on first download
    <root>/<folder>/                              the kept part of the archive
    <root>/<folder>.manifest.json                 size and SHA-256 of every extracted file

Nothing half-done is ever left at a final path: downloads and extractions go to hidden
temporary siblings that are renamed into place only when complete, and removed on failure,
so calling again simply starts over.

The GitHub archives' sizes and hashes are not pinned (``None``): they were written without
internet access, and GitHub generates these archives on the fly (a branch archive changes
with every commit). The first download is therefore trusted and recorded, and later uses
verify against that record: this catches a damaged or changed copy, not a bad first
download. Pin ``size`` and ``sha256`` in an `Archive` to verify against known values, as
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
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, NamedTuple

from tqdm import tqdm

CHUNK_SIZE = 1 << 20
TIMEOUT = 60.0
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
        is then trusted and recorded (see `download`).
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


def download(archive: Archive, target: Path, progress: bool = True, *, timeout=TIMEOUT) -> Path:
    """Download ``archive.url`` to ``target``, verified, atomically.

    The body is streamed in chunks (with a ``tqdm`` bar sized from Content-Length, when
    sent) into a hidden temporary file next to ``target`` that is renamed into place only
    once complete and verified; on any failure it is deleted, so a call again starts over.

    Verification: pinned ``archive.size``/``archive.sha256`` when given; otherwise the
    digest recorded in ``<target>.sha256`` (see `record_path`) by the first download
    (trust on first use: that first download itself is verified only against
    Content-Length). The record is (re)written after every successful download.

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

    Returns
    -------
    Path
        ``target``. If it already existed and verified, nothing was downloaded (an existing
        file with neither pin nor record is trusted and recorded).

    Raises
    ------
    DownloadError
        Network or HTTP failure, short read, or size/SHA-256 mismatch (naming expected and
        got). No file is left at ``target`` and no temporary file next to it.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_file():
        digest, record = file_digest(target), read_record(target)
        if not _mismatches(archive, digest, record, target):
            if record is None:
                _write_record(target, digest)
            return target
        target.unlink()  # damaged or changed copy: fetch a fresh one
    digest = _download_verified(archive, target, progress, timeout)
    _write_record(target, digest)
    return target


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


def _download_verified(archive: Archive, target: Path, progress: bool, timeout) -> Digest:
    url = archive.url
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
                    while chunk := response.read(CHUNK_SIZE):
                        out.write(chunk)
                        hasher.update(chunk)
                        got += len(chunk)
                        bar.update(len(chunk))
                        if archive.size is not None and got > archive.size:
                            raise DownloadError(
                                f"{url}: size mismatch: expected {archive.size} bytes, got more"
                            )
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
    _write_atomically(record_path(target), f"{digest.sha256}  {digest.size}\n".encode())


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
            with _members(archive_path) as members:
                kept = _extract_members(members, temporary, prefix)
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


def _extract_members(members: Iterator[_Member], root: Path, prefix: tuple[str, ...]) -> int:
    """Write the members under ``prefix`` into ``root``; symbolic links last, so that no
    file is ever written through one. Returns how many members were kept."""
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
                shutil.copyfileobj(source, out, CHUNK_SIZE)
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
            shutil.copyfile(source_path, path)
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
    _write_atomically(path, (text + "\n").encode())
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


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with _temporary_sibling(path, ".tmp") as temporary:
        with open(temporary, "xb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
