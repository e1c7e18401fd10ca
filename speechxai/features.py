"""Time-frequency features computed with torchaudio.

Every feature is computed on the device of the waveform it is given (its transforms are cached
per device): the trainers compute them on the CPU beside the data, a caller with a waveform on
a GPU gets them there. AlexNet's spectrogram runs its Fourier transform in float64, which
Apple's MPS does not have: compute it on the CPU there."""

from __future__ import annotations

import contextlib
import functools
import math
import numbers
from fractions import Fraction

import numpy as np
import torch
import torchaudio

from speechxai.errors import AudioError


def spectrogram_db(
    waveform: np.ndarray | torch.Tensor,
    sample_rate: int,
    window_ms: float = 25.0,
    hop_ms: float = 10.0,
    top_db: float = 80.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Power spectrogram in dB (Hann window) for display.

    Returns ``(power_db, frequencies_hz, frame_times_s)`` with ``power_db`` shaped
    (frequencies, frames), 0 dB at its maximum and clipped ``top_db`` below it.
    """
    signal = _as_signal(waveform)
    sample_rate = _check_rate(sample_rate)
    n_fft = int(round(window_ms * sample_rate / 1000))
    hop = int(round(hop_ms * sample_rate / 1000))
    power = torchaudio.transforms.Spectrogram(n_fft=n_fft, hop_length=hop, power=2.0)(signal)
    reference = float(power.max().clamp_min(1e-10).log10())
    power_db = torchaudio.functional.amplitude_to_DB(
        power, multiplier=10.0, amin=1e-10, db_multiplier=reference
    )
    power_db = power_db.clamp_min(-top_db).numpy()
    frequencies = np.fft.rfftfreq(n_fft, 1 / sample_rate)
    times = np.arange(power_db.shape[1]) * hop / sample_rate
    return power_db, frequencies, times


def long_term_spectrum_db(
    waveform: np.ndarray | torch.Tensor, sample_rate: int, window_ms: float = 50.0
) -> tuple[np.ndarray, np.ndarray]:
    """Long-term average power spectrum in dB (mean over frames), and its frequencies (Hz).

    Two voices differ in it by their pitch and formants; repeated syntheses of one voice
    hardly do.
    """
    power_db, frequencies, _ = spectrogram_db(
        waveform, sample_rate, window_ms=window_ms, top_db=200.0
    )
    mean_power = np.mean(10 ** (power_db / 10), axis=1)
    return 10 * np.log10(np.maximum(mean_power, 1e-20)), frequencies


def spectral_distance_db(
    waveform_a: np.ndarray | torch.Tensor,
    waveform_b: np.ndarray | torch.Tensor,
    sample_rate: int,
    band_hz: tuple[float, float] = (80.0, 5000.0),
) -> float:
    """RMS difference (dB) between two signals' long-term spectra within ``band_hz``."""
    spectrum_a, frequencies = long_term_spectrum_db(waveform_a, sample_rate)
    spectrum_b, _ = long_term_spectrum_db(waveform_b, sample_rate)
    in_band = (frequencies >= band_hz[0]) & (frequencies <= band_hz[1])
    return float(np.sqrt(np.mean((spectrum_a - spectrum_b)[in_band] ** 2)))


# --- Model inputs -------------------------------------------------------------------------------
#
# AudioMNIST (Becker et al. 2018, "Interpreting and explaining deep neural networks for the
# classification of audio signals", arXiv:1807.03418; preprocessing as in the authors' code,
# github.com/soerenab/AudioMNIST, ``preprocess_data.py``), DeepSpeech 0.9 MFCC windows (Hannun et
# al. 2014, arXiv:1412.5567; Mozilla DeepSpeech 0.9 feature settings) and a z-normalised log-mel
# spectrogram.

AUDIOMNIST_RATE = 8000
"""Sample rate (Hz) of the AudioMNIST model inputs."""
AUDIOMNIST_LENGTH = 8000
"""Samples in a padded AudioMNIST input (1 s at 8 kHz)."""
AUDIOMNIST_SIZE = 227
"""Frequencies and frames of an AudioMNIST spectrogram (AlexNet's 227 x 227 input)."""

_STFT_WINDOW = 455
_STFT_HOP = 35  # 455 - 420 samples of overlap
_STFT_EDGE = _STFT_WINDOW // 2  # scipy.signal.stft's boundary="zeros" padding
_STFT_FIRST_FRAME = 2  # the paper code keeps frames 2 .. n-2 (``Zxx[:, 2:-1]``)
_DB_AMIN = 1e-5  # librosa.amplitude_to_db's default floor
_DB_TOP = 80.0  # librosa.amplitude_to_db's default top_db

DEEPSPEECH_RATE = 16000
MFCC_COEFFICIENTS = 26
MFCC_CONTEXT = 9
MFCC_MELS = 40
MFCC_BAND_HZ = (20.0, 4000.0)
MFCC_WINDOW = 512  # 32 ms at 16 kHz
MFCC_HOP = 320  # 20 ms at 16 kHz

LOG_MEL_RATE = 16000
LOG_MEL_BINS = 128
LOG_MEL_WINDOW = 400  # 25 ms at 16 kHz
LOG_MEL_HOP = 160  # 10 ms at 16 kHz
LOG_MEL_OFFSET = 1e-6


def _as_samples(waveform: np.ndarray | torch.Tensor, name: str = "waveform") -> torch.Tensor:
    """``waveform`` as a floating-point tensor of any shape, its dtype and gradients kept;
    AudioError if it is not an array of finite real floats (integer PCM is refused, not
    rescaled; complex samples are no signal)."""
    try:
        signal = torch.as_tensor(waveform if torch.is_tensor(waveform) else np.asarray(waveform))
    except (TypeError, ValueError, RuntimeError) as error:
        raise AudioError(f"{name} is not an array of samples: {error}") from None
    if signal.is_complex():
        raise AudioError(f"{name} has complex samples ({signal.dtype}); pass the real signal")
    if not signal.is_floating_point():
        raise AudioError(f"{name} has dtype {signal.dtype}; pass float samples in [-1, 1] "
                         "(integer PCM: divide int16 by 32768)")
    finite = torch.isfinite(signal.detach())
    if not finite.all():
        raise AudioError(f"{name} has {int((~finite).sum())} samples that are NaN or infinite")
    return signal


def _as_signal(waveform: np.ndarray | torch.Tensor, name: str = "waveform") -> torch.Tensor:
    """``waveform`` as a 1-D float32 tensor (gradients kept); AudioError if
    :func:`_as_samples` refuses it, or it is not 1-D or empty."""
    signal = _as_samples(waveform, name).to(torch.float32)
    if signal.ndim != 1:
        raise AudioError(
            f"{name} must be a 1-D signal (samples,), got shape {tuple(signal.shape)}; "
            "pass one mono channel at a time"
        )
    if signal.numel() == 0:
        raise AudioError(f"{name} is empty: it has no samples")
    return signal


def _check_rate(sample_rate: int) -> int:
    if (isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Real)
            or not math.isfinite(sample_rate) or int(sample_rate) != sample_rate
            or sample_rate <= 0):
        raise AudioError(f"sample_rate must be a positive whole number of Hz, got {sample_rate!r}")
    return int(sample_rate)


