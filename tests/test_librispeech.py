"""LibriSpeech speakers as 1-s speech crops: both layouts, the crop rule, the cached index,
the download through a server on 127.0.0.1, and the shared real folder."""

from __future__ import annotations

import dataclasses
import io
import json
import re
from collections import Counter

import numpy as np
import pytest
import soundfile
import test_download
from test_download import make_tar, sha256

from speechxai import audio
from speechxai.datasets import LibriSpeechSpeakers, download
from speechxai.datasets.corpus import NO_DIGIT
from speechxai.datasets.download import DownloadError, manifest_path, verify_manifest
from speechxai.datasets.librispeech import parse_speakers, speech_windows

server, no_proxy = test_download.server, test_download.no_proxy  # archives on 127.0.0.1
RATE = 16000
SPEAKERS_100 = """\
; Some pipe(|) separated metadata about all LibriVox readers
;ID  |SEX| SUBSET           |MINUTES| NAME

19   | F | train-clean-100  | 25.19 | Kara Shallenberg
60   | M | train-clean-100  | 20.18 | |CBW|Simon
5561|m|train-clean-100|25.0|Lower Case
not a table line
"""
SPEAKERS_OTHER = ";ID|SEX|SUBSET|MINUTES|NAME\n1688\t|  F |test-other|\t10.0 | Tabs\n"


def utterance(*parts: float) -> np.ndarray:
    """A tone for each positive duration (s), near-silence (-66 dB) for each negative one."""
    rng = np.random.default_rng(0)
    pieces = []
    for seconds in parts:
        n = round(abs(seconds) * RATE)
        if seconds > 0:
            pieces.append(0.3 * np.sin(2 * np.pi * 200 * np.arange(n) / RATE))
        else:
            pieces.append(1e-4 * rng.standard_normal(n))
    return np.concatenate(pieces).astype(np.float32)


def write_flac(path, waveform) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, waveform, RATE, format="FLAC", subtype="PCM_16")


def flac_bytes(waveform) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, waveform, RATE, format="FLAC", subtype="PCM_16")
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    """The cached indexes go to a fresh data root."""
    folder = tmp_path / "data"
    monkeypatch.setenv("SPEECHXAI_DATA_DIR", str(folder))
    return folder


@pytest.fixture
def root(tmp_path):
    """The shared copy's layout: a flat subset and one with speaker folders."""
    root = tmp_path / "librispeech-speakers"
    flat, nested = root / "librispeech_train-clean-100", root / "librispeech_test-other"
    write_flac(flat / "19-198-0000.flac", utterance(-0.5, 3.2, -0.4))  # 3 windows
    write_flac(flat / "60-121082-0000.flac", utterance(1.0, -2.0, 1.0))  # 2: the pause dropped
    write_flac(flat / "5561-39621-0000.flac", utterance(0.3, -1.0, 0.3))  # none: too little
    for k in range(10):  # 3 windows each
        write_flac(nested / "1688" / f"1688-142285-{k:04d}.flac", utterance(1, -0.2, 1, -0.2, 1))
    (flat / "SPEAKERS.TXT").write_text(SPEAKERS_100)
    (nested / "SPEAKERS.TXT").write_text(SPEAKERS_OTHER)
    return root


def test_speaker_table_is_parsed_defensively(root):
    table = parse_speakers(root / "librispeech_train-clean-100" / "SPEAKERS.TXT")
    assert table == {
        "19": {"subset": "train-clean-100", "name": "Kara Shallenberg", "gender": "female"},
        "60": {"subset": "train-clean-100", "name": "|CBW|Simon", "gender": "male"},
        "5561": {"subset": "train-clean-100", "name": "Lower Case", "gender": "male"},
    }
    other = parse_speakers(root / "librispeech_test-other" / "SPEAKERS.TXT")
    assert other["1688"]["gender"] == "female" and other["1688"]["name"] == "Tabs"


