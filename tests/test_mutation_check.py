"""The mutation test of issue 16: with the attribution methods replaced by zeros and by
seeded noise (``SPEECHXAI_MUTATE``, :mod:`speechxai.attribution.mutation`), running their
chapter at ``smoke`` must make ``speechxai book check`` fail, naming each broken method's own
check among what caught it. With the real methods the same chapters agree with their
baselines (``test_book``).

The methods a chapter uses are broken together, one chapter run per chapter and kind: each
method's check reads that method's attributions only (its definition against the model:
conservation, finite differences, local accuracy, the drop of each masked input), so a
broken method fails its own check whatever the others return, and the suite runs 6 chapters
instead of 12 (2 min less).
"""

from __future__ import annotations

import pytest
from conftest import run_book

from speechxai.attribution.mutation import KINDS, MUTABLE_METHODS, MUTATION_ENV

pytestmark = pytest.mark.book

CHAPTER_METHODS = {"deepspeech": ("lrp", "saliency", "shap"),
                   "wordlevel": ("occlusion", "paralinguistic"), "navai": ("navai",)}
"""The chapter each method is broken in: the cheapest that records its check (LRP's
conservation is also recorded by the AudioMNIST chapter, twice as long to run)."""
METHOD_CHECK = {"lrp": "lrp.conservation_error", "saliency": "saliency.gradient_error",
                "shap": "shap.local_accuracy_error", "occlusion": "occlusion.drop_error",
                "paralinguistic": "paralinguistic.drop_error",
                "navai": "sensitivity.gradient_error"}
"""The record that checks each method against its definition (speechxai.attribution.sanity)."""


def test_every_mutable_method_is_broken_in_one_chapter():
    methods = [m for chapter_methods in CHAPTER_METHODS.values() for m in chapter_methods]
    assert sorted(methods) == sorted(MUTABLE_METHODS) == sorted(METHOD_CHECK)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("chapter", CHAPTER_METHODS)
def test_broken_methods_fail_their_own_smoke_checks(chapter, kind, tmp_path):
    methods = CHAPTER_METHODS[chapter]
    mutation = ",".join(f"{method}:{kind}" for method in methods)
    run_book("run", "--profile", "smoke", "--chapter", chapter, "--no-progress",
             "--build-dir", str(tmp_path), env={MUTATION_ENV: mutation})
    check = run_book("check", "--profile", "smoke", "--chapter", chapter,
                     "--build-dir", str(tmp_path))
    caught = [line for line in check.stderr.splitlines() if line.startswith("FAIL")]
    print(f"{mutation}: {len(caught)} failures\n" + "\n".join(caught))
    assert check.returncode == 1, f"book check passed with {mutation}"
    for method in methods:
        assert any(f"record {METHOD_CHECK[method]!r}" in line for line in caught), (
            f"{method} replaced by {kind} did not fail {METHOD_CHECK[method]}", caught)