MAX_KERNEL_PHASES = 4_000_000
"""Largest ``(new / g) * (old / g)`` (``g`` their gcd) resampled exactly: torchaudio's sinc
kernel has about that many entries (44,101 -> 16,000 Hz would need 2.8 GB)."""


def resampling_ratio(sample_rate: int, new_rate: int) -> tuple[int, int]:
    """``(old, new)`` with ``new / old == new_rate / sample_rate`` reduced - or, when that
    needs a kernel of more than :data:`MAX_KERNEL_PHASES` entries, the closest fraction
    (continued fractions) whose kernel fits. Over 200,000 random pairs of rates between
    1 kHz and 400 kHz the relative rate error stayed below 2.3e-4 (0.4 cents of pitch, a
    time scale off by 0.23 ms per second); 44,101 -> 16,000 Hz: 2.3e-7. :func:`resample`
    trims or pads to the exact length."""
    ratio = Fraction(new_rate, sample_rate)
    if ratio.numerator * ratio.denominator <= MAX_KERNEL_PHASES:
        return ratio.denominator, ratio.numerator
    limit = math.isqrt(int(MAX_KERNEL_PHASES / ratio))
    while True:
        approximate = ratio.limit_denominator(max(limit, 1))
        if approximate.numerator * approximate.denominator <= MAX_KERNEL_PHASES:
            return approximate.denominator, approximate.numerator
        limit = int(limit * 0.9)


@functools.lru_cache(maxsize=16)
def _resampler(orig_rate: int, new_rate: int, device: torch.device
               ) -> torchaudio.transforms.Resample:
    """A Resample transform (its sinc kernel computed once, on ``device``) for ``orig_rate``
    -> ``new_rate``, reduced (or approximated) by :func:`resampling_ratio` so that its kernel
    stays small."""
    return torchaudio.transforms.Resample(*resampling_ratio(orig_rate, new_rate)).to(device)


