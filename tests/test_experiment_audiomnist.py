"""The AudioMNIST chapter's protocol on tiny models and the real 6-recording sample."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from speechxai.datasets import AudioMNIST
from speechxai.evaluation import DEFAULT_FRACTIONS
from speechxai.experiments import audiomnist as study
from speechxai.inputs import load_signals

TINY = {"steps": 2, "batch_size": 4, "width": 0.05}


@pytest.fixture(scope="module")
def sample(shared_data):
    return AudioMNIST(shared_data / "audiomnist-sample")


@pytest.fixture(scope="module")
def runs(sample, tmp_path_factory):
    import os

    cache = tmp_path_factory.mktemp("cache")
    previous = os.environ.get("SPEECHXAI_DATA_DIR")
    os.environ["SPEECHXAI_DATA_DIR"] = str(cache)
    try:
        return {
            (architecture, task): study.run_folds(sample, architecture, task, 1, TINY,
                                                  progress=False)
            for architecture in study.ARCHITECTURES for task in study.TASKS
        }
    finally:
        if previous is None:
            os.environ.pop("SPEECHXAI_DATA_DIR")
        else:
            os.environ["SPEECHXAI_DATA_DIR"] = previous


def test_fold_speakers_keep_the_papers_speakers_when_present(sample, capsys):
    train, val, test = study.fold_speakers(sample, "digit", 0)
    # fold 0 = ABC / D / E: the sample holds 56, 01 (A), 02, 08 (B) and 42, 51 (E), nobody of
    # D, so validation falls back to every speaker
    assert (train, test) == (["56", "01", "02", "08"], ["42", "51"])
    assert val == sample.speakers
    assert "no accuracy claim" in capsys.readouterr().out


def test_runs_train_cache_and_table(runs, sample):
    for (architecture, task), fold_runs in runs.items():
        assert len(fold_runs) == 1
        run = fold_runs[0]
        assert run.trained.config.architecture == architecture and 0 <= run.accuracy <= 1
        assert len(run.test) == len(sample.indices(run.test.speakers))
        assert not set(run.test.speakers) & set(run.train_speakers) or task == "sex"
    table = study.accuracy_table(runs)
    assert table.loc[("audionet", "digit"), "paper (%)"] == 92.53
    assert np.isnan(table.loc[("alexnet", "sex"), "std"])  # one fold: no spread claimed
    assert table.loc[("alexnet", "sex"), "accuracy (%)"] == 100 * runs["alexnet", "sex"][0].accuracy


def test_frequency_scaling_and_flipping_shapes(runs):
    sex_alexnet = runs["alexnet", "sex"][0]
    scaling = study.frequency_scaling(sex_alexnet.trained, sex_alexnet.test)
    assert set(scaling) == {f"{a}{b}" for a in ("before", "scaled")
                            for b in ("", ".female", ".male")}
    with pytest.raises(ValueError, match="AlexNet sex"):
        study.frequency_scaling(runs["audionet", "sex"][0].trained, sex_alexnet.test)
    digit_audionet = runs["audionet", "digit"][0]
    curves = study.flipping_study(digit_audionet.trained, digit_audionet.test, 4, progress=False)
    assert set(curves) == {"random", "amplitude", "lrp"}
    # at most 4 utterances: the digit test speakers 42 and 51 said 2 of the sample's 6
    assert all(c.shape == (len(DEFAULT_FRACTIONS), 2) for c in curves.values())
    assert study.bias_free_conservation(digit_audionet.trained, digit_audionet.test) < 1e-3


def test_study_items_split_into_references_and_questions(runs, sample):
    run = runs["audionet", "digit"][0]
    everyone = load_signals(sample, sample.speakers, progress=False)
    items = study.study_items(run.trained, everyone, 6, progress=False)
    assert len(items) == 6 and items[0].relevance.shape == (8000,)
    questions, references = study.study_halves(items)
    correct, incorrect = study.by_outcome(questions, 3)
    assert len(references) == 3 and len(correct) + len(incorrect) == 3
    assert all(i.correct for i in correct) and not any(i.correct for i in incorrect)
    scores = study.simulated_study({"correct": correct, "incorrect": incorrect}, references)
    assert set(scores.columns) == {"informedness", "markedness", "answers"}


def curves_with(lrp_drop: float, n: int = 40, seed: int = 0):
    """Toy flipping outcomes: every input fails from a given fraction index on."""
    rng = np.random.default_rng(seed)
    k = len(DEFAULT_FRACTIONS)

    def failing_from(start):
        steps = np.clip(start + rng.integers(-1, 2, n), 0, k)
        return (np.arange(k)[:, None] < steps[None, :]).astype(int)

    return {"random": failing_from(k), "amplitude": failing_from(6),
            "lrp": failing_from(6 - lrp_drop)}


@pytest.mark.parametrize("lrp_drop, verdict", [(4, "as the paper found"),
                                               (0, "cannot be told apart"),
                                               (-4, "unlike in the paper")])
def test_flipping_prose_follows_the_interval(lrp_drop, verdict):
    text = study.describe_flipping({"digit": curves_with(lrp_drop)}, DEFAULT_FRACTIONS)
    assert verdict in text and "both fall faster than random" in text


def test_an_extra_corpus_joins_every_training_fold(sample, tmp_path, monkeypatch):
    """The run on real speech trains on its speakers and the embedded corpus's voices."""
    from speechxai.datasets import SpokenDigits

    monkeypatch.setenv("SPEECHXAI_DATA_DIR", str(tmp_path))
    assert study.extra_corpora("embedded", ["digit"], 2, 1) == {}
    assert study.extra_corpora("real", [], 2, 1) == {}
    extras = study.extra_training(
        {"digit": SpokenDigits(n_speakers=2, per_digit=1, seed=0, root=tmp_path,
                               progress=False)}, progress=False)
    extra = extras["digit"]
    assert len(extra.signals) == 20 and set(extra.signals.speakers) == {"s01", "s02"}
    seen = {}

    def recording_train(config, train_signals, val_signals, progress=True, start=None):
        seen[config.data_key] = train_signals
        return real_train(config, train_signals, val_signals, progress=progress, start=start)

    real_train = study.train
    monkeypatch.setattr(study, "train", recording_train)
    plain = study.run_fold(sample, "alexnet", "digit", 0, TINY, progress=False)
    mixed = study.run_fold(sample, "alexnet", "digit", 0, TINY, progress=False, extra=extra)
    plain_key, mixed_key = plain.trained.config.data_key, mixed.trained.config.data_key
    assert mixed_key == plain_key + "+" + study.corpus_key(extra.corpus)
    assert len(seen[mixed_key]) == len(seen[plain_key]) + 20
    assert seen[mixed_key].speakers[-20:] == extra.signals.speakers
    assert mixed.test.speakers == plain.test.speakers  # tested on the fold's own speakers only


