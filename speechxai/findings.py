"""The papers' headline claims, checked against what the book's chapters recorded.

:data:`CLAIMS` lists, one :class:`Claim` each, what the five papers behind the book report,
with how the book measures it: the records it reads (``record(name, value)`` of a chapter,
see :mod:`speechxai.book`) and a one-sided predicate over them that decides the verdict.
:func:`findings_table` evaluates every claim on a profile's records - the run on the
profile's own corpus (``<chapter>.<profile>.json``) and the run on real speech
(``<chapter>.<profile>.real.json``) - and reads nothing but those files.

A predicate or a shown value is a small arithmetic expression over record names: numbers,
``+ - * /``, comparisons, ``and``/``or``/``not`` and ``min``/``max``/``abs``, e.g.
``flipping.digit.lrp_minus_amplitude_hi < 0``. A claim the chapters do not record says so
(``unmeasured``: why, and which record would be needed) instead of having a predicate.
"""

from __future__ import annotations

import ast
import html
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from speechxai.book import run_command, run_name

PAPERS = {
    "becker2018": "Becker et al. 2018",
    "becker2024": "Becker et al. 2024",
    "markert2021": "Markert et al. 2021",
    "krug2018": "Krug & Stober 2018",
    "pastor2024": "Pastor et al. 2024",
}
"""Short names of the papers, keyed as :attr:`Claim.paper` names them."""

REAL = "real"
"""The dataset of the real-speech run (``<chapter>.<profile>.real.json``)."""

EMBEDDED_COLUMN, REAL_COLUMN = "embedded", "real speech"
COLUMNS = ("paper", "claim", "paper value", "test", EMBEDDED_COLUMN,
           f"{EMBEDDED_COLUMN} verdict", REAL_COLUMN, f"{REAL_COLUMN} verdict")
"""The columns of :func:`findings_table` (its index is the claim id)."""

REPRODUCED, NOT_REPRODUCED = "reproduced", "not reproduced"
MISSING = "missing record"
"""How a verdict names a record absent from a chapter's records file (or not finite)."""


# --------------------------------------------------------------------------- expressions

_TOKEN = re.compile(r"(?P<number>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)"
                    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)")
_FUNCTIONS = {"min": min, "max": max, "abs": abs}
_KEYWORDS = {"and", "or", "not"}
_ALLOWED = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub,
            ast.UAdd, ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Compare, ast.Lt,
            ast.LtE, ast.Gt, ast.GtE, ast.Call, ast.Name, ast.Load, ast.Constant)


def record_names(expression: str) -> list[str]:
    """The record names ``expression`` reads, in order of first appearance."""
    names = []
    for match in _TOKEN.finditer(expression):
        name = match.group("name")
        if name and name not in _KEYWORDS and name not in _FUNCTIONS and name not in names:
            names.append(name)
    return names


def _compile(expression: str):
    """``expression`` as Python code over variables ``v0, v1, ...`` (its record names in
    order); anything but the arithmetic described in the module docstring raises."""
    names = record_names(expression)

    def substitute(match: re.Match) -> str:
        name = match.group("name")
        return f"v{names.index(name)}" if name in names else match.group(0)

    tree = ast.parse(_TOKEN.sub(substitute, expression), mode="eval")
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ValueError(f"{expression!r}: {type(node).__name__} is not allowed")
        if isinstance(node, ast.Call) and not (
                isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS):
            raise ValueError(f"{expression!r}: only {', '.join(_FUNCTIONS)} may be called")
        if isinstance(node, ast.Constant) and not isinstance(node.value, int | float):
            raise ValueError(f"{expression!r}: constant {node.value!r} is not a number")
    return compile(tree, expression, "eval"), names


class MissingRecord(LookupError):
    """A record an expression needs is absent from a records file, or not a finite number."""

    def __init__(self, name: str, value: object = None):
        self.name = name
        super().__init__(f"{MISSING} {name!r}" + ("" if value is None else f" ({value})"))


def evaluate(expression: str, records: dict[str, float]) -> float | bool:
    """``expression`` over ``records``; a name it reads that is missing or not finite raises
    :class:`MissingRecord`."""
    code, names = _compile(expression)
    values = {}
    for i, name in enumerate(names):
        value = records.get(name)
        if value is None or not math.isfinite(value):
            raise MissingRecord(name, value)
        values[f"v{i}"] = value
    return eval(code, {"__builtins__": {}, **_FUNCTIONS}, values)  # the AST was checked


