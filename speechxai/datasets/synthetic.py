"""The embedded corpus: spoken digits synthesized offline with eSpeak NG.

Speakers are eSpeak NG voice variants (female f1-f5, male m1-m8; or the human-sounding
ones, optionally with Klatt voicing: :data:`VOICE_SETS`) x English accents x a pitch and
rate offset; half are female. Female and male pitch ranges overlap a little, as
in real speech (measured median F0: female 137-225 Hz, male 95-142 Hz), so that the sex
task is not trivial. Each utterance jitters rate, pitch, level, leading and trailing
silence, and adds white noise at 30-50 dB SNR; all draws come from a seeded generator.

eSpeak NG carries state from one call to the next, so the corpus is generated in a fresh
subprocess in a fixed order (speaker, digit, repetition): the same configuration gives a
byte-identical corpus. It is cached under ``data/embedded/`` keyed by a hash of its
configuration.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from speechxai.datasets.corpus import DIGIT_WORDS, DigitCorpus, Entry, data_root
from speechxai.datasets.download import file_digest
from speechxai.espeak import KLATT_VOICINGS, klatt_variant
from speechxai.locking import exclusive_lock
from speechxai.progress import tqdm

CORPUS_VERSION = 1  # bump when the generator changes what it produces
ACCENTS = ("en-us", "en", "en-gb-scotland", "en-029", "en-gb-x-rp", "en-us-nyc")
FEMALE_PITCHES = (20, 30, 40, 50)
MALE_PITCHES = (45, 55, 65, 75)
RATES = (150, 170, 190)
MAX_SECONDS = 0.98  # AudioMNIST pads every utterance into 1 s at 8 kHz


@dataclass(frozen=True)
class SyntheticSpeaker:
    """An eSpeak NG voice with its accent, base pitch (0-100) and rate (words/min)."""

    speaker: str
    gender: str
    voice: str
    accent: str
    pitch: int
    rate: int


NUMBERED_VARIANTS = (tuple(f"f{n}" for n in range(1, 6)), tuple(f"m{n}" for n in range(1, 9)))
"""eSpeak NG's numbered variants: female f1-f5, male m1-m8."""
HUMAN_VARIANTS = (
    ("f1", "f2", "f3", "f4", "f5", "Alicia", "Andrea", "Annie", "anika", "aunty", "belinda",
     "grandma", "linda", "steph", "steph2", "steph3"),
    ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "Andy", "AnxiousAndy", "Denis", "Diogo",
     "Henrique", "Hugo", "Lee", "Marco", "michel", "miguel", "sandro", "travis", "victor",
     "antonio", "croak", "Storm"),
)
"""Every human-sounding eSpeak NG variant that declares its sex (16 female, 24 male), each
with formant scalings, pitch range, breathiness or roughness of its own."""


