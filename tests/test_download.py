"""The corpus downloader against archives served from 127.0.0.1: never the network."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import tarfile
import threading
import time
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from speechxai.datasets.download import (
    AUDIOMNIST_ARCHIVE,
    FSDD_ARCHIVE,
    TRUST_ENV,
    Archive,
    DownloadError,
    download,
    extract,
    fetch,
    fetch_into,
    manifest_path,
    read_record,
    record_path,
    verify_manifest,
    write_manifest,
)

PREFIX = "repo-main/data"
FILES = {
    "01/0_01_0.wav": b"RIFF zero",
    "01/1_01_0.wav": b"RIFF one" * 100,
    "meta.txt": bytes(range(256)) * 40,  # > 1 chunk of nothing in particular
}


class Handler(http.server.BaseHTTPRequestHandler):
    """``/<mode>/<file>`` serves ``server.directory/<file>``: mode ``ok``, ``short`` (half
    the bytes, then the connection closes), ``nolength`` (no Content-Length) or ``slow``
    (64 bytes every 50 ms)."""

    def do_GET(self):
        self.server.requests.append(self.path)
        mode, _, name = self.path.lstrip("/").partition("/")
        file = self.server.directory / name
        if not file.is_file():
            self.send_error(404)
            return
        data = file.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if mode != "nolength":
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if mode == "slow":  # a trickle: 64 bytes every 50 ms
            for start in range(0, len(data), 64):
                self.wfile.write(data[start:start + 64])
                self.wfile.flush()
                time.sleep(0.05)
        else:
            self.wfile.write(data[: len(data) // 2] if mode == "short" else data)
        self.close_connection = True

    def log_message(self, *args):
        pass


class Served:
    def __init__(self, httpd):
        self.httpd = httpd
        self.directory: Path = httpd.directory
        self.requests: list[str] = httpd.requests

    def url(self, name: str, mode: str = "ok") -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/{mode}/{name}"

    def archive(self, name: str, mode: str = "ok", **pins) -> Archive:
        pins = {"size": None, "sha256": None, **pins}
        return Archive(self.url(name, mode), name, member_prefix=PREFIX, name="corpus", **pins)


@pytest.fixture(autouse=True)
def trusted(monkeypatch):
    """The tests serve their own unpinned archives: their first copies are confirmed (the
    confirmation itself is tested on its own, with the variable removed)."""
    monkeypatch.setenv(TRUST_ENV, "1")


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for variable in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def server(tmp_path):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.directory = tmp_path / "served"
    httpd.directory.mkdir()
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield Served(httpd)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def make_tar(path: Path, files=FILES, prefix=PREFIX, extra=()) -> Path:
    """A .tar.gz of ``files`` under ``prefix``, a file outside it, and ``extra`` TarInfos
    given as (name, type, linkname, data)."""
    members = {"repo-main/README.md": b"readme"}
    members.update((f"{prefix}/{name}", data) for name, data in files.items())
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, kind, linkname, data in extra:
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.size = kind, linkname, len(data)
            tar.addfile(info, io.BytesIO(data) if data else None)
    return path


def make_zip(path: Path, files=FILES, prefix=PREFIX, extra=()) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(f"{prefix}/{name}", data)
        for name, data in extra:
            archive.writestr(name, data)
    return path


def contents(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def listing(folder: Path) -> list[str]:
    """Everything under ``folder`` but the lock files (``.locks/``, see speechxai.locking)."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if ".locks" not in p.relative_to(folder).parts)


def entries(folder: Path) -> list[str]:
    """The names in ``folder`` but the lock folder."""
    return sorted(p.name for p in folder.iterdir() if p.name != ".locks")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_known_archives_match_the_corpus_layouts():
    assert issubclass(DownloadError, RuntimeError)
    assert AUDIOMNIST_ARCHIVE.folder == "data" and FSDD_ARCHIVE.folder == "recordings"
    assert AUDIOMNIST_ARCHIVE.url.startswith("https://github.com/soerenab/AudioMNIST/")
    assert FSDD_ARCHIVE.member_prefix == "free-spoken-digit-dataset-1.0.10/recordings"
    assert AUDIOMNIST_ARCHIVE.sha256 is None and FSDD_ARCHIVE.size is None  # unknown, TOFU


