"""Free Spoken Digit Dataset (FSDD): 6 male speakers x 10 digits x 50 recordings, 8 kHz.

Layout: ``<root>/recordings/<digit>_<speaker>_<index>.wav`` and, optionally, the speaker
metadata ``<root>/metadata.py`` (a Python dict, read with ``ast.literal_eval``: never run).
Its speakers are all male, so it serves the digit task only.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from speechxai.datasets.corpus import Entry, WavCorpus

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


class FSDD(WavCorpus):
    """The Free Spoken Digit Dataset (digit task only).

    Parameters
    ----------
    root
        Folder holding ``recordings/``; default ``$SPEECHXAI_DATA_DIR/fsdd`` or ``data/fsdd``.
    download
        Fetch the corpus from its GitHub repository when it is missing.
    """

    name = "FSDD"
    default_folder = "fsdd"
    wav_folder = "recordings"
    glob = "*.wav"
    file_pattern = FILE_PATTERN
    archive = "FSDD_ARCHIVE"

    def __init__(self, root: str | Path | None = None, download: bool = False):
        super().__init__(root, download)

    def read_metadata(self, folder: Path, entries: list[Entry]) -> dict[str, dict]:
        meta = self.root / "metadata.py"
        metadata = parse_metadata(meta) if meta.exists() else {}
        for entry in entries:  # every FSDD speaker is male, listed in metadata.py or not
            metadata.setdefault(entry.speaker, {}).setdefault("gender", "male")
        return metadata
