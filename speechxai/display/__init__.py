"""Figures and players: what a reader looks at and listens to."""

from speechxai.display.players import embedded_player, wav_bytes, widget_player
from speechxai.display.signal import plot_long_term_spectra, plot_waveform_and_spectrogram

__all__ = [
    "embedded_player",
    "plot_long_term_spectra",
    "plot_waveform_and_spectrogram",
    "wav_bytes",
    "widget_player",
]