def test_fine_tuning_starts_every_fold_from_the_embedded_runs_model(sample, tmp_path,
                                                                    monkeypatch):
    from speechxai.datasets import SpokenDigits

    monkeypatch.setenv("SPEECHXAI_DATA_DIR", str(tmp_path))
    extras = study.extra_training(
        {"digit": SpokenDigits(n_speakers=2, per_digit=1, seed=0, root=tmp_path,
                               progress=False)}, progress=False)
    training = {architecture: {"digit": TINY} for architecture in study.ARCHITECTURES}
    starts = study.embedded_starts(extras, ["alexnet.digit", "audionet.digit"], training)
    assert set(starts) == {(architecture, "digit") for architecture in study.ARCHITECTURES}
    start = starts["alexnet", "digit"]
    # the embedded run's own fold-0 model: the one its chapter trains and caches
    embedded = study.run_fold(extras["digit"].corpus, "alexnet", "digit", 0, TINY,
                              progress=False, signals=extras["digit"].signals)
    assert embedded.trained.config == start.config
    recipe = {**TINY, "learning_rate": 1e-9, "unit_input_init": True}  # as the real profile's
    tuned = study.run_fold(sample, "alexnet", "digit", 0, recipe, progress=False,
                           extra=extras["digit"], start=start)
    assert tuned.trained.config.start == start.config.key()
    assert not tuned.trained.config.unit_input_init  # the start's weights stay as they are
    for before, after in zip(start.model.state_dict().values(),
                             tuned.trained.model.state_dict().values(), strict=True):
        torch.testing.assert_close(after, before, rtol=0, atol=1e-6)
    assert list(study.embedded_starts(extras, ["audionet.digit"], training)) == [
        ("audionet", "digit")]
    with pytest.raises(ValueError, match="list the task in mix_embedded"):
        study.embedded_starts(extras, ["alexnet.sex"], training)
    for wrong in ("digit", "resnet.digit", "alexnet.age"):
        with pytest.raises(ValueError, match=f"unknown model.*{wrong}.*<architecture>.<task>"):
            study.embedded_starts(extras, [wrong], training)


def test_low_band_share_and_amplitude_correlation_measure_the_relevance(runs, monkeypatch):
    from speechxai.attribution import Explanation
    from speechxai.features import audiomnist_spectrogram_axes

    low = torch.as_tensor(audiomnist_spectrogram_axes()[0] < study.LOW_BAND_HZ)

    def relevance_like(pattern):
        def stream(model, inputs, targets, **options):
            return Explanation(values=pattern(inputs), data=inputs, method="lrp")
        return stream

    alexnet = runs["alexnet", "digit"][0]
    monkeypatch.setattr(study, "relevance_stream", relevance_like(
        lambda x: torch.ones_like(x) * low[:, None].to(x.dtype)))
    assert study.low_band_share(alexnet.trained, alexnet.test, 4) == pytest.approx(1.0)
    monkeypatch.setattr(study, "relevance_stream", relevance_like(
        lambda x: torch.ones_like(x) - 2 * low[:, None].to(x.dtype)))  # red only above
    assert study.low_band_share(alexnet.trained, alexnet.test, 4) == 0.0
    assert "the digit model 0%" in study.describe_bands({"digit": 0.0})

    audionet = runs["audionet", "digit"][0]
    monkeypatch.setattr(study, "relevance_stream", relevance_like(lambda x: -3 * x))
    assert study.amplitude_rank_correlation(audionet.trained, audionet.test, 4) \
        == pytest.approx(1.0)
    with pytest.raises(ValueError, match="AlexNet"):
        study.low_band_share(audionet.trained, audionet.test, 4)
    assert "large amplitude, as in the paper" in study.describe_amplitude(0.6)
    assert "unlike in the paper" in study.describe_amplitude(-0.1)