# --------------------------------------------------------------------------- claims


@dataclass(frozen=True)
class Shown:
    """One number of a claim's "our value" cell: ``label`` and an expression over records;
    ``interval`` adds ``[<name>_lo, <name>_hi]`` (the expression must then be one record
    name whose chapter records its interval); ``fmt`` formats the numbers."""

    label: str
    expression: str
    interval: bool = False
    fmt: str = ".3f"

    def __post_init__(self):
        _compile(self.expression)
        if self.interval and record_names(self.expression) != [self.expression]:
            raise ValueError(f"an interval needs a single record name, not {self.expression!r}")

    @property
    def records(self) -> list[str]:
        names = record_names(self.expression)
        return names + [f"{self.expression}{end}" for end in ("_lo", "_hi")] \
            if self.interval else names

    def format(self, records: dict[str, float]) -> str:
        try:
            text = format(evaluate(self.expression, records), self.fmt)
            if self.interval:
                lo, hi = (evaluate(f"{self.expression}{end}", records) for end in ("_lo", "_hi"))
                text += f" [{lo:{self.fmt}}, {hi:{self.fmt}}]"
        except MissingRecord:
            text = "-"
        return f"{self.label} {text}"


@dataclass(frozen=True)
class Claim:
    """A headline claim of a paper and how the book checks it.

    ``chapter`` is the chapter whose records hold our value; ``paper`` a key of
    :data:`PAPERS`; ``statement`` the claim in words; ``paper_value`` what the paper reports;
    ``shown`` our numbers; ``predicate`` the one-sided test over records that makes the
    claim "reproduced" - or, when the chapters do not record what it needs, ``unmeasured``
    says why (and the verdict is "not measured").
    """

    id: str
    chapter: str
    paper: str
    statement: str
    paper_value: str
    shown: tuple[Shown, ...] = ()
    predicate: str | None = None
    unmeasured: str | None = None

    def __post_init__(self):
        if self.paper not in PAPERS:
            raise ValueError(f"claim {self.id}: unknown paper {self.paper!r}")
        if (self.predicate is None) == (self.unmeasured is None):
            raise ValueError(f"claim {self.id}: give a predicate or say why it is unmeasured")
        if self.unmeasured is not None and self.unmeasured.startswith(MISSING):
            raise ValueError(f"claim {self.id}: a reason starting {MISSING!r} reads as a "
                             "record missing from a run")
        if self.predicate is not None:
            _compile(self.predicate)

    @property
    def records(self) -> list[str]:
        """Every record name the claim reads (predicate and shown values)."""
        names = record_names(self.predicate or "")
        for shown in self.shown:
            names += [name for name in shown.records if name not in names]
        return names


LARGE_AMPLITUDE_CORRELATION = 0.3
"""Spearman correlation of |relevance| with |amplitude| above which the relevant samples are
"mostly those of large amplitude" (Becker et al. 2018, Fig. 2)."""


def _accuracy(architecture: str, task: str, mean: float, std: float, what: str) -> Claim:
    name = f"accuracy.{architecture}.{task}"
    return Claim(
        f"audiomnist.{name}", "audiomnist", "becker2018",
        f"{'AlexNet on spectrograms' if architecture == 'alexnet' else 'AudioNet on waveforms'}"
        f" classifies {what} of speakers it has not heard (reproduced: at least the paper's "
        "mean minus two standard deviations over folds)",
        f"{mean:.2f} +- {std:.2f} %",
        (Shown("accuracy", name, interval=True, fmt=".1%"),),
        f"{name} > {mean / 100:.4f} - 2 * {std / 100:.4f}",
    )


