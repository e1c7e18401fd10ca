"""Audio signals: load and check waveforms, and numbers to listen-check them by.

Every bad input raises :class:`speechxai.AudioError` with a message naming the file or
argument and the problem. Nothing here writes to disk.
"""

from __future__ import annotations

import numbers
import os
import struct
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from speechxai.errors import AudioError
from speechxai.features import resample

SILENCE_PEAK = 1e-6
"""A waveform whose peak magnitude is below this counts as silence."""

_STREAMED_SIZE = 0xFFFFFFFF  # data size written by streaming encoders that cannot seek back


def load(path: str | os.PathLike, sr: int | None = None) -> tuple[torch.Tensor, int]:
    """Read a mono audio file with soundfile.

    Parameters
    ----------
    path : str or os.PathLike
        Audio file (any format libsndfile reads: WAV, FLAC, OGG, ...).
    sr : int, optional
        Sample rate (Hz) to resample to; by default the file's own rate is kept.

    Returns
    -------
    waveform : torch.Tensor
        1-D float32 samples in [-1, 1], checked by :func:`validate`.
    sample_rate : int
        ``sr`` if given, else the file's rate.

    Raises
    ------
    AudioError
        If the file is missing, not decodable audio, truncated, not mono, or fails
        :func:`validate`, or if ``sr`` is not a positive integer.
    """
    if sr is not None:
        _check_rate(sr, "sr")
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.is_dir():
        raise AudioError(f"{path}: is a directory, not an audio file")
    if not path.is_file():  # reading a FIFO blocks until a writer comes, a device never ends
        raise AudioError(f"{path}: is not a regular file (a FIFO, device or socket); copy "
                         "the audio into a file first")
    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
    except sf.LibsndfileError as err:
        raise AudioError(f"{path}: not a readable audio file ({err.error_string})") from err
    _check_complete(path)
    if data.shape[1] != 1:
        raise AudioError(
            f"{path}: has {data.shape[1]} channels but one is required; average the channels "
            "with waveform.mean(0) or pass a mono file"
        )
    waveform = validate(data[:, 0], rate, name=str(path))
    if sr is not None and sr != rate:
        waveform = resample(waveform, rate, sr)
        rate = sr
    return waveform, int(rate)


def validate(
    waveform: np.ndarray | torch.Tensor,
    sample_rate: int,
    min_seconds: float = 0.0,
    require_signal: bool = True,
    name: str = "waveform",
) -> torch.Tensor:
    """Check a waveform and return it as a 1-D float32 torch tensor.

    Parameters
    ----------
    waveform : numpy.ndarray or torch.Tensor
        Mono samples as floats in [-1, 1]; integer PCM and peaks above 1.0 are refused, not
        rescaled or clipped.
    sample_rate : int
        Sample rate in Hz, a positive integer.
    min_seconds : float
        Shortest duration accepted; any non-empty waveform passes by default.
    require_signal : bool
        Refuse silence (peak magnitude below ``SILENCE_PEAK``).
    name : str
        What to call the waveform in error messages (a file name, an argument name).

    Returns
    -------
    torch.Tensor
        The samples, float32 and 1-D (shares memory with float32 input).

    Raises
    ------
    AudioError
        If any check fails; the message says which and how to fix it.
    """
    _check_rate(sample_rate, "sample_rate")
    _check_dtype(waveform, name)
    _check_shape(waveform, name)
    _check_length(waveform.shape[0], sample_rate, min_seconds, name)
    samples = _as_float32_tensor(waveform)
    _check_finite(samples, name)
    _check_range(samples, name)
    if require_signal:
        _check_signal(samples, name)
    return samples


