"""Attribution methods that explain the book's speech classifiers (LRP through zennit,
and through DeepSpeech's LSTM) and what can be made of their relevances (audible explanations)."""

from speechxai.attribution.audible import audible_explanation
from speechxai.attribution.lrp import (
    AttributionError,
    conservation_error,
    lrp_composite,
    relevance,
    relevance_stream,
    without_biases,
)
from speechxai.attribution.lstm_lrp import deepspeech_lrp, lstm_relevance

__all__ = [
    "AttributionError",
    "audible_explanation",
    "conservation_error",
    "deepspeech_lrp",
    "lrp_composite",
    "lstm_relevance",
    "relevance",
    "relevance_stream",
    "without_biases",
]
