"""speechxai: helpers for an executable book on explainable AI for speech models."""

from speechxai.allocation import HUGE_PAGES_ENV, default_huge_pages
from speechxai.errors import AttributionError, AudioError

# Memory for torch's large CPU buffers (speechxai.allocation): huge pages for this process
# unless THP_MEM_ALLOC_ENABLE is set or it started with a kept heap (the book's chapter
# kernels). c10 reads the variable once, at torch's first allocation: it takes effect where
# speechxai is imported before torch. Set it to 0 to opt out.
default_huge_pages()

__all__ = ["HUGE_PAGES_ENV", "AttributionError", "AudioError", "Explanation", "explain"]


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