@pytest.mark.parametrize("maker", [make_tar, make_zip], ids=["tar.gz", "zip"])
def test_download_and_extract(server, tmp_path, maker):
    name = "good.tar.gz" if maker is make_tar else "good.zip"
    data = maker(server.directory / name).read_bytes()
    target = tmp_path / "downloads" / name
    assert download(server.archive(name), target, progress=False) == target
    assert target.read_bytes() == data
    assert read_record(target) == (sha256(data), len(data))  # trust on first use
    assert record_path(target).read_text() == f"{sha256(data)}  {len(data)}\n"
    assert entries(target.parent) == [name, name + ".sha256"]
    out = extract(target, tmp_path / "out" / "data", PREFIX)
    assert contents(out) == FILES  # the prefix stripped, README.md outside it skipped
    assert listing(tmp_path / "out") == ["data", "data/01", *(f"data/{f}" for f in sorted(FILES))]


def test_pinned_hash_accepts_and_mismatch_leaves_nothing(server, tmp_path):
    data = make_tar(server.directory / "a.tar.gz").read_bytes()
    folder = tmp_path / "downloads"
    good = server.archive("a.tar.gz", sha256=sha256(data).upper(), size=len(data))
    download(good, folder / "good.tar.gz", progress=False)
    bad = server.archive("a.tar.gz", sha256="0" * 64)
    with pytest.raises(DownloadError, match=f"expected {'0' * 64}, got {sha256(data)}"):
        download(bad, folder / "bad.tar.gz", progress=False)
    wrong_size = server.archive("a.tar.gz", size=len(data) + 1)
    with pytest.raises(DownloadError, match=f"expected {len(data) + 1} bytes"):
        download(wrong_size, folder / "bad.tar.gz", progress=False)
    assert entries(folder) == ["good.tar.gz", "good.tar.gz.sha256"]


def test_short_read_leaves_nothing_and_a_retry_succeeds(server, tmp_path):
    data = make_tar(server.directory / "a.tar.gz").read_bytes()
    target = tmp_path / "downloads" / "a.tar.gz"
    with pytest.raises(DownloadError, match=f"got {len(data) // 2} of {len(data)} bytes"):
        download(server.archive("a.tar.gz", mode="short"), target, progress=False)
    assert entries(target.parent) == []
    download(server.archive("a.tar.gz"), target, progress=False)
    assert target.read_bytes() == data


def test_http_error_leaves_nothing(server, tmp_path):
    target = tmp_path / "downloads" / "missing.tar.gz"
    with pytest.raises(DownloadError, match="404"):
        download(server.archive("missing.tar.gz"), target, progress=False)
    assert entries(target.parent) == []


def test_no_content_length_with_a_progress_bar(server, tmp_path, capsys):
    data = make_tar(server.directory / "a.tar.gz").read_bytes()
    target = download(server.archive("a.tar.gz", mode="nolength"), tmp_path / "a.tar.gz")
    assert target.read_bytes() == data
    assert "a.tar.gz" in capsys.readouterr().err  # the bar was drawn, without a total


def test_verified_file_is_not_downloaded_again(server, tmp_path):
    data = make_tar(server.directory / "a.tar.gz").read_bytes()
    target = tmp_path / "a.tar.gz"
    pinned = server.archive("a.tar.gz", sha256=sha256(data))
    for archive in (pinned, server.archive("a.tar.gz")):  # pinned, then against the record
        download(archive, target, progress=False)
        download(archive, target, progress=False)
    assert len(server.requests) == 1
    target.write_bytes(data[:-1] + b"!")  # a damaged copy: fetched again
    download(server.archive("a.tar.gz"), target, progress=False)
    assert len(server.requests) == 2 and target.read_bytes() == data


def test_record_catches_a_changed_upstream_archive(server, tmp_path):
    make_tar(server.directory / "a.tar.gz")
    target = tmp_path / "downloads" / "a.tar.gz"
    download(server.archive("a.tar.gz"), target, progress=False)
    make_tar(server.directory / "a.tar.gz", files={"other.wav": b"other"})
    target.unlink()
    with pytest.raises(DownloadError, match="differs from the first download recorded"):
        download(server.archive("a.tar.gz"), target, progress=False)
    assert entries(target.parent) == ["a.tar.gz.sha256"]


def test_existing_file_without_pin_or_record_is_recorded_once_confirmed(server, tmp_path,
                                                                       monkeypatch, capsys):
    target = make_tar(tmp_path / "placed.tar.gz")  # e.g. copied by hand on an offline machine
    download(server.archive("absent.tar.gz"), target, progress=False)
    assert server.requests == [] and read_record(target).size == target.stat().st_size
    assert f"trusting the first copy (not pinned): {target}: sha256" in capsys.readouterr().out


