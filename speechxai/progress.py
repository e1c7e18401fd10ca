"""Progress bars where a person waits live, and nowhere else (issue 17).

:func:`tqdm` is ``tqdm.auto.tqdm`` (a widget in a notebook, text in a terminal), switched off
inside ``speechxai book run``: the headless run shows its own per-cell progress, and a bar in
the built page would show a wait that nobody sits through.
"""

from __future__ import annotations

from tqdm.auto import tqdm as _tqdm

from speechxai.book import inside_runner


def tqdm(*args, disable: bool = False, **kwargs):
    """``tqdm.auto.tqdm(*args, disable=..., **kwargs)``, disabled inside the book's runner."""
    return _tqdm(*args, disable=disable or inside_runner(), **kwargs)