def _check_rate(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise AudioError(
            f"{name}: the sample rate must be a positive integer number of Hz, "
            f"got {value!r} ({type(value).__name__})"
        )


def _check_dtype(waveform: object, name: str) -> None:
    if not isinstance(waveform, np.ndarray | torch.Tensor):
        raise AudioError(
            f"{name}: expected a numpy array or torch tensor, got {type(waveform).__name__}"
        )
    is_float = (
        waveform.is_floating_point()
        if isinstance(waveform, torch.Tensor)
        else waveform.dtype.kind == "f"
    )
    if not is_float:
        raise AudioError(
            f"{name}: dtype {waveform.dtype} is not supported; convert to float in [-1, 1] "
            "(int16 PCM: divide by 32768; complex: take the real part)"
        )


def _check_shape(waveform: np.ndarray | torch.Tensor, name: str) -> None:
    if waveform.ndim != 1:
        raise AudioError(
            f"{name}: expected a 1-D mono waveform, got shape {tuple(waveform.shape)}; "
            "average the channels with waveform.mean(0) or drop a batch axis of one "
            "with waveform.squeeze(0)"
        )


def _check_length(samples: int, sample_rate: int, min_seconds: float, name: str) -> None:
    if samples == 0:
        raise AudioError(f"{name}: is empty (0 samples)")
    if samples / sample_rate < min_seconds:
        raise AudioError(
            f"{name}: too short: {samples / sample_rate:.3f} s ({samples} samples at "
            f"{sample_rate} Hz), at least {min_seconds} s required"
        )


def _as_float32_tensor(waveform: np.ndarray | torch.Tensor) -> torch.Tensor:
    if isinstance(waveform, np.ndarray):
        # contiguous and native byte order, as torch requires
        return torch.from_numpy(np.ascontiguousarray(waveform, dtype=np.float32))
    return waveform.to(torch.float32)


def _check_finite(samples: torch.Tensor, name: str) -> None:
    for label, is_bad in (("NaN", torch.isnan), ("inf", torch.isinf)):
        bad = is_bad(samples)
        if bad.any():
            raise AudioError(
                f"{name}: contains {int(bad.sum())} {label} sample(s), "
                f"the first at index {int(bad.nonzero()[0, 0])}"
            )


def _check_range(samples: torch.Tensor, name: str) -> None:
    """The one policy for samples outside [-1, 1]: refused, not clipped or rescaled (a
    clipped signal has lost information; a rescaled one would silently change every level
    and every explanation computed from it)."""
    peak = float(samples.abs().max()) if samples.numel() else 0.0
    if peak > 1.0:
        raise AudioError(
            f"{name}: peak magnitude {peak:.4g} is above 1.0, outside the [-1, 1] of float "
            "audio; scale it (waveform / abs(waveform).max()) or fix the export's gain"
        )


def _check_signal(samples: torch.Tensor, name: str) -> None:
    peak = float(samples.abs().max())
    if peak < SILENCE_PEAK:
        raise AudioError(
            f"{name}: is silent (peak magnitude {peak:.1e} < {SILENCE_PEAK:.0e}); "
            "pass require_signal=False to accept silence"
        )


def _check_complete(path: Path) -> None:
    """Raise if a RIFF/WAVE file holds fewer data bytes than its header promises.

    libsndfile reads such a file without complaint, returning only the frames present;
    other formats are left to libsndfile, which fails on them itself.
    """
    with path.open("rb") as file:
        header = file.read(12)
        if len(header) < 12 or header[:4] != b"RIFF" or header[8:] != b"WAVE":
            return
        while len(chunk := file.read(8)) == 8:
            chunk_id, size = struct.unpack("<4sI", chunk)
            if chunk_id == b"data":
                present = path.stat().st_size - file.tell()
                if size != _STREAMED_SIZE and present < size:
                    raise AudioError(
                        f"{path}: truncated: the WAV header promises {size} bytes of audio "
                        f"but only {present} are present; re-export or re-download the file"
                    )
                return
            file.seek(size + size % 2, os.SEEK_CUR)


def summary(waveform: np.ndarray, sample_rate: int) -> dict[str, float]:
    """Duration (s), sample rate (Hz), RMS and peak level (dB full scale) of a signal."""
    signal = np.asarray(waveform, dtype=np.float64)
    rms = float(np.sqrt(np.mean(signal**2)))
    peak = float(np.max(np.abs(signal)))
    return {
        "duration_s": signal.size / sample_rate,
        "sample_rate_hz": float(sample_rate),
        "rms_dbfs": 20 * np.log10(max(rms, 1e-10)),
        "peak_dbfs": 20 * np.log10(max(peak, 1e-10)),
    }
