"""Offline synthesis with eSpeak NG."""

from __future__ import annotations

import numpy as np
import pytest

from speechxai import AudioError, espeak, features
from speechxai.audio import summary


def test_speech_has_the_engine_rate_audible_level_and_words():
    utterance = espeak.speak("one two three", voice="en-us+f3")
    assert utterance.sample_rate == 22050
    assert utterance.waveform.dtype == np.float32 and utterance.waveform.ndim == 1
    levels = summary(utterance.waveform, utterance.sample_rate)
    assert 0.4 < levels["duration_s"] < 3.0
    assert -35 < levels["rms_dbfs"] < -6
    assert [word.text for word in utterance.words] == ["one", "two", "three"]
    starts = [word.start_sample for word in utterance.words]
    assert starts == sorted(starts) and starts[-1] < len(utterance.waveform)


def test_word_spans_tile_the_utterance():
    utterance = espeak.speak("four five", voice="en-us+m3")
    spans = utterance.word_spans()
    assert [text for text, _, _ in spans] == ["four", "five"]
    assert spans[0][2] == spans[1][1]
    assert spans[-1][2] == pytest.approx(utterance.duration)


def test_female_and_male_voices_differ_more_than_repeats():
    female = espeak.speak("seven three", voice=espeak.FEMALE_VOICES[2])
    male = espeak.speak("seven three", voice=espeak.MALE_VOICES[2])
    again = espeak.speak("seven three", voice=espeak.FEMALE_VOICES[2])
    between = features.spectral_distance_db(female.waveform, male.waveform, 22050)
    within = features.spectral_distance_db(female.waveform, again.waveform, 22050)
    assert between > 2.0 > within


def test_empty_text_and_unknown_voice_raise_audio_errors():
    with pytest.raises(AudioError, match="empty"):
        espeak.speak("   ")
    with pytest.raises(AudioError, match="no voice named 'xx-nowhere'"):
        espeak.speak("one", voice="xx-nowhere")
    with pytest.raises(AudioError, match="no voice variant 'f9'"):
        espeak.speak("one", voice="en-us+f9")


SEQUENCE = """
import hashlib
from speechxai import espeak
digest = hashlib.sha256()
for voice in ("en-us+f3", "en-us+m3", "en-us+f3"):
    digest.update(espeak.speak("seven three nine", voice=voice).waveform.tobytes())
print(digest.hexdigest())
"""


def test_the_same_calls_in_fresh_processes_give_identical_audio():
    """eSpeak NG seeds its noise with the time; speak() re-seeds it (female breath noise)."""
    import subprocess
    import sys
    import time

    digests = []
    for _ in range(2):
        run = subprocess.run([sys.executable, "-c", SEQUENCE], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        digests.append(run.stdout)
        time.sleep(1.1)  # a new second: a time-seeded generator would differ now
    assert digests[0] == digests[1]


def test_without_the_wheel_a_system_library_is_used_or_install_advice_given(monkeypatch):
    import ctypes.util
    import sys

    import espeakng_loader

    wheel_library = espeakng_loader.get_library_path()
    monkeypatch.setitem(sys.modules, "espeakng_loader", None)  # import now fails
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: wheel_library)
    assert espeak._locate_library() == (wheel_library, None)
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    with pytest.raises(RuntimeError, match="pip install espeakng-loader.*apt install"):
        espeak._locate_library()


def test_klatt_variants_add_the_klatt_line_to_their_variant_and_change_the_voicing():
    """``V-kN`` is eSpeak NG's variant V with ``klatt N`` (its Klatt glottal source)."""
    import numpy as np

    plain = espeak.speak("seven", voice="en+Alicia", noise_seed=1)
    voiced = [espeak.speak("seven", voice=f"en+{espeak.klatt_variant('Alicia', n)}",
                           noise_seed=1) for n in espeak.KLATT_VOICINGS]
    written = espeak._engine._variant_folder / "Alicia-k3"
    installed = espeak._engine._variant_folder / "Alicia"
    assert written.read_text().splitlines() == [
        *installed.read_text().rstrip().splitlines(), "klatt 3"]
    assert all(v.waveform.size == plain.waveform.size for v in voiced)  # same timing
    spectra = [np.abs(np.fft.rfft(u.waveform)) for u in (plain, *voiced)]
    assert len({s.tobytes() for s in spectra}) == 5  # every source sounds different
    with pytest.raises(AudioError, match="Alicia-k5.*k1 ... -k4"):
        espeak.speak("seven", voice="en+Alicia-k5")
    with pytest.raises(ValueError, match="Klatt voicing"):
        espeak.klatt_variant("Alicia", 0)


INSTALLED_VARIANTS = """
import hashlib
from speechxai import espeak
digest = hashlib.sha256()
for voice in ("en-us+f3", "en-us+m3", "en+Alicia", "en-gb-scotland+croak", "en-us+f3"):
    digest.update(espeak.speak("seven three nine", voice=voice, noise_seed=3).waveform.tobytes())
print(digest.hexdigest())
"""


def test_the_installed_variants_sound_as_before_through_the_private_data_folder():
    """The folder of links changes no byte of an installed variant's audio (the embedded
    corpora's caches stay valid): the digest of these calls, in a fresh process, before the
    folder existed."""
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", INSTALLED_VARIANTS], capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == (
        "b989f71bf5451c524af3469204db7a02c8744bf076afb8eab9a3f14eb8765620")
