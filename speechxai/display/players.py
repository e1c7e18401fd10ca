"""Audio players that survive static HTML: an embedded ``<audio>`` element carrying its
data, an ``ipywidgets.Audio`` player whose state is saved with the notebook, and one output
holding both (:func:`audio_player`), shown as the widget wherever widgets render."""

from __future__ import annotations

import io

import numpy as np
import soundfile

from speechxai.errors import AudioError


def wav_bytes(waveform: np.ndarray, sample_rate: int) -> bytes:
    """Encode a mono float waveform in [-1, 1] as 16-bit PCM WAV bytes."""
    signal = np.asarray(waveform, dtype=np.float32)
    if signal.ndim != 1 or signal.size == 0:
        raise AudioError(f"waveform must be a non-empty mono signal, got shape {signal.shape}")
    buffer = io.BytesIO()
    soundfile.write(buffer, np.clip(signal, -1.0, 1.0), sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def peak_normalized(waveform: np.ndarray, peak: float = 0.9) -> np.ndarray:
    """The waveform scaled so that its largest magnitude is ``peak`` (silence stays)."""
    signal = np.asarray(waveform, dtype=np.float32)
    largest = float(np.max(np.abs(signal))) if signal.size else 0.0
    return signal * (peak / largest) if largest > 0 else signal


def loudness_normalized(
    waveform: np.ndarray, rms_dbfs: float = -23.0, peak: float = 0.99
) -> np.ndarray:
    """The waveform brought to ``rms_dbfs`` (RMS level in dB full scale), then scaled down
    if needed so that no sample exceeds ``peak``; silence stays silent. Sparse signals such
    as audible explanations become as loud as the original without clipping."""
    signal = np.asarray(waveform, dtype=np.float32)
    rms = float(np.sqrt(np.mean(signal.astype(np.float64) ** 2))) if signal.size else 0.0
    if rms == 0.0:
        return signal
    scaled = signal * (10 ** (rms_dbfs / 20) / rms)
    largest = float(np.max(np.abs(scaled)))
    return scaled * (peak / largest) if largest > peak else scaled


def embedded_player(waveform: np.ndarray, sample_rate: int, normalize: bool = False):
    """An ``IPython.display.Audio`` whose WAV data is embedded in the page; with
    ``normalize`` the sound is brought to a common peak level first."""
    from IPython.display import Audio

    signal = peak_normalized(waveform) if normalize else waveform
    return Audio(data=wav_bytes(signal, sample_rate), rate=sample_rate)


def widget_player(waveform: np.ndarray, sample_rate: int, label: str, normalize: bool = False):
    """An ``ipywidgets.Audio`` player under a label, as a ``VBox``; with ``normalize``
    the sound is brought to a common peak level first."""
    import ipywidgets

    signal = peak_normalized(waveform) if normalize else waveform
    player = ipywidgets.Audio(
        value=wav_bytes(signal, sample_rate), format="wav", autoplay=False, loop=False
    )
    return ipywidgets.VBox([ipywidgets.Label(label), player])


class WithFallback:
    """One output for every viewer: ``widget``'s view where widgets render (a live kernel, the
    built book, which saves the widgets' state), the ``html`` fallback in the same output
    where they do not (a viewer without widget JavaScript). Displaying the two as separate
    outputs showed every player twice in the book."""

    def __init__(self, widget, html: str):
        self.widget, self.html = widget, html

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        bundle = dict(self.widget._repr_mimebundle_(include=include, exclude=exclude) or {})
        bundle["text/html"] = self.html
        return bundle


def labelled_audio_html(waveform: np.ndarray, sample_rate: int, label: str,
                        normalize: bool = False) -> str:
    """The label over an embedded ``<audio>`` element (:func:`embedded_player`), as HTML: the
    fallback of a labelled :func:`widget_player`."""
    from html import escape

    audio = embedded_player(waveform, sample_rate, normalize=normalize)._repr_html_()
    return f"{escape(label)}<br>{audio}"


def audio_player(waveform: np.ndarray, sample_rate: int, label: str, normalize: bool = False,
                 ) -> WithFallback:
    """A labelled player (:func:`widget_player`) whose output also carries the sound as an
    embedded ``<audio>`` element for viewers without widgets (:func:`labelled_audio_html`)."""
    fallback = labelled_audio_html(waveform, sample_rate, label, normalize)
    return WithFallback(widget_player(waveform, sample_rate, label, normalize=normalize),
                        f"<div>{fallback}</div>")
