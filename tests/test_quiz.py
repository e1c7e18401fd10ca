"""The user-study quiz as a class uses it: a seeded order with the formats apart, scoring in
the browser without a kernel (clicked in headless Chromium), answers as CSV scored by
``speechxai.evaluation.answer_scores``."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from conftest import chromium

from speechxai.display import Question, Quiz, interleaved
from speechxai.evaluation import FORMATS, answer_scores, make_stimulus


def utterance_questions(n_items=6, length=400):
    rng = np.random.default_rng(0)
    questions = []
    for item in range(n_items):
        x, relevance = rng.normal(size=length).astype(np.float32), rng.normal(size=length)
        questions += [Question(format, make_stimulus(format, x, relevance), item % 4, item=item)
                      for format in FORMATS]
    return questions


def test_interleaved_keeps_every_question_once_and_an_utterances_formats_apart():
    questions = utterance_questions()
    ordered = interleaved(questions, seed=0)
    assert sorted(map(id, ordered)) == sorted(map(id, questions))
    assert all(a.item != b.item for a, b in zip(ordered, ordered[1:], strict=False))
    for block in range(4):  # every block of six holds each utterance once, formats mixed
        chunk = ordered[6 * block:6 * block + 6]
        assert sorted(q.item for q in chunk) == list(range(6))
        assert len({q.format for q in chunk}) > 1
    assert [id(q) for q in interleaved(questions, seed=0)] == [id(q) for q in ordered]
    assert [id(q) for q in interleaved(questions, seed=1)] != [id(q) for q in ordered]
    with pytest.raises(ValueError, match="share an utterance"):
        interleaved(questions + questions[:1])


def test_answer_scores_reads_the_pages_csv_and_refuses_other_tables():
    csv = ("reader,question,item,format,prediction,answer\n"
           "ann,1,0,visual explanation,3,3\nann,2,1,visual explanation,5,3\n"
           "ann,3,2,visual explanation,5,5\nann,4,0,audible signal,3,\n")
    table = answer_scores(pd.read_csv(io.StringIO(csv)))
    assert table.index.tolist() == ["visual explanation"]
    assert table.loc["visual explanation"].tolist() == [0.5, 0.5, 3]  # as in test_quiz_*
    with pytest.raises(ValueError, match="lack the column"):
        answer_scores(pd.DataFrame({"format": [], "answer": []}))
    with pytest.raises(ValueError, match="no question has been answered"):
        answer_scores(pd.read_csv(io.StringIO(csv)).assign(answer=np.nan))


def test_the_page_scores_clicked_answers_in_the_browser_and_downloads_them(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (the dev extra)")
    quiz = Quiz(interleaved(utterance_questions(), seed=0), sample_rate=8000)
    page_file = tmp_path / "quiz.html"
    page_file.write_text(f"<!DOCTYPE html><html><body>{quiz.page()}</body></html>")
    rng = np.random.default_rng(1)  # right, wrong or no answer, seeded
    answers = [None if rng.random() < 0.2 else int(q.prediction if rng.random() < 0.6
                                                     else rng.integers(10))
               for q in quiz.questions]
    expected = quiz.score(answers)

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(page_file.as_uri())
            page.click(".quiz-score")
            assert "No question has been answered yet" in page.inner_text(".quiz-result")
            questions = page.locator(".quiz-question")
            assert questions.count() == len(quiz.questions)
            for number, answer in enumerate(answers):
                if answer is not None:
                    questions.nth(number).locator(f'input[value="{answer}"]').check()
            page.fill(".quiz-reader", "student 7")
            page.click(".quiz-score")
            shown = {row.get_attribute("data-format"): [
                row.locator(f".{column}").inner_text()
                for column in ("informedness", "markedness", "answers")]
                for row in page.locator(".quiz-result tr[data-format]").all()}
            with page.expect_download() as download:
                page.click(".quiz-csv")
            csv = pd.read_csv(download.value.path())
        finally:
            browser.close()

    assert list(shown) == expected.index.tolist()
    for format, (informedness, markedness, count) in shown.items():
        row = expected.loc[format]
        assert informedness == f"{row['informedness']:.2f}"
        assert markedness == f"{row['markedness']:.2f}"
        assert int(count) == row["answers"]
    assert csv["reader"].eq("student 7").all() and len(csv) == len(quiz.questions)
    assert csv["prediction"].tolist() == [q.prediction for q in quiz.questions]
    pd.testing.assert_frame_equal(answer_scores(csv), expected)
