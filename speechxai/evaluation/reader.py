"""A simulated participant of the user study (Becker et al. 2024, Sec. 3.4) for headless
runs: what a listener hears and a viewer sees of a stimulus, coarsely, and a seeded reader
that learns the classes from reference stimuli and guesses from the stimulus alone."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from speechxai.evaluation.userstudy import check_format


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
        check_format(format)
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
