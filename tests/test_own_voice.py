"""Your own voice (speechxai.experiments.own_voice): uploads read like files, bad ones get
the package's clear error, and every model's decision comes with an explanation of it."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile
import torch

from speechxai import AudioError
from speechxai.experiments.audiomnist import FoldRun
from speechxai.experiments.own_voice import classify, decision_table, read_upload, transcribe
from speechxai.inputs import DigitSignals
from speechxai.models import AudioNet, DeepSpeech
from speechxai.training import TrainedModel, TrainingConfig


def wav_bytes(signal: np.ndarray, rate: int) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, signal, rate, format="WAV")
    return buffer.getvalue()


def tone(seconds: float = 1.4, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 180 * t) * (t > 0.3) * (t < 0.9)).astype(np.float32)


def test_an_upload_reads_as_the_same_file_would():
    waveform, rate = read_upload(wav_bytes(tone(), 16000), "me.wav")
    assert rate == 16000
    np.testing.assert_allclose(waveform.numpy(), tone(), atol=1e-4)


@pytest.mark.parametrize(("content", "problem"), [(b"", "the upload is empty"),
                                                  (b"RIFF not a wave", "not a readable audio")])
def test_a_bad_upload_names_itself_and_the_problem(content, problem):
    with pytest.raises(AudioError, match=problem) as caught:
        read_upload(content, "notes.wav")
    assert str(caught.value).startswith("notes.wav")
    assert "/tmp" not in str(caught.value)


def fold_run(task: str) -> FoldRun:
    torch.manual_seed(0 if task == "digit" else 1)
    model = AudioNet(10 if task == "digit" else 2, width=0.05).eval()
    trained = TrainedModel(model, TrainingConfig("audionet", task, "toy", width=0.05), None, {})
    empty = DigitSignals([], np.zeros(0, int), np.zeros(0, int), [])
    return FoldRun(0, trained, [], empty, np.zeros(0, bool))


def test_each_classifier_decides_with_probabilities_and_explains_that_decision():
    runs = {("audionet", "digit"): fold_run("digit"), ("audionet", "sex"): fold_run("sex")}
    waveform = torch.from_numpy(tone())
    decisions = classify(runs, waveform, 16000, seed=0)
    assert [(d.architecture, d.task) for d in decisions] == list(runs)
    for decision in decisions:
        assert decision.probabilities.sum() == pytest.approx(1)
        assert decision.inputs.shape == (1, 1, 8000)  # cropped to 1 s at 8 kHz
        assert decision.relevance.shape == (8000,) and np.abs(decision.relevance).max() > 0
        # LRP explains the decided class: its relevance sums to about that class's logit
        with torch.no_grad():
            logit = runs[(decision.architecture, decision.task)].trained.model(
                decision.inputs)[0, decision.predicted]
        assert decision.relevance.sum() == pytest.approx(float(logit), rel=0.3, abs=0.05)
    table = decision_table(decisions)
    assert list(table["decision"]) == [d.label for d in decisions]
    assert (table["probability"] >= table["its probability"]).all()
    assert table.loc[("audionet", "sex"), "decision"] in ("female", "male")


def test_the_transcript_is_the_greedy_decoding_with_one_explanation_per_frame():
    torch.manual_seed(0)
    recognizer = DeepSpeech(hidden=16).eval()
    transcription = transcribe(recognizer, torch.from_numpy(tone()), 16000)
    explanation = transcription.explanation
    assert explanation.values.shape[1:] == (19, 26)
    assert len(explanation.frames) == len(explanation.values)
    assert isinstance(transcription.transcript, str)


def test_the_upload_widget_explains_a_good_file_and_names_a_bad_one(monkeypatch):
    import datetime

    from speechxai.display import own_voice as display

    NOW = datetime.datetime(2026, 12, 6, tzinfo=datetime.UTC)  # noqa: N806 (a constant)
    shown = []
    monkeypatch.setattr(display, "show_own_voice",
                        lambda decisions, transcription: shown.append((decisions, transcription)))
    torch.manual_seed(0)
    runs = {("audionet", "digit"): fold_run("digit")}
    widget = display.upload_widget(runs, DeepSpeech(hidden=16).eval(), seed=0)
    upload, output = widget.children
    upload.value = ({"name": "me.wav", "type": "audio/wav", "size": 1,
                     "content": memoryview(wav_bytes(tone(), 16000)), "last_modified": NOW},)
    assert len(shown) == 1
    decisions, transcription = shown[0]
    assert decisions[0].inputs.shape == (1, 1, 8000) and isinstance(transcription.transcript, str)
    upload.value = ({"name": "notes.wav", "type": "audio/wav", "size": 1,
                     "content": memoryview(b"not audio"), "last_modified": NOW},)
    assert len(shown) == 1  # nothing explained
    printed = "".join(o.get("text", "") for o in output.outputs)
    assert "Cannot use this file: notes.wav" in printed and "not a readable audio" in printed