def test_a_first_unpinned_download_is_not_trusted_silently(server, tmp_path, monkeypatch):
    monkeypatch.delenv(TRUST_ENV)
    data = make_tar(server.directory / "a.tar.gz").read_bytes()
    target = tmp_path / "downloads" / "a.tar.gz"
    with pytest.raises(DownloadError, match=f"sha256 {sha256(data)}.*not pinned.*"
                                            f"{TRUST_ENV}=1 to record it"):
        download(server.archive("a.tar.gz"), target, progress=False)
    assert target.read_bytes() == data and read_record(target) is None  # kept, not recorded
    with pytest.raises(DownloadError, match="not pinned"):  # still not, without confirmation
        download(server.archive("a.tar.gz"), target, progress=False)
    monkeypatch.setenv(TRUST_ENV, "1")
    download(server.archive("a.tar.gz"), target, progress=False)
    assert read_record(target).sha256 == sha256(data) and len(server.requests) == 1
    pinned = server.archive("a.tar.gz", sha256=sha256(data))  # a pinned hash needs no one
    monkeypatch.delenv(TRUST_ENV)
    other = tmp_path / "pinned" / "a.tar.gz"
    download(pinned, other, progress=False)
    assert other.read_bytes() == data


def test_truncated_archive_is_refused_and_a_retry_works(tmp_path):
    data = make_tar(tmp_path / "good.tar.gz").read_bytes()
    truncated = tmp_path / "cut.tar.gz"
    truncated.write_bytes(data[: len(data) - 40])
    before = listing(tmp_path)
    with pytest.raises(DownloadError, match="damaged or incomplete"):
        extract(truncated, tmp_path / "out", PREFIX)
    assert listing(tmp_path) == before
    assert contents(extract(tmp_path / "good.tar.gz", tmp_path / "out", PREFIX)) == FILES


def test_wrong_prefix_and_existing_destination_are_refused(tmp_path):
    archive = make_tar(tmp_path / "a.tar.gz")
    with pytest.raises(DownloadError, match="nothing under 'elsewhere'"):
        extract(archive, tmp_path / "out", "elsewhere")
    assert not (tmp_path / "out").exists()
    extract(archive, tmp_path / "out", PREFIX)
    with pytest.raises(DownloadError, match="already exists"):
        extract(archive, tmp_path / "out", PREFIX)


SYM, HARD = tarfile.SYMTYPE, tarfile.LNKTYPE
EVIL = {
    "tar ../ member": ("tar", [("../evil.txt", tarfile.REGTYPE, "", b"evil")], "'..'"),
    "tar .. inside prefix": (
        "tar", [(f"{PREFIX}/../../../evil.txt", tarfile.REGTYPE, "", b"evil")], "'..'"
    ),
    "tar absolute member": ("tar", [("{tmp}/abs-evil.txt", tarfile.REGTYPE, "", b"e")], "absolute"),
    "tar symlink ..": ("tar", [(f"{PREFIX}/link", SYM, "../../../../evil.txt", b"")], "symbolic"),
    "tar symlink absolute": ("tar", [(f"{PREFIX}/link", SYM, "/etc/passwd", b"")], "symbolic"),
    "tar symlink chain": (
        "tar", [(f"{PREFIX}/q", SYM, ".", b""), (f"{PREFIX}/p", SYM, "q/..", b"")], "resolves"
    ),
    "tar hardlink outside": ("tar", [(f"{PREFIX}/h", HARD, "/etc/passwd", b"")], "absolute"),
    "tar hardlink outside prefix": ("tar", [(f"{PREFIX}/h", HARD, "repo-main/README.md", b"")],
                                    "outside the kept"),
    "tar device": ("tar", [(f"{PREFIX}/dev", tarfile.CHRTYPE, "", b"")], "unsupported"),
    "zip ../ member": ("zip", [("../evil.txt", b"evil")], "'..'"),
    "zip absolute member": ("zip", [("{tmp}/abs-evil.txt", b"evil")], "absolute"),
}  # fmt: skip


@pytest.mark.parametrize("case", EVIL.values(), ids=EVIL.keys())
def test_members_leaving_the_destination_are_refused(tmp_path, case):
    kind, extra, why = case
    extra = [(name.format(tmp=tmp_path), *rest) for name, *rest in extra]
    maker, suffix = (make_tar, "tar.gz") if kind == "tar" else (make_zip, "zip")
    (tmp_path / "archives").mkdir()
    archive = maker(tmp_path / "archives" / f"evil.{suffix}", extra=extra)
    (tmp_path / "work").mkdir()
    before = listing(tmp_path)
    with pytest.raises(DownloadError, match="refusing.*" + why) as error:
        extract(archive, tmp_path / "work" / "out", PREFIX)
    assert repr(extra[-1][0]) in str(error.value)  # names the member
    assert listing(tmp_path) == before  # nothing outside, no destination, no temporary folder
    assert not (tmp_path.parent / "evil.txt").exists()


