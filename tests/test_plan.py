"""``speechxai book plan`` (speechxai.plan): the models each profile trains, their sizes as
the profiles set them, and training-time estimates from timed steps."""

from __future__ import annotations

import time

import pytest
from conftest import run_book

from speechxai.plan import PlannedModel, describe_plan, plan_table, planned_models
from speechxai.profiles import CHAPTER_SIZES


def by_model(profile: str) -> dict[str, PlannedModel]:
    return {f"{p.chapter}: {p.model.split(' (')[0]}": p for p in planned_models(profile)}


def test_the_quick_plan_holds_the_profiles_models_and_sizes():
    plan = by_model("quick")
    assert set(plan) == {"audiomnist: alexnet digit", "audiomnist: alexnet sex",
                         "audiomnist: audionet digit", "audiomnist: audionet sex",
                         "deepspeech: DeepSpeech", "navai: Wav2Letter",
                         "wordlevel: command classifier"}
    quick = CHAPTER_SIZES["audiomnist"]["quick"]["training"]
    assert plan["audiomnist: alexnet digit"].steps == quick["alexnet"]["digit"]["steps"]
    assert plan["audiomnist: alexnet digit"].copies == 1
    assert plan["deepspeech: DeepSpeech"].steps == 800
    assert plan["navai: Wav2Letter"].copies == 3  # the controls' three training seeds


def test_the_paper_plan_trains_every_audiomnist_fold_at_the_papers_sizes():
    plan = by_model("paper")
    assert plan["audiomnist: alexnet digit"].copies == 5  # Becker et al.: five digit folds
    assert plan["audiomnist: audionet sex"].copies == 4  # and four sex folds
    assert plan["audiomnist: audionet digit"].steps == 50_000
    assert plan["audiomnist: alexnet digit"].batch_size == 100
    assert "hidden 2048" in next(p.model for p in planned_models("paper")
                                 if p.chapter == "deepspeech")


def test_the_estimate_is_the_timed_step_times_the_steps_and_copies():
    def sleeper():
        return lambda: time.sleep(0.05)

    table = plan_table([PlannedModel("toy", "sleeper", 3, 7200, 4, sleeper)], repeats=2)
    row = table.iloc[0]
    assert row["samples"] == 3 * 7200 * 4
    assert row["s/step"] == pytest.approx(0.05, abs=0.02)
    assert row["hours"] == pytest.approx(3 * 7200 * row["s/step"] / 3600)
    assert f"about {row['hours']:,.2f} hours" in describe_plan(table, "toy")


def test_book_plan_prints_the_plan_and_its_total():
    result = run_book("plan", "--profile", "smoke", "--repeats", "1")
    assert result.returncode == 0, result.stderr
    assert "DeepSpeech (hidden 64)" in result.stdout
    assert "Training at 'smoke': about" in result.stdout
