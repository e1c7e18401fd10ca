"""``speechxai evaluate``: the smoke models of three chapters, trained through the chapters'
code into a temporary model cache, scored on a manifest of wav files."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
import torch

import speechxai.evaluate
from speechxai import cli
from speechxai.audio import load
from speechxai.datasets import open_corpus, real_corpus
from speechxai.errors import AudioError
from speechxai.evaluate import CHAPTER_DEFAULTS, CHAPTERS, book_command, evaluate
from speechxai.experiments import audiomnist as study
from speechxai.experiments import deepspeech, navai
from speechxai.features import AUDIOMNIST_LENGTH, resample
from speechxai.inputs import DigitSignals, frame_signal, load_signals
from speechxai.model_cache import ModelNotCached
from speechxai.profiles import CHAPTER_SIZES, chapter_parameters
from speechxai.training import predict

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"n_speakers": 6, "per_digit": 1}  # the deepspeech/navai smoke corpus, for audiomnist too
TINY_SMOKE = {
    "audiomnist": {"training": {a: {t: {"steps": 3, "batch_size": 4, "width": 0.1, "bf16": False}
                                    for t in ("digit", "sex")} for a in ("alexnet", "audionet")}},
    "deepspeech": {**SMALL, "n_train": 16, "n_test": 4,
                   "recognizer": {"hidden": 16, "steps": 3, "batch_size": 4}},
    "navai": {**SMALL, "n_train": 8, "n_test": 4,
              "recognizer": {"channels": [8, 8], "kernels": [5, 5], "strides": [1, 1],
                             "steps": 3, "batch_size": 4}},
}
"""Smoke sizes of 3 training steps, patched into the profile while this module's models are
trained and evaluated: it tests evaluate's plumbing, not what the models learn."""
RATES = (22050, 16000, 8000, 44100)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A data root holding the smoke corpus and the smoke models of the three chapters,
    trained by the chapters' own calls (``$SPEECHXAI_DATA_DIR`` points there meanwhile)."""
    root = tmp_path_factory.mktemp("data")
    with pytest.MonkeyPatch.context() as patch:
        for chapter, sizes in TINY_SMOKE.items():  # evaluate reads the patched profile too
            for name, value in sizes.items():
                patch.setitem(CHAPTER_SIZES[chapter]["smoke"], name, value)
        patch.setenv("SPEECHXAI_DATA_DIR", str(root))
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # tiny models (conftest.one_torch_thread)
        parameters = chapter_parameters("audiomnist", "smoke", {"dataset": "embedded", **SMALL})
        corpus = open_corpus("embedded", seed=0, **SMALL)
        signals = load_signals(corpus, corpus.speakers, progress=False)
        runs = {(a, t): study.run_folds(corpus, a, t, 1, parameters["training"][a][t], 0,
                                        progress=False, signals=signals)[0]
                for a in study.ARCHITECTURES for t in study.TASKS}
        recognizers = {}
        for chapter in ("deepspeech", "navai"):
            parameters = chapter_parameters(chapter, "smoke")
            train_set, test_set = deepspeech.sequence_split(
                corpus, (parameters["n_train"], parameters["n_test"]), seed=0)
            items = [train_set[i] for i in range(len(train_set))]
            if chapter == "deepspeech":
                config = deepspeech.CTCConfig(seed=0, **parameters["recognizer"])
                model = deepspeech.train_recognizer(config, items, progress=False).model
            else:
                config = navai.Wav2LetterConfig(seed=0, **parameters["recognizer"])
                model = navai.train_wav2letter(config, items, progress=False).model
            recognizers[chapter] = (model, config)
        torch.set_num_threads(threads)
        yield {"root": root, "corpus": corpus, "runs": runs, "recognizers": recognizers,
               "sequence": test_set[0]}


@pytest.fixture
def data_dir(cache, monkeypatch):
    monkeypatch.setenv("SPEECHXAI_DATA_DIR", str(cache["root"]))
    return cache["root"]


