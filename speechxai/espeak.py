"""Offline speech synthesis with eSpeak NG, driven through ctypes.

The PyPI wheel ``espeakng-loader`` ships ``libespeak-ng.so`` and its voice data, so the
book can speak without network or system packages. eSpeak NG runs in synchronous mode:
every call returns 22,050 Hz int16 audio plus the WORD events, whose sample offsets give
exact word boundaries.

eSpeak NG seeds its noise generator (breath noise of the female variants) with the time
when it initialises; every call here re-seeds it, so the same sequence of calls in a fresh
process gives bit-identical audio. Filter states persist between calls, though: a repeated
call in one process differs slightly. Code that needs a fixed corpus synthesizes it in a
fresh process in a fixed order and caches it.

eSpeak NG's variants choose their glottal source with a ``klatt N`` line (Klatt 1980's
cascade-parallel synthesiser, N = 1-4); none of the human-sounding ones does. The engine
reads its data through a private folder of links to the installed data; its ``voices/!v``
gets the variant ``V-kN`` (``V`` plus ``klatt N``: :func:`klatt_variant`) when a voice first
asks for it - eSpeak NG lists at most 349 voices, too few for every copy in advance.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from speechxai.errors import AudioError

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_INITIALIZE_DONT_EXIT = 0x8000
_EVENT_WORD = 1
_EVENT_LIST_TERMINATED = 0
_PARAMETER = {"rate": 1, "volume": 2, "pitch": 3, "range": 4, "wordgap": 7}

FEMALE_VOICES = tuple(f"en-us+f{n}" for n in range(1, 6))
MALE_VOICES = tuple(f"en-us+m{n}" for n in range(1, 8))
KLATT_VOICINGS = (1, 2, 3, 4)
"""The values of eSpeak NG's ``klatt`` voice attribute: its Klatt synthesiser's glottal
sources (eSpeak NG's docs/voices.md)."""


def klatt_variant(variant: str, voicing: int) -> str:
    """The name of eSpeak NG's ``variant`` voiced by Klatt glottal source ``voicing``."""
    if voicing not in KLATT_VOICINGS:
        raise ValueError(f"Klatt voicing must be one of {KLATT_VOICINGS}, got {voicing}")
    return f"{variant}-k{voicing}"


def _linked(source: Path, target: Path, own: str | None = None) -> Path:
    """``target``, a new folder of links to every entry of ``source`` but ``own``."""
    target.mkdir()
    for entry in source.iterdir():
        if entry.name != own:
            (target / entry.name).symlink_to(entry)
    return target


def _private_data(installed: Path, folder: Path) -> Path:
    """``folder/espeak-ng-data``: links to everything of the ``installed`` data folder, with
    a ``voices/!v`` of its own (links to the installed variants) where Klatt-voiced copies
    can be written."""
    data = _linked(installed, folder / "espeak-ng-data", own="voices")
    voices = _linked(installed / "voices", data / "voices", own="!v")
    _linked(installed / "voices" / "!v", voices / "!v")
    return data


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    """``espeak_EVENT`` from ``speak_lib.h``."""

    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass(frozen=True)
class Word:
    """One spoken word: its text and where it starts in the synthesized audio."""

    text: str
    start_sample: int


@dataclass(frozen=True)
class Utterance:
    """Synthesized speech: int16 samples scaled to float32 in [-1, 1] and word events."""

    waveform: np.ndarray
    sample_rate: int
    words: tuple[Word, ...]

    @property
    def duration(self) -> float:
        return len(self.waveform) / self.sample_rate

    def word_spans(self) -> list[tuple[str, float, float]]:
        """``(text, start_s, end_s)`` per word; a word ends where the next one starts."""
        ends = [word.start_sample for word in self.words[1:]] + [len(self.waveform)]
        return [
            (word.text, word.start_sample / self.sample_rate, end / self.sample_rate)
            for word, end in zip(self.words, ends, strict=True)
        ]


class _Engine:
    """The process-wide eSpeak NG instance (the library keeps global state)."""

    def __init__(self) -> None:
        library, installed = _locate_library()
        self._lib = ctypes.CDLL(library)
        self._libc = ctypes.CDLL(None)
        self._lib.espeak_Info.restype = ctypes.c_char_p
        data_path = ctypes.c_char_p()
        if installed is None:  # a system library: its compiled-in default data folder
            self._lib.espeak_ng_InitializePath(None)
            self._lib.espeak_Info(ctypes.byref(data_path))
            installed = Path(data_path.value.decode())
        self._data = tempfile.TemporaryDirectory(prefix="speechxai-espeak-")
        data_root = _private_data(installed, Path(self._data.name)).parent
        self.sample_rate = self._lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, str(data_root).encode(), _INITIALIZE_DONT_EXIT
        )
        if self.sample_rate <= 0:
            raise RuntimeError(f"eSpeak NG ({library}) failed to initialise with data {installed}")
        self.version = self._lib.espeak_Info(ctypes.byref(data_path)).decode()
        self._variant_folder = Path(data_path.value.decode()) / "voices" / "!v"
        self.variants = {path.name for path in self._variant_folder.iterdir()}
        self._lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        self._lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, int, int]] = []
        self._callback = _CALLBACK(self._collect)  # keep a reference: C holds a pointer
        self._lib.espeak_SetSynthCallback(self._callback)
        self.lock = threading.Lock()

    def _collect(self, wav, n_samples, events) -> int:
        if n_samples > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n_samples,)).copy())
        index = 0
        while events[index].type != _EVENT_LIST_TERMINATED:
            event = events[index]
            if event.type == _EVENT_WORD:
                self._events.append((event.sample, event.text_position, event.length))
            index += 1
        return 0

    def _write_klatt_variant(self, base: str, voicing: int) -> None:
        """The variant file ``base`` with ``klatt <voicing>`` added (:func:`klatt_variant`)."""
        name = klatt_variant(base, voicing)
        text = (self._variant_folder / base).read_text(encoding="utf-8", errors="replace")
        (self._variant_folder / name).write_text(f"{text.rstrip()}\nklatt {voicing}\n",
                                                 encoding="utf-8")
        self.variants.add(name)

    def speak(
        self, text: str, voice: str, parameters: dict[str, int], noise_seed: int
    ) -> Utterance:
        _, _, variant = voice.partition("+")
        base, _, voicing = variant.rpartition("-k")
        if (variant not in self.variants and base in self.variants
                and voicing in {str(n) for n in KLATT_VOICINGS}):
            self._write_klatt_variant(base, int(voicing))
        if variant and variant not in self.variants:
            # eSpeak NG would silently fall back to the base voice
            raise AudioError(
                f"eSpeak NG has no voice variant {variant!r} (in {voice!r}); "
                f"known variants include {', '.join(sorted(self.variants)[:12])}, ..., each "
                f"also Klatt-voiced as <variant>-k1 ... -k{KLATT_VOICINGS[-1]}"
            )
        if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise AudioError(f"eSpeak NG has no voice named {voice!r}")
        for name, value in parameters.items():
            self._lib.espeak_SetParameter(_PARAMETER[name], int(value), 0)
        self._chunks, self._events = [], []
        # eSpeak NG seeds its noise generator with the time at initialisation and some
        # code paths still draw from libc's rand(): seed both for reproducible output
        self._lib.espeak_ng_SetRandSeed(ctypes.c_long(noise_seed))
        self._libc.srand(noise_seed)
        encoded = text.encode("utf-8")
        status = self._lib.espeak_Synth(
            encoded, len(encoded) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
        )
        if status != 0:
            raise RuntimeError(f"eSpeak NG could not synthesize {text!r} (error {status})")
        samples = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        words = tuple(
            # text positions count characters from 1
            Word(text[position - 1 : position - 1 + length], start)
            for start, position, length in self._events
        )
        return Utterance(samples.astype(np.float32) / 32768.0, self.sample_rate, words)


