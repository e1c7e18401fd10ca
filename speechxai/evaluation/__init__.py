"""Evaluation of explanations: pixel-flipping, relevance-guided manipulation and the
user study on explanation formats (Becker et al. 2018/2024)."""

from speechxai.evaluation.curves import curve_area
from speechxai.evaluation.flipping import (
    DEFAULT_FRACTIONS,
    STRATEGIES,
    accuracy_at,
    bootstrap_difference,
    flip_order,
    flipping_curve,
)
from speechxai.evaluation.manipulation import SEX_SCALING, scale_by_sex, scale_frequency_axis
from speechxai.evaluation.reader import SimulatedReader
from speechxai.evaluation.userstudy import (
    FORMATS,
    answer_scores,
    informedness,
    make_stimulus,
    markedness,
    study_scores,
)

__all__ = [
    "DEFAULT_FRACTIONS",
    "FORMATS",
    "SEX_SCALING",
    "STRATEGIES",
    "SimulatedReader",
    "accuracy_at",
    "answer_scores",
    "bootstrap_difference",
    "curve_area",
    "flip_order",
    "flipping_curve",
    "informedness",
    "make_stimulus",
    "markedness",
    "scale_by_sex",
    "scale_frequency_axis",
    "study_scores",
]