def klatt_voiced(variant_sets: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
    """Each variant voiced by Klatt's glottal sources 1-4 in turn, by its position in its
    set (:func:`speechxai.espeak.klatt_variant`)."""
    return tuple(
        tuple(klatt_variant(variant, KLATT_VOICINGS[i % len(KLATT_VOICINGS)])
              for i, variant in enumerate(variants))
        for variants in variant_sets
    )


VOICE_SETS = {
    "f1-m8": NUMBERED_VARIANTS,
    "f1-m8-klatt": klatt_voiced(NUMBERED_VARIANTS),
    "human": HUMAN_VARIANTS,
    "human-klatt": klatt_voiced(HUMAN_VARIANTS),
}
"""The eSpeak NG variants (female, male) the embedded voices cycle through: ``"f1-m8"``
:data:`NUMBERED_VARIANTS`, ``"human"`` :data:`HUMAN_VARIANTS`, and each with Klatt voicing
(``"human-klatt"`` made the sex model transfer to LibriSpeech, ``"f1-m8-klatt"`` did not help
the digit model on FSDD: benchmarks/README, "Klatt voicing adopted for the sex task")."""
DEFAULT_VOICES = "f1-m8"


def embedded_speakers(n_speakers: int = 24, voices: str = DEFAULT_VOICES
                      ) -> list[SyntheticSpeaker]:
    """``n_speakers`` distinct voices, alternating female and male, drawing their variants
    from :data:`VOICE_SETS` ``[voices]``."""
    if n_speakers < 2 or n_speakers % 2:
        raise ValueError(f"n_speakers must be an even number >= 2, got {n_speakers}")
    if voices not in VOICE_SETS:
        raise ValueError(f"unknown voices {voices!r}; choose one of {', '.join(VOICE_SETS)}")
    females, males = VOICE_SETS[voices]
    speakers = []
    for index in range(n_speakers):
        k = index // 2
        if index % 2 == 0:
            variant, accent = females[k % len(females)], ACCENTS[k % len(ACCENTS)]
            pitch, rate, gender = FEMALE_PITCHES[k % 4], RATES[k % 3], "female"
        else:
            variant, accent = males[k % len(males)], ACCENTS[(k + 3) % len(ACCENTS)]
            pitch, rate, gender = MALE_PITCHES[k % 4], RATES[(k + 1) % 3], "male"
        speakers.append(
            SyntheticSpeaker(
                f"s{index + 1:02d}", gender, f"{accent}+{variant}", accent, pitch, rate
            )
        )
    return speakers


def synthesize_digit(
    speaker: SyntheticSpeaker, digit: int, rng: np.random.Generator
) -> tuple[np.ndarray, int, int]:
    """One jittered utterance as int16 samples, with the sample span of the speech."""
    from speechxai import espeak

    utterance = espeak.speak(
        DIGIT_WORDS[digit],
        voice=speaker.voice,
        rate=int(speaker.rate * rng.uniform(0.9, 1.1)),
        pitch=int(np.clip(speaker.pitch + rng.integers(-5, 6), 0, 100)),
        noise_seed=int(rng.integers(2**31)),
    )
    rate = utterance.sample_rate
    speech = utterance.waveform / max(np.abs(utterance.waveform).max(), 1e-6)
    speech = speech * rng.uniform(0.25, 0.9)
    lead, trail = (int(rng.uniform(0.02, 0.2) * rate) for _ in range(2))
    spare = int(MAX_SECONDS * rate) - speech.size
    if spare < 0:
        raise RuntimeError(f"{speaker.voice} says {DIGIT_WORDS[digit]!r} in over {MAX_SECONDS}s")
    if lead + trail > spare:
        lead, trail = lead * spare // (lead + trail), trail * spare // (lead + trail)
    signal = np.concatenate([np.zeros(lead), speech, np.zeros(trail)])
    speech_rms = np.sqrt(np.mean(speech**2))
    noise_rms = speech_rms / 10 ** (rng.uniform(30, 50) / 20)
    signal = signal + rng.normal(0, noise_rms, signal.size)
    samples = np.clip(np.round(signal * 32767), -32768, 32767).astype(np.int16)
    return samples, lead, lead + speech.size


def generate(config: dict, folder: Path, report_every: int = 20) -> None:
    """Write the corpus of ``config`` into ``folder`` (``audio.npy`` + ``index.json``).

    Runs inside the fresh subprocess; prints ``progress <done> <total>`` lines.
    """
    speakers = embedded_speakers(config["n_speakers"], config.get("voices", DEFAULT_VOICES))
    total = len(speakers) * 10 * config["per_digit"]
    chunks, rows, offset, started = [], [], 0, time.perf_counter()
    for s, speaker in enumerate(speakers):
        for digit in range(10):
            for rep in range(config["per_digit"]):
                rng = np.random.default_rng([config["seed"], s, digit, rep])
                samples, speech_start, speech_end = synthesize_digit(speaker, digit, rng)
                chunks.append(samples)
                rows.append(
                    [
                        digit,
                        speaker.speaker,
                        rep,
                        offset,
                        offset + samples.size,
                        speech_start,
                        speech_end,
                    ]
                )
                offset += samples.size
                if len(rows) % report_every == 0 or len(rows) == total:
                    print(f"progress {len(rows)} {total}", flush=True)
    np.save(folder / "audio.npy", np.concatenate(chunks))
    index = {
        "config": config,
        "audio_sha256": file_digest(folder / "audio.npy").sha256,
        "sample_rate": 22050,
        "speakers": [asdict(speaker) for speaker in speakers],
        "columns": ["digit", "speaker", "rep", "start", "end", "speech_start", "speech_end"],
        "rows": rows,
    }
    (folder / "index.json").write_text(json.dumps(index))
    print(f"seconds {time.perf_counter() - started:.3f}", flush=True)


def cache_problem(folder: Path) -> str | None:
    """Why the corpus cache ``folder`` cannot be used (missing, no or unreadable
    ``index.json``, written without a checksum, ``audio.npy`` missing or not matching its
    checksum), or None if it can."""
    if not folder.exists():
        return "missing"
    try:
        index = json.loads((folder / "index.json").read_text())
    except FileNotFoundError:
        return "no index.json (an interrupted generation?)"
    except (OSError, ValueError) as error:
        return f"index.json unreadable ({error})"
    if "audio_sha256" not in index:
        return "written by an older version, without a checksum"
    if not (folder / "audio.npy").is_file():
        return "audio.npy missing"
    if file_digest(folder / "audio.npy").sha256 != index["audio_sha256"]:
        return "audio.npy does not match its checksum (truncated or changed)"
    return None


def _generate_in_subprocess(config: dict, folder: Path, progress: bool) -> None:
    """Generate into a temporary sibling folder in a fresh process, then rename it."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = folder.with_name(f"{folder.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    total = config["n_speakers"] * 10 * config["per_digit"]
    command = [
        sys.executable,
        "-m",
        "speechxai.datasets.synthetic",
        json.dumps(config),
        str(partial),
    ]
    bar = tqdm(total=total, desc="synthesizing digits", unit="utt", disable=not progress)
    seconds = None
    try:
        with subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ) as process:
            for line in process.stdout:
                key, *values = line.split()
                if key == "progress":
                    bar.update(int(values[0]) - bar.n)
                elif key == "seconds":
                    seconds = float(values[0])
            errors = process.stderr.read()
        if process.returncode != 0:
            raise RuntimeError(f"generating the embedded corpus failed:\n{errors}")
        os.replace(partial, folder)
    finally:
        bar.close()
        shutil.rmtree(partial, ignore_errors=True)
    if progress and seconds:
        print(
            f"synthesized {total} utterances in {seconds:.1f} s "
            f"({total / seconds:.0f} utterances/s)"
        )


class SpokenDigits(DigitCorpus):
    """Spoken digits synthesized offline with eSpeak NG (the book's default dataset).

    Parameters
    ----------
    n_speakers
        Even number of voices, half female (default 24).
    per_digit
        Utterances per speaker and digit (AudioMNIST has 50).
    seed
        Seed of every random draw; the same seed gives a byte-identical corpus.
    root
        Cache folder; default ``$SPEECHXAI_DATA_DIR`` or ``data/``, then ``embedded/``.
    progress
        Show a progress bar and the generation speed when the corpus is generated.
    voices
        The variants the voices draw from (:data:`VOICE_SETS`).
    """

    name = "SpokenDigits"

    def __init__(
        self,
        n_speakers: int = 24,
        per_digit: int = 10,
        seed: int = 0,
        root: str | Path | None = None,
        progress: bool = True,
        voices: str = DEFAULT_VOICES,
    ):
        if per_digit < 1:
            raise ValueError(f"per_digit must be at least 1, got {per_digit}")
        embedded_speakers(n_speakers, voices)  # validates them before any work
        self.config = {
            "n_speakers": n_speakers,
            "per_digit": per_digit,
            "seed": seed,
            "version": CORPUS_VERSION,
        }
        if voices != DEFAULT_VOICES:  # the default's corpora keep their cache folders
            self.config["voices"] = voices
        self.voices = voices
        key = hashlib.sha256(json.dumps(self.config, sort_keys=True).encode()).hexdigest()
        base = Path(root) if root is not None else data_root()
        self.folder = base / "embedded" / f"spoken-digits-{key[:16]}"
        with exclusive_lock(self.folder):  # one process generates, the others wait for it
            problem = cache_problem(self.folder)
            if problem is not None:
                if self.folder.exists():
                    print(f"the corpus cache {self.folder} is unusable: {problem}; generating "
                          f"it again")
                    shutil.rmtree(self.folder)
                _generate_in_subprocess(self.config, self.folder, progress)
        index = json.loads((self.folder / "index.json").read_text())
        self.sample_rate = index["sample_rate"]
        self.audio = np.load(self.folder / "audio.npy", mmap_mode="r")
        rows = index["rows"]
        self.spans = [(row[3], row[4]) for row in rows]
        self.speech_spans = [(row[5], row[6]) for row in rows]
        metadata = {s["speaker"]: s for s in index["speakers"]}
        super().__init__([Entry(row[0], row[1], row[2]) for row in rows], metadata)

    @property
    def description(self) -> str:
        return f"{self.name} ({self.voices} voices)"

    def _load(self, index: int) -> tuple[torch.Tensor, int]:
        start, end = self.spans[index]
        samples = np.asarray(self.audio[start:end], dtype=np.float32) / 32768.0
        return torch.from_numpy(samples), self.sample_rate


if __name__ == "__main__":
    generate(json.loads(sys.argv[1]), Path(sys.argv[2]))