def _flipping(task: str, paper_value: str) -> Claim:
    prefix = f"flipping.{task}"
    return Claim(
        f"audiomnist.flipping.{task}", "audiomnist", "becker2018",
        f"Zeroing AudioNet's input samples by LRP relevance destroys the {task} decision "
        "faster than by |amplitude|, and amplitude faster than at random (area under the "
        "accuracy curve over 0.1-100 % flipped: lower is faster)",
        paper_value,
        (Shown("LRP - amplitude", f"{prefix}.lrp_minus_amplitude", interval=True, fmt="+.3f"),
         Shown("area LRP", f"{prefix}.auc.lrp"), Shown("amplitude", f"{prefix}.auc.amplitude"),
         Shown("random", f"{prefix}.auc.random"),
         Shown("unflipped", f"{prefix}.accuracy_unflipped", fmt=".0%"),
         *(Shown(f"at 1 % {strategy}", f"{prefix}.accuracy_at_1pct.{strategy}", fmt=".0%")
           for strategy in ("lrp", "amplitude", "random"))),
        f"{prefix}.lrp_minus_amplitude_hi < 0 and {prefix}.auc.amplitude < {prefix}.auc.random",
    )


def _deletion(method: str, name: str) -> Claim:
    return Claim(
        f"deepspeech.deletion.{method}", "deepspeech", "markert2021",
        f"Deleting window features by {name} lowers the explained character's probability "
        "faster than random orders (per-frame area minus random, 95% bootstrap interval, "
        "features refilled with the neutral mean window; the book's faithfulness test)",
        "not in the paper (visual comparison only)",
        (Shown("minus random", f"deletion.neutral.minus_random.{method}", interval=True,
               fmt="+.3f"),
         Shown(f"area {name}", f"deletion.neutral.auc.{method}"),
         Shown("random", "deletion.neutral.auc.random"),
         Shown("with SHAP's background: minus random", f"deletion.minus_random.{method}",
               interval=True, fmt="+.3f")),
        f"deletion.neutral.minus_random.{method}_hi < 0",
    )


_PAPER_AOPC = {  # Pastor et al. (2024), Table 4, FSC: (ours, random +- std)
    "comprehensiveness": {"action": "0.619 vs random 0.294 +- 0.005",
                          "object": "0.623 vs random 0.246 +- 0.003",
                          "location": "0.465 vs random 0.195 +- 0.006"},
    "sufficiency": {"action": "0.158 vs random 0.474 +- 0.004",
                    "object": "0.083 vs random 0.444 +- 0.008",
                    "location": "0.065 vs random 0.339 +- 0.006"},
}
_PAPER_PARALINGUISTIC = {  # Table 3, FSC: pitch down/up, stretch down/up, reverb, noise
    "action": "noise 0.59, reverb 0.27, stretch 0.13 / 0.09, pitch 0.04 / 0.03",
    "object": "noise 0.69, reverb 0.17, stretch 0.07 / 0.05, pitch 0.02 / 0.01",
    "location": "noise 0.35, reverb 0.11, stretch 0.06 / 0.04, pitch 0.01 / 0.01",
}
SLOTS = ("action", "object", "location")


def _aopc(measure: str, slot: str) -> Claim:
    ours, random = f"aopc.{measure}.{slot}", f"aopc.{measure}_random.{slot}"
    higher = measure == "comprehensiveness"
    better, quality = (">", "more comprehensive") if higher else ("<", "more sufficient")
    return Claim(
        f"wordlevel.{measure}.{slot}", "wordlevel", "pastor2024",
        f"Leave-one-word-out explanations are {quality} than a random explainer ({slot}; "
        f"AOPC {measure}, {'higher' if higher else 'lower'} is better)",
        _PAPER_AOPC[measure][slot],
        (Shown("ours", ours), Shown("random", random)),
        f"{ours} {better} {random}",
    )


def _paralinguistic(slot: str) -> Claim:
    def r(family: str) -> str:
        return f"paralinguistic.{family}.{slot}"

    return Claim(
        f"wordlevel.paralinguistic.{slot}", "wordlevel", "pastor2024",
        f"Noise changes the {slot} prediction most, pitch least (mean r(p) over held-out "
        "utterances)",
        _PAPER_PARALINGUISTIC[slot],
        (Shown("noise", r("noise")), Shown("reverb", r("reverb")),
         Shown("stretch down", r("stretch_down")), Shown("up", r("stretch_up")),
         Shown("pitch down", r("pitch_down")), Shown("up", r("pitch_up"))),
        f"{r('noise')} > max({r('reverb')}, {r('stretch_down')}, {r('stretch_up')}, "
        f"{r('pitch_down')}, {r('pitch_up')}) and max({r('pitch_down')}, {r('pitch_up')}) "
        f"<= min({r('reverb')}, {r('stretch_down')}, {r('stretch_up')})",
    )


