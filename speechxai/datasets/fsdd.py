"""Free Spoken Digit Dataset (FSDD): 6 male speakers x 10 digits x 50 recordings, 8 kHz.

Layout: ``<root>/recordings/<digit>_<speaker>_<index>.wav`` and, optionally, the speaker
metadata ``<root>/metadata.py`` (a Python dict, read with ``ast.literal_eval``: never run).
Its speakers are all male, so it serves the digit task only.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import torch

from speechxai import audio
from speechxai.datasets.corpus import DigitCorpus, Entry, data_root

FILE_PATTERN = re.compile(r"(?P<digit>\d)_(?P<speaker>[a-z]+)_(?P<rep>\d+)\.wav")


def parse_metadata(path: Path) -> dict[str, dict]:
    """The ``metadata = {...}`` literal of FSDD's ``metadata.py``, without executing it."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "metadata" for target in node.targets
        ):
            return {
                str(speaker): {str(k): v for k, v in dict(fields).items()}
                for speaker, fields in ast.literal_eval(node.value).items()
            }
    raise ValueError(f"{path}: no `metadata = {{...}}` dictionary")


class FSDD(DigitCorpus):
    """The Free Spoken Digit Dataset (digit task only).

    Parameters
    ----------
    root
        Folder holding ``recordings/``; default ``$SPEECHXAI_DATA_DIR/fsdd`` or ``data/fsdd``.
    download
        Fetch the corpus from its GitHub repository when it is missing.
    """

    name = "FSDD"

    def __init__(self, root: str | Path | None = None, download: bool = False):
        self.root = Path(root) if root is not None else data_root() / "fsdd"
        folder = self.root / "recordings"
        if not folder.is_dir() and download:
            from speechxai.datasets.download import FSDD_ARCHIVE, fetch_into

            fetch_into(FSDD_ARCHIVE, self.root, "recordings")
        if not folder.is_dir():
            raise FileNotFoundError(
                f"FSDD not found: no folder {folder}. Pass download=True to fetch it, or "
                f"point $SPEECHXAI_DATA_DIR at a folder holding fsdd/"
            )
        self.paths = sorted(folder.glob("*.wav"))
        entries = []
        for path in self.paths:
            match = FILE_PATTERN.fullmatch(path.name)
            if match is None:
                raise ValueError(f"{path}: not an FSDD file name <digit>_<speaker>_<index>.wav")
            entries.append(Entry(int(match["digit"]), match["speaker"], int(match["rep"])))
        if not entries:
            raise FileNotFoundError(f"FSDD folder {folder} holds no .wav files")
        meta = self.root / "metadata.py"
        metadata = parse_metadata(meta) if meta.exists() else {}
        for entry in entries:  # every FSDD speaker is male, listed in metadata.py or not
            metadata.setdefault(entry.speaker, {}).setdefault("gender", "male")
        super().__init__(entries, metadata)

    def _load(self, index: int) -> tuple[torch.Tensor, int]:
        return audio.load(self.paths[index])