def test_speech_windows_start_at_speech_and_need_half_their_frames_speech():
    second = RATE
    assert speech_windows(utterance(-0.5, 2.0, -0.3), RATE, 1.0) == [second // 2, 3 * second // 2]
    # 60% speech kept; then every window from 1.4 s on holds at most 40%: refused
    assert speech_windows(utterance(0.6, -0.8, 0.4, -1.0), RATE, 1.0) == [0]
    quiet = utterance(1.0, -1.0)
    quiet[second:] += utterance(1.0)[:second] * 10 ** (-20 / 20)  # 20 dB down: still speech
    assert speech_windows(quiet, RATE, 1.0) == [0, second]
    quiet[second:] *= 10 ** (-20 / 20)  # 40 dB down: not speech
    assert speech_windows(quiet, RATE, 1.0) == [0]
    assert speech_windows(utterance(0.9), RATE, 1.0) == []  # shorter than one window
    assert speech_windows(utterance(1.01)[:16010], RATE, 1.0005) == [0]  # 100.05 frames long
    assert speech_windows(utterance(-2.0)[:0], RATE, 1.0) == []


def test_crops_counts_sex_and_items(root):
    corpus = LibriSpeechSpeakers(root)
    assert corpus.name == "LibriSpeech" and corpus.speakers == ["1688", "19", "60"]  # not 5561
    assert Counter(e.speaker for e in corpus.entries) == {"1688": 8, "19": 3, "60": 2}
    assert [e.repetition for e in corpus.entries if e.speaker == "19"] == [0, 1, 2]
    assert [c.start for c in corpus.crops if "19-" in c.path.name] == [8000, 24000, 40000]
    assert [c.start for c in corpus.crops if "60-" in c.path.name] == [0, 3 * RATE]  # no pause
    assert [corpus.sex(s) for s in corpus.speakers] == ["female", "female", "male"]
    assert corpus.labels("sex").tolist() == [0] * 11 + [1] * 2
    assert corpus.speaker_metadata["60"]["name"] == "|CBW|Simon"
    assert corpus.speaker_metadata["1688"]["subset"] == "test-other"
    for index in range(len(corpus)):
        item = corpus[index]
        assert item.waveform.shape == (RATE,) and item.sample_rate == RATE
        assert item.digit == NO_DIGIT and item.word == ""
        assert float(item.waveform.pow(2).mean().sqrt()) > 0.15  # tone throughout: no pause
    assert repr(corpus).startswith("LibriSpeech(13 crops of 1 s, 3 speakers: 2 female, 1 male")
    with pytest.raises(ValueError, match="LibriSpeech has no digits.*task='sex'"):
        corpus.labels("digit")


def test_crops_are_spread_over_utterances_and_seeded(root):
    def crops(**kwargs):
        return [c for c in LibriSpeechSpeakers(root, **kwargs).crops if "1688" in c.path.name]

    chosen = crops(crops_per_speaker=8)
    assert len({c.path for c in chosen}) == 8  # 8 of the 10 utterances, one crop each
    assert chosen == crops(crops_per_speaker=8) and chosen != crops(crops_per_speaker=8, seed=1)
    assert len(crops(crops_per_speaker=25)) == 25 and len(crops(crops_per_speaker=99)) == 30
    half = LibriSpeechSpeakers(root, crop_seconds=0.5)
    assert {c.stop - c.start for c in half.crops} == {RATE // 2}


def test_the_index_is_cached_and_rebuilt_when_a_file_changes(root, data_dir, monkeypatch):
    first = LibriSpeechSpeakers(root)
    assert first.index_path.parent == data_dir
    assert re.fullmatch(r"librispeech-crops-[0-9a-f]{16}\.json", first.index_path.name)
    index = json.loads(first.index_path.read_text())
    assert index["librispeech_train-clean-100/19-198-0000.flac"] == [RATE, [8000, 24000, 40000]]
    load = audio.load

    def refuse(path, sr=None):
        raise AssertionError(f"{path} read again")

    monkeypatch.setattr(audio, "load", refuse)
    again = LibriSpeechSpeakers(root, crops_per_speaker=2, seed=5)  # any count or seed
    assert again.index_path == first.index_path and len(again) == 6
    monkeypatch.setattr(audio, "load", load)
    write_flac(root / "librispeech_train-clean-100" / "19-198-0000.flac", utterance(1.0))
    changed = LibriSpeechSpeakers(root)
    assert changed.index_path != first.index_path and len(changed) == 11
    assert sorted(p.name for p in data_dir.iterdir()) == sorted(
        [first.index_path.name, changed.index_path.name]
    )  # written atomically: no temporary files left


def test_missing_folder_says_how_to_get_it(tmp_path, data_dir):
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "absent"))) as error:
        LibriSpeechSpeakers(tmp_path / "absent")
    assert "download=True" in str(error.value) and "$SPEECHXAI_DATA_DIR" in str(error.value)
    with pytest.raises(FileNotFoundError, match=re.escape(str(data_dir / "librispeech-speakers"))):
        LibriSpeechSpeakers()
    (tmp_path / "empty" / "librispeech_dev-clean").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="holds no .flac files"):
        LibriSpeechSpeakers(tmp_path / "empty")