_SPECIFICITY = ", ".join(f"navai.specificity.{a}" for a in ("max_lrp", "max_sens", "min_sens"))

CLAIMS: tuple[Claim, ...] = (
    # ---------------------------------------------------- AudioMNIST (Becker et al. 2018, 2024)
    _accuracy("alexnet", "digit", 95.82, 1.49, "spoken digits"),
    _accuracy("alexnet", "sex", 95.87, 2.85, "the speaker's sex"),
    _accuracy("audionet", "digit", 92.53, 2.04, "spoken digits"),
    _accuracy("audionet", "sex", 91.74, 8.60, "the speaker's sex"),
    Claim(
        "audiomnist.frequency_scaling", "audiomnist", "becker2018",
        "Scaling the spectrogram's frequency axis (male x1.5, female x0.66) drives a working "
        "AlexNet sex model below chance: it relies on pitch and formants",
        "20.3 +- 12.6 % after scaling",
        (Shown("before", "manipulation.sex_accuracy_before", fmt=".1%"),
         Shown("scaled", "manipulation.sex_accuracy_scaled", fmt=".1%")),
        "manipulation.sex_accuracy_before > 0.5 and manipulation.sex_accuracy_scaled < 0.5",
    ),
    Claim(
        "audiomnist.sex_low_bands", "audiomnist", "becker2018",
        "The sex model's evidence lies along the lowest bands (fundamental frequency and first "
        "harmonics), more than the digit model's (share of AlexNet's positive relevance below "
        "1 kHz)",
        "visual (Fig. 1)",
        (Shown("sex", "relevance.low_band_share.sex", fmt=".0%"),
         Shown("digit", "relevance.low_band_share.digit", fmt=".0%")),
        "relevance.low_band_share.sex > relevance.low_band_share.digit",
    ),
    Claim(
        "audiomnist.large_amplitude", "audiomnist", "becker2018",
        "AudioNet's relevant samples are mostly those of large amplitude (Spearman correlation "
        f"of |relevance| with |amplitude| above {LARGE_AMPLITUDE_CORRELATION})",
        "visual (Fig. 2)",
        (Shown("correlation", "relevance.amplitude_rank_corr", fmt=".2f"),),
        f"relevance.amplitude_rank_corr > {LARGE_AMPLITUDE_CORRELATION}",
    ),
    _flipping("digit", "at 1 % flipped: LRP 77 %, amplitude 85 %, random 92 % (from 92.53 %)"),
    _flipping("sex", "LRP fastest at every fraction, then amplitude, random slowest (Fig. 3b)"),
    Claim(
        "audiomnist.flipping.sex_random_robust", "audiomnist", "becker2018",
        "The sex model survives random flipping: its accuracy only starts to fall at 60 % "
        "of the samples zeroed (here: at 60 % it has lost less than 10 points)",
        "flat up to ~60 % flipped (Fig. 3b)",
        (Shown("unflipped", "flipping.sex.accuracy_unflipped", fmt=".0%"),
         Shown("60 % at random", "flipping.sex.random.accuracy_at_60pct", fmt=".0%")),
        "flipping.sex.accuracy_unflipped - flipping.sex.random.accuracy_at_60pct < 0.1",
    ),
    Claim(
        "audiomnist.user_study", "audiomnist", "becker2024",
        "People guess the model's prediction better from audible explanations than from "
        "visual ones (informedness and markedness)",
        "misclassified digits: audible 0.12 / 0.10, visual lower, signal only below 0",
        unmeasured="the chapter's user study is a simulated reader whose scores are shown, "
                   "not recorded (no study.* record), and no people took part",
    ),
    # ---------------------------------------------------- DeepSpeech (Markert et al. 2021)
    Claim(
        "deepspeech.lrp_low_mfcc", "deepspeech", "markert2021",
        "LRP puts most relevance into the lowest ~10 MFCCs, more than saliency does (share "
        "of |A|; 10/26 = 0.38 if spread evenly)",
        "vast majority in MFCCs 0-9 (figures)",
        (Shown("LRP", "share_low10.lrp"), Shown("saliency", "share_low10.saliency")),
        "share_low10.lrp > 10 / 26 and share_low10.lrp > share_low10.saliency",
    ),
    Claim(
        "deepspeech.saliency_low_high", "deepspeech", "markert2021",
        "Saliency is largest in the lowest and some of the highest MFCCs, MFCCs 5-20 matter "
        "less",
        "lowest and highest MFCCs (figures)",
        (Shown("lowest 10", "share_low10.saliency"),),
        unmeasured="the chapter records saliency's share of the lowest 10 MFCCs "
                   "(share_low10.saliency) but none of the highest ones",
    ),
    Claim(
        "deepspeech.shap_spread", "deepspeech", "markert2021",
        "SHAP spreads its attributions evenly over the MFCCs (here: its share of the lowest "
        "10 lies closer to the even 10/26 than LRP's)",
        "equally spread over MFCCs and frames (figures)",
        (Shown("SHAP", "share_low10.shap"), Shown("LRP", "share_low10.lrp")),
        "abs(share_low10.shap - 10 / 26) < abs(share_low10.lrp - 10 / 26)",
    ),
    Claim(
        "deepspeech.late_frames", "deepspeech", "markert2021",
        "Later frames of the 19-frame window weigh more - the LSTM already has the past "
        "(LRP's share of |A| in the later half; 9/19 = 0.47 if even)",
        "frames 9-14 weigh most, the first eight least (figures)",
        (Shown("LRP", "share_late_frames.lrp"),),
        "share_late_frames.lrp > 9 / 19",
    ),
    Claim(
        "deepspeech.shap_letters_space", "deepspeech", "markert2021",
        "SHAP responds clearly differently to frames of letters and of whitespace",
        "clear difference (figures)",
        unmeasured="the chapter shows SHAP's mean |A| for letters and spaces in a table but "
                   "records neither",
    ),
    Claim(
        "deepspeech.adversarial", "deepspeech", "markert2021",
        "Attributions of targeted adversarial examples differ clearly from benign ones (here: "
        "attacks mostly succeed and a detector on attribution profiles beats chance on held-"
        "out utterances, and beats the same detector on the inputs' own statistics; the "
        "direction - larger, in the highest MFCCs - is not recorded)",
        "clear differences, larger magnitudes in the highest MFCCs (figures)",
        (Shown("attack success", "adversarial.success_rate", fmt=".0%"),
         Shown("detector ROC AUC", "adversarial.detector_auc", fmt=".2f"),
         Shown("without attributions", "adversarial.detector_auc_baseline", fmt=".2f")),
        "adversarial.success_rate > 0.5 and adversarial.detector_auc > 0.5 and "
        "adversarial.detector_auc > adversarial.detector_auc_baseline",
    ),
    Claim(
        "deepspeech.adversarial_where", "deepspeech", "markert2021",
        "On adversarial examples SHAP moves relevance to the first frames of the audio and "
        "saliency to the highest MFCCs (share of |A| in the first 10 % of the frames and in "
        "MFCCs 20-25, adversarial minus benign, 95 % bootstrap interval over the attacked "
        "utterances above 0)",
        "SHAP: first frames; gradient methods: highest MFCCs (figures)",
        (Shown("SHAP first frames, adversarial - benign",
               "adversarial.shap.share_first_frames.minus_benign", interval=True),
         Shown("saliency highest MFCCs, adversarial - benign",
               "adversarial.saliency.share_high_mfcc.minus_benign", interval=True)),
        "adversarial.shap.share_first_frames.minus_benign_lo > 0 and "
        "adversarial.saliency.share_high_mfcc.minus_benign_lo > 0",
    ),
    _deletion("lrp", "LRP"),
    _deletion("shap", "SHAP"),
    _deletion("saliency", "saliency"),
    # ---------------------------------------------------- NAvAI (Krug & Stober 2018)
    Claim(
        "navai.alignment", "navai", "krug2018",
        "Aligned averages show letter-specific patterns that unaligned ones do not, for every "
        "alignment (letter specificity: mean correlation between letters' maps, lower is "
        "more specific)",
        "no letter-specific pattern unaligned, clear ones aligned (Fig. 3)",
        (Shown("none", "navai.specificity.none", fmt="+.2f"),
         Shown("max LRP", "navai.specificity.max_lrp", fmt="+.2f"),
         Shown("max sens.", "navai.specificity.max_sens", fmt="+.2f"),
         Shown("min sens.", "navai.specificity.min_sens", fmt="+.2f")),
        f"max({_SPECIFICITY}) < navai.specificity.none",
    ),
    Claim(
        "navai.min_sensitivity", "navai", "krug2018",
        "Aligning at the minimum sensitivity gives the most specific maps",
        "min sensitivity 'seems more specific' than max; max LRP not properly aligned",
        (Shown("min sens.", "navai.specificity.min_sens", fmt="+.2f"),
         Shown("max sens.", "navai.specificity.max_sens", fmt="+.2f"),
         Shown("max LRP", "navai.specificity.max_lrp", fmt="+.2f")),
        "navai.specificity.min_sens < min(navai.specificity.max_sens, "
        "navai.specificity.max_lrp)",
    ),
    Claim(
        "navai.controls", "navai", "krug2018",
        "Aligning at the minimum sensitivity finds the letters' moments: its maps are more "
        "specific than with the same shifts at random (specificity minus the control's, 95 % "
        "interval over 200 rounds below zero; shuffled letter labels shown, a weak control "
        "that any letter-dependent average beats)",
        "not controlled in the paper",
        (Shown("minus random shifts", "navai.specificity.min_sens_minus_random_shifts",
               interval=True, fmt="+.3f"),
         Shown("minus shuffled letters", "navai.specificity.min_sens_minus_shuffled_letters",
               interval=True, fmt="+.3f")),
        "navai.specificity.min_sens_minus_random_shifts_hi < 0",
    ),
    Claim(
        "navai.lrp_smears", "navai", "krug2018",
        "Aligned at the LRP maximum, the letter maps spread wider in time than aligned by "
        "sensitivity, which averages out a plosive's short release burst (root-mean-square "
        "distance of each map from the centre frame, mean over letters)",
        "'more wide-spread across time using LRP'; the burst of 't' seen with sensitivity "
        "only (Sec. 4.2)",
        (Shown("max LRP", "navai.temporal_spread.max_lrp", fmt=".1f"),
         Shown("max sens.", "navai.temporal_spread.max_sens", fmt=".1f"),
         Shown("min sens.", "navai.temporal_spread.min_sens", fmt=".1f"),
         Shown("'t' burst, max LRP", "navai.burst_contrast.t.max_lrp", fmt="+.2f"),
         Shown("'t' burst, min sens.", "navai.burst_contrast.t.min_sens", fmt="+.2f")),
        "navai.temporal_spread.max_lrp > max(navai.temporal_spread.max_sens, "
        "navai.temporal_spread.min_sens)",
    ),
    Claim(
        "navai.activation_maximisation", "navai", "krug2018",
        "Activation maximisation gives interpretable, spectrogram-like inputs only for low "
        "layers, not for high layers or the output",
        "interpretable in layers 1-2 only (Fig. 1)",
        unmeasured="the chapter draws the optimised inputs of a first, a middle and an "
                   "output neuron but records no measure of them (no actmax.* record)",
    ),
    # ---------------------------------------------------- word level (Pastor et al. 2024)
    *(_aopc(measure, slot) for measure in ("comprehensiveness", "sufficiency")
      for slot in SLOTS),
    *(_paralinguistic(slot) for slot in SLOTS),
    Claim(
        "wordlevel.plausibility", "wordlevel", "pastor2024",
        "Word-level explanations are plausible: the most relevant word is the one a person "
        "would name (here: the slot's deciding keyword is the top word in most commands, "
        "every slot)",
        "plausible by the authors' inspection (Table 1, Fig. 3); no number",
        tuple(Shown(slot, f"plausibility.top1.{slot}", fmt=".0%") for slot in SLOTS),
        "min(" + ", ".join(f"plausibility.top1.{slot}" for slot in SLOTS) + ") > 0.5",
    ),
)
"""The headline claims of the five papers, in the book's order."""