def test_links_inside_the_destination_are_kept(tmp_path):
    extra = [
        (f"{PREFIX}/01/again.wav", SYM, "0_01_0.wav", b""),
        (f"{PREFIX}/copy.wav", HARD, f"{PREFIX}/01/1_01_0.wav", b""),
    ]
    out = extract(make_tar(tmp_path / "a.tar.gz", extra=extra), tmp_path / "out", PREFIX)
    assert (out / "01/again.wav").is_symlink() and (
        out / "01/again.wav"
    ).read_bytes() == b"RIFF zero"
    assert (out / "copy.wav").read_bytes() == FILES["01/1_01_0.wav"]


def test_manifest_detects_changed_missing_and_extra_files(tmp_path):
    folder = tmp_path / "corpus"
    for name, data in FILES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    manifest = write_manifest(folder, tmp_path / "corpus.manifest.json")
    recorded = json.loads(manifest.read_text())["files"]
    assert list(recorded) == sorted(FILES)
    assert recorded["meta.txt"] == {"sha256": sha256(FILES["meta.txt"]), "size": 10240}
    assert verify_manifest(folder, manifest) == []
    (folder / "01/0_01_0.wav").write_bytes(b"RIFF nine")  # same size, other bytes
    (folder / "01/1_01_0.wav").write_bytes(b"short")
    (folder / "meta.txt").unlink()
    (folder / "new.wav").write_bytes(b"new")
    assert verify_manifest(folder, manifest) == [
        "changed: 01/0_01_0.wav (sha256 differs)",
        "changed: 01/1_01_0.wav (size 800 -> 5)",
        "missing: meta.txt",
        "extra: new.wav",
    ]
    assert len(verify_manifest(folder, manifest, hashes=False)) == 3  # sizes only
    inside = write_manifest(folder, folder / "MANIFEST.json")  # leaves itself out
    assert verify_manifest(folder, inside) == [] and "MANIFEST.json" not in inside.read_text()
    assert list(tmp_path.glob(".*")) == []  # no temporary files left


def test_fetch_lays_out_a_corpus_and_is_idempotent(server, tmp_path):
    make_tar(server.directory / "a.tar.gz")
    archive = server.archive("a.tar.gz")
    folder = fetch(archive, tmp_path / "data", progress=False)
    assert folder == tmp_path / "data" / "corpus" / "data" and contents(folder) == FILES
    assert listing(tmp_path / "data" / "corpus") == sorted(
        ["data", "data.manifest.json", "downloads", "downloads/a.tar.gz",
         "downloads/a.tar.gz.sha256", "data/01", *(f"data/{f}" for f in FILES)]
    )  # fmt: skip
    assert verify_manifest(folder, manifest_path(folder)) == []
    assert fetch(archive, tmp_path / "data", progress=False) == folder
    assert len(server.requests) == 1
    (folder / "meta.txt").unlink()
    with pytest.raises(DownloadError, match="missing: meta.txt"):
        fetch_into(archive, folder.parent, "data", verify=True)


def test_fetch_into_after_a_failed_download_retries(server, tmp_path):
    make_tar(server.directory / "a.tar.gz")
    with pytest.raises(DownloadError):
        fetch_into(server.archive("a.tar.gz", mode="short"), tmp_path / "c", "data", progress=False)
    assert listing(tmp_path / "c") == ["downloads"]
    folder = fetch_into(server.archive("a.tar.gz"), tmp_path / "c", "data", progress=False)
    assert contents(folder) == FILES


def test_archive_validates_its_fields():
    with pytest.raises(ValueError, match="64 hex"):
        replace(FSDD_ARCHIVE, sha256="abc")
    with pytest.raises(ValueError, match="'..'"):
        replace(FSDD_ARCHIVE, member_prefix="a/../../b")
    assert replace(FSDD_ARCHIVE, member_prefix="/a/b/").member_prefix == "a/b"


