"""Attribution methods that explain the book's speech classifiers (LRP through zennit,
and through DeepSpeech's LSTM) and what can be made of their relevances (audible explanations)."""

from speechxai.attribution.asr import (
    METHODS,
    SHAP_MAX_EVALS,
    attribute,
    explain_utterance,
    frame_profile,
    letter_background,
    letters_vs_space,
    per_relative_frame,
    rank_correlation,
    share_late_frames,
    share_low_mfcc,
    summed_per_frame,
    summed_per_window,
)
from speechxai.attribution.audible import audible_explanation
from speechxai.attribution.explanation import Explanation
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
    "METHODS",
    "SHAP_MAX_EVALS",
    "attribute",
    "AttributionError",
    "audible_explanation",
    "conservation_error",
    "deepspeech_lrp",
    "explain_utterance",
    "Explanation",
    "frame_profile",
    "letter_background",
    "letters_vs_space",
    "lrp_composite",
    "lstm_relevance",
    "per_relative_frame",
    "rank_correlation",
    "relevance",
    "relevance_stream",
    "share_late_frames",
    "share_low_mfcc",
    "summed_per_frame",
    "summed_per_window",
    "without_biases",
]
