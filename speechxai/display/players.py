"""Audio players that survive static HTML: an embedded ``<audio>`` element carrying its
data, and an ``ipywidgets.Audio`` player whose state is saved with the notebook."""

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


def embedded_player(waveform: np.ndarray, sample_rate: int):
    """An ``IPython.display.Audio`` whose WAV data is embedded in the page."""
    from IPython.display import Audio

    return Audio(data=wav_bytes(waveform, sample_rate), rate=sample_rate)


def widget_player(waveform: np.ndarray, sample_rate: int, label: str):
    """An ``ipywidgets.Audio`` player under a label, as a ``VBox``."""
    import ipywidgets

    player = ipywidgets.Audio(
        value=wav_bytes(waveform, sample_rate), format="wav", autoplay=False, loop=False
    )
    return ipywidgets.VBox([ipywidgets.Label(label), player])