def test_accuracy_interval_brackets_the_mean_over_folds_and_narrows_with_data(runs):
    def fold(correct):
        return study.FoldRun(0, None, [], None, np.array(correct, dtype=bool))

    few = [fold([1, 0, 1, 1]), fold([1, 1, 0, 0, 1])]
    lo, hi = study.accuracy_interval(few, seed=3)
    assert lo < np.mean([0.75, 0.6]) < hi and (lo, hi) == study.accuracy_interval(few, seed=3)
    many = [fold([1, 0, 1, 1] * 50), fold([1, 1, 0, 0, 1] * 40)]
    lo_many, hi_many = study.accuracy_interval(many, seed=3)
    assert lo < lo_many < 0.675 < hi_many < hi
    assert study.accuracy_interval([fold([1] * 10)]) == (1.0, 1.0)
    table = study.accuracy_table(runs)
    assert (table["95% low"] <= table["accuracy (%)"]).all()
    assert (table["accuracy (%)"] <= table["95% high"]).all()


def test_parameter_randomization_cascades_every_method_through_every_layer(runs):
    from speechxai.attribution.sanity import parameter_layers

    run = runs["audionet", "digit"][0]
    cascades = study.parameter_randomization(run.trained, run.test, n=2, n_background=3,
                                             shap_samples=4)
    assert set(cascades) == {"saliency", "lrp", "shap"}
    layers = ["none", *parameter_layers(run.trained.model)]
    for cascade in cascades.values():
        assert list(cascade.index) == layers and cascade["none"] == 1.0
        assert cascade.drop("none").between(-1, 1).all()
    assert cascades["saliency"].iloc[-1] < 0.9  # the random weights changed the gradient


def test_the_quiz_is_half_right_where_it_can_be_and_always_full():
    def items(outcomes: str) -> list:
        return [study.StudyItem(np.zeros(8000), np.zeros(8000), 0, 0 if o == "r" else 1)
                for o in outcomes]

    def outcomes(chosen) -> str:
        return "".join("r" if item.correct else "w" for item in chosen)

    assert outcomes(study.quiz_choice(items("rrrrrrw"), 4)) == "rrrw"
    assert outcomes(study.quiz_choice(items("rwrwrw"), 4)) == "rrww"
    assert outcomes(study.quiz_choice(items("www"), 2)) == "ww"  # a model right on none
    assert outcomes(study.quiz_choice(items("rrr"), 3)) == "rrr"
    assert outcomes(study.quiz_choice(items("rw"), 6)) == "rw"  # fewer questions than asked
    questions, references = study.study_halves(items("rrrwww"), seed=3)
    assert len(questions) == len(references) == 3


def test_each_task_opens_the_embedded_corpus_of_its_voices(tmp_path, monkeypatch):
    """``voices={"sex": "human-klatt"}``: the sex task gets a corpus of its own, of the
    Klatt-voiced human-sounding variants; the digit task keeps the default one."""
    monkeypatch.setenv("SPEECHXAI_DATA_DIR", str(tmp_path))
    shared = study.open_corpora("embedded", n_speakers=6, per_digit=1)
    assert shared["digit"] is shared["sex"]
    corpora = study.open_corpora("embedded", n_speakers=6, per_digit=1,
                                 voices={"sex": "human-klatt"})
    assert corpora["digit"].folder == shared["digit"].folder
    assert corpora["sex"].folder != shared["sex"].folder
    assert corpora["sex"].description == "SpokenDigits (human-klatt voices)"
    assert corpora["digit"].description == "SpokenDigits (f1-m8 voices)"
    heard = {corpora["sex"].speaker_metadata[s]["voice"].partition("+")[2]
             for s in corpora["sex"].speakers}
    assert heard == {"f1-k1", "m1-k1", "f2-k2", "m2-k2", "f3-k3", "m3-k3"}
    assert not np.array_equal(corpora["sex"][0].waveform.numpy(), shared["sex"][0].waveform.numpy())
    extras = study.extra_corpora("real", ["sex"], 6, 1, voices={"sex": "human-klatt"})
    assert extras["sex"].folder == corpora["sex"].folder
    with pytest.raises(ValueError, match="unknown tasks \\['speaker'\\]"):
        study.open_corpora("embedded", n_speakers=6, per_digit=1, voices={"speaker": "human"})
