"""Benchmark: SHAP for one DeepSpeech frame's 19x26 window.

Target (DeepSpeech chapter, quick profile): the permutation explainer with its default
``max_evals`` (2 * 494 + 1, :data:`speechxai.attribution.SHAP_MAX_EVALS`) explains one frame
in under 2 s on 2 cores. The model is a freshly initialised DeepSpeech of the chapter's width
(the cost does not depend on the weights), the utterance seeded noise of the magnitude of
MFCCs; the explained frame is the last one, the background the letter-frame median. Prints
seconds per window and writes them to ``_build/bench/shap_frame.json``.

Run: ``.venv/bin/python benchmarks/shap_frame.py [--hidden 256] [--frames 60] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings
from pathlib import Path

import torch

from speechxai.attribution import SHAP_MAX_EVALS, attribute, letter_background
from speechxai.models import DeepSpeech

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 2.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    torch.manual_seed(0)
    model = DeepSpeech(hidden=args.hidden).eval()
    windows = 5 * torch.randn(args.frames, 19, 26, generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an untrained model may transcribe no letter
        background = letter_background(model, windows)
    frame, character = args.frames - 1, int(model(windows)[-1].argmax())
    attribute(model, windows, (0, character), "shap", background=background)  # warm-up, import
    seconds = []
    for repeat in range(args.repeats):
        start = time.perf_counter()
        attribute(model, windows, (frame, character), "shap", background=background, seed=repeat)
        seconds.append(time.perf_counter() - start)
    best = min(seconds)
    result = {
        "hidden": args.hidden, "frames": args.frames, "max_evals": SHAP_MAX_EVALS,
        "seconds": seconds, "seconds_per_window": best, "target_s": TARGET_S,
        "holds": best < TARGET_S, "machine": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
    }
    out = ROOT / "_build" / "bench" / "shap_frame.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    verdict = "holds" if result["holds"] else "FAILS"
    print(f"SHAP (permutation, max_evals={SHAP_MAX_EVALS}) for one 19x26 window of "
          f"DeepSpeech(hidden={args.hidden}), T={args.frames}: {best:.3f} s per window, best of "
          f"{args.repeats} (target < {TARGET_S:.0f} s: {verdict})")


if __name__ == "__main__":
    main()
