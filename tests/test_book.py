"""The real book: every chapter at ``smoke`` through the runner, the records against the
committed baselines, and the built HTML opened in headless Chromium."""

from __future__ import annotations

import base64
import html
import io
import json
import re
import subprocess
import tempfile
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
import soundfile
from conftest import ROOT, chromium
from conftest import run_book as speechxai

from speechxai.book import BOOK_RUN, HTML_BUILD, chapters, timing_path

pytestmark = pytest.mark.book


@pytest.fixture(scope="module")
def smoke_build(tmp_path_factory) -> Path:
    """Run every chapter at ``smoke`` and build the HTML, into a temporary build folder."""
    build_dir = tmp_path_factory.mktemp("build")
    run = speechxai("run", "--profile", "smoke", "--no-progress", "--build-dir", str(build_dir))
    assert run.returncode == 0, f"a chapter failed at smoke:\n{run.stderr}"
    built = speechxai("build", "--build-dir", str(build_dir))
    assert built.returncode == 0, built.stdout + built.stderr
    return build_dir


def test_smoke_records_agree_with_the_committed_baselines(smoke_build):
    result = speechxai("check", "--profile", "smoke", "--build-dir", str(smoke_build))
    assert result.returncode == 0, f"records drifted from tests/baselines:\n{result.stderr}"


def test_the_html_build_records_its_wall_time(smoke_build):
    timing = json.loads(timing_path(smoke_build).read_text())
    assert 0 < timing[HTML_BUILD]["seconds"] < 1800
    assert set(timing["smoke"]) == {chapter.name for chapter in chapters(ROOT)} | {BOOK_RUN}
    assert [run["jobs"] for run in timing["smoke"][BOOK_RUN].values()] == [1]


def test_no_output_cell_holds_a_traceback(smoke_build):
    for notebook in (smoke_build / "notebooks").glob("*.ipynb"):
        text = notebook.read_text()
        assert '"output_type": "error"' not in text, f"{notebook.name} has an error output"
        assert "Traceback (most recent call last)" not in text, notebook.name


