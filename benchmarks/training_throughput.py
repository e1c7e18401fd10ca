"""Benchmark: training throughput (samples/s) of AudioNet and AlexNet on CPU.

The reference is the plain eager fp32 step of :func:`speechxai.training.train` (forward,
cross-entropy, backward, gradient clipping, Adam) without huge pages, at torch's default
thread count, on batches of 64 (the quick profile's) in training mode. The variants:

- ``1 thread`` / ``N threads``: other intra-op thread counts (``--threads``);
- ``bf16``: bfloat16 autocast (``TrainingConfig.bf16``, on at the quick profile);
- ``channels_last`` (AlexNet): model and inputs in NHWC memory format;
- ``compile``: ``torch.compile`` (inductor, with eager's random numbers so dropout masks
  match), also with bf16; its first step, compilation included, is reported apart from its
  steady state;
- all of them with torch's buffers on transparent huge pages (``THP_MEM_ALLOC_ENABLE=1``,
  which importing speechxai sets, so the book trains with it), against the reference without
  them. torch reads the setting once per process, so each setting runs in a fresh interpreter
  (one after the other, not interleaved): without huge pages only the reference;
- the memory setting of the book's chapter kernels, a kept heap (``speechxai.allocation``:
  glibc keeps freed buffers for the next step, huge pages off), for the variant training
  uses: a second figure per model, its step time with huge pages over with a kept heap.

Each variant trains its own copy of the same initial model on the same batches (the model
inputs of seeded noise signals; the cost does not depend on the values), each step seeded
alike. "loss difference" is the relative difference of its first loss (same weights, batch
and dropout masks) from the reference's: what the variant changes in the numbers (later
steps drift apart by chance alone; all losses are in the JSON). Medians of ``--repeats``
interleaved steps after a warm-up step; preparing a batch's inputs (not in the step times)
is timed apart. The figure holds when the variant that training uses on this CPU
(:func:`used_variant`) is within 1.1x of the fastest (timings on a shared machine vary by
several per cent); the memory figure when the kept heap is no more than 1.1x slower than
huge pages.

Run: ``.venv/bin/python benchmarks/training_throughput.py [--repeats 5] [--threads 2]``
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from common import finish, medians, parser, timings, torch_threads
from torch import nn

from speechxai.allocation import memory_environment
from speechxai.inputs import DigitSignals, model_inputs
from speechxai.training import (
    TRAINING_MEMORY_FORMAT,
    TrainingConfig,
    build_model,
    supported_precision,
)

BATCH = 64
LEARNING_RATE = 1e-3
GRADIENT_CLIP = 5.0
GAIN = 1.1
ARCHITECTURES = ("audionet", "alexnet")
REFERENCE = "eager fp32, no huge pages"


@dataclass(frozen=True)
class Variant:
    name: str
    bf16: bool = False
    channels_last: bool = False
    compile: bool = False
    threads: int | None = None  # None: the default


def variants(architecture: str, default_threads: int, threads: int | None) -> list[Variant]:
    """The reference first, then the variants worth trying for ``architecture``."""
    chosen = [Variant("eager fp32")]
    for count in sorted({1, threads or default_threads} - {default_threads}):
        chosen.append(Variant(f"{count} thread{'s' * (count > 1)}", threads=count))
    chosen.append(Variant("bf16", bf16=True))
    if architecture == "alexnet":
        chosen += [Variant("channels_last", channels_last=True),
                   Variant("bf16 + channels_last", bf16=True, channels_last=True)]
    chosen += [Variant("compile", compile=True), Variant("bf16 + compile", bf16=True,
                                                         compile=True)]
    return chosen


def batches(architecture: str, count: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``count`` batches of model inputs for seeded noise signals (0.4-1 s at 8 kHz)."""
    rng = np.random.default_rng(0)
    signals = DigitSignals(
        [torch.from_numpy(0.1 * rng.standard_normal(int(rng.uniform(3200, 8000)), "float32"))
         for _ in range(BATCH)],
        rng.integers(0, 10, BATCH), rng.integers(0, 2, BATCH), ["noise"] * BATCH)
    labels = torch.as_tensor(signals.digits)
    return [(model_inputs(architecture, signals, rng.integers(0, 2**31, BATCH), None), labels)
            for _ in range(count)]


def trainer(model: nn.Module, variant: Variant, data: list) -> tuple[Callable[[], None], list]:
    """A function that runs the next training step of ``variant`` on its own copy of
    ``model``, and the list its losses go to."""
    model = copy.deepcopy(model).train()
    if variant.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    forward = torch.compile(model, options={"fallback_random": True}) if variant.compile else model
    losses: list[float] = []

    def step() -> None:
        inputs, labels = data[len(losses)]
        if variant.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        torch.manual_seed(len(losses))  # the same dropout masks in every eager variant
        with torch_threads(variant.threads), torch.autocast(
                "cpu", dtype=torch.bfloat16, enabled=variant.bf16):
            loss = nn.functional.cross_entropy(forward(inputs), labels)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), GRADIENT_CLIP)
            optimizer.step()
        losses.append(float(loss.detach()))

    return step, losses