_engine: _Engine | None = None

INSTALL_HINT = (
    "eSpeak NG was not found. Install the wheel that ships it (`pip install "
    "espeakng-loader`, Linux x86_64) or the system library: `apt install libespeak-ng1` "
    "(Debian/Ubuntu), `brew install espeak-ng` (macOS)."
)


def _locate_library() -> tuple[str, Path | None]:
    """The eSpeak NG library and its data folder: the ``espeakng-loader`` wheel first, else
    a system ``libespeak-ng`` with its own data (``None``: its default)."""
    try:
        import espeakng_loader
    except ImportError:
        library = ctypes.util.find_library("espeak-ng")
        if library is None:
            raise RuntimeError(INSTALL_HINT) from None
        return library, None
    return espeakng_loader.get_library_path(), Path(espeakng_loader.get_data_path())


def speak(
    text: str,
    voice: str = "en-us",
    rate: int = 175,
    pitch: int = 50,
    pitch_range: int = 50,
    noise_seed: int = 0,
) -> Utterance:
    """Synthesize ``text`` with eSpeak NG.

    Parameters
    ----------
    text
        What to say (UTF-8).
    voice
        eSpeak NG voice name, optionally with a variant: ``"en-us"``, ``"en-us+f3"``,
        ``"en+m3"``, or a Klatt-voiced variant: ``"en+m3-k2"`` (:func:`klatt_variant`). An
        unknown variant raises :class:`~speechxai.errors.AudioError` (eSpeak NG itself would
        fall back to the base voice silently).
    rate
        Speaking rate in words per minute (80-450).
    pitch, pitch_range
        Base pitch and pitch range, 0-100 (50 is the voice's normal).
    noise_seed
        Seed of the breath noise that some variants (the female ones) mix in.
    """
    if not text.strip():
        raise AudioError("text to speak is empty")
    global _engine
    if _engine is None:
        _engine = _Engine()
    with _engine.lock:
        return _engine.speak(
            text, voice, {"rate": rate, "pitch": pitch, "range": pitch_range}, noise_seed
        )
