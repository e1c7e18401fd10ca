"""Attribution methods that explain the book's speech classifiers (LRP through zennit)."""

from speechxai.attribution.lrp import (
    AttributionError,
    conservation_error,
    lrp_composite,
    relevance,
    relevance_stream,
    without_biases,
)

__all__ = [
    "AttributionError",
    "conservation_error",
    "lrp_composite",
    "relevance",
    "relevance_stream",
    "without_biases",
]