# --------------------------------------------------------------------------- the table


def records_file(records_dir: Path, chapter: str, profile: str,
                 dataset: str | None = None) -> Path:
    return Path(records_dir) / f"{chapter}.{run_name(profile, dataset)}.json"


def read_records(records_dir: Path, chapter: str, profile: str,
                 dataset: str | None = None) -> dict[str, float] | None:
    """A chapter's records of one run, ``None`` when it has not been run."""
    path = records_file(records_dir, chapter, profile, dataset)
    return json.loads(path.read_text()) if path.is_file() else None


def verdict(claim: Claim, records: dict[str, float] | None, file: str, command: str) -> str:
    """"reproduced", "not reproduced", "not measured (why)" or "not run (command)"."""
    if claim.predicate is None:
        return f"not measured ({claim.unmeasured})"
    if records is None:
        return f"not run ({command})"
    try:
        holds = evaluate(claim.predicate, records)
    except MissingRecord as missing:
        return f"not measured ({missing} in {file})"
    return REPRODUCED if holds else NOT_REPRODUCED


def our_value(claim: Claim, records: dict[str, float] | None) -> str:
    """The claim's shown numbers from ``records`` ("" when the chapter has not been run)."""
    if records is None:
        return ""
    return "; ".join(shown.format(records) for shown in claim.shown)