def write_manifest(folder: Path, rows: list[dict], columns=("path", "digit", "sex", "transcript"),
                   name: str = "manifest.csv") -> Path:
    lines = [",".join(columns)] + [",".join(str(row.get(c, "")) for c in columns) for row in rows]
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def recordings(cache, tmp_path):
    """Wav files of four test-speaker digits at four rates, one of them inside 2.5 s of quiet
    noise (longer than the 1-s frame), and one digit sequence (transcript and sex only)."""
    corpus = cache["corpus"]
    test_speakers = study.fold_speakers(corpus, "digit", 0)[2]
    indices = corpus.indices(test_speakers)[:4]
    folder = tmp_path / "audio"
    folder.mkdir()
    rows = []
    for n, index in enumerate(indices):
        item = corpus[index]
        rate = RATES[n]
        waveform = resample(item.waveform, item.sample_rate, rate).numpy()
        if n == 1:  # long: 1 s of quiet noise either side
            noise = np.random.default_rng(0).normal(0, 1e-4, (2, rate)).astype(np.float32)
            waveform = np.concatenate([noise[0], waveform, noise[1]])
        sf.write(folder / f"{n}.wav", waveform, rate)
        sex = item.sex[0].upper() if n % 2 else item.sex  # F/M or female/male
        rows.append({"path": f"audio/{n}.wav", "digit": item.digit, "sex": sex,
                     "transcript": item.word})
    sequence = cache["sequence"]
    sf.write(folder / "sequence.wav", sequence.waveform.numpy(), sequence.sample_rate)
    rows.append({"path": str((folder / "sequence.wav").resolve()), "sex": sequence.sex,
                 "transcript": sequence.transcript})
    assert sf.info(folder / "1.wav").duration > 2
    return write_manifest(tmp_path, rows), rows


def manifest_signals(manifest: Path, rows: list[dict]) -> list[tuple[torch.Tensor, int]]:
    return [load(manifest.parent / row["path"]) for row in rows]


def expected_classifier_scores(cache, manifest, rows) -> dict[tuple[str, str], tuple]:
    """The same models' inputs and scores computed here: 8 kHz, cropped, placed with seed 0."""
    audio = manifest_signals(manifest, rows)
    signals = DigitSignals(
        [frame_signal(w, r) for w, r in audio],
        np.array([int(row["digit"]) if row.get("digit", "") != "" else -1 for row in rows]),
        np.array([{"f": 0, "m": 1}[row["sex"][0].lower()] for row in rows]),
        [str(i) for i in range(len(rows))])
    assert all(s.numel() <= AUDIOMNIST_LENGTH for s in signals.signals)
    expected = {}
    for (architecture, task), run in cache["runs"].items():
        labels = signals.labels(task)
        known = labels >= 0
        inputs = run.trained.inputs(signals, 0)
        predicted = predict(run.trained.model, inputs).numpy()[known]
        value = (study.balanced_accuracy(labels[known], predicted) if task == "sex"
                 else float((predicted == labels[known]).mean()))
        expected[architecture, task] = (value, int(known.sum()), inputs)
    return expected


def test_classifier_scores_are_the_cached_models_own(cache, data_dir, recordings, capsys,
                                                      monkeypatch):
    manifest, rows = recordings
    seen = []  # what the models were given: the smoke models' scores alone tell little apart

    def spy(model, inputs):
        seen.append(inputs)
        return predict(model, inputs)

    monkeypatch.setattr(speechxai.evaluate, "predict", spy)
    table = evaluate(manifest, "audiomnist", "smoke", "embedded", overrides=SMALL)
    assert list(table.columns) == ["chapter", "model", "task", "metric", "value", "recordings"]
    expected = expected_classifier_scores(cache, manifest, rows)
    assert len(table) == 4 == len(seen) and set(table["chapter"]) == {"audiomnist"}
    for row, inputs in zip(table.itertuples(), seen, strict=True):
        value, n, expected_inputs = expected[row.model, row.task]
        assert row.value == pytest.approx(value, abs=1e-12) and row.recordings == n
        assert row.metric == ("balanced accuracy" if row.task == "sex" else "accuracy")
        assert torch.equal(inputs, expected_inputs)
    assert dict(zip(table["task"], table["recordings"], strict=False)) == {"digit": 4, "sex": 5}

    capsys.readouterr()
    code = cli.main(["evaluate", str(manifest), "--profile", "smoke", "-p", "n_speakers", "6",
                     "-p", "per_digit", "1", "--json"])
    assert code == 0
    parsed = json.loads(capsys.readouterr().out)
    assert parsed == json.loads(table.to_json(orient="records"))

    assert cli.main(["evaluate", str(manifest), "--profile", "smoke", "-p", "n_speakers", "6",
                     "-p", "per_digit", "1"]) == 0
    printed = capsys.readouterr().out
    assert "balanced accuracy" in printed and "audionet" in printed