def _gradients(differentiable: bool):
    """The context of a transform: autograd as the caller has it, or none."""
    return contextlib.nullcontext() if differentiable else torch.no_grad()


def resample(waveform: np.ndarray | torch.Tensor, sample_rate: int, new_rate: int, *,
             differentiable: bool = False) -> torch.Tensor:
    """``waveform`` (1-D) resampled from ``sample_rate`` to ``new_rate`` Hz, float32.

    Band-limited sinc interpolation with torchaudio's defaults (Hann-windowed sinc, 6 zero
    crossings, roll-off 0.99), identical to ``torchaudio.functional.resample``; the kernel is
    cached per pair of rates. Rates whose exact kernel would be huge (a small common factor,
    e.g. 44,101 -> 16,000 Hz) are resampled at the nearest ratio whose kernel is small
    (:func:`resampling_ratio`), so memory stays bounded for any pair. The output has
    ``ceil(len * new_rate / sample_rate)`` samples. ``differentiable`` lets gradients reach
    ``waveform`` (e.g. for adversarial attacks).
    """
    signal = _as_signal(waveform)
    sample_rate, new_rate = _check_rate(sample_rate), _check_rate(new_rate)
    if sample_rate == new_rate:
        return signal
    length = math.ceil(len(signal) * new_rate / sample_rate)
    with _gradients(differentiable):
        resampled = _resampler(sample_rate, new_rate, signal.device)(signal)
        return torch.nn.functional.pad(resampled[:length], (0, max(0, length - len(resampled))))


def audiomnist_waveform(
    waveform: np.ndarray | torch.Tensor, sample_rate: int, seed: int, *, normalise: bool = True
) -> torch.Tensor:
    """An AudioMNIST recording as the 1-s, 8-kHz input of AudioNet (Becker et al. 2018).

    Follows the authors' preprocessing code: resample to 8 kHz, embed the signal in 8,000 zeros
    at a random offset, then divide by the 95th percentile of the padded signal plus 0.001.

    Parameters
    ----------
    waveform : array or tensor, shape (samples,)
        One mono recording, in any scale (the paper code used raw int16 values; a float signal
        read by ``soundfile`` lies in [-1, 1], see Notes).
    sample_rate : int
        Its sample rate in Hz (48,000 for AudioMNIST).
    seed : int
        Seed of ``numpy.random.default_rng`` that draws the offset.
    normalise : bool, default True
        Apply the AudioNet percentile scaling. ``False`` returns the padded signal that the
        paper turns into AlexNet's spectrogram (see :func:`audiomnist_spectrogram`).

    Returns
    -------
    torch.Tensor, float32, shape (8000,)

    Raises
    ------
    AudioError
        If the signal is longer than 8,000 samples after resampling (the error names its
        length), empty or not 1-D, or if the scale ``p95 + 0.001`` is not positive.

    Notes
    -----
    * The offset is ``rng.integers(0, 8000 - n)`` for ``n`` resampled samples: uniform over
      0 .. 8000 - n - 1 (upper bound exclusive, like the paper's ``np.random.randint``), so the
      signal never touches the last sample. A signal of exactly 8,000 samples is not shifted
      and draws no random number.
    * The percentile is taken exactly as in the paper code,
      ``np.percentile(embedded_data, 95)``: over all 8,000 samples, padding zeros included, of
      the *signed* signal (not of ``|x|``), with linear interpolation (``torch.quantile``).
      For a symmetric signal that is about the 90th percentile of ``|x|``. The 0.001 is added
      to it as is; the paper's samples were int16-scale, so with a float signal in [-1, 1] the
      0.001 weighs about 32,768 times more (pass ``waveform * 32768`` to match the paper).
    * The paper resampled with ``librosa.resample(res_type="scipy")`` (FFT resampling); this
      uses torchaudio's sinc interpolation (:func:`resample`), which gives the same length and
      differs only near the band edge.
    """
    signal = resample(waveform, sample_rate, AUDIOMNIST_RATE)
    length = signal.numel()
    if length > AUDIOMNIST_LENGTH:
        raise AudioError(
            f"the recording has {length} samples at {AUDIOMNIST_RATE} Hz "
            f"({length / AUDIOMNIST_RATE:.3f} s), more than the {AUDIOMNIST_LENGTH} samples "
            "(1 s) of an AudioMNIST input; trim it first"
        )
    if length < AUDIOMNIST_LENGTH:
        offset = int(np.random.default_rng(seed).integers(0, AUDIOMNIST_LENGTH - length))
        padded = torch.zeros(AUDIOMNIST_LENGTH, dtype=torch.float32)
        padded[offset : offset + length] = signal
    else:
        padded = signal.clone()
    if not normalise:
        return padded
    scale = float(torch.quantile(padded.double(), 0.95)) + 0.001
    if scale <= 0:
        raise AudioError(
            f"the 95th percentile of the padded signal plus 0.001 is {scale:.3g}, not positive: "
            "the AudioNet scaling would flip or blow up the signal (is it mostly negative?)"
        )
    return (padded.double() / scale).to(torch.float32)