def findings_table(records_dir: Path, profile: str,
                   claims: Sequence[Claim] = CLAIMS) -> pd.DataFrame:
    """One row per claim (index: its id; columns :data:`COLUMNS`): the paper's statement
    and value, the test, and our value and verdict on the profile's own corpus and on real
    speech, from the records in ``records_dir`` only."""
    rows = {}
    for claim in claims:
        row = {"paper": PAPERS[claim.paper], "claim": claim.statement,
               "paper value": claim.paper_value,
               "test": claim.predicate or "-"}
        for column, dataset in ((EMBEDDED_COLUMN, None), (REAL_COLUMN, REAL)):
            records = read_records(records_dir, claim.chapter, profile, dataset)
            file = records_file(records_dir, claim.chapter, profile, dataset).name
            row[column] = our_value(claim, records)
            row[f"{column} verdict"] = verdict(claim, records, file,
                                               run_command(claim.chapter, profile, dataset))
        rows[claim.id] = row
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(COLUMNS)).rename_axis("id")


def counts(table: pd.DataFrame) -> dict[str, int]:
    """How many claims the table has; per run how many were measured (a verdict either way)
    and reproduced; and ``missing_records``: verdicts, over both runs, that miss a record in
    a chapter's records file that exists (a renamed or vanished record - 0 whichever
    chapters ran, when every claim reads what its chapter records)."""
    result = {"claims": len(table), "missing_records": 0}
    for run, column in (("embedded", EMBEDDED_COLUMN), ("real", REAL_COLUMN)):
        verdicts = table[f"{column} verdict"]
        result[f"measured.{run}"] = int(verdicts.isin([REPRODUCED, NOT_REPRODUCED]).sum())
        result[f"reproduced.{run}"] = int((verdicts == REPRODUCED).sum())
        result["missing_records"] += int(verdicts.str.startswith(f"not measured ({MISSING}")
                                         .sum())
    return result