def test_archive_is_dev_clean_pinned():
    archive = download.LIBRISPEECH_ARCHIVE
    assert archive.url == "https://www.openslr.org/resources/12/dev-clean.tar.gz"
    assert archive.size == 337_926_286 and len(archive.sha256) == 64
    assert archive.folder == "LibriSpeech"


def test_download_true_fetches_verifies_extracts_and_opens(server, tmp_path, monkeypatch):
    files = {
        "SPEAKERS.TXT": b";ID|SEX|SUBSET|MINUTES|NAME\n1272 | M | dev-clean | 1 | A\n"
        b"2277 | F | dev-clean | 1 | B\n",
        "README.TXT": b"LibriSpeech",
        "dev-clean/1272/128104/1272-128104-0000.flac": flac_bytes(utterance(2.5)),
        "dev-clean/1272/128104/1272-128104.trans.txt": b"1272-128104-0000 A B C\n",
        "dev-clean/2277/149896/2277-149896-0000.flac": flac_bytes(utterance(-0.2, 1.3)),
    }
    data = make_tar(server.directory / "dev-clean.tar.gz", files, prefix="LibriSpeech")
    data = data.read_bytes()
    served = dataclasses.replace(
        download.LIBRISPEECH_ARCHIVE,
        url=server.url("dev-clean.tar.gz"),
        size=len(data),
        sha256=sha256(data),
    )
    root = tmp_path / "librispeech"
    monkeypatch.setattr(
        download, "LIBRISPEECH_ARCHIVE", dataclasses.replace(served, sha256="0" * 64)
    )
    with pytest.raises(DownloadError, match="sha256: expected 0000"):
        LibriSpeechSpeakers(root, download=True)
    assert not (root / "LibriSpeech").exists()
    monkeypatch.setattr(download, "LIBRISPEECH_ARCHIVE", served)
    corpus = LibriSpeechSpeakers(root, download=True)
    assert Counter(e.speaker for e in corpus.entries) == {"1272": 2, "2277": 1}
    assert corpus.sex("1272") == "male" and corpus.sex("2277") == "female"
    assert corpus.speaker_metadata["2277"]["subset"] == "dev-clean"
    assert corpus[2].waveform.shape == (RATE,)
    folder = root / "LibriSpeech"
    assert verify_manifest(folder, manifest_path(folder)) == []
    assert (root / "downloads" / "dev-clean.tar.gz").read_bytes() == data
    LibriSpeechSpeakers(root, download=True)  # present: no second request
    assert len(server.requests) == 2  # the refused download, then the good one


def test_the_shared_librispeech_speakers(shared_data):
    folder = shared_data / "librispeech-speakers"
    if not folder.is_dir():
        pytest.skip(f"real LibriSpeech speakers not available: no folder {folder}")
    corpus = LibriSpeechSpeakers(folder)
    sexes = Counter(corpus.sex(speaker) for speaker in corpus.speakers)
    assert len(corpus.speakers) == 261 and sexes["female"] > 100 and sexes["male"] > 100
    assert max(Counter(e.speaker for e in corpus.entries).values()) == 8
    for index in range(len(corpus)):
        item = corpus[index]
        assert item.waveform.shape == (RATE,) and item.sample_rate == RATE
        assert float(item.waveform.pow(2).mean().sqrt()) > 10 ** (-50 / 20), corpus.crops[index]


def test_a_dc_offset_is_removed_per_utterance(tmp_path):
    root = tmp_path / "librispeech-speakers"
    subset = root / "librispeech_train-clean-100"
    write_flac(subset / "19-198-0000.flac", utterance(3.0) + 0.25)  # the tone over +0.25 DC
    (subset / "SPEAKERS.TXT").write_text(SPEAKERS_100)
    corpus = LibriSpeechSpeakers(root)
    waveforms = np.concatenate([corpus[i].waveform.numpy() for i in range(len(corpus))])
    assert len(corpus) == 3
    assert abs(waveforms.mean()) < 1e-3
    assert waveforms.max() == pytest.approx(0.3, abs=0.01)  # the tone's amplitude is kept
