"""Your own voice: the book's digit and sex classifiers (Becker et al. 2018) and its
DeepSpeech-style recogniser (Markert et al. 2021) on one recording of yours, each decision
with its LRP explanation.

A recording is read by :func:`speechxai.audio.load` - from a path, or from the bytes of an
upload (:func:`read_upload`) - so that a bad file gets the package's clear
:class:`~speechxai.AudioError` either way. The classifiers hear it as they hear their
corpus: resampled to 8 kHz, cropped to the second around its speech
(:func:`speechxai.inputs.frame_signal`); the recogniser reads all of it.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from speechxai.attribution.asr import explain_utterance
from speechxai.attribution.explanation import Explanation
from speechxai.attribution.lrp import relevance
from speechxai.audio import load
from speechxai.ctc import greedy_decode
from speechxai.datasets.real import Utterance
from speechxai.device import device_of, to_numpy
from speechxai.errors import AudioError
from speechxai.experiments.audiomnist import FoldRun, class_name
from speechxai.experiments.deepspeech import utterance_windows
from speechxai.inputs import DigitSignals, frame_signal


def read_upload(content: bytes, name: str) -> tuple[torch.Tensor, int]:
    """The bytes of an uploaded audio file as (waveform, sample rate), with the checks and
    errors of :func:`speechxai.audio.load` (the message names the upload, not a temporary
    file)."""
    if not content:
        raise AudioError(f"{name}: the upload is empty")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"upload{Path(name).suffix}"
        path.write_bytes(content)
        try:
            return load(path)
        except AudioError as error:
            raise AudioError(str(error).replace(str(path), name)) from None


@dataclass
class Decision:
    """One classifier's decision on the recording, and the LRP relevance of that decision
    on the model's input (waveform for AudioNet, spectrogram for AlexNet)."""

    architecture: str
    task: str
    probabilities: np.ndarray
    inputs: torch.Tensor
    relevance: np.ndarray

    @property
    def predicted(self) -> int:
        return int(self.probabilities.argmax())

    @property
    def label(self) -> str:
        return class_name(self.task, self.predicted)


def classify(runs: dict[tuple[str, str], FoldRun], waveform: torch.Tensor, sample_rate: int,
             seed: int = 0) -> list[Decision]:
    """Each run's model on the recording (framed as its corpus is, at the seeded offset),
    its class probabilities and the relevance of its predicted class."""
    signals = DigitSignals([frame_signal(waveform, sample_rate)], np.array([-1]),
                           np.array([-1]), ["you"])
    decisions = []
    for (architecture, task), run in runs.items():
        model = run.trained.model.eval()
        inputs = run.trained.inputs(signals, seed)
        with torch.no_grad():
            probabilities = to_numpy(model(inputs.to(device_of(model))).softmax(-1)[0],
                                     np.float64)
        values = relevance(model, inputs, int(probabilities.argmax())).values[0, 0]
        decisions.append(Decision(architecture, task, probabilities, inputs, np.asarray(values)))
    return decisions


def decision_table(decisions: list[Decision]) -> pd.DataFrame:
    """One row per classifier: its decision, the probability it gives it, and the runner-up."""
    rows = []
    for decision in decisions:
        order = np.argsort(-decision.probabilities)
        rows.append({"model": decision.architecture, "task": decision.task,
                     "decision": decision.label, "probability": decision.probabilities[order[0]],
                     "runner-up": class_name(decision.task, int(order[1])),
                     "its probability": decision.probabilities[order[1]]})
    return pd.DataFrame(rows).set_index(["model", "task"])


@dataclass
class Transcription:
    """The recogniser's greedy transcript and the LRP of every frame's decision on its own
    MFCC window (Markert et al.'s matrix A)."""

    transcript: str
    explanation: Explanation


def transcribe(recognizer: torch.nn.Module, waveform: torch.Tensor, sample_rate: int
               ) -> Transcription:
    """The recogniser's transcript of the recording and its per-frame LRP explanation."""
    windows = utterance_windows(Utterance(waveform, sample_rate, ""))
    with torch.no_grad():
        transcript = greedy_decode(recognizer(windows))
    return Transcription(transcript, explain_utterance(recognizer, windows, "lrp"))

