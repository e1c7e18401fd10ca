"""Global word-level explanations: the average importance of each spoken word per predicted
class (Pastor et al., 2024, Sec. 3.2, "Global level" and Fig. 3).

The paper explains every test utterance for its predicted classes, aggregates the audio
segments of the same transcribed word "after basic processing (i.e., lowercase and
punctuation removal)" and reports each word's average importance separately for each
predicted class of a slot.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence

import pandas as pd

from speechxai.attribution.occlusion import WordImportance
from speechxai.attribution.paralinguistic import ParalinguisticImportance

_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalized_word(word: str) -> str:
    """The paper's basic processing of a transcribed word: lowercase, punctuation removed."""
    return word.lower().translate(_PUNCTUATION).strip()


def average_word_importance(importances: Sequence[WordImportance],
                            class_names: Mapping[str, Sequence[str]] | None = None
                            ) -> pd.DataFrame:
    """Mean leave-one-out importance of each word per slot and explained (predicted) class.

    Words are compared after :func:`normalized_word`; a word left empty by it (punctuation
    only) is dropped. Returns a tidy frame with columns ``slot``, ``predicted_class`` (a name
    from ``class_names[slot]`` if given, else the class index), ``word``, ``importance`` (the
    mean over the word's segments) and ``count`` (how many segments were averaged), grouped by
    slot, rows in order of first appearance.
    """
    if not importances:
        raise ValueError("importances is empty: give at least one WordImportance")
    rows = []
    for importance in importances:
        predictions = importance.table(class_names)["prediction"]
        words = [normalized_word(word) for word in importance.words]
        for row, slot in enumerate(importance.slots):
            rows += [(slot, predictions[slot], word, float(score))
                     for word, score in zip(words, importance.scores[row], strict=True) if word]
    frame = pd.DataFrame(rows, columns=["slot", "predicted_class", "word", "importance"])
    table = frame.groupby(["slot", "predicted_class", "word"], sort=False)["importance"].agg(
        importance="mean", count="size").reset_index()
    slot_rank = {slot: rank for rank, slot in enumerate(dict.fromkeys(frame["slot"]))}
    return table.sort_values("slot", key=lambda slots: slots.map(slot_rank), kind="stable"
                             ).reset_index(drop=True)


def average_paralinguistic(importances: Sequence[ParalinguisticImportance]) -> pd.DataFrame:
    """Dataset averages of paralinguistic relevance (the paper's Table 3): per slot, the mean
    r(p) of each perturbation family over the explained utterances (each explaining its own
    target class, as in the paper)."""
    if not importances:
        raise ValueError("importances is empty: give at least one ParalinguisticImportance")
    tables = [importance.table().drop(columns=["target", "probability"])
              for importance in importances]
    return pd.concat(tables).groupby(level="slot", sort=False).mean()


def strongest_words(table: pd.DataFrame) -> pd.DataFrame:
    """Per slot and predicted class, the word with the largest mean importance in a table of
    :func:`average_word_importance` (columns slot, predicted_class, word, importance): the
    word the model relies on most for that class. A class whose strongest word matters
    little is one the model predicts by default, from the absence of the others' words."""
    missing = {"slot", "predicted_class", "word", "importance"} - set(table.columns)
    if missing or table.empty:
        raise ValueError(f"need a non-empty average_word_importance table, missing columns "
                         f"{sorted(missing)}")
    best = table.loc[table.groupby(["slot", "predicted_class"], sort=False)["importance"]
                     .idxmax()]
    return best.set_index(["slot", "predicted_class"])[["word", "importance"]]
