"""Resumable training (issue 19): a long training saves its whole state every
``$SPEECHXAI_CHECKPOINT_STEPS`` steps (default :data:`DEFAULT_EVERY`) beside the model it will
become, and a training that was interrupted - killed, out of time, out of memory - starts again
from the last of those states instead of from step 0.

The state is everything the next step depends on: the network's weights, the optimiser's and
the learning-rate schedule's state, the numpy generator that draws the batches (and, for the
AudioMNIST classifiers, their placements and channels), torch's generator (dropout, SpecAugment)
and the history so far. So a resumed training ends with the same weights as one that was never
interrupted (``tests/test_resume.py`` kills one mid-way). The file goes when the model is saved.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from speechxai.device import on_cpu
from speechxai.model_cache import CorruptModel, load, save

EVERY_ENV = "SPEECHXAI_CHECKPOINT_STEPS"
DEFAULT_EVERY = 200


def checkpoint_every() -> int:
    """Steps between two saved states: ``$SPEECHXAI_CHECKPOINT_STEPS`` or
    :data:`DEFAULT_EVERY` (a positive integer; anything else raises ``ValueError``)."""
    text = os.environ.get(EVERY_ENV, "")
    if not text:
        return DEFAULT_EVERY
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"${EVERY_ENV}={text!r}: expected a positive number of steps")
    return int(text)


class Resume:
    """The saved state of one training, at ``<model file>.resume`` beside the model."""

    def __init__(self, model_path: Path):
        self.path = Path(model_path).with_name(Path(model_path).name + ".resume")
        self.every = checkpoint_every()

    def load(self) -> dict | None:
        """The last saved state, or ``None`` (none saved, or unreadable: then it is reported
        and the training starts from step 0)."""
        if not self.path.exists():
            return None
        try:
            return load(self.path)
        except CorruptModel as error:
            print(f"resume: {self.path} is unusable ({error.reason}); training from step 0")
            return None

    def step_done(self, step: int, total: int, state: Callable[[], dict]) -> None:
        """After ``step`` of ``total`` steps: save ``state()`` when ``step`` is a multiple of
        the interval (not after the last step: the model itself is saved then)."""
        if step % self.every == 0 and step < total:
            save({**state(), "step": step}, self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def training_state(modules: dict, rng: np.random.Generator, history: dict) -> dict:
    """What a training's next step depends on: each of ``modules``' (network, optimiser,
    schedule) ``state_dict()``, the numpy and torch generators' states and the history."""
    return on_cpu(_plain({
        "modules": {name: module.state_dict() for name, module in modules.items()},
        "numpy": rng.bit_generator.state, "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "history": history}))


def _plain(value):
    """``value`` with numpy scalars as Python numbers (a learning-rate schedule keeps some),
    so that the state loads with ``torch.load(weights_only=True)``."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_plain(item) for item in value)
    return value.item() if isinstance(value, np.generic) else value


def restore_training(state: dict, modules: dict, rng: np.random.Generator) -> tuple[int, dict]:
    """Load a :func:`training_state` into ``modules`` and the generators; returns the step
    it was saved after and the history."""
    for name, module in modules.items():
        module.load_state_dict(state["modules"][name])
    rng.bit_generator.state = state["numpy"]
    torch.set_rng_state(state["torch"])
    if state.get("cuda"):  # dropout on a GPU draws from the CUDA generators
        torch.cuda.set_rng_state_all(state["cuda"])
    return int(state["step"]), state["history"]
