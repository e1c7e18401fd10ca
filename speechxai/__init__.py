"""speechxai: helpers for an executable book on explainable AI for speech models."""

import os

from speechxai.errors import AttributionError, AudioError

# Transparent huge pages for torch's large CPU buffers. Without them, every training step of
# AudioNet maps and zero-fills its 200-MB activations page by page again (about 550,000 page
# faults per step at batch 64); with them the step is 1.6x faster on 2 cores
# (``benchmarks/training_throughput.py``, figure 5; PyTorch PR 107697 added the switch).
# c10 reads the variable once, at torch's first allocation: it takes effect where speechxai
# is imported before torch, and in every process started from there (the book's kernels).
# Set it to 0 to opt out.
HUGE_PAGES_ENV = "THP_MEM_ALLOC_ENABLE"
os.environ.setdefault(HUGE_PAGES_ENV, "1")

__all__ = ["AttributionError", "AudioError", "Explanation", "explain"]


def __getattr__(name: str):
    """``speechxai.explain`` and ``speechxai.Explanation``, imported on first use (they pull
    in torch, zennit and Captum, which the command line does not always need)."""
    if name == "explain":
        from speechxai.attribution.explain import explain

        return explain
    if name == "Explanation":
        from speechxai.attribution.explanation import Explanation

        return Explanation
    raise AttributeError(f"module 'speechxai' has no attribute {name!r}")
__version__ = "0.1.0"
