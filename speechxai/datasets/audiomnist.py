"""AudioMNIST (Becker et al. 2018): 60 speakers x 10 digits x 50 repetitions, 48 kHz.

The original layout is kept: ``<root>/data/<speaker>/<digit>_<speaker>_<rep>.wav`` and
``<root>/data/audioMNIST_meta.txt`` (JSON despite its name; ``age`` is sometimes a string).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

from speechxai import audio
from speechxai.datasets.corpus import DigitCorpus, Entry, data_root

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


class AudioMNIST(DigitCorpus):
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

    def __init__(self, root: str | Path | None = None, download: bool = False):
        self.root = Path(root) if root is not None else data_root() / "audiomnist"
        folder = self.root / "data"
        if not folder.is_dir() and download:
            from speechxai.datasets.download import AUDIOMNIST_ARCHIVE, fetch_into

            fetch_into(AUDIOMNIST_ARCHIVE, self.root, "data")
        if not folder.is_dir():
            raise FileNotFoundError(
                f"AudioMNIST not found: no folder {folder}. Pass download=True to fetch it "
                f"(about 1 GB), or point $SPEECHXAI_DATA_DIR at a folder holding audiomnist/"
            )
        self.paths = sorted(folder.glob("*/*.wav"))
        entries = []
        for path in self.paths:
            match = FILE_PATTERN.fullmatch(path.name)
            if match is None or match["speaker"] != path.parent.name:
                raise ValueError(f"{path}: not an AudioMNIST file name <digit>_<speaker>_<rep>")
            entries.append(Entry(int(match["digit"]), match["speaker"], int(match["rep"])))
        if not entries:
            raise FileNotFoundError(f"AudioMNIST folder {folder} holds no <speaker>/*.wav")
        meta = folder / "audioMNIST_meta.txt"
        super().__init__(entries, parse_metadata(meta) if meta.exists() else {})

    def _load(self, index: int) -> tuple[torch.Tensor, int]:
        return audio.load(self.paths[index])
