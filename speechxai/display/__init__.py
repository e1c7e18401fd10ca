"""Figures and players: what a reader looks at and listens to."""

from speechxai.display.flipping import plot_flipping_curves
from speechxai.display.players import embedded_player, peak_normalized, wav_bytes, widget_player
from speechxai.display.quiz import Question, Quiz
from speechxai.display.signal import (
    plot_long_term_spectra,
    plot_waveform_and_spectrogram,
    show_recording,
)

__all__ = [
    "Question",
    "Quiz",
    "embedded_player",
    "peak_normalized",
    "plot_flipping_curves",
    "plot_long_term_spectra",
    "plot_waveform_and_spectrogram",
    "show_recording",
    "wav_bytes",
    "widget_player",
]
