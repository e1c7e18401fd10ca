"""Waveforms and spectra, with labelled axes in seconds and hertz."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from speechxai.features import long_term_spectrum_db, spectrogram_db


def plot_waveform_and_spectrogram(
    waveform: np.ndarray,
    sample_rate: int,
    words: Sequence[tuple[str, float, float]] = (),
    title: str | None = None,
    max_frequency: float = 8000.0,
):
    """Waveform above its dB spectrogram on a shared time axis.

    ``words`` are ``(text, start_s, end_s)`` spans drawn as shaded bands on both panels.
    The spectrogram shows up to ``max_frequency`` (or the Nyquist frequency, if lower).
    Returns the matplotlib figure.
    """
    signal = np.asarray(waveform, dtype=np.float32)
    times = np.arange(signal.size) / sample_rate
    power_db, frequencies, frame_times = spectrogram_db(signal, sample_rate)
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook"):
        figure, (wave_ax, spec_ax) = plt.subplots(
            2, 1, figsize=(9, 5.5), sharex=True, height_ratios=(1, 1.6), layout="constrained"
        )
        wave_ax.plot(times, signal, color=sns.color_palette()[0], linewidth=0.6)
        wave_ax.set_ylabel("amplitude")
        wave_ax.set_xlim(0, times[-1])
        mesh = spec_ax.pcolormesh(
            frame_times, frequencies, power_db, shading="nearest", cmap="magma", rasterized=True
        )
        spec_ax.set_ylim(0, min(max_frequency, sample_rate / 2))
        spec_ax.set_ylabel("frequency (Hz)")
        spec_ax.set_xlabel("time (s)")
        spec_ax.grid(False)
        figure.colorbar(mesh, ax=spec_ax, label="power (dB re max)")
        for index, (text, start, end) in enumerate(words):
            wave_ax.axvspan(
                start, end, color="black", alpha=0.10 if index % 2 == 0 else 0.04, linewidth=0
            )
            wave_ax.text(
                (start + end) / 2,
                1.02,
                text,
                transform=wave_ax.get_xaxis_transform(),
                ha="center",
                va="bottom",
            )
            spec_ax.axvline(start, color="white", linewidth=0.8, linestyle="--")
        if title:
            figure.suptitle(title)
    return figure


def plot_long_term_spectra(
    signals: dict[str, tuple[np.ndarray, int]], band_hz: tuple[float, float] = (60.0, 8000.0)
):
    """Long-term average spectra of named signals, ``{label: (waveform, rate)}``, overlaid
    on a logarithmic frequency axis. Returns the matplotlib figure."""
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook"):
        figure, ax = plt.subplots(figsize=(9, 3.5), layout="constrained")
        for label, (waveform, sample_rate) in signals.items():
            spectrum, frequencies = long_term_spectrum_db(waveform, sample_rate)
            ax.plot(frequencies[1:], spectrum[1:], label=label, linewidth=1.2)
        ax.set(
            xscale="log",
            xlim=band_hz,
            xlabel="frequency (Hz)",
            ylabel="mean power (dB)",
            title="Long-term average spectrum",
        )
        ax.legend()
    return figure


def plot_recording(recording, origin: str):
    """The waveform and spectrogram of a ``DigitRecording``, titled with its origin, word,
    speaker and rate."""
    return plot_waveform_and_spectrogram(
        recording.waveform.numpy(),
        recording.sample_rate,
        title=f"{origin}: {recording.word!r} by speaker {recording.speaker} "
        f"({recording.sex}), {recording.sample_rate} Hz",
    )


def recording_player(recording, origin: str, normalize: bool = True):
    """A labelled player of a ``DigitRecording``
    (:func:`~speechxai.display.players.audio_player`; peak-normalised for listening unless
    ``normalize=False``)."""
    from speechxai.display.players import audio_player

    label = f"{origin}: {recording.word!r}" + (" (peak-normalised)" if normalize else "")
    return audio_player(recording.waveform.numpy(), recording.sample_rate, label,
                        normalize=normalize)
