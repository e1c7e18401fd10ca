"""Speaker-independent folds: train, validation and test never share a speaker.

AudioMNIST uses exactly the folds of Becker et al. (2018, 2024): five digit folds over the
speaker groups A-E and four sex folds over the groups P-S (12 female + 12 male speakers).
Fold k trains on consecutive groups starting at group k, validates on the next group and
tests on the one after. Other corpora get folds of the same shape from their speakers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from speechxai.datasets.corpus import TASKS, DigitCorpus

AUDIOMNIST_DIGIT_GROUPS = {
    "A": "28 56 7 19 35 1 6 16 23 34 46 53",
    "B": "36 57 9 24 37 2 8 17 29 39 48 54",
    "C": "43 58 14 25 38 3 10 20 30 40 49 55",
    "D": "12 47 59 15 27 41 4 11 21 31 44 50",
    "E": "26 52 60 18 32 42 5 13 22 33 45 51",
}
AUDIOMNIST_SEX_GROUPS = {
    "P": "36 47 56 2 44 50",
    "Q": "26 12 57 25 37 45",
    "R": "43 28 52 48 53 41",
    "S": "58 59 60 7 23 38",
}


@dataclass(frozen=True)
class Fold:
    """Speaker lists of one fold."""

    train: list[str]
    val: list[str]
    test: list[str]


def rotate(groups: Sequence[Sequence[str]]) -> list[Fold]:
    """Fold k: train on ``len(groups) - 2`` groups from k on, validate on the next,
    test on the one after (the AudioMNIST scheme: 0 = ABC/D/E, 1 = BCD/E/A, ...)."""
    n = len(groups)
    if n < 3:
        raise ValueError(f"need at least 3 speaker groups for train/val/test, got {n}")
    folds = []
    for k in range(n):
        order = [list(groups[(k + i) % n]) for i in range(n)]
        folds.append(Fold([s for g in order[: n - 2] for s in g], order[n - 2], order[n - 1]))
    return folds


def _audiomnist_groups(groups: dict[str, str]) -> list[list[str]]:
    return [[f"{int(s):02d}" for s in members.split()] for members in groups.values()]


def balanced_groups(dataset: DigitCorpus, n_groups: int, by_sex: bool) -> list[list[str]]:
    """Deal the speakers round-robin into ``n_groups``; with ``by_sex`` each group gets
    as many female as male speakers (extra speakers of the larger sex are left out)."""
    if not by_sex:
        speakers = dataset.speakers
        return [speakers[i::n_groups] for i in range(n_groups)]
    female = [s for s in dataset.speakers if dataset.sex(s) == "female"]
    male = [s for s in dataset.speakers if dataset.sex(s) == "male"]
    per_group = min(len(female), len(male)) // n_groups
    if per_group == 0:
        raise ValueError(
            f"{dataset.name} has {len(female)} female and {len(male)} male speakers: "
            f"too few for {n_groups} sex-balanced groups"
        )
    return [
        female[i * per_group : (i + 1) * per_group] + male[i * per_group : (i + 1) * per_group]
        for i in range(n_groups)
    ]


def folds(dataset: DigitCorpus, task: str) -> list[Fold]:
    """Speaker folds of ``dataset`` for ``task`` (``"digit"`` or ``"sex"``).

    AudioMNIST: the paper's 5 digit and 4 sex folds, speaker by speaker. Other corpora:
    digit folds over round-robin speaker groups and sex folds over sex-balanced groups,
    :func:`n_groups` of them (FSDD's 6 speakers: one per group, 6 folds).
    """
    from speechxai.datasets.audiomnist import AudioMNIST

    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    if isinstance(dataset, AudioMNIST):
        groups = AUDIOMNIST_DIGIT_GROUPS if task == "digit" else AUDIOMNIST_SEX_GROUPS
        return rotate(_audiomnist_groups(groups))
    sexes = {dataset.sex(speaker) for speaker in dataset.speakers}
    if task == "sex" and not {"female", "male"} <= sexes:
        raise ValueError(
            f"{dataset.name} has no sex task: its speakers are {', '.join(sorted(sexes))} only"
        )
    return rotate(balanced_groups(dataset, n_groups(len(dataset.speakers), task),
                                  by_sex=task == "sex"))


def n_groups(n_speakers: int, task: str) -> int:
    """Speaker groups of a corpus that is not AudioMNIST: the paper's 5 digit (4 sex) groups
    when every group gets at least two speakers (a female-male pair for sex), else one
    speaker (pair) per group, at least 3 groups. Groups then differ in size by at most one
    speaker: five round-robin groups of FSDD's 6 speakers made one fold train on 3 speakers
    and test on 2 while the others trained on 4 and tested on 1."""
    wanted, per_group = (5, 1) if task == "digit" else (4, 2)
    units = n_speakers // per_group
    return max(wanted if units >= 2 * wanted else units, 3)
