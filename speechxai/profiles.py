"""Run profiles: how much work each chapter does.

Every chapter takes the papermill parameters ``profile``, ``dataset`` and ``seed``, plus
the sizes its profile sets here:

- ``smoke``: seconds on tiny data, for the tests;
- ``quick``: the default book build on a laptop CPU (minutes per chapter), still showing
  the papers' qualitative findings;
- ``paper``: the papers' protocols on the real corpus, meant for a GPU.
"""

from __future__ import annotations

PROFILES = ("smoke", "quick", "paper")
DEFAULT_PROFILE = "quick"

COMMON = {"dataset": "embedded", "seed": 0}

# Chapter-specific sizes per profile. A chapter missing here takes only the common ones.
CHAPTER_SIZES: dict[str, dict[str, dict[str, object]]] = {
    "listening": {
        "smoke": {"n_speakers": 2, "per_digit": 1},
        "quick": {"n_speakers": 24, "per_digit": 1},
        "paper": {"n_speakers": 24, "per_digit": 1},
    },
}


def chapter_parameters(
    chapter: str, profile: str, overrides: dict[str, object] | None = None
) -> dict[str, object]:
    """The parameters papermill injects into ``chapter`` for ``profile``.

    Overrides win over the profile's values; an unknown profile raises ``ValueError``.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    parameters: dict[str, object] = {"profile": profile, **COMMON}
    parameters.update(CHAPTER_SIZES.get(chapter, {}).get(profile, {}))
    parameters.update(overrides or {})
    return parameters