def dump_dom(page: Path) -> str:
    """The page's DOM after its scripts ran, in headless Chromium with no network."""
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [
                chromium(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--host-resolver-rules=MAP * ~NOTFOUND",  # offline: no host resolves
                "--virtual-time-budget=20000",
                "--dump-dom",
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=180,
        )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def widget_players(dom: str) -> list[str]:
    """The rendered ``ipywidgets.Audio`` elements that play data."""
    players = re.findall(r'<audio[^>]*class="[^"]*jupyter-widgets[^"]*"[^>]*>', dom)
    assert players, "no ipywidgets.Audio player rendered (widget JS missing?)"
    assert all('src="blob:' in player for player in players), "a widget player has no data"
    return players


def labelled_sounds(page: Path) -> dict[str, tuple[np.ndarray, int]]:
    """Label -> (signal, sample rate) of every labelled player (a ``VBox`` of a ``Label`` and
    an ``ipywidgets.Audio``) in the widget state the page carries: what its players play."""
    found = re.search(r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>',
                      page.read_text(), flags=re.S)
    assert found, f"{page.name} carries no widget state"
    state = json.loads(html.unescape(found.group(1)))["state"]
    sounds = {}
    for model in state.values():
        children = [state[child.removeprefix("IPY_MODEL_")]
                    for child in model["state"].get("children", ())]
        if [child["model_name"] for child in children] == ["LabelModel", "AudioModel"]:
            (value,) = [b["data"] for b in children[1]["buffers"] if b["path"] == ["value"]]
            sounds[children[0]["state"]["value"]] = soundfile.read(
                io.BytesIO(base64.b64decode(value)))
    return sounds


def test_first_chapter_shows_figure_and_one_player_per_sound_offline(smoke_build):
    page = smoke_build / "html" / "book" / "listening.html"
    dom = dump_dom(page)

    figures = re.findall(r'<img[^>]+src="(\.\./_images/[^"]+\.png)"', dom)
    assert figures, "no figure in the chapter"
    pixels = matplotlib.image.imread(page.parent / figures[0])
    assert pixels.shape[0] > 200 and pixels.std() > 0.05, "the first figure looks empty"

    sounds = labelled_sounds(page)
    assert len(widget_players(dom)) == len(sounds), "a sound has more than one player"
    assert "data:audio/wav" not in dom, "a widget's <audio> fallback is shown beside it"
    assert re.search(r'<link[^>]+href="\.\./_static/speechxai\.css', dom), "no book style sheet"
    assert "pre-wrap" in (page.parent.parent / "_static" / "speechxai.css").read_text()
    # the sentence's player (the others compare an eSpeak NG digit with an AudioMNIST one)
    (sentence,) = [label for label in sounds if not label.startswith(("eSpeak NG", "AudioMNIST"))]
    signal, rate = sounds[sentence]
    assert rate == 22050 and signal.size / rate > 0.2 and abs(signal).max() > 0.1


def assert_figures(page: Path, dom: str, at_least: int, what: str) -> None:
    """The page shows at least ``at_least`` figures, none of them empty."""
    figures = re.findall(r'<img[^>]+src="(\.\./_images/[^"]+\.png)"', dom)
    assert len(figures) >= at_least, f"expected {what}, found {len(figures)} figures"
    for figure in figures:
        pixels = matplotlib.image.imread(page.parent / figure)
        assert pixels.shape[0] > 200 and pixels.std() > 0.05, f"{figure} looks empty"


def assert_numbered_figures(dom: str, count: int) -> None:
    """The page numbers ``count`` figures consecutively (the book counts on from the pages
    before), each with a caption and an alt text of its own."""
    numbers = [int(n) for n in re.findall(r'<span class="caption-number">Fig\. (\d+) </span>',
                                          dom)]
    assert len(numbers) == count and numbers == list(range(numbers[0], numbers[0] + count)), (
        f"figures numbered {numbers}")
    alts = re.findall(r'<img alt="([^"]{20,})"', dom)
    assert len(set(alts)) >= count, f"{count} figures but alt texts {alts}"


def captions(dom: str) -> list[str]:
    return re.findall(r"<caption>(.*?)</caption>", dom, flags=re.S)


def test_audiomnist_chapter_shows_figures_tables_players_and_quiz(smoke_build):
    page = smoke_build / "html" / "book" / "audiomnist.html"
    dom = dump_dom(page)

    assert_figures(page, dom, 3, "Figs. 1-3")
    for expected in ("Table 1", "Sex accuracy", "Area under the accuracy curve",
                     "Simulated reader"):
        assert any(expected in caption for caption in captions(dom)), f"no table {expected!r}"

    sounds = labelled_sounds(page)
    levels = {}
    for label in ("original", "ReLU(R)·x: evidence for", "ReLU(−R)·x: evidence against"):
        assert label in sounds, f"no player {label!r} of the audible explanations"
        signal, rate = sounds[label]
        assert rate == 8000 and signal.size == 8000 and np.abs(signal).max() <= 1
        levels[label] = 20 * np.log10(np.sqrt(np.mean(signal**2)))
    original = levels.pop("original")
    assert abs(original + 23) < 0.5, f"original at {original:.1f} dBFS, not -23"
    assert all(-40 < level < -20 for level in levels.values()), f"explanations at {levels} dBFS"

    assert len(widget_players(dom)) >= 3
    # the quiz, scored in the browser (tests/test_quiz.py clicks it): its audible questions
    # are the page's only embedded <audio> elements - no widget's fallback beside its widget
    questions = re.findall(r'class="quiz-question"[^>]*><b>\d+\. ([a-z ]+)</b>', dom)
    assert len(questions) == 4 * 2, "the quiz does not show n_quiz x 4 formats"
    audible = sum(question.startswith("audible") for question in questions)
    assert dom.count("data:audio/wav") == audible, "an <audio> fallback is shown beside a widget"
    assert ">Score<" in dom and "Download answers (CSV)" in dom


def test_deepspeech_chapter_shows_its_figures_and_tables(smoke_build):
    page = smoke_build / "html" / "book" / "deepspeech.html"
    dom = dump_dom(page)
    assert_figures(page, dom, 5, "Fig. 1 in three views, attack profiles, deletion curves")
    for caption in ("Where the attributions lie", "Deletion areas"):
        assert any(caption in text for text in captions(dom)), f"no table {caption!r}"
    assert "greedy transcript" in dom and "transcribed after attack" in dom


def test_navai_chapter_shows_its_figures(smoke_build):
    page = smoke_build / "html" / "book" / "navai.html"
    dom = dump_dom(page)
    assert_figures(page, dom, 3, "Fig. 2 windows, Fig. 1 activation maximisation, Fig. 3 grid")
    assert "letter specificity" in dom and "greedy transcript" in dom


def test_wordlevel_chapter_shows_its_figures_and_tables(smoke_build):
    page = smoke_build / "html" / "book" / "wordlevel.html"
    dom = dump_dom(page)
    assert_figures(page, dom, 5, "alignment, Table 1 words, Fig. 2 levels, Fig. 3 global, AOPC")
    shown = captions(dom)
    for caption in ("word relevance per slot", "paralinguistic relevance r(p)",
                    "held-out commands", "sex classifier", "AOPC over"):
        assert any(caption in text for text in shown), f"no table captioned {caption!r}"


def test_comparison_chapter_shows_numbered_figures_tables_and_audible_explanations(smoke_build):
    page = smoke_build / "html" / "book" / "comparison.html"
    dom = dump_dom(page)
    assert_figures(page, dom, 3, "method maps, deletion curves, randomisation bars")
    assert_numbered_figures(dom, 3)
    for caption in ("Deletion AUC per masking operator", "Listenable-explanation metrics"):
        assert any(caption in text for text in captions(dom)), f"no table {caption!r}"
    sounds = labelled_sounds(page)
    methods = ("saliency", "gradient x input", "integrated gradients", "lrp", "shap",
               "occlusion")
    for label in ("original", *methods):
        assert label in sounds, f"no player {label!r}"
        signal, rate = sounds[label]
        assert rate == 8000 and signal.size == 8000 and np.abs(signal).max() <= 1
        assert np.sqrt(np.mean(signal**2)) > 0.01, f"{label} is silent"


def test_your_voice_page_shows_the_decisions_their_explanations_and_players(smoke_build):
    page = smoke_build / "html" / "book" / "yourvoice.html"
    dom = dump_dom(page)
    assert_figures(page, dom, 3, "spectrogram maps, waveform map, recogniser map")
    assert_numbered_figures(dom, 3)
    assert any("What the models decide" in text for text in captions(dom))
    assert "DeepSpeech</strong> transcribes" in dom and "classifiers decide right" in dom
    sounds = labelled_sounds(page)
    assert "the recording" in sounds
    assert sum(label.startswith("ReLU(R)") for label in sounds) >= 1
    assert "Upload" not in dom or "live kernel" in dom  # headless: no dead upload button


def test_every_chapter_page_offers_its_executed_notebook_for_download(smoke_build):
    html = smoke_build / "html" / "book"
    for chapter in chapters(ROOT):
        page = (html / f"{chapter.name}.html").read_text()
        link = f"../_sources/book/{chapter.name}.ipynb"
        assert f'href="{link}"' in page, f"{chapter.name}: no notebook download link"
        notebook = json.loads((html / link).read_text())
        outputs = [o for cell in notebook["cells"] for o in cell.get("outputs", ())]
        assert outputs, f"{chapter.name}: the downloadable notebook holds no outputs"


def test_no_page_scrolls_sideways_or_shows_progress_bars_or_record_echoes(smoke_build):
    """Every built page at a laptop's width, as a reader sees it in Chromium: no code or table
    wider than its box (hidden behind a scroll bar) or past the text column, no progress bar
    (text or widget: nobody waits for a built page) and no ``record:`` echo line."""
    from playwright.sync_api import sync_playwright

    overflowing = """Array.from(document.querySelectorAll('main pre, main table')).filter(e =>
        (e.scrollWidth > e.clientWidth + 2 && getComputedStyle(e).overflowX != 'visible')
        || e.getBoundingClientRect().right
           > document.querySelector('main').getBoundingClientRect().right + 2)
        .map(e => e.tagName + ': ' + e.textContent.slice(0, 60))"""
    problems = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        for page_path in sorted((smoke_build / "html" / "book").glob("*.html")):
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(page_path.as_uri())
            page.wait_for_timeout(1000)
            text = page.inner_text("main")
            found = page.evaluate(overflowing)
            found += re.findall(r"\d+%\|.{0,30}", text) + re.findall(r"^record: .*", text, re.M)
            bars = page.evaluate("document.querySelectorAll("
                                 "'main .widget-progress, main .progress-bar, main progress')"
                                 ".length")
            found += [f"{bars} progress-bar widgets"] if bars else []
            if found:
                problems[page_path.name] = found
            page.close()
        browser.close()
    assert not problems, problems


def test_every_figure_of_every_chapter_is_numbered_with_a_caption_and_alt_text(smoke_build):
    for chapter in chapters(ROOT):
        page = (smoke_build / "html" / "book" / f"{chapter.name}.html").read_text()
        images = re.findall(r"<img[^>]*src=\"\.\./_images/[^>]*>", page)
        figures = re.findall(r"<figure[^>]*>.*?</figure>", page, flags=re.S)
        numbered = [f for f in figures if re.search(r'class="caption-number">Fig\. \d+', f)]
        assert len(numbered) == len(figures), f"{chapter.name}: a figure without a number"
        assert all("<img" in f for f in figures), f"{chapter.name}: a figure wraps no image"
        inside = sum(len(re.findall(r"<img[^>]*src=\"\.\./_images/", f)) for f in figures)
        assert inside == len(images), (
            f"{chapter.name}: {len(images) - inside} of {len(images)} images outside a figure")
        assert all(re.search(r'alt="[^"]{15,}"', image) for image in images), (
            f"{chapter.name}: an image without alt text")


def test_the_api_reference_renders_docstrings_and_the_example(smoke_build):
    page = (smoke_build / "html" / "book" / "api.html").read_text()
    for documented in ("speechxai.attribution.explain.explain",
                       "speechxai.attribution.explanation.Explanation.plot",
                       "speechxai.attribution.lstm_lrp.torch_lstm_rule",
                       "speechxai.attribution.occlusion.WordImportance"):
        assert f'id="{documented}"' in page, documented
    assert "KeywordSpotter" in page and "signal-take-all" in page
    assert 'class="problematic"' not in page  # docstring markup Sphinx could not read