def summary(table: pd.DataFrame) -> str:
    """One line: "N of M claims reproduced on the embedded corpus, K on real speech"."""
    n = counts(table)
    return (f"{n['reproduced.embedded']} of {n['claims']} claims reproduced on the embedded "
            f"corpus ({n['measured.embedded']} measured), {n['reproduced.real']} on real "
            f"speech ({n['measured.real']} measured).")


def claims_of(chapter: str) -> list[Claim]:
    """The claims a chapter's records decide."""
    return [claim for claim in CLAIMS if claim.chapter == chapter]


def changes(table: pd.DataFrame) -> str:
    """What real speech changed, in sentences from :func:`findings_table`'s ``table``: the
    claims whose verdict differs between the two runs, each with both values; or that none
    differs, or that a run is missing."""
    embedded, real = table[f"{EMBEDDED_COLUMN} verdict"], table[f"{REAL_COLUMN} verdict"]
    decided = embedded.isin([REPRODUCED, NOT_REPRODUCED]) & real.isin([REPRODUCED,
                                                                         NOT_REPRODUCED])
    if not decided.any():
        return ("No claim of this chapter is decided in both runs yet: run it on the embedded "
                "corpus and with `--dataset real` to compare them.")
    lines = []
    for claim_id in table.index[decided & (embedded != real)]:
        row = table.loc[claim_id]
        lines.append(f"- {row['claim']}: {row[f'{EMBEDDED_COLUMN} verdict']} on the embedded "
                     f"corpus ({row[EMBEDDED_COLUMN]}), {row[f'{REAL_COLUMN} verdict']} on real "
                     f"speech ({row[REAL_COLUMN]}).")
    same = int((decided & (embedded == real)).sum())
    head = (f"Of the {int(decided.sum())} claims decided in both runs, {same} get the same "
            "verdict on real speech as on the embedded corpus")
    return head + ("; these differ:\n" + "\n".join(lines) if lines else ".")


