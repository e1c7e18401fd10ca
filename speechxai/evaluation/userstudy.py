"""The user study of Becker et al. (2024, Sec. 3.4): can a reader tell the model's
prediction from an explanation?

A participant sees or hears a stimulus in one of four formats (``FORMATS``) and guesses
the digit *the model predicted*. Guesses are scored per class by informedness and
markedness (Powers 2011), with the model's predictions as the truth, and averaged over
classes. ``SimulatedReader`` stands in for a participant when a chapter runs headless.
"""

from __future__ import annotations

from collections.abc import Sequence

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


def make_stimulus(format: str, waveform: np.ndarray, relevance: np.ndarray | None = None):
    """What a participant is given in ``format``: ``ReLU(R) * x`` (audible explanation,
    Becker et al. 2024, Eq. 4; not normalised), ``x`` (audible or visual signal) or the
    pair ``(x, R)`` (visual explanation: the waveform coloured by relevance)."""
    _check_format(format)
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


def _check_format(format: str) -> None:
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {format!r}")


def log_spectrum(waveform: np.ndarray, frame: int = 256) -> np.ndarray:
    """What a listener hears, coarsely: the time-averaged log power spectrum (Hann
    frames of ``frame`` samples, hop ``frame/2``) minus its mean, so loudness does not
    count."""
    signal = np.asarray(waveform, dtype=np.float64).ravel()
    if signal.size < frame:
        signal = np.pad(signal, (0, frame - signal.size))
    frames = np.lib.stride_tricks.sliding_window_view(signal, frame)[:: frame // 2]
    power = np.mean(np.abs(np.fft.rfft(frames * np.hanning(frame), axis=1)) ** 2, axis=0)
    spectrum = np.log10(power + 1e-12 * (power.max() + 1e-30))
    return spectrum - spectrum.mean()


def _envelope(values: np.ndarray, support: slice, bins: int = 24) -> np.ndarray:
    """``|values|`` on ``support`` as ``bins`` segment maxima, scaled to a maximum of 1."""
    segments = np.array_split(np.abs(np.asarray(values, dtype=np.float64)[support]), bins)
    peaks = np.array([s.max() if s.size else 0.0 for s in segments])
    return peaks / (peaks.max() or 1.0)


def visual_features(waveform: np.ndarray, relevance: np.ndarray | None = None,
                    bins: int = 24) -> np.ndarray:
    """What a viewer sees, coarsely: the amplitude envelope of the waveform between its
    first and last sample above 5 % of the peak (as if aligned by eye), its log duration,
    and with ``relevance`` the envelope of the positive (red) relevance on the same span."""
    waveform = np.asarray(waveform, dtype=np.float64).ravel()
    loud = np.flatnonzero(np.abs(waveform) > 0.05 * (np.abs(waveform).max() or 1.0))
    support = slice(loud[0], loud[-1] + 1) if loud.size else slice(None)
    parts = [_envelope(waveform, support, bins), [np.log(max(waveform[support].size, 1))]]
    if relevance is not None:
        parts.append(_envelope(np.maximum(np.ravel(relevance), 0.0), support, bins))
    return np.concatenate(parts)


class SimulatedReader:
    """A seeded stand-in for a participant of the user study (Becker et al. 2024, Sec. 3.4).

    The reader learns what each class looks or sounds like from reference stimuli
    (``fit``) and then guesses from the stimulus alone, never from the answer:

    - audible formats (a waveform): ``log_spectrum`` of the sound;
    - visual signal (a waveform): ``visual_features`` of the waveform;
    - visual explanation (a ``(waveform, relevance)`` pair): ``visual_features`` with the
      envelope of the positive relevance.

    Features are centred on the mean of the references; the reader compares a stimulus
    with each class centroid by cosine similarity ``s_k`` and answers class ``k`` with
    probability ``softmax(s / temperature)``, drawn from a numpy Generator seeded with
    ``seed``: small temperatures give the nearest centroid, large ones random guesses.
    Readers with the same seed give the same answers to the same questions.
    """

    def __init__(self, format: str, seed: int = 0, temperature: float = 0.1):
        _check_format(format)
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.format, self.temperature = format, temperature
        self.rng = np.random.default_rng(seed)

    def features(self, stimuli: Sequence) -> np.ndarray:
        """One feature row per stimulus, as described in the class docstring."""
        if self.format.startswith("audible"):
            rows = [log_spectrum(s) for s in stimuli]
        elif self.format == "visual signal":
            rows = [visual_features(s) for s in stimuli]
        else:
            if not all(isinstance(s, tuple) and len(s) == 2 for s in stimuli):
                raise ValueError("visual explanation stimuli must be (waveform, relevance) pairs")
            rows = [visual_features(w, r) for w, r in stimuli]
        return np.stack(rows)

    def fit(self, stimuli: Sequence, labels: Sequence) -> SimulatedReader:
        """Learn the class centroids from reference stimuli and their labels."""
        features, labels = self.features(stimuli), np.asarray(labels)
        if len(features) != len(labels):
            raise ValueError(f"{len(features)} stimuli but {len(labels)} labels")
        self.classes_ = np.unique(labels)
        self.mean_ = features.mean(axis=0)
        centroids = np.stack([self._centred(features[labels == c]).mean(axis=0)
                              for c in self.classes_])
        self.centroids_ = centroids / np.linalg.norm(centroids, axis=1, keepdims=True).clip(1e-12)
        return self

    def _centred(self, features: np.ndarray) -> np.ndarray:
        return features - self.mean_

    def probabilities(self, stimuli: Sequence) -> np.ndarray:
        """``softmax(cosine similarity / temperature)`` over the classes, per stimulus."""
        if not hasattr(self, "centroids_"):
            raise ValueError("the reader has not been fitted: call fit(stimuli, labels) first")
        features = self._centred(self.features(stimuli))
        features /= np.linalg.norm(features, axis=1, keepdims=True).clip(1e-12)
        logits = features @ self.centroids_.T / self.temperature
        weights = np.exp(logits - logits.max(axis=1, keepdims=True))
        return weights / weights.sum(axis=1, keepdims=True)

    def guess(self, stimuli: Sequence) -> np.ndarray:
        """One seeded random guess per stimulus, drawn from ``probabilities``."""
        probabilities = self.probabilities(stimuli)
        cumulative = probabilities.cumsum(axis=1)
        draws = self.rng.random((len(probabilities), 1))
        choice = (draws > cumulative).sum(axis=1).clip(max=len(self.classes_) - 1)
        return self.classes_[choice]
