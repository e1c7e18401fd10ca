"""Corpora, folds and digit sequences."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from speechxai.datasets import FSDD, AudioMNIST, DigitSequences, SpokenDigits, folds
from speechxai.datasets.audiomnist import parse_metadata
from speechxai.datasets.corpus import DIGIT_WORDS
from speechxai.datasets.folds import n_groups
from speechxai.datasets.sequences import (
    FILLER,
    KEYWORDS,
    NONE,
    OPTIONAL,
    SLOTS,
    DigitCommands,
    command,
    slot_classes,
    trim_silence,
)
from speechxai.datasets.synthetic import VOICE_SETS, embedded_speakers
from speechxai.features import spectral_distance_db

# The paper's groups, typed from the fact sheet (papers/README.md), not from the package.
A = [28, 56, 7, 19, 35, 1, 6, 16, 23, 34, 46, 53]
B = [36, 57, 9, 24, 37, 2, 8, 17, 29, 39, 48, 54]
C = [43, 58, 14, 25, 38, 3, 10, 20, 30, 40, 49, 55]
D = [12, 47, 59, 15, 27, 41, 4, 11, 21, 31, 44, 50]
E = [26, 52, 60, 18, 32, 42, 5, 13, 22, 33, 45, 51]
P, Q, R, S = (
    [36, 47, 56, 2, 44, 50],
    [26, 12, 57, 25, 37, 45],
    [43, 28, 52, 48, 53, 41],
    [58, 59, 60, 7, 23, 38],
)
DIGIT_FOLDS = [
    (A + B + C, D, E),
    (B + C + D, E, A),
    (C + D + E, A, B),
    (D + E + A, B, C),
    (E + A + B, C, D),
]
SEX_FOLDS = [(P + Q, R, S), (Q + R, S, P), (R + S, P, Q), (S + P, Q, R)]
FEMALE = {12, 26, 28, 36, 43, 47, 52, 56, 57, 58, 59, 60}


def ids(numbers):
    return [f"{n:02d}" for n in numbers]


@pytest.fixture
def fake_audiomnist(tmp_path):
    """A two-speaker AudioMNIST tree in the original layout."""
    rng = np.random.default_rng(0)
    for speaker in ("01", "56"):
        for digit in range(10):
            path = tmp_path / "data" / speaker / f"{digit}_{speaker}_0.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            soundfile.write(path, 0.1 * rng.standard_normal(4800), 48000, subtype="PCM_16")
    meta = {"01": {"gender": "male", "age": "30"}, "56": {"gender": "Female ", "age": 1234}}
    (tmp_path / "data" / "audioMNIST_meta.txt").write_text(json.dumps(meta))
    return tmp_path


@pytest.mark.parametrize(("task", "expected"), [("digit", DIGIT_FOLDS), ("sex", SEX_FOLDS)])
def test_audiomnist_folds_are_the_papers_speaker_by_speaker(fake_audiomnist, task, expected):
    got = folds(AudioMNIST(fake_audiomnist), task)
    assert [(f.train, f.val, f.test) for f in got] == [tuple(map(ids, e)) for e in expected]


def test_audiomnist_sex_folds_are_balanced():
    assert {n for group in (P, Q, R, S) for n in group} & FEMALE == FEMALE


def test_audiomnist_items_and_defensive_metadata(fake_audiomnist):
    corpus = AudioMNIST(fake_audiomnist)
    assert len(corpus) == 20 and corpus.speakers == ["01", "56"]
    item = corpus[corpus.indices(["56"])[3]]
    assert (item.speaker, item.sex, item.digit, item.sample_rate) == ("56", "female", 3, 48000)
    assert item.waveform.dtype == torch.float32 and item.waveform.ndim == 1
    assert item.metadata["age_years"] is None  # "1234" is no age
    assert corpus[0].metadata["age_years"] == 30
    assert list(corpus.labels("sex")[:10]) == [1] * 10
    assert len(corpus.subset(["01"])) == 10


def test_missing_audiomnist_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="download=True"):
        AudioMNIST(tmp_path / "nowhere")


def test_real_audiomnist_sample_and_metadata(shared_data):
    corpus = AudioMNIST(shared_data / "audiomnist-sample")
    assert corpus.speakers == ["01", "02", "08", "42", "51", "56"]
    assert {s: corpus.sex(s) for s in corpus.speakers}["56"] == "female"
    item = corpus[0]
    assert item.sample_rate == 48000 and 0.3 < item.waveform.numel() / 48000 < 1.0
    meta = parse_metadata(shared_data / "audiomnist-sample/data/audioMNIST_meta.txt")
    assert len(meta) == 60
    assert {int(s) for s, m in meta.items() if m["gender"] == "female"} == FEMALE


def test_real_fsdd_is_digit_only(shared_data):
    corpus = FSDD(shared_data / "fsdd")
    assert len(corpus) == 3000 and len(corpus.speakers) == 6
    assert {corpus.sex(s) for s in corpus.speakers} == {"male"}
    assert corpus[0].sample_rate == 8000
    with pytest.raises(ValueError, match="no sex task"):
        folds(corpus, "sex")
    for fold in folds(corpus, "digit"):
        assert not set(fold.train) & set(fold.test) and not set(fold.val) & set(fold.test)
        assert sorted(fold.train + fold.val + fold.test) == corpus.speakers
    # one speaker per group: every fold trains on 4 speakers and tests on 1
    assert [(len(f.train), len(f.val), len(f.test)) for f in folds(corpus, "digit")] == [
        (4, 1, 1)] * 6


@pytest.mark.parametrize(("n_speakers", "digit", "sex"), [
    (3, 3, 3), (6, 6, 3), (9, 9, 4), (10, 5, 5), (24, 5, 4), (261, 5, 4)])
def test_small_corpora_get_one_speaker_per_group(n_speakers, digit, sex):
    assert n_groups(n_speakers, "digit") == digit
    assert n_groups(n_speakers, "sex") == sex


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory):
    return SpokenDigits(
        n_speakers=6, per_digit=2, seed=3, root=tmp_path_factory.mktemp("embedded"), progress=False
    )


def test_embedded_speakers_are_half_female_and_distinct():
    speakers = embedded_speakers(24)
    assert sum(s.gender == "female" for s in speakers) == 12
    assert len({(s.voice, s.pitch, s.rate) for s in speakers}) == 24
    with pytest.raises(ValueError, match="even"):
        embedded_speakers(5)


def test_the_human_voice_set_gives_every_speaker_of_a_sex_its_own_variant():
    speakers = embedded_speakers(80, voices="human")
    for gender, n_variants in (("female", 16), ("male", 24)):
        variants = [s.voice.split("+")[1] for s in speakers if s.gender == gender]
        assert len(set(variants)) == n_variants and variants[:n_variants] == list(
            VOICE_SETS["human"][gender == "male"])
    assert [s.voice for s in embedded_speakers(8)] == [
        s.voice for s in embedded_speakers(8, voices="human")]  # the numbered variants first
    with pytest.raises(ValueError, match="unknown voices 'robots'"):
        embedded_speakers(8, voices="robots")


def test_a_voice_set_names_its_corpus_and_the_default_keeps_its_cache_folder(tmp_path):
    """The default corpus's configuration (its cache folder's key) has no ``voices`` entry,
    so the corpora cached before the option came are still found."""
    default = SpokenDigits(n_speakers=2, per_digit=1, seed=5, root=tmp_path, progress=False)
    human = SpokenDigits(n_speakers=2, per_digit=1, seed=5, root=tmp_path, progress=False,
                         voices="human")
    assert "voices" not in default.config and human.config["voices"] == "human"
    assert default.folder != human.folder


def test_embedded_corpus_items_jitter_and_fit_one_second(small_corpus):
    assert len(small_corpus) == 6 * 10 * 2
    assert small_corpus.speakers == ["s01", "s02", "s03", "s04", "s05", "s06"]
    assert [small_corpus.sex(s) for s in small_corpus.speakers] == ["female", "male"] * 3
    lengths = [small_corpus[i].waveform.numel() for i in range(len(small_corpus))]
    assert max(lengths) <= 0.98 * 22050 and len(set(lengths)) > 60
    leads = [start for start, _ in small_corpus.speech_spans]
    assert min(leads) < 0.06 * 22050 < 0.12 * 22050 < max(leads)
    female, male = small_corpus[0], small_corpus[20]  # s01 and s02 saying "zero"
    assert female.digit == male.digit == 0
    assert spectral_distance_db(female.waveform, male.waveform, 22050) > 2.0


def test_embedded_corpus_is_byte_identical_for_a_seed(tmp_path, small_corpus):
    """Generated twice, each time in a fresh process, into two cache folders."""
    again = SpokenDigits(n_speakers=6, per_digit=2, seed=3, root=tmp_path, progress=False)
    for name in ("audio.npy", "index.json"):
        assert (again.folder / name).read_bytes() == (small_corpus.folder / name).read_bytes()
    other = SpokenDigits(n_speakers=6, per_digit=2, seed=4, root=tmp_path, progress=False)
    assert (other.folder / "audio.npy").read_bytes() != (again.folder / "audio.npy").read_bytes()


def test_embedded_corpus_is_cached(small_corpus):
    root = str(small_corpus.folder.parent.parent)
    code = (
        "from speechxai.datasets import SpokenDigits; "
        f"SpokenDigits(n_speakers=6, per_digit=2, seed=3, root={root!r})"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0 and "synthesizing" not in run.stderr + run.stdout


@pytest.fixture(scope="module")
def tiny_corpus_root(tmp_path_factory) -> Path:
    """A cache folder holding a 2-speaker corpus, generated once for the damage tests."""
    root = tmp_path_factory.mktemp("tiny-corpus")
    SpokenDigits(n_speakers=2, per_digit=1, seed=5, root=root, progress=False)
    return root


@pytest.mark.parametrize("damage", ["truncate audio", "flip a byte", "remove index",
                                    "garble index"])
def test_a_damaged_corpus_cache_is_reported_and_generated_again(damage, tiny_corpus_root,
                                                                tmp_path, capsys):
    shutil.copytree(tiny_corpus_root, tmp_path, dirs_exist_ok=True)
    first = SpokenDigits(n_speakers=2, per_digit=1, seed=5, root=tmp_path, progress=False)
    audio, index = first.folder / "audio.npy", first.folder / "index.json"
    expected = audio.read_bytes()
    if damage == "truncate audio":
        audio.write_bytes(expected[:-100])
    elif damage == "flip a byte":
        audio.write_bytes(expected[:-1] + bytes([expected[-1] ^ 1]))
    elif damage == "remove index":
        index.unlink()
    else:
        index.write_text("{")
    capsys.readouterr()
    again = SpokenDigits(n_speakers=2, per_digit=1, seed=5, root=tmp_path, progress=False)
    assert f"the corpus cache {first.folder} is unusable" in capsys.readouterr().out
    assert (again.folder / "audio.npy").read_bytes() == expected
    assert again[3].waveform.numel() > 0


def test_embedded_folds_are_speaker_disjoint(small_corpus):
    for task in ("digit", "sex"):
        for fold in folds(small_corpus, task):
            assert not set(fold.train) & (set(fold.val) | set(fold.test))
            assert not set(fold.val) & set(fold.test)


def test_sequences_have_exact_boundaries_and_the_grammar(small_corpus):
    sequences = DigitSequences(small_corpus, n_words=(2, 5), seed=7, n_sequences=30)
    counts = set()
    for i in range(len(sequences)):
        item = sequences[i]
        counts.add(len(item.words))
        assert item.transcript == " ".join(item.words)
        assert len(item.boundaries) == len(item.words)
        ends = [0] + [end for _, end in item.boundaries]
        starts = [start for start, _ in item.boundaries] + [item.waveform.numel()]
        for gap_start, gap_end in zip(ends, starts, strict=True):
            assert gap_end > gap_start and torch.all(item.waveform[gap_start:gap_end] == 0)
        assert item.command == {} and item.deciding_word == {}
    assert counts == {2, 3, 4, 5}
    first = sequences[3]
    assert torch.equal(
        first.waveform, DigitSequences(small_corpus, seed=7, n_sequences=30)[3].waveform
    )
    other_seed = [
        DigitSequences(small_corpus, seed=8, n_sequences=30)[i].transcript for i in range(5)
    ]
    assert other_seed != [sequences[i].transcript for i in range(5)]


def test_trim_silence_finds_the_tone():
    signal = torch.zeros(16000)
    signal[4000:8000] = torch.sin(torch.arange(4000) * 0.3)
    start, end = trim_silence(signal, 16000)
    assert abs(start - 4000) <= 160 and abs(end - 8000) <= 160


def test_sequences_refuse_bad_ranges(small_corpus):
    with pytest.raises(ValueError, match="n_words"):
        DigitSequences(small_corpus, n_words=(1, 3))


def test_find_returns_the_first_match_or_raises(small_corpus):
    index = small_corpus.find(digit=7, speaker="s02")
    assert (small_corpus[index].digit, small_corpus[index].speaker) == (7, "s02")
    with pytest.raises(KeyError, match="digit=3, speaker=s99"):
        small_corpus.find(digit=3, speaker="s99")


def test_commands_hold_one_keyword_per_named_slot_that_decides_it(small_corpus):
    commands = DigitCommands(small_corpus, seed=3, n_sequences=60)
    counts, nones = set(), {slot: 0 for slot in SLOTS}
    for i in range(len(commands)):
        item = commands[i]
        counts.add(len(item.words))
        digits = [DIGIT_WORDS.index(word) for word in item.words]
        for slot in SLOTS:
            named = [j for j, d in enumerate(digits) if d in KEYWORDS[slot]]
            if item.command[slot] == NONE:
                assert slot in OPTIONAL and not named and slot not in item.deciding_word
                nones[slot] += 1
                continue
            assert named == [item.deciding_word[slot]]  # its keyword and nothing else
            assert item.command[slot] == KEYWORDS[slot][digits[named[0]]]
            assert item.command[slot] in slot_classes(slot)
        keywords = sum(d != FILLER for d in digits)
        assert keywords == len(item.deciding_word)
    assert counts == {3, 4, 5}
    assert nones["action"] == 0 and 0 < nones["object"] < 30 and 0 < nones["location"] < 30
    assert {commands[i].deciding_word["action"] for i in range(60)} == {0, 1, 2, 3, 4}
    again = DigitCommands(small_corpus, seed=3, n_sequences=60)
    assert commands[5].transcript == again[5].transcript
    assert slot_classes("object")[-1] == NONE and NONE not in slot_classes("action")
    assert command([0, 9, 9]) == ({"action": "increase", "object": NONE, "location": NONE},
                                  {"action": 0})
    with pytest.raises(ValueError, match="at most one object keyword"):
        command([0, 3, 4])
    with pytest.raises(ValueError, match="exactly one action keyword"):
        command([3, 6, 9])
    with pytest.raises(ValueError, match="3 <= low"):
        DigitCommands(small_corpus, n_words=(2, 4))