@pytest.mark.parametrize("chapter", ["deepspeech", "navai"])
def test_recognizer_cer_is_the_cached_models_own(cache, data_dir, recordings, chapter,
                                                 monkeypatch):
    manifest, rows = recordings
    module, name = (deepspeech, "evaluate") if chapter == "deepspeech" else (
        navai, "evaluate_wav2letter")
    scorer, seen = getattr(module, name), []

    def spy(model, items, *args):
        seen.append((items, args))
        return scorer(model, items, *args)

    monkeypatch.setattr(module, name, spy)
    table = evaluate(manifest, chapter, "smoke", "embedded")
    model, config = cache["recognizers"][chapter]
    items = [SimpleNamespace(waveform=w, sample_rate=r, transcript=row["transcript"])
             for (w, r), row in zip(manifest_signals(manifest, rows), rows, strict=True)]
    assert len(seen) == 1 and len(seen[0][0]) == len(items)
    assert seen[0][1] == (() if chapter == "deepspeech" else (config.padding,))
    for given, item in zip(seen[0][0], items, strict=True):  # whole files, at their own rates
        assert torch.equal(given.waveform, item.waveform)
        assert (given.sample_rate, given.transcript) == (item.sample_rate, item.transcript)
    scores = (scorer(model, items) if chapter == "deepspeech"
              else scorer(model, items, config.padding))
    assert table.to_dict(orient="records") == [{
        "chapter": chapter, "model": "deepspeech" if chapter == "deepspeech" else "wav2letter",
        "task": "transcript", "metric": "CER", "value": scores.cer, "recordings": len(rows)}]


def test_a_long_file_is_cropped_not_refused(data_dir, recordings):
    manifest, rows = recordings
    only_long = write_manifest(manifest.parent, [rows[1]], name="long.csv")
    table = evaluate(only_long, "audiomnist", "smoke", "embedded", overrides=SMALL)
    assert set(table["recordings"]) == {1} and len(table) == 4


def test_a_missing_model_names_the_command_and_nothing_is_trained(cache, recordings, tmp_path,
                                                                  monkeypatch, capsys):
    manifest, _ = recordings
    empty = tmp_path / "empty-data"
    empty.mkdir()
    (empty / "embedded").symlink_to(cache["root"] / "embedded")  # the corpus, no models
    monkeypatch.setenv("SPEECHXAI_DATA_DIR", str(empty))
    with pytest.raises(ModelNotCached) as caught:
        evaluate(manifest, "audiomnist", "smoke", "embedded", overrides=SMALL)
    message = str(caught.value)
    assert ("speechxai book run --profile smoke --chapter audiomnist -p dataset embedded "
            "-p n_speakers 6 -p per_digit 1") in message
    assert re.search(r"/models/alexnet-digit-[0-9a-f]{16}\.pt", message)
    assert caught.value.path.is_absolute() and not caught.value.path.exists()
    assert book_command("navai", "quick", "fsdd", 3) == (
        "speechxai book run --profile quick --chapter navai -p dataset fsdd -p seed 3")
    assert cli.main(["evaluate", str(manifest), "--chapter", "deepspeech",
                     "--profile", "smoke"]) == 1
    assert "--chapter deepspeech -p dataset embedded`" in capsys.readouterr().err
    assert sorted(p.name for p in empty.iterdir()) == ["embedded"]  # no models/ folder