def test_audiomnist_download_true_fetches_and_loads(server, tmp_path, monkeypatch):
    """The corpus class end to end: a tiny AudioMNIST archive served from 127.0.0.1."""
    import dataclasses

    import numpy as np
    import soundfile

    from speechxai.datasets import AudioMNIST, download

    wavs = {}
    for speaker, digit in [("01", 3), ("56", 7)]:
        buffer = io.BytesIO()
        tone = 0.3 * np.sin(np.arange(24000) * 0.05)
        soundfile.write(buffer, tone, 48000, format="WAV", subtype="PCM_16")
        wavs[f"{speaker}/{digit}_{speaker}_0.wav"] = buffer.getvalue()
    wavs["audioMNIST_meta.txt"] = b'{"01": {"gender": "male"}, "56": {"gender": "female"}}'
    make_tar(
        server.directory / "AudioMNIST-master.tar.gz", files=wavs, prefix="AudioMNIST-master/data"
    )
    served = dataclasses.replace(
        download.AUDIOMNIST_ARCHIVE, url=server.url("AudioMNIST-master.tar.gz")
    )
    monkeypatch.setattr(download, "AUDIOMNIST_ARCHIVE", served)
    with pytest.raises(FileNotFoundError, match="download=True"):
        AudioMNIST(tmp_path / "corpus")
    corpus = AudioMNIST(tmp_path / "corpus", download=True)
    assert corpus.speakers == ["01", "56"] and corpus.sex("56") == "female"
    assert corpus[1].digit == 7 and corpus[1].sample_rate == 48000
    AudioMNIST(tmp_path / "corpus", download=True)  # present: no second request
    assert len(server.requests) == 1


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_an_archive_that_expands_a_thousandfold_is_refused(tmp_path, kind):
    bomb = {"01/0_01_0.wav": bytes(30 * 2**20)}  # 30 MiB of zeros compress to ~30 KiB
    if kind == "zip":
        path = tmp_path / "bomb.zip"
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(f"{PREFIX}/01/0_01_0.wav", bomb["01/0_01_0.wav"])
    else:
        path = make_tar(tmp_path / "bomb.tar.gz", files=bomb)
    assert path.stat().st_size < 2**20
    destination = tmp_path / "data"
    with pytest.raises(DownloadError, match="expands beyond .* decompression bomb"):
        extract(path, destination, PREFIX)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # nothing left behind


def test_an_unpinned_download_larger_than_the_cap_is_refused(server, tmp_path):
    (server.directory / "big.bin").write_bytes(bytes(3 * 2**20))
    target = tmp_path / "downloads" / "big.bin"
    with pytest.raises(DownloadError, match="more than 2,097,152 bytes, the most accepted"):
        download(server.archive("big.bin"), target, progress=False, max_bytes=2 * 2**20)
    assert entries(target.parent) == []
    download(server.archive("big.bin"), target, progress=False, max_bytes=4 * 2**20)
    assert target.stat().st_size == 3 * 2**20


def test_a_trickling_server_meets_the_overall_deadline(server, tmp_path):
    make_tar(server.directory / "a.tar.gz")
    target = tmp_path / "downloads" / "a.tar.gz"
    started = time.monotonic()
    with pytest.raises(DownloadError, match="took longer than 0 s"):
        download(server.archive("a.tar.gz", mode="slow"), target, progress=False, deadline=0.3)
    assert time.monotonic() - started < 10 and entries(target.parent) == []


def test_temporaries_of_killed_downloads_are_removed_on_the_next_fetch(server, tmp_path):
    make_tar(server.directory / "a.tar.gz")
    downloads = tmp_path / "c" / "downloads"
    downloads.mkdir(parents=True)
    stale = [downloads / ".a.tar.gz.4242-0123abcd.part",
             tmp_path / "c" / ".data.4242-89abcdef.partial"]
    stale[0].write_bytes(b"half an archive")
    stale[1].mkdir()
    keep = downloads / ".notes.txt"
    keep.write_text("mine")
    folder = fetch_into(server.archive("a.tar.gz"), tmp_path / "c", "data", progress=False)
    assert contents(folder) == FILES
    assert not any(path.exists() for path in stale) and keep.exists()


def _fetch(url_archive, root):
    fetch_into(url_archive, root, "data", progress=False)


def test_concurrent_fetches_into_one_folder_download_once(server, tmp_path):
    import multiprocessing

    make_tar(server.directory / "a.tar.gz")
    archive = server.archive("a.tar.gz")
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_fetch, args=(archive, tmp_path / "c")) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0, 0, 0]
    assert server.requests == ["/ok/a.tar.gz"]
    assert contents(tmp_path / "c" / "data") == FILES
