"""The conda environment and pyproject.toml describe the same installation."""

from __future__ import annotations

import re
import tomllib

import yaml
from conftest import ROOT
from packaging.requirements import Requirement


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _conda_pip_entries() -> list[str]:
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    dependencies = environment["dependencies"]
    assert "pip" in dependencies, "environment.yml must install pip"
    assert any(str(d).startswith("python=3.11") for d in dependencies)
    (pip_section,) = [d["pip"] for d in dependencies if isinstance(d, dict)]
    return pip_section


def test_conda_pip_section_installs_the_package_with_every_extra():
    extras = set(_pyproject()["project"]["optional-dependencies"])
    local = [e for e in _conda_pip_entries() if e.startswith("-e .")]
    assert len(local) == 1, "environment.yml must install the package itself (-e .[...])"
    match = re.fullmatch(r"-e \.\[([^\]]*)\]", local[0])
    assert match, local[0]
    assert {extra.strip() for extra in match.group(1).split(",")} == extras


def test_conda_pins_agree_with_pyproject():
    runtime = {Requirement(r).name: Requirement(r) for r in _pyproject()["project"]["dependencies"]}
    pins = [Requirement(e) for e in _conda_pip_entries() if not e.startswith("-e")]
    assert pins, "environment.yml pins torch/torchaudio before installing the package"
    for pin in pins:
        assert pin.name in runtime, f"{pin.name} is pinned in environment.yml only"
        assert pin.specifier == runtime[pin.name].specifier, (
            f"{pin.name}: environment.yml says {pin.specifier}, "
            f"pyproject.toml says {runtime[pin.name].specifier}"
        )


def test_torch_and_torchaudio_are_pinned_as_a_matched_pair():
    runtime = {Requirement(r).name: Requirement(r) for r in _pyproject()["project"]["dependencies"]}
    assert str(runtime["torch"].specifier) == "==2.14.1"
    assert str(runtime["torchaudio"].specifier) == "==2.11.0"
