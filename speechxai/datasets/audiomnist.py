"""AudioMNIST (Becker et al. 2018): 60 speakers x 10 digits x 50 repetitions, 48 kHz.

The original layout is kept: ``<root>/data/<speaker>/<digit>_<speaker>_<rep>.wav`` and
``<root>/data/audioMNIST_meta.txt`` (JSON despite its name; ``age`` is sometimes a string).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from speechxai.datasets.corpus import Entry, WavCorpus

FILE_PATTERN = re.compile(r"(?P<digit>\d)_(?P<speaker>\d{2})_(?P<rep>\d+)\.wav")


def parse_metadata(path: Path) -> dict[str, dict]:
    """Speaker metadata keyed by two-digit speaker id, tolerant of the file's quirks:
    ages given as strings (or implausible, like "1234") become ``age_years`` int or None,
    gender is lower-cased, and a speaker without a dict entry gets an empty one."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a JSON object keyed by speaker id")
    speakers = {}
    for key, fields in raw.items():
        fields = dict(fields) if isinstance(fields, dict) else {}
        if "gender" in fields:
            fields["gender"] = str(fields["gender"]).strip().lower()
        try:
            age = int(str(fields.get("age", "")).strip())
        except ValueError:
            age = None
        fields["age_years"] = age if age is not None and 0 < age < 120 else None
        speakers[f"{int(key):02d}" if str(key).isdigit() else str(key)] = fields
    return speakers


class AudioMNIST(WavCorpus):
    """The real AudioMNIST corpus.

    Parameters
    ----------
    root
        Folder holding ``data/``; default ``$SPEECHXAI_DATA_DIR/audiomnist`` or
        ``data/audiomnist``.
    download
        Fetch the corpus (about 1 GB) from its GitHub repository when it is missing.
    """

    name = "AudioMNIST"
    default_folder = "audiomnist"
    wav_folder = "data"
    glob = "*/*.wav"
    file_pattern = FILE_PATTERN
    archive = "AUDIOMNIST_ARCHIVE"

    def __init__(self, root: str | Path | None = None, download: bool = False):
        super().__init__(root, download, size_hint=" (about 1 GB)")

    def read_metadata(self, folder: Path, entries: list[Entry]) -> dict[str, dict]:
        for path, entry in zip(self.paths, entries, strict=True):
            if entry.speaker != path.parent.name:
                raise ValueError(f"{path}: speaker {entry.speaker} filed under {path.parent}")
        meta = folder / "audioMNIST_meta.txt"
        return parse_metadata(meta) if meta.exists() else {}