VERDICT_COLOURS = {"reproduced": "#c8e6c9", "not reproduced": "#ffcdd2",
                   "not measured": "#eeeeee", "not run": "#fff3c4"}


def verdict_colour(text: str) -> str:
    """The CSS of a verdict cell: its background by kind of verdict."""
    for kind in ("not reproduced", "not measured", "not run", "reproduced"):
        if str(text).startswith(kind):
            return f"background-color: {VERDICT_COLOURS[kind]}"
    return ""


def _claim_cell(row: pd.Series) -> str:
    lines = [html.escape(row["claim"]),
             f"<i>paper:</i> {html.escape(row['paper value'])}"]
    if row["test"] != "-":
        lines.append(f"<code>{html.escape(row['test'])}</code>")
    return "<br>".join(lines)


def _run_cell(verdict_text: str, value: str) -> str:
    kind, _, detail = verdict_text.partition(" (")
    lines = [f"<b>{html.escape(kind)}</b>"]
    if value:
        lines.append(html.escape(value))
    if detail:
        detail = html.escape(detail[:-1])
        lines.append(f"<code>{detail}</code>" if kind == "not run" else f"<small>{detail}</small>")
    return "<br>".join(lines)


def style_findings(table: pd.DataFrame, caption: str | None = None):
    """:func:`findings_table`'s ``table`` as a pandas Styler that reads on a book page: rows
    grouped by paper; one cell per claim (statement, the paper's value, the test in
    monospace) and one per run (verdict, our value, the reason or the command), coloured by
    verdict (green reproduced, red not, grey not measured, yellow not run); text wraps."""
    runs = (EMBEDDED_COLUMN, REAL_COLUMN)
    shown = pd.DataFrame(
        {"claim": table.apply(_claim_cell, axis=1),
         **{run: [_run_cell(v, value) for v, value in
                  zip(table[f"{run} verdict"], table[run], strict=True)] for run in runs}},
        index=pd.MultiIndex.from_arrays([table["paper"], table.index], names=["paper", "id"]))
    colours = pd.DataFrame({"claim": "", **{run: table[f"{run} verdict"].map(verdict_colour)
                                            .to_numpy() for run in runs}},
                           index=shown.index)
    styler = (shown.style.apply(lambda _: colours, axis=None)
              .hide(axis="index", level="id").hide(axis="index", names=True))
    styler = styler.set_table_styles(
        [{"selector": "", "props": "border-collapse: collapse; font-size: 0.85em; width: 100%;"},
         {"selector": "td, th", "props": "white-space: normal; vertical-align: top; "
                                         "text-align: left; padding: 4px 6px; "
                                         "border: 1px solid #ccc; overflow-wrap: anywhere;"},
         {"selector": "th.row_heading", "props": "width: 7em; min-width: 6em;"},
         {"selector": "td.col0", "props": "width: 46%;"},
         {"selector": "td.col1, td.col2", "props": "width: 23%;"},
         {"selector": "code", "props": "font-size: 0.85em; white-space: normal; "
                                       "background: none; padding: 0;"},
         {"selector": "small", "props": "color: #444;"},
         {"selector": "caption", "props": "caption-side: top; font-weight: bold; "
                                          "text-align: left; padding-bottom: 0.5em;"}],
        overwrite=False,
    )
    return styler.set_caption(caption) if caption else styler