def test_bad_manifests_raise_clear_errors(tmp_path, data_dir):
    sf.write(tmp_path / "ok.wav", np.sin(np.arange(8000) / 5).astype(np.float32) * 0.3, 8000)
    (tmp_path / "text.wav").write_text("not audio")

    def fails(rows, chapter="audiomnist", columns=("path", "digit", "sex", "transcript")):
        manifest = write_manifest(tmp_path, rows, columns)
        with pytest.raises(ValueError) as caught:
            evaluate(manifest, chapter, "smoke")
        return caught

    assert "no 'path' column" in str(fails([{"file": "ok.wav"}], columns=("file", "digit")).value)
    message = str(fails([{"path": "ok.wav", "transcript": "one"}],
                        columns=("path", "transcript")).value)
    assert "no usable label column" in message and "'digit' and/or 'sex'" in message
    message = str(fails([{"path": "ok.wav", "digit": 1}], chapter="navai").value)
    assert "'transcript' for the navai chapter" in message
    assert "no usable" in str(fails([{"path": "ok.wav"}], columns=("path", "digit")).value)
    assert "row 2: digit '12'" in str(fails([{"path": "ok.wav", "digit": 1},
                                               {"path": "ok.wav", "digit": 12}]).value)
    assert "sex 'x' is not female/male" in str(fails([{"path": "ok.wav", "sex": "x"}]).value)
    assert "['too']" in str(fails([{"path": "ok.wav", "transcript": "one too"}],
                                  "deepspeech").value)
    missing = fails([{"path": "ok.wav", "digit": 1}, {"path": "gone.wav", "digit": 2}])
    assert missing.type is AudioError
    assert "row 2:" in str(missing.value) and "gone.wav: no such file" in str(missing.value)
    broken = fails([{"path": "text.wav", "sex": "f"}])
    assert "row 1:" in str(broken.value) and "text.wav: not a readable audio file" in str(
        broken.value)
    sf.write(tmp_path / "click.wav", np.full(100, 0.5, dtype=np.float32), 16000)
    short = fails([{"path": "click.wav", "transcript": "one"}], "deepspeech")
    assert "row 1: " in str(short.value) and "click.wav" in str(short.value)
    assert "MFCC window" in str(short.value)
    with pytest.raises(ValueError, match="no such manifest"):
        evaluate(tmp_path / "nowhere.csv")
    with pytest.raises(ValueError, match="unknown chapter"):
        evaluate(tmp_path / "manifest.csv", "listening")


def parameter_cell(chapter: str) -> dict[str, object]:
    """The literal values of ``book/<chapter>.md``'s parameters cell."""
    text = (ROOT / "book" / f"{chapter}.md").read_text()
    cell = re.search(r":tags: \[parameters\]\n(.*?)```", text, re.S).group(1)
    return {node.targets[0].id: ast.literal_eval(node.value)
            for node in ast.parse(cell).body if isinstance(node, ast.Assign)}


@pytest.mark.parametrize("chapter", list(CHAPTER_DEFAULTS))
def test_chapter_defaults_are_the_chapters_parameter_cells(chapter):
    cell = parameter_cell(chapter)
    assert {key: cell[key] for key in CHAPTER_DEFAULTS[chapter]} == CHAPTER_DEFAULTS[chapter]
    assert cli.EVALUATED_CHAPTERS == CHAPTERS


def test_evaluate_on_fsdd_reproduces_the_chapters_transfer_record(cache, data_dir, tmp_path):
    """`speechxai evaluate` on a manifest of FSDD recordings, in the corpus's order, scores
    the same models as the chapter's transfer test on those recordings."""
    try:
        fsdd = real_corpus("digit", download=False)
    except FileNotFoundError as missing:
        pytest.skip(f"no real FSDD beside the project: {missing}")
    chosen = np.linspace(0, len(fsdd) - 1, 40).round().astype(int)
    rows = [{"path": str(fsdd.paths[i].resolve()), "digit": fsdd.entries[i].digit}
            for i in chosen]
    table = evaluate(write_manifest(tmp_path, rows, ("path", "digit")), "audiomnist", "smoke",
                     "embedded", overrides=SMALL)
    study.transfer_signals.cache_clear()
    for architecture in study.ARCHITECTURES:
        (value,) = study.transfer(cache["runs"][architecture, "digit"].trained, 0, 40).values()
        row = table[(table.model == architecture) & (table.task == "digit")]
        assert row.value.item() == pytest.approx(value, abs=1e-12)
