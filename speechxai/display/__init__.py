"""Figures and players: what a reader looks at and listens to."""

from speechxai.display.asr import (
    character_labels,
    plot_asr_attributions,
    plot_attribution_profiles,
    plot_deletion_curves,
)
from speechxai.display.audible import show_audible_explanations, show_sounds
from speechxai.display.comparison import (
    plot_deletion_comparison,
    plot_method_maps,
    plot_randomization_bars,
)
from speechxai.display.flipping import plot_flipping_curves
from speechxai.display.players import (
    audio_player,
    embedded_player,
    loudness_normalized,
    peak_normalized,
    wav_bytes,
    widget_player,
)
from speechxai.display.quiz import Question, Quiz, interleaved
from speechxai.display.relevance import plot_spectrogram_relevance, plot_waveform_relevance
from speechxai.display.sanity import plot_cascading_randomization
from speechxai.display.signal import (
    plot_long_term_spectra,
    plot_recording,
    plot_waveform_and_spectrogram,
    recording_player,
)
from speechxai.display.wordlevel import (
    plot_alignment,
    plot_aopc,
    plot_global_word_importance,
    plot_paralinguistic_levels,
    plot_word_importance,
)

__all__ = [
    "Question",
    "Quiz",
    "character_labels",
    "audio_player",
    "embedded_player",
    "interleaved",
    "loudness_normalized",
    "peak_normalized",
    "plot_alignment",
    "plot_aopc",
    "plot_asr_attributions",
    "plot_cascading_randomization",
    "plot_attribution_profiles",
    "plot_deletion_comparison",
    "plot_deletion_curves",
    "plot_flipping_curves",
    "plot_global_word_importance",
    "plot_long_term_spectra",
    "plot_method_maps",
    "plot_paralinguistic_levels",
    "plot_randomization_bars",
    "plot_recording",
    "plot_spectrogram_relevance",
    "plot_waveform_and_spectrogram",
    "plot_waveform_relevance",
    "plot_word_importance",
    "recording_player",
    "show_audible_explanations",
    "show_sounds",
    "wav_bytes",
    "widget_player",
]
