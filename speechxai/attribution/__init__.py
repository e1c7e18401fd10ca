"""Attribution methods that explain the book's speech classifiers (LRP through zennit,
and through DeepSpeech's LSTM) and what can be made of their relevances (audible explanations)."""

from speechxai.attribution.actmax import OptimalInput, activation_maximisation
from speechxai.attribution.asr import (
    METHODS,
    SHAP_MAX_EVALS,
    attribute,
    explain_utterance,
    letter_background,
)
from speechxai.attribution.audible import audible_explanation
from speechxai.attribution.explanation import Explanation
from speechxai.attribution.lrp import (
    conservation_error,
    lrp_composite,
    relevance,
    relevance_stream,
    without_biases,
)
from speechxai.attribution.lrp_onepass import fast_relevance
from speechxai.attribution.lstm_lrp import deepspeech_lrp, lstm_relevance
from speechxai.attribution.navai import (
    ALIGNMENTS,
    LetterMaps,
    LetterWindows,
    align,
    alignment_shift,
    letter_specificity,
    letter_windows,
    lrp_bn_rule,
    lrp_zennit,
    navai_grid,
    sensitivity,
)
from speechxai.attribution.rules import BatchNormSignRule, bn_rule_composite
from speechxai.errors import AttributionError

__all__ = [
    "ALIGNMENTS",
    "BatchNormSignRule",
    "LetterMaps",
    "LetterWindows",
    "OptimalInput",
    "activation_maximisation",
    "align",
    "alignment_shift",
    "bn_rule_composite",
    "letter_specificity",
    "letter_windows",
    "lrp_bn_rule",
    "lrp_zennit",
    "navai_grid",
    "sensitivity",
    "METHODS",
    "SHAP_MAX_EVALS",
    "attribute",
    "AttributionError",
    "audible_explanation",
    "conservation_error",
    "deepspeech_lrp",
    "explain_utterance",
    "Explanation",
    "letter_background",
    "fast_relevance",
    "lrp_composite",
    "lstm_relevance",
    "relevance",
    "relevance_stream",
    "without_biases",
]
