"""The figures and players of "Your own voice": the book's models' decisions on one recording
(:mod:`speechxai.experiments.own_voice`), each with its explanation."""

from __future__ import annotations

from speechxai.display.asr import plot_asr_attributions
from speechxai.display.audible import show_audible_explanations
from speechxai.display.relevance import plot_spectrogram_relevance, plot_waveform_relevance
from speechxai.errors import AudioError
from speechxai.experiments.own_voice import (
    Decision,
    Transcription,
    classify,
    decision_table,
    read_upload,
    transcribe,
)
from speechxai.features import AUDIOMNIST_RATE, audiomnist_spectrogram_axes


def plot_decision_maps(decisions: list[Decision]):
    """AlexNet's relevance map of each task's decision on the spectrogram it read (the
    input minus the training mean); ``None`` without an AlexNet decision."""
    alexnets = [d for d in decisions if d.architecture == "alexnet"]
    if not alexnets:
        return None
    frequencies, times = audiomnist_spectrogram_axes()
    return plot_spectrogram_relevance(
        alexnets[0].inputs[0, 0].numpy(), {f"{d.task} '{d.label}'": d.relevance for d in alexnets},
        frequencies, times,
        title="AlexNet: what each decision rests on (the input minus the training mean)")


def plot_decision_waveform(decisions: list[Decision]):
    """AudioNet's digit relevance on the waveform it read; ``None`` without that decision."""
    for decision in decisions:
        if (decision.architecture, decision.task) == ("audionet", "digit"):
            return plot_waveform_relevance(decision.inputs[0, 0].numpy(), decision.relevance,
                                           AUDIOMNIST_RATE,
                                           title=f"AudioNet: relevance for '{decision.label}'")
    return None


def plot_transcript_relevance(transcription: Transcription):
    """The recogniser's per-frame LRP over its transcript (Markert et al. 2021, Fig. 1)."""
    return plot_asr_attributions(
        {"lrp": transcription.explanation},
        title=f"DeepSpeech: transcript {transcription.transcript!r}, LRP of each frame")


def show_audible_decisions(decisions: list[Decision]) -> dict[str, dict]:
    """The audible explanations (Becker et al. 2024) of AudioNet's decisions, one row of
    players per task; returns the sounds by task for a listen-check."""
    return {decision.task: show_audible_explanations(
        decision.inputs[0, 0].numpy(), decision.relevance, AUDIOMNIST_RATE,
        f"AudioNet {decision.task}: '{decision.label}'")
        for decision in decisions if decision.architecture == "audionet"}


def show_own_voice(decisions: list[Decision], transcription: Transcription) -> None:
    """Everything at once, for the upload widget: the decisions, the transcript, the
    figures and the audible explanations."""
    import matplotlib.pyplot as plt
    from IPython.display import display

    display(decision_table(decisions).style.format(precision=2).set_caption(
        "What the models decide"))
    print(f"DeepSpeech transcript: {transcription.transcript!r}")
    for figure in (plot_decision_maps(decisions), plot_decision_waveform(decisions),
                   plot_transcript_relevance(transcription)):
        if figure is not None:
            display(figure)
            plt.close(figure)
    show_audible_decisions(decisions)


def upload_widget(runs: dict, recognizer, seed: int = 0):
    """An upload button and the output it fills: each uploaded recording through
    :func:`show_own_voice` (``runs`` and ``recognizer`` as the page has them); a file the
    package cannot read is named with its :class:`~speechxai.AudioError`, and the models and
    the page stay as they were."""
    import ipywidgets

    upload = ipywidgets.FileUpload(accept="audio/*,.wav,.flac,.ogg", multiple=False,
                                   description="Upload")
    output = ipywidgets.Output()

    def explain_upload(change) -> None:
        output.clear_output()
        with output:
            for file in change["new"]:
                try:
                    waveform, rate = read_upload(bytes(file["content"]), file["name"])
                except AudioError as error:
                    output.append_stdout(f"Cannot use this file: {error}\n")
                    continue
                show_own_voice(classify(runs, waveform, rate, seed),
                               transcribe(recognizer, waveform, rate))

    upload.observe(explain_upload, names="value")
    return ipywidgets.VBox([upload, output])