def measure(architecture: str, repeats: int, threads: int | None,
            only: list[str] | None = None) -> dict:
    """Seconds per step, first-step seconds and losses of every variant of one model (only
    of the variants named in ``only`` if given)."""
    chosen = [variant for variant in variants(architecture, torch.get_num_threads(), threads)
              if only is None or variant.name in only]
    start = time.perf_counter()
    data = batches(architecture, repeats + 2)
    inputs_s = (time.perf_counter() - start) / len(data)
    torch.manual_seed(0)
    model = build_model(architecture, "digit")
    steps, losses, first_s = {}, {}, {}
    for variant in chosen:
        steps[variant.name], losses[variant.name] = trainer(model, variant, data)
        start = time.perf_counter()
        steps[variant.name]()  # compiles when it is the compile variant
        first_s[variant.name] = time.perf_counter() - start
    times = timings(steps, repeats)
    reference = losses[chosen[0].name]
    return {
        "architecture": architecture, "batch": BATCH, "inputs_s_per_batch": inputs_s,
        "default_threads": torch.get_num_threads(), "step_s": medians(times), "times_s": times,
        "first_step_s": first_s, "losses": losses,
        "loss_difference": {name: abs(values[0] - reference[0]) / abs(reference[0])
                            for name, values in losses.items()},
    }


def measure_in_child(architecture: str, repeats: int, threads: int | None, memory: str,
                     only: list[str] | None = None) -> dict:
    """:func:`measure` in a fresh interpreter started with the ``memory`` setting
    (:data:`speechxai.allocation.MEMORY_SETTINGS`), of the variants in ``only`` if given."""
    command = [sys.executable, __file__, "--child", architecture, "--repeats", str(repeats)]
    command += ["--threads", str(threads)] if threads else []
    command += [part for name in only or [] for part in ("--only", name)]
    child = subprocess.run(command, env=memory_environment(memory), capture_output=True,
                           text=True)
    if child.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{child.stderr[-2000:]}")
    return json.loads(child.stdout.splitlines()[-1])


def with_huge_pages(plain: dict, huge: dict) -> dict:
    """One result from the two children's: the reference without huge pages first."""
    merged = {key: {REFERENCE: plain[key]["eager fp32"], **huge[key]}
              for key in ("step_s", "times_s", "first_step_s", "losses")}
    reference = merged["losses"][REFERENCE]
    merged["loss_difference"] = {name: abs(values[0] - reference[0]) / abs(reference[0])
                                 for name, values in merged["losses"].items()}
    return {**huge, **merged}


def used_variant(architecture: str) -> str:
    """The variant :func:`speechxai.training.train` runs on this CPU with the quick profile's
    settings: bf16 where :func:`speechxai.training.supported_precision` keeps it, channels-last
    where :data:`speechxai.training.TRAINING_MEMORY_FORMAT` asks for it."""
    bf16 = supported_precision(TrainingConfig(architecture, "digit", "any")).bf16
    channels_last = TRAINING_MEMORY_FORMAT.get(architecture) == torch.channels_last
    parts = ["bf16"] * bf16 + ["channels_last"] * channels_last
    return " + ".join(parts) or "eager fp32"


def run(repeats: int = 5, threads: int | None = 2) -> list[dict]:
    """Figure 5: per model, the samples/s of the variant training uses on this CPU over the
    eager fp32 loop's; it holds when no other variant is more than 10% faster."""
    rows = []
    for architecture in ARCHITECTURES:
        used = used_variant(architecture)
        result = with_huge_pages(
            measure_in_child(architecture, repeats, threads, "no huge pages", ["eager fp32"]),
            measure_in_child(architecture, repeats, threads, "huge pages"))
        step_s = result["step_s"]
        reference = REFERENCE
        ratios = {name: step_s[reference] / seconds for name, seconds in step_s.items()}
        best = max(ratios, key=ratios.get)
        others = ", ".join(
            f"{name} {ratio:.2f}x (loss difference {result['loss_difference'][name]:.0e})"
            for name, ratio in ratios.items() if name != reference)
        rows.append({
            "figure": f"5 training throughput, {architecture}", "value": ratios[used],
            "unit": f"x ({used}, used)",
            "target": f"no variant > {GAIN:g}x the one used (best: {best} {ratios[best]:.2f}x)",
            "holds": ratios[best] <= GAIN * ratios[used],
            "note": f"{reference} {BATCH / step_s[reference]:.1f} samples/s; {others}; "
                    f"first compiled step {result['first_step_s']['compile']:.0f} s; inputs "
                    f"{result['inputs_s_per_batch']:.2f} s per batch",
            "best": best, "used": used, "ratios": ratios,
            "samples_per_s": {name: BATCH / seconds for name, seconds in step_s.items()},
            **result,
        })
        kept = measure_in_child(architecture, repeats, threads, "kept heap", [used])
        speedup = step_s[used] / kept["step_s"][used]
        same = kept["losses"][used] == result["losses"][used]
        rows.append({
            "figure": f"5 memory of the chapter kernels, {architecture}", "value": speedup,
            "unit": f"x ({used}: huge pages / kept heap step time)",
            "target": f"kept heap >= 1/{GAIN:g} x huge pages",
            "holds": speedup >= 1 / GAIN,
            "note": f"{used}: {step_s[used]:.3f} s per step with huge pages, "
                    f"{kept['step_s'][used]:.3f} s with a kept heap; losses "
                    f"{'equal bit for bit' if same else 'DIFFER'}",
            "kept_heap": kept,
        })
    return rows


def main() -> int:
    arguments = parser(__doc__, repeats=5, threads=2)
    arguments.add_argument("--child", choices=ARCHITECTURES, help="measure one model and "
                           "print its result as JSON (what run() starts per setting)")
    arguments.add_argument("--only", action="append", help="measure only this variant "
                           "(repeatable)")
    args = arguments.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.repeats, args.threads, args.only)))
        return 0
    return finish("training_throughput", run(args.repeats, args.threads))


if __name__ == "__main__":
    raise SystemExit(main())
