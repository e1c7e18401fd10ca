"""LibriSpeech speakers (Panayotov et al. 2015) as 1-s speech crops for the sex task.

Layouts read under ``root``, in any mix:

- ``librispeech_<subset>/`` folders holding ``<speaker>-<chapter>-<utterance>.flac`` files
  directly or under ``<speaker>/``, each with its ``SPEAKERS.TXT`` (the shared test copy);
- the original ``LibriSpeech/<subset>/<speaker>/<chapter>/*.flac`` with
  ``LibriSpeech/SPEAKERS.TXT``: what ``download=True`` unpacks (OpenSLR's dev-clean).

Items follow the AudioMNIST frame: ``crop_seconds`` windows of speech. Each utterance is
cut into non-overlapping windows, each starting at a speech frame (a 10-ms frame within
``SPEECH_DB`` dB, RMS, of the utterance's loudest) and kept when at least ``MIN_SPEECH`` of
its frames are speech (see `speech_windows`). Every file is read once to find its
windows; the result is cached as JSON under ``data_root()``, keyed by this rule and the
files' names and sizes, so that later opens (with any seed or crop count) read no audio.
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from itertools import zip_longest
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from speechxai.datasets.corpus import DATA_DIR_ENV, NO_DIGIT, DigitCorpus, Entry, data_root
from speechxai.progress import tqdm

FILE_PATTERN = re.compile(r"(?P<speaker>\d+)-(?P<chapter>\d+)-(?P<utterance>\d+)\.flac")
SEX = {"F": "female", "M": "male"}
FRAME_SECONDS = 0.01
SPEECH_DB = 30.0
"""A frame is speech when its RMS is within this many dB of the utterance's loudest."""
MIN_SPEECH = 0.5
"""A window is kept when at least this fraction of its frames are speech."""
INDEX_VERSION = 1  # bump when the crop rule or the cached index's layout changes


class Crop(NamedTuple):
    """Where an item comes from: samples ``start:stop`` of the file at ``path``."""

    path: Path
    start: int
    stop: int


def parse_speakers(path: Path) -> dict[str, dict]:
    """Speaker metadata of a ``SPEAKERS.TXT`` (``ID | SEX | SUBSET | MINUTES | NAME``).

    Lines starting with ``;`` and lines with fewer than two fields are skipped; fields are
    stripped, and a name may itself hold ``|`` (speaker 60 is ``|CBW|Simon``). Sex
    ``F``/``M`` becomes ``gender`` ``"female"``/``"male"``; another value leaves it out.
    """
    speakers = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        fields = [field.strip() for field in line.split("|", 4)]
        if line.lstrip().startswith(";") or len(fields) < 2 or not fields[0]:
            continue
        fields += [""] * (5 - len(fields))
        speaker = {"subset": fields[2], "name": fields[4]}
        if fields[1].upper() in SEX:
            speaker["gender"] = SEX[fields[1].upper()]
        speakers[fields[0]] = speaker
    return speakers


def read_utterance(path: Path) -> tuple[torch.Tensor, int]:
    """One utterance without its DC offset: some readers' recordings carry one of up to a
    quarter of full scale, which no listener hears and which would pass for speech energy."""
    from speechxai import audio

    waveform, rate = audio.load(path)
    return waveform - waveform.mean(), rate


