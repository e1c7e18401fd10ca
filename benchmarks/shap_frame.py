"""Benchmark: SHAP for one DeepSpeech frame's 19x26 window.

Target (DeepSpeech chapter, quick profile): the permutation explainer with its default
``max_evals`` (2 * 494 + 1, :data:`speechxai.attribution.SHAP_MAX_EVALS`) explains one frame
in under 2 s on 2 cores. The model is a freshly initialised DeepSpeech of the chapter's width
(the cost does not depend on the weights), the utterance seeded noise of the magnitude of
MFCCs; the explained frame is the last one, the background the letter-frame median. Median
seconds per window over ``--repeats`` seeds after a warm-up.

Run: ``.venv/bin/python benchmarks/shap_frame.py [--hidden 256] [--frames 60] [--repeats 3]``
"""

from __future__ import annotations

import itertools
import statistics
import warnings

import torch
from common import finish, parser, timings, torch_threads

from speechxai.attribution import SHAP_MAX_EVALS, attribute, letter_background
from speechxai.models import DeepSpeech

TARGET_S = 2.0


def run(repeats: int = 3, threads: int | None = None, hidden: int = 256,
        frames: int = 60) -> dict:
    """Figure 4: seconds per window."""
    torch.manual_seed(0)
    model = DeepSpeech(hidden=hidden).eval()
    windows = 5 * torch.randn(frames, 19, 26, generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an untrained model may transcribe no letter
        background = letter_background(model, windows)
    character = int(model(windows)[-1].argmax())
    seeds = itertools.count()
    with torch_threads(threads) as used:
        seconds = timings({"shap": lambda: attribute(
            model, windows, (frames - 1, character), "shap", background=background,
            seed=next(seeds))}, repeats)["shap"]
    median = statistics.median(seconds)
    return {
        "figure": "4 SHAP, one 19x26 DeepSpeech window", "value": median, "unit": "s",
        "target": f"< {TARGET_S:g} s", "holds": median < TARGET_S,
        "note": f"permutation explainer, max_evals={SHAP_MAX_EVALS}, "
                f"DeepSpeech(hidden={hidden}), T={frames}",
        "hidden": hidden, "frames": frames, "max_evals": SHAP_MAX_EVALS, "seconds": seconds,
        "seconds_per_window": median, "threads": used,
    }


def main() -> int:
    arguments = parser(__doc__, repeats=3, threads=None)
    arguments.add_argument("--hidden", type=int, default=256)
    arguments.add_argument("--frames", type=int, default=60)
    args = arguments.parse_args()
    return finish("shap_frame", run(args.repeats, args.threads, args.hidden, args.frames))


if __name__ == "__main__":
    raise SystemExit(main())
