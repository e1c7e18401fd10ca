"""``speechxai book plan``: what a profile will train, and how long it would take here
(issue 19).

Per chapter, every model the profile trains - architecture, folds or seeds, steps, batch
size, training samples - and an estimate of its training time from a short measured run:
a few training steps of the same network on inputs of its shape (random numbers: the time of
a step does not depend on what the samples say), timed on this machine's CPU with its torch
threads. Only training is estimated; explaining and evaluating come on top (minutes at
``quick``). The pages that train nothing of their own (comparison, yourvoice, listening,
findings) are not listed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import torch
from torch import nn

from speechxai import device as devices
from speechxai.datasets.folds import AUDIOMNIST_DIGIT_GROUPS, AUDIOMNIST_SEX_GROUPS
from speechxai.profiles import chapter_parameters

SEQUENCE_SECONDS = 2.5
"""The length assumed for a training sequence of the recognisers and the command classifier
(3-5 spoken digits)."""
AUDIOMNIST_FOLDS = {"digit": len(AUDIOMNIST_DIGIT_GROUPS), "sex": len(AUDIOMNIST_SEX_GROUPS)}


@dataclass
class PlannedModel:
    """One model a chapter trains ``copies`` times (folds or seeds), and a way to time a step."""

    chapter: str
    model: str
    copies: int
    steps: int
    batch_size: int
    step: Callable[[], Callable[[], None]]  # builds the network, returns one training step


def _timed(step: Callable[[], None], repeats: int) -> float:
    step()  # warm-up: allocation, oneDNN kernels, huge pages
    step()
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - start) / repeats


def _training_step(network: nn.Module, inputs: Callable[[], tuple], bf16: bool = False,
                   memory_format: torch.memory_format | None = None
                   ) -> Callable[[], None]:
    """One Adam step of ``network`` on ``inputs()`` with a stand-in loss (the mean output),
    in the precision and memory format the trainer uses (None: the network's own layout, as
    :func:`speechxai.training.train` leaves it)."""
    device = devices.current()
    network = network.to(device, memory_format=memory_format or torch.preserve_format)
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-4)
    batch = tuple((x.contiguous(memory_format=memory_format)
                   if memory_format is not None and x.ndim == 4 else x).to(device)
                  for x in inputs())

    def step() -> None:
        with devices.autocast(device, bf16):
            output = network(*batch)
        outputs = output.values() if isinstance(output, dict) else [output]
        loss = sum(o.float().mean() for o in outputs)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        devices.synchronize(device)  # a GPU's step has ended only here
    return step


def _classifier(config):
    from speechxai.training import TRAINING_MEMORY_FORMAT, build_model

    shape = (1, 8000) if config.architecture == "audionet" else (1, 227, 227)
    return lambda: _training_step(
        build_model(config.architecture, config.task, config.width),
        lambda: (torch.randn(config.batch_size, *shape),), config.bf16,
        TRAINING_MEMORY_FORMAT.get(config.architecture))


def _deepspeech(config):
    from speechxai.models import DeepSpeech

    frames = int(SEQUENCE_SECONDS * 50)  # 20-ms hop
    return lambda: _training_step(DeepSpeech(config.hidden),
                                  lambda: (torch.randn(config.batch_size, frames, 19, 26),),
                                  config.bf16)


def _wav2letter(config):
    frames = int(SEQUENCE_SECONDS * 100)  # 10-ms hop
    return lambda: _training_step(config.build(),
                                  lambda: (torch.randn(config.batch_size, 128, frames),),
                                  config.bf16)


def _commands(config):
    from speechxai.models.commands import CommandClassifier

    def step():
        model = CommandClassifier(16000, width=config.width)
        waveforms = [torch.randn(int(SEQUENCE_SECONDS * 16000))] * config.batch_size
        return _training_step(model, lambda: model.features(waveforms))
    return step


def planned_models(profile: str, dataset: str | None = None) -> list[PlannedModel]:
    """Every model the chapters train at ``profile`` (on ``dataset``, default the profile's)."""
    from speechxai.experiments.deepspeech import CTCConfig
    from speechxai.experiments.navai import Wav2LetterConfig
    from speechxai.experiments.wordlevel import CommandConfig
    from speechxai.training import TrainingConfig, supported_precision

    def settings(chapter: str) -> dict:  # the profile's sizes, for the dataset run on
        return chapter_parameters(chapter, profile, {"dataset": dataset} if dataset else None)

    plan = []
    audiomnist = settings("audiomnist")
    for architecture, tasks in audiomnist["training"].items():
        for task, fields in tasks.items():
            config = supported_precision(TrainingConfig(architecture, task, "plan", **fields))
            copies = audiomnist.get("n_folds") or AUDIOMNIST_FOLDS[task]
            plan.append(PlannedModel("audiomnist", f"{architecture} {task} (width {config.width})",
                                     copies, config.steps, config.batch_size,
                                     _classifier(config)))
    recognizer = supported_precision(CTCConfig(**settings("deepspeech")["recognizer"]))
    plan.append(PlannedModel("deepspeech", f"DeepSpeech (hidden {recognizer.hidden})", 1,
                             recognizer.steps, recognizer.batch_size, _deepspeech(recognizer)))
    navai = settings("navai")
    wav2letter = supported_precision(Wav2LetterConfig(**navai["recognizer"]))
    plan.append(PlannedModel("navai", f"Wav2Letter (receptive field {wav2letter.receptive_field})",
                             int(navai.get("n_seeds", 1)), wav2letter.steps,
                             wav2letter.batch_size, _wav2letter(wav2letter)))
    commands = CommandConfig(**settings("wordlevel")["classifier"])
    plan.append(PlannedModel("wordlevel", f"command classifier (width {commands.width})", 1,
                             commands.steps, commands.batch_size, _commands(commands)))
    return plan


def plan_table(plan: list[PlannedModel], repeats: int = 3,
               progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """One row per planned model: copies, steps, batch size, training samples, the measured
    seconds per step (mean of ``repeats`` steps after two warm-up steps) and the estimated hours."""
    rows = []
    for planned in plan:
        if progress:
            progress(f"timing {planned.chapter}: {planned.model}")
        seconds = _timed(planned.step(), repeats)
        rows.append({"chapter": planned.chapter, "model": planned.model,
                     "folds/seeds": planned.copies, "steps": planned.steps,
                     "batch": planned.batch_size,
                     "samples": planned.copies * planned.steps * planned.batch_size,
                     "s/step": seconds,
                     "hours": planned.copies * planned.steps * seconds / 3600})
    return pd.DataFrame(rows)


def describe_plan(table: pd.DataFrame, profile: str) -> str:
    """The table as text with its total and what the estimate covers."""
    total = table["hours"].sum()
    return (table.to_string(index=False, float_format=lambda x: f"{x:,.3g}")
            + f"\n\nTraining at {profile!r}: about {total:,.2f} hours on "
            f"{devices.describe(devices.current())}, the models one after another (explaining "
            "and evaluating come on top; another device: SPEECHXAI_DEVICE=cuda|mps|cpu).")
