"""The chapters as a course text: learning goals at the top, at least three exercises at the
end, each with a collapsed solution that runs (it executes with the chapter, at ``smoke`` in
``make test``'s smoke book)."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT

from speechxai.book import chapters

TEACHING = [chapter for chapter in chapters(ROOT) if chapter.name not in ("findings",)]


@pytest.mark.parametrize("chapter", TEACHING, ids=lambda chapter: chapter.name)
def test_a_chapter_states_goals_and_ends_with_exercises_and_their_solutions(chapter):
    text = chapter.source.read_text()
    goals = text.find("**You will learn**")
    first_section = text.find("\n## ")
    assert 0 < goals < first_section, "no 'You will learn' list before the first section"
    assert re.search(r"\*\*You will learn\*\*\n\n(- .+\n)+", text), "the goals are no list"

    exercises = text.rfind("\n## Exercises\n")
    assert exercises > 0 and "\n## " not in text[exercises + 1:], "no Exercises section last"
    tail = text[exercises:]
    assert len(re.findall(r"^\d\. \*\*", tail, flags=re.M)) >= 3, "fewer than 3 exercises"
    solutions = re.findall(r"```\{code-cell\} ipython3\n---\ntags: \[hide-cell\]\nmystnb:\n"
                           r"(?:  .*\n)*?  code_prompt_show: \"Show solution (\d)\"\n(?:  .*\n)*"
                           r"---\n# Solution \1", tail)
    assert solutions == [str(n) for n in range(1, len(solutions) + 1)]
    assert len(solutions) >= 3, "fewer than 3 solutions in collapsed (hide-cell) code cells"
