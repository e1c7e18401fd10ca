"""The mutation test of issue 16: with each attribution method in turn replaced by zeros and
by seeded noise (``SPEECHXAI_MUTATE``, :mod:`speechxai.attribution.mutation`), running its
chapter at ``smoke`` must make ``speechxai book check`` fail, naming the method's own check
among what caught it. With the real methods the same chapters agree with their baselines
(``test_book``)."""

from __future__ import annotations

import pytest
from conftest import run_book

from speechxai.attribution.mutation import KINDS, MUTABLE_METHODS, MUTATION_ENV

pytestmark = pytest.mark.book

CHAPTER = {"lrp": "deepspeech", "saliency": "deepspeech", "shap": "deepspeech",
           "occlusion": "wordlevel", "paralinguistic": "wordlevel", "navai": "navai"}
"""The chapter each method is broken in: the cheapest that records its check (LRP's
conservation is also recorded by the AudioMNIST chapter, twice as long to run)."""
METHOD_CHECK = {"lrp": "lrp.conservation_error", "saliency": "saliency.gradient_error",
                "shap": "shap.local_accuracy_error", "occlusion": "occlusion.drop_error",
                "paralinguistic": "paralinguistic.drop_error",
                "navai": "sensitivity.gradient_error"}
"""The record that checks each method against its definition (speechxai.attribution.sanity)."""


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", MUTABLE_METHODS)
def test_a_broken_method_fails_the_smoke_check(method, kind, tmp_path):
    chapter = CHAPTER[method]
    run_book("run", "--profile", "smoke", "--chapter", chapter, "--no-progress",
             "--build-dir", str(tmp_path), env={MUTATION_ENV: f"{method}:{kind}"})
    check = run_book("check", "--profile", "smoke", "--chapter", chapter,
                     "--build-dir", str(tmp_path))
    caught = [line for line in check.stderr.splitlines() if line.startswith("FAIL")]
    print(f"{method} replaced by {kind}: {len(caught)} failures\n" + "\n".join(caught))
    assert check.returncode == 1, f"book check passed with {method} replaced by {kind}"
    assert any(f"record {METHOD_CHECK[method]!r}" in line for line in caught), caught
