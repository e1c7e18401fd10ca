"""Players and figures."""

from __future__ import annotations

import base64
import io

import matplotlib
import numpy as np
import pytest
import soundfile

from speechxai import AudioError
from speechxai.display import (
    audio_player,
    embedded_player,
    plot_waveform_and_spectrogram,
    wav_bytes,
    widget_player,
)
from speechxai.features import spectrogram_db

matplotlib.use("Agg")
RATE = 16000


def tone(frequency=1000.0, seconds=0.5, amplitude=0.5):
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def test_wav_bytes_round_trip_within_one_quantisation_step():
    signal = tone()
    decoded, rate = soundfile.read(io.BytesIO(wav_bytes(signal, RATE)), dtype="float32")
    assert rate == RATE and decoded.shape == signal.shape
    assert np.max(np.abs(decoded - signal)) <= 1 / 32768 + 1e-7


@pytest.mark.parametrize("bad", [np.zeros((2, 100)), np.zeros(0)])
def test_wav_bytes_refuses_what_is_not_a_mono_signal(bad):
    with pytest.raises(AudioError, match="non-empty mono"):
        wav_bytes(bad, RATE)


def test_players_carry_the_audio():
    signal = tone()
    assert embedded_player(signal, RATE).data[:4] == b"RIFF"
    box = widget_player(signal, RATE, label="a tone")
    label, player = box.children
    assert label.value == "a tone" and player.format == "wav"
    assert player.value == wav_bytes(signal, RATE)


def test_audio_player_is_one_output_with_the_widget_first_and_the_audio_as_fallback():
    signal = tone()
    bundle = audio_player(signal, RATE, label="a <tone>")._repr_mimebundle_()
    view = bundle["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] and "a &lt;tone&gt;<br>" in bundle["text/html"]
    embedded = base64.b64encode(wav_bytes(signal, RATE)).decode()
    assert bundle["text/html"].count("<audio") == 1 and embedded in bundle["text/html"]


def test_spectrogram_peaks_at_the_tone_frequency():
    power_db, frequencies, times = spectrogram_db(tone(1000.0), RATE)
    assert power_db.shape == (frequencies.size, times.size)
    assert power_db.max() == pytest.approx(0.0)
    peak = frequencies[np.argmax(power_db.mean(axis=1))]
    assert abs(peak - 1000.0) <= RATE / 400  # one bin of a 25 ms window
    assert times[1] == pytest.approx(0.010)


def test_figure_has_labelled_axes_in_seconds_and_hertz_and_the_words():
    figure = plot_waveform_and_spectrogram(tone(), RATE, words=[("ah", 0.1, 0.3)])
    wave_ax, spec_ax, colorbar_ax = figure.axes
    assert wave_ax.get_ylabel() == "amplitude"
    assert spec_ax.get_xlabel() == "time (s)" and spec_ax.get_ylabel() == "frequency (Hz)"
    assert spec_ax.get_ylim() == (0, RATE / 2)
    assert "dB" in colorbar_ax.get_ylabel()
    assert [text.get_text() for text in wave_ax.texts] == ["ah"]


def test_long_term_spectra_figure_has_one_labelled_curve_per_signal():
    from speechxai.display import plot_long_term_spectra

    figure = plot_long_term_spectra({"low": (tone(300.0), RATE), "high": (tone(3000.0), RATE)})
    (ax,) = figure.axes
    assert ax.get_xlabel() == "frequency (Hz)" and "dB" in ax.get_ylabel()
    assert [line.get_label() for line in ax.get_lines()] == ["low", "high"]
    low, high = (line.get_ydata() for line in ax.get_lines())
    frequencies = ax.get_lines()[0].get_xdata()
    assert (
        abs(frequencies[np.argmax(low)] - 300.0) < 25
        and abs(frequencies[np.argmax(high)] - 3000.0) < 25
    )


def test_peak_normalized_scales_to_the_peak_and_keeps_silence():
    from speechxai.display import peak_normalized

    assert np.max(np.abs(peak_normalized(tone(amplitude=0.01)))) == pytest.approx(0.9)
    assert not np.any(peak_normalized(np.zeros(10)))
