"""Progress bars where a person waits live (speechxai.progress): shown in a live session,
switched off inside the book's runner."""

from __future__ import annotations

import io

from speechxai.book import RECORDS_FILE_ENV
from speechxai.progress import tqdm


def test_bars_show_live_and_hide_inside_the_runner(monkeypatch, tmp_path):
    monkeypatch.delenv(RECORDS_FILE_ENV, raising=False)
    with tqdm(range(3), file=io.StringIO()) as bar:
        assert not bar.disable
    with tqdm(range(3), disable=True) as bar:
        assert bar.disable
    monkeypatch.setenv(RECORDS_FILE_ENV, str(tmp_path / "records.json"))
    with tqdm(range(3)) as bar:
        assert bar.disable