@functools.lru_cache(maxsize=4)
def _stft_window(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """scipy's ``get_window("hann", 455)`` (periodic) divided by its sum ("spectrum" scaling)."""
    window = torch.hann_window(_STFT_WINDOW, periodic=True, dtype=dtype, device=device)
    return window / window.sum()


def audiomnist_spectrogram(waveform_8k: np.ndarray | torch.Tensor) -> torch.Tensor:
    """AlexNet's 227 x 227 amplitude spectrogram in dB of padded 8-kHz signals (Becker et al. 2018).

    Reproduces the authors' code, ``scipy.signal.stft(x, 8000, nperseg=455, noverlap=420,
    window="hann")`` (periodic Hann window, 227 zeros of padding at both ends and 16 at the end,
    spectrum scaling by the window sum; 228 frequencies x 230 frames), cropped to
    ``|Zxx[0:227, 2:-1]|`` (the highest frequency and three edge frames dropped), then
    ``librosa.amplitude_to_db(S, ref=np.max)``: ``20 log10(max(S, 1e-5)) - 20 log10(max(ref,
    1e-5))`` with ``ref`` the maximum of the cropped spectrogram, floored 80 dB below its
    maximum. Written with torch only (no librosa).

    Parameters
    ----------
    waveform_8k : array or tensor, shape (8000,) or (N, 8000)
        Padded 8-kHz signals, e.g. from :func:`audiomnist_waveform`.

    Returns
    -------
    torch.Tensor, float32, shape (227, 227) or (N, 227, 227)
        Frequencies (0 .. 3,974 Hz in steps of 8000/455 Hz) x frames (35-sample hop), 0 dB at
        each spectrogram's maximum, at least -80 dB.

    Notes
    -----
    The dB values do not depend on the signal's scale except through the 1e-5 amplitude floor,
    which binds only for quiet signals (maximum below ~0.1 after the window-sum scaling). The
    paper computed the spectrogram of the padded int16-scale signal, where the floor never
    binds; the AudioNet-scaled signal (``normalise=True``) is usually loud enough to behave alike.
    The Fourier transform runs in float64 (float32 rounding would move bins near -80 dB by
    ~1e-3 dB); the result is float32.
    """
    signal = _as_samples(waveform_8k, "waveform_8k")
    if signal.ndim not in (1, 2) or signal.shape[-1] != AUDIOMNIST_LENGTH:
        raise AudioError(
            f"waveform_8k must have shape ({AUDIOMNIST_LENGTH},) or (N, {AUDIOMNIST_LENGTH}), "
            f"got {tuple(signal.shape)}; pad it with audiomnist_waveform first"
        )
    batch = signal.reshape(-1, AUDIOMNIST_LENGTH).to(torch.float64)
    # scipy pads nperseg // 2 zeros at both ends, then zeros at the end up to whole frames.
    frames_total = -(-(AUDIOMNIST_LENGTH + 2 * _STFT_EDGE - _STFT_WINDOW) // _STFT_HOP) + 1
    end_pad = (frames_total - 1) * _STFT_HOP + _STFT_WINDOW - AUDIOMNIST_LENGTH - _STFT_EDGE
    padded = torch.nn.functional.pad(batch, (_STFT_EDGE, end_pad))
    first = _STFT_FIRST_FRAME
    frames = padded.unfold(-1, _STFT_WINDOW, _STFT_HOP)[:, first : first + AUDIOMNIST_SIZE]
    spectrum = torch.fft.rfft(frames * _stft_window(torch.float64, frames.device), dim=-1)
    spectrum = spectrum[..., :AUDIOMNIST_SIZE].to(torch.complex64)
    # re^2 + im^2 as two tensors: the same float32 operations as summing the pairs of
    # view_as_real, without a reduction over a dimension of 2 (3x slower, measured)
    power = (spectrum.real.square() + spectrum.imag.square()).transpose(-1, -2)
    db = 10.0 * torch.log10(power.clamp_min(_DB_AMIN**2))
    reference = power.amax(dim=(-2, -1), keepdim=True).clamp_min(_DB_AMIN**2)
    db = db - 10.0 * torch.log10(reference)
    db = torch.maximum(db, db.amax(dim=(-2, -1), keepdim=True) - _DB_TOP)
    return db.reshape(signal.shape[:-1] + (AUDIOMNIST_SIZE, AUDIOMNIST_SIZE)).contiguous()


def audiomnist_spectrogram_axes() -> tuple[np.ndarray, np.ndarray]:
    """Centre frequencies (Hz) of the 227 rows and centre times (s) of the 227 columns of
    :func:`audiomnist_spectrogram` (scipy's frames are centred at multiples of the hop)."""
    frequencies = np.arange(AUDIOMNIST_SIZE) * AUDIOMNIST_RATE / _STFT_WINDOW
    frames = np.arange(AUDIOMNIST_SIZE) + _STFT_FIRST_FRAME
    return frequencies, frames * _STFT_HOP / AUDIOMNIST_RATE


def fold_mean(spectrograms: torch.Tensor) -> torch.Tensor:
    """Element-wise mean (227, 227) of a training fold's spectrograms (N, 227, 227)."""
    return torch.as_tensor(spectrograms).mean(dim=0)


def subtract_mean(spectrograms: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """``spectrograms`` minus a training fold's :func:`fold_mean` (broadcast over the batch)."""
    return torch.as_tensor(spectrograms) - torch.as_tensor(mean)


@functools.lru_cache(maxsize=2)
def _mfcc_transform(device: torch.device) -> torchaudio.transforms.MFCC:
    return torchaudio.transforms.MFCC(
        sample_rate=DEEPSPEECH_RATE,
        n_mfcc=MFCC_COEFFICIENTS,
        dct_type=2,
        norm="ortho",
        log_mels=True,
        melkwargs={
            "n_fft": MFCC_WINDOW,
            "win_length": MFCC_WINDOW,
            "hop_length": MFCC_HOP,
            "n_mels": MFCC_MELS,
            "f_min": MFCC_BAND_HZ[0],
            "f_max": MFCC_BAND_HZ[1],
            "center": False,
            "power": 2.0,
            "window_fn": torch.hann_window,
        },
    ).to(device)


def mfcc_frames(waveform: np.ndarray | torch.Tensor, sample_rate: int, *,
                differentiable: bool = False) -> torch.Tensor:
    """DeepSpeech 0.9 MFCC frames (T, 26) of a recording (resampled to 16 kHz).

    Parameters
    ----------
    waveform : array or tensor, shape (samples,)
        One mono recording, float in [-1, 1] like DeepSpeech's decoded WAV.
    sample_rate : int
        Its sample rate in Hz.
    differentiable : bool
        Let gradients reach ``waveform`` through the resampler and the MFCC transform
        (:func:`mfcc_windows` with ``differentiable``).

    Returns
    -------
    torch.Tensor, float32, shape (T, 26)
        ``T = 1 + (n - 512) // 320`` for ``n`` samples at 16 kHz: only whole 32-ms windows
        (512 samples, periodic Hann) every 20 ms (320 samples), without centring padding, like
        TensorFlow's ``audio_spectrogram`` that DeepSpeech uses.

    Notes
    -----
    ``torchaudio.transforms.MFCC`` with the settings of TensorFlow's ``mfcc`` op as DeepSpeech
    0.9 calls it: power spectrum, 40 HTK-scale mel filters between 20 and 4,000 Hz (TF's
    defaults), natural log, 26 DCT-II coefficients. Differences from TF: torchaudio adds 1e-6
    before the log (TF floors at 1e-12), uses an orthonormal DCT (TF scales coefficient 0 by
    sqrt(2/40) instead of sqrt(1/40)) and builds its triangles slightly differently, so values
    are close to but not bit-equal to DeepSpeech's.

    Raises
    ------
    AudioError
        If the recording is shorter than one 32-ms window at 16 kHz.
    """
    signal = resample(waveform, sample_rate, DEEPSPEECH_RATE, differentiable=differentiable)
    if signal.numel() < MFCC_WINDOW:
        raise AudioError(
            f"the recording has {signal.numel()} samples at {DEEPSPEECH_RATE} Hz, fewer than "
            f"one {MFCC_WINDOW}-sample (32 ms) MFCC window"
        )
    with _gradients(differentiable):
        return _mfcc_transform(signal.device)(signal).T.contiguous()


def context_windows(frames: torch.Tensor) -> torch.Tensor:
    """The (T, 19, 26) context windows of MFCC frames (T, 26): window ``i`` holds frames
    ``i - 9 .. i + 9``, so its row 9 is frame ``i``, with zeros beyond both ends (DeepSpeech
    pads the feature sequence with zeros before sliding its context window). A view, through
    which gradients pass."""
    if frames.ndim != 2 or len(frames) == 0:
        raise AudioError(f"expected MFCC frames (T, coefficients) with T >= 1, got "
                         f"{tuple(frames.shape)}")
    padded = torch.nn.functional.pad(frames, (0, 0, MFCC_CONTEXT, MFCC_CONTEXT))
    return padded.unfold(0, 2 * MFCC_CONTEXT + 1, 1).transpose(1, 2)  # (T, 19, 26)


def mfcc_windows(waveform: np.ndarray | torch.Tensor, sample_rate: int, *,
                 differentiable: bool = False) -> torch.Tensor:
    """DeepSpeech 0.9 input windows (T, 19, 26) of a waveform: :func:`context_windows` of its
    :func:`mfcc_frames`. ``differentiable``: gradients reach the waveform (adversarial
    attacks; a view then, else a contiguous tensor)."""
    windows = context_windows(mfcc_frames(waveform, sample_rate, differentiable=differentiable))
    return windows if differentiable else windows.contiguous()


@functools.lru_cache(maxsize=2)
def _mel_transform(device: torch.device) -> torchaudio.transforms.MelSpectrogram:
    return torchaudio.transforms.MelSpectrogram(
        sample_rate=LOG_MEL_RATE,
        n_fft=LOG_MEL_WINDOW,
        win_length=LOG_MEL_WINDOW,
        hop_length=LOG_MEL_HOP,
        n_mels=LOG_MEL_BINS,
        power=2.0,
        mel_scale="slaney",
    ).to(device)


def log_mel_frequencies() -> np.ndarray:
    """Centre frequency (Hz) of each of :func:`log_mel`'s 128 bins: the mean frequency of its
    Slaney-scale triangle, weighted by the triangle."""
    n_freqs = LOG_MEL_WINDOW // 2 + 1
    banks = torchaudio.functional.melscale_fbanks(
        n_freqs, 0.0, LOG_MEL_RATE / 2, LOG_MEL_BINS, LOG_MEL_RATE, mel_scale="slaney").numpy()
    frequencies = np.linspace(0.0, LOG_MEL_RATE / 2, n_freqs)
    return (banks * frequencies[:, None]).sum(0) / banks.sum(0)


def log_mel(waveform: np.ndarray | torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Log-mel spectrogram (128, T) at 16 kHz, z-normalised per mel bin over time.

    Parameters
    ----------
    waveform : array or tensor, shape (samples,)
        One mono recording.
    sample_rate : int
        Its sample rate in Hz; the signal is resampled to 16 kHz.

    Returns
    -------
    torch.Tensor, float32, shape (128, T)
        ``torchaudio.transforms.MelSpectrogram`` power (periodic Hann window of 25 ms = 400
        samples, FFT size 400, hop 10 ms = 160 samples, centred frames with reflection padding,
        so ``T = 1 + n // 160``; 128 mel bins from 0 to 8 kHz on the Slaney scale, unnormalised
        triangles), then ``log(mel + 1e-6)``
        (natural log; the offset keeps silent bins finite), then each bin minus its mean over
        time divided by its population standard deviation. A bin with zero standard deviation
        (constant over time) becomes all zeros instead of NaN.

    Notes
    -----
    The Slaney mel scale (librosa's default, linear below 1 kHz) is used because with 128 bins
    and a 400-point FFT the HTK scale leaves 4 low filters narrower than the 40-Hz FFT bin
    spacing, i.e. empty; the Slaney filters all contain at least one FFT bin.
    """
    signal = resample(waveform, sample_rate, LOG_MEL_RATE)
    with torch.no_grad():
        features = torch.log(_mel_transform(signal.device)(signal) + LOG_MEL_OFFSET)
    mean = features.mean(dim=1, keepdim=True)
    std = features.std(dim=1, correction=0, keepdim=True)
    std = torch.where(std > 1e-6, std, torch.ones_like(std))
    return (features - mean) / std
