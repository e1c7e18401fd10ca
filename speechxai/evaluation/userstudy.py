"""The user study of Becker et al. (2024, Sec. 3.4): can a reader tell the model's
prediction from an explanation?

A participant sees or hears a stimulus in one of four formats (``FORMATS``) and guesses
the digit *the model predicted*. Guesses are scored per class by informedness and
markedness (Powers 2011), with the model's predictions as the truth, and averaged over
classes. :class:`speechxai.evaluation.reader.SimulatedReader` stands in for a participant
when a chapter runs headless.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from speechxai.attribution.audible import audible_explanation

FORMATS = ("audible explanation", "audible signal", "visual explanation", "visual signal")


def _confusion(truth, guess, labels=None) -> tuple[np.ndarray, np.ndarray]:
    truth, guess = np.asarray(truth), np.asarray(guess)
    if truth.ndim != 1 or truth.shape != guess.shape or truth.size == 0:
        raise ValueError(
            f"truth and guess must be non-empty 1-D and of equal length, "
            f"got shapes {truth.shape} and {guess.shape}"
        )
    labels = np.unique(np.concatenate([truth, guess])) if labels is None else np.asarray(labels)
    if len(np.unique(labels)) != len(labels):
        raise ValueError(f"labels must be distinct, got {labels.tolist()}")
    unknown = np.setdiff1d(np.concatenate([truth, guess]), labels)
    if unknown.size:
        raise ValueError(f"truth or guess contain {unknown.tolist()}, not among the labels")
    index = {label: i for i, label in enumerate(labels.tolist())}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    np.add.at(matrix, ([index[t] for t in truth.tolist()], [index[g] for g in guess.tolist()]), 1)
    return matrix, labels


def _counts(truth, guess, labels):
    """Per class TP, FP, FN, TN of a confusion matrix (rows truth, columns guess)."""
    matrix, labels = _confusion(truth, guess, labels)
    tp = np.diag(matrix).astype(float)
    fp = matrix.sum(axis=0) - tp
    fn = matrix.sum(axis=1) - tp
    tn = matrix.sum() - tp - fp - fn
    return tp, fp, fn, tn, labels


def _ratio(numerator, denominator):
    """``numerator / denominator``, NaN where the denominator is 0 (undefined)."""
    return np.divide(numerator, denominator, out=np.full_like(numerator, np.nan),
                     where=denominator > 0)


def _summary(values, labels, name) -> tuple[pd.Series, float]:
    per_class = pd.Series(values, index=pd.Index(labels, name="class"), name=name)
    return per_class, float(per_class.mean()) if per_class.notna().any() else float("nan")


def informedness(truth, guess, labels=None) -> tuple[pd.Series, float]:
    """Informedness ``TP/P - FP/N`` per class and its mean over classes (Powers 2011).

    ``truth`` are the model's predictions, ``guess`` the reader's guesses of them
    (Becker et al. 2024, Sec. 3.4); ``labels`` fixes the classes and their order
    (default: every value in either). A class that is never or always the truth
    (``P = 0`` or ``N = 0``) has an undefined value: it is NaN in the per-class Series
    and left out of the mean (the mean is NaN only if every class is undefined).

    Returns
    -------
    per_class : pandas.Series indexed by class
    mean : float, the unweighted (macro) mean over the defined classes, in [-1, 1]
    """
    tp, fp, fn, tn, labels = _counts(truth, guess, labels)
    return _summary(_ratio(tp, tp + fn) - _ratio(fp, fp + tn), labels, "informedness")


def markedness(truth, guess, labels=None) -> tuple[pd.Series, float]:
    """Markedness ``TP/(TP+FP) - FN/(TN+FN)`` per class and its mean over classes
    (Powers 2011; Becker et al. 2024, Sec. 3.4).

    Arguments as in ``informedness``. A class that the reader never or always guesses
    (``TP+FP = 0`` or ``TN+FN = 0``) has an undefined value: NaN in the Series and left
    out of the macro mean (NaN if every class is undefined, e.g. when the reader always
    gives the same answer).
    """
    tp, fp, fn, tn, labels = _counts(truth, guess, labels)
    return _summary(_ratio(tp, tp + fp) - _ratio(fn, tn + fn), labels, "markedness")


def study_scores(truth, guess, formats, labels=None) -> pd.DataFrame:
    """Mean informedness and markedness of the guesses per explanation format, with the
    number of answers: one row per format, in the order of ``FORMATS`` where known."""
    frame = pd.DataFrame({"truth": truth, "guess": guess, "format": formats})
    order = [f for f in FORMATS if f in set(frame["format"])]
    order += [f for f in pd.unique(frame["format"]) if f not in order]
    rows = {}
    for name in order:
        answers = frame[frame["format"] == name]
        rows[name] = {
            "informedness": informedness(answers["truth"], answers["guess"], labels)[1],
            "markedness": markedness(answers["truth"], answers["guess"], labels)[1],
            "answers": len(answers),
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("format")


def answer_scores(answers: pd.DataFrame, labels=tuple(range(10))) -> pd.DataFrame:
    """:func:`study_scores` of a quiz's answers as its page's CSV holds them (columns
    ``format``, ``prediction`` and ``answer``; unanswered questions left out): the files of a
    whole class, concatenated, score the class; grouped by ``reader``, each reader."""
    missing = {"format", "prediction", "answer"} - set(answers.columns)
    if missing:
        raise ValueError(f"the answers lack the column(s) {', '.join(sorted(missing))}: "
                         "give the CSV the quiz's page downloads")
    answered = answers.dropna(subset=["answer"])
    if answered.empty:
        raise ValueError("no question has been answered")
    return study_scores(answered["prediction"].astype(int).to_numpy(),
                        answered["answer"].astype(int).to_numpy(),
                        answered["format"].to_numpy(), labels=labels)


def make_stimulus(format: str, waveform: np.ndarray, relevance: np.ndarray | None = None):
    """What a participant is given in ``format``: ``ReLU(R) * x`` (audible explanation,
    Becker et al. 2024, Eq. 4; not normalised), ``x`` (audible or visual signal) or the
    pair ``(x, R)`` (visual explanation: the waveform coloured by relevance)."""
    check_format(format)
    waveform = np.asarray(waveform, dtype=np.float32)
    if format.endswith("signal"):
        return waveform
    if relevance is None:
        raise ValueError(f"the {format} format needs the relevance")
    relevance = np.asarray(relevance, dtype=np.float32)
    if relevance.shape != waveform.shape:
        raise ValueError(f"waveform {waveform.shape} and relevance {relevance.shape} differ")
    if format == "audible explanation":
        return audible_explanation(waveform, relevance, "positive")
    return waveform, relevance


def check_format(format: str) -> None:
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {format!r}")