def speech_windows(waveform: np.ndarray, sample_rate: int, crop_seconds: float) -> list[int]:
    """Start samples of non-overlapping ``crop_seconds`` windows that are mostly speech.

    Frames of ``FRAME_SECONDS`` count as speech within ``SPEECH_DB`` dB (RMS) of the loudest
    frame of the whole waveform. Windows are tried left to right, each starting at a speech
    frame: the first one, then the first at or after the end of the last kept window (or
    after the start of the last refused one). A window is kept when at least ``MIN_SPEECH``
    of the frames lying wholly inside it are speech and it ends within the waveform.
    """
    frame = max(1, round(FRAME_SECONDS * sample_rate))
    length = round(crop_seconds * sample_rate)
    n_frames = len(waveform) // frame
    if n_frames == 0:
        return []
    power = np.square(waveform[: n_frames * frame], dtype=np.float64).reshape(n_frames, frame)
    level = 10 * np.log10(power.mean(axis=1) + 1e-20)
    speech = np.flatnonzero(level >= level.max() - SPEECH_DB)
    count = np.searchsorted(speech, np.arange(n_frames + 1))  # speech frames before each
    inside = length // frame
    starts, first = [], 0
    while first < len(speech) and speech[first] * frame + length <= len(waveform):
        start = speech[first]
        if count[start + inside] - count[start] >= MIN_SPEECH * inside:
            starts.append(int(start) * frame)
            first = count[min(start - (-length // frame), n_frames)]
        else:
            first += 1
    return starts


def spread(windows: list[list[int]], n: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """Up to ``n`` ``(utterance, start)`` pairs from ``windows`` (per utterance, the starts
    of its speech windows), spread over the utterances: each utterance's windows in a
    seeded order, taken one per utterance in turn, the utterances in a seeded order. Sorted.
    """
    pools = [[(u, int(start)) for start in rng.permutation(w)] for u, w in enumerate(windows)]
    turns = zip_longest(*(pools[i] for i in rng.permutation(len(pools))))
    return sorted([crop for turn in turns for crop in turn if crop is not None][:n])


class LibriSpeechSpeakers(DigitCorpus):
    """LibriSpeech speakers as ``crop_seconds`` crops of speech (sex task only).

    Parameters
    ----------
    root
        Folder holding ``librispeech_<subset>/`` folders and/or ``LibriSpeech/``; default
        ``$SPEECHXAI_DATA_DIR/librispeech-speakers`` or ``data/librispeech-speakers``.
    download
        When ``root`` holds neither, fetch OpenSLR's dev-clean (338 MB, 40 speakers) into
        ``root/LibriSpeech`` (`speechxai.datasets.download.LIBRISPEECH_ARCHIVE`).
    crop_seconds
        Length of every item, in seconds.
    crops_per_speaker
        Most crops kept per speaker, spread over their utterances: a seeded shuffle of each
        utterance's speech windows, taken round-robin over the utterances in a seeded order.
    seed
        Seed of that choice; a speaker's crops depend only on ``seed`` and the speaker.

    Attributes
    ----------
    crops : list of Crop
        File and sample span of every item.
    """

    name = "LibriSpeech"
    default_folder = "librispeech-speakers"

    def __init__(
        self,
        root: str | Path | None = None,
        download: bool = False,
        crop_seconds: float = 1.0,
        crops_per_speaker: int = 8,
        seed: int = 0,
    ):
        if not crop_seconds >= FRAME_SECONDS:
            raise ValueError(f"crop_seconds must be at least {FRAME_SECONDS}, not {crop_seconds}")
        if crops_per_speaker < 1:
            raise ValueError(f"crops_per_speaker must be at least 1, not {crops_per_speaker}")
        self.root = Path(root) if root is not None else data_root() / self.default_folder
        self.crop_seconds = float(crop_seconds)
        if not self._subsets() and download:
            from speechxai.datasets import download as downloads

            archive = downloads.LIBRISPEECH_ARCHIVE
            downloads.fetch_into(archive, self.root, archive.folder)
        subsets = self._subsets()
        if not subsets:
            raise FileNotFoundError(
                f"{self.name} not found: no librispeech_<subset>/ or LibriSpeech/ folder in "
                f"{self.root}. Pass download=True to fetch dev-clean (338 MB), or point "
                f"${DATA_DIR_ENV} at a folder holding {self.default_folder}/"
            )
        files, metadata = {}, {}  # per speaker: their files, their metadata
        for subset, folder in subsets:
            for path in sorted(folder.rglob("*.flac")):
                match = FILE_PATTERN.fullmatch(path.name)
                if match is None:
                    raise ValueError(f"{path}: not a <speaker>-<chapter>-<utterance>.flac name")
                files.setdefault(match["speaker"], []).append(path)
                metadata.setdefault(match["speaker"], {"subset": subset})
        if not files:
            raise FileNotFoundError(f"{self.name} folder {self.root} holds no .flac files")
        tables = [folder / "SPEAKERS.TXT" for _, folder in subsets]
        for table in [*tables, self.root / "LibriSpeech" / "SPEAKERS.TXT"]:
            if table.is_file():
                for speaker, fields in parse_speakers(table).items():
                    if speaker in metadata:
                        metadata[speaker].update(fields)
        windows = self._windows([path for paths in files.values() for path in paths])
        self.crops, entries = [], []
        for speaker, paths in sorted(files.items()):
            rng = np.random.default_rng([seed, zlib.crc32(speaker.encode())])
            chosen = spread([windows[path][1] for path in paths], crops_per_speaker, rng)
            for repetition, (utterance, start) in enumerate(chosen):
                rate, _ = windows[paths[utterance]]
                self.crops.append(Crop(paths[utterance], start, start + round(crop_seconds * rate)))
                entries.append(Entry(NO_DIGIT, speaker, repetition))
        self._decoded = (None, None, 0)
        super().__init__(entries, {s: metadata[s] for s in {e.speaker for e in entries}})

    def _subsets(self) -> list[tuple[str, Path]]:
        """``(subset, folder)`` of every subset folder under ``root``, in both layouts."""
        subsets = [
            (folder.name.removeprefix("librispeech_"), folder)
            for folder in sorted(self.root.glob("librispeech_*"))
            if folder.is_dir()
        ]
        original = self.root / "LibriSpeech"
        if original.is_dir():
            subsets += [(f.name, f) for f in sorted(original.iterdir()) if f.is_dir()]
        return subsets

    def _windows(self, paths: list[Path]) -> dict[Path, tuple[int, list[int]]]:
        """Sample rate and `speech_windows` of every file, from the cached index or by
        reading each file once (then cached)."""
        from speechxai.datasets.download import write_atomically

        names = [path.relative_to(self.root).as_posix() for path in paths]
        key = {
            "version": INDEX_VERSION,
            "crop_seconds": self.crop_seconds,
            "rule": [FRAME_SECONDS, SPEECH_DB, MIN_SPEECH, "dc removed"],
            "files": [[name, path.stat().st_size] for name, path in zip(names, paths, strict=True)],
        }
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
        self.index_path = data_root() / f"librispeech-crops-{digest}.json"
        try:
            index = json.loads(self.index_path.read_text(encoding="utf-8"))
            if not isinstance(index, dict) or sorted(index) != sorted(names):
                raise ValueError("not an index of these files")
        except (OSError, ValueError):
            index = {}
            bar = tqdm(
                zip(names, paths, strict=True),
                total=len(paths),
                leave=False,
                desc=f"finding speech in {self.name}",
                unit="file",
            )
            for name, path in bar:
                waveform, rate = read_utterance(path)
                index[name] = [rate, speech_windows(waveform.numpy(), rate, self.crop_seconds)]
            write_atomically(self.index_path, json.dumps(index).encode())
        return {path: tuple(index[name]) for name, path in zip(names, paths, strict=True)}

    def _load(self, index: int) -> tuple[torch.Tensor, int]:
        crop = self.crops[index]
        if self._decoded[0] != crop.path:  # items in order share files: decode each once
            self._decoded = (crop.path, *read_utterance(crop.path))
        _, waveform, rate = self._decoded
        return waveform[crop.start : crop.stop].clone(), rate

    def __repr__(self) -> str:
        sexes = [self.sex(speaker) for speaker in self.speakers]
        return (
            f"{self.name}({len(self)} crops of {self.crop_seconds:g} s, {len(sexes)} speakers: "
            f"{sexes.count('female')} female, {sexes.count('male')} male; root={self.root})"
        )
