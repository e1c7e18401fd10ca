"""The device the book computes on (issue 19): ``cuda``, ``mps`` or ``cpu``.

One device per process, chosen by :func:`use` - a chapter's ``device`` parameter
(``speechxai book run -p device cuda``), else ``$SPEECHXAI_DEVICE``, else the best one present
(CUDA, then Apple's MPS, then the CPU). Trainers put their networks and batches on it and
save their weights on the CPU (a model file does not depend on where it was trained); a
restored model goes onto it, and every function that runs a model moves its inputs to the
model's device (:func:`device_of`) and gives its results back on the CPU, so no code path
assumes CPU tensors. Data loading, features and channel augmentation run on the CPU beside the
training, as a ``DataLoader`` would; their outputs move with each batch.

Precision, per kind of work:

- **training**: bfloat16 autocast where the config asks for it (``bf16=True``) and the device
  runs bfloat16 natively (:func:`native_bf16`: a CPU with AVX-512 BF16 or AMX, a CUDA GPU of
  compute capability 8 or more); float32 elsewhere. bfloat16 keeps float32's range, so no loss
  scaling is needed (float16 would need it, and is not used).
- **attribution** (every method: the zennit composites, the one-pass LRP, the LSTM LRP, SHAP,
  occlusion, the paralinguistic and black-box ones) and **evaluation**: float32 on every
  device. LRP's conservation - the relevances add up to the explained output - is what its
  tests check, and in bfloat16 the sum drifts by about 1 % (8 mantissa bits; ``tests/
  test_device.py`` measures it), as much as the effects the chapters measure.
"""

from __future__ import annotations

import contextlib
import os

import torch
from torch import nn

DEVICE_ENV = "SPEECHXAI_DEVICE"
KINDS = ("cuda", "mps", "cpu")

_current: torch.device | None = None


class DeviceUnavailable(RuntimeError):
    """A device was asked for that this machine does not have."""


def present() -> list[str]:
    """The kinds of device this machine has, best first (the CPU always)."""
    kinds = ["cuda"] if torch.cuda.is_available() else []
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        kinds.append("mps")
    return [*kinds, "cpu"]


def resolve(name: str | None = None) -> torch.device:
    """The device ``name`` (``"cuda"``, ``"cuda:1"``, ``"mps"``, ``"cpu"``; ``None`` or
    ``"auto"``: ``$SPEECHXAI_DEVICE``, else the best :func:`present`). A device of an unknown
    kind raises ``ValueError``, one this machine lacks :class:`DeviceUnavailable`."""
    name = name or os.environ.get(DEVICE_ENV) or "auto"
    if name == "auto":
        return torch.device(present()[0])
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ValueError(f"unknown device {name!r}: choose one of {', '.join(KINDS)} or "
                         "auto") from error
    if device.type not in KINDS:
        raise ValueError(f"unknown device {name!r}: choose one of {', '.join(KINDS)} or auto")
    if device.type not in present():
        raise DeviceUnavailable(f"device {name!r} asked for (by -p device or ${DEVICE_ENV}), "
                                f"but this machine has only: {', '.join(present())}")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise DeviceUnavailable(f"device {name!r}: this machine has "
                                f"{torch.cuda.device_count()} CUDA device(s)")
    return device


def use(name: str | None = None) -> torch.device:
    """Make :func:`resolve` ``(name)`` this process's device and return it."""
    global _current
    _current = resolve(name)
    return _current


def current() -> torch.device:
    """This process's device (:func:`use`; resolved from the environment on first call)."""
    return _current if _current is not None else use()


def device_of(model: nn.Module) -> torch.device:
    """The device of ``model``'s parameters (the CPU for a model without any)."""
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def native_bf16(device: torch.device | None = None) -> bool:
    """Whether ``device`` (default :func:`current`) computes in bfloat16 natively: on the
    CPU oneDNN's check (AVX-512 BF16 or AMX; AVX2 only emulates it, 4-10x slower than
    float32), on CUDA compute capability >= 8, on MPS no (not used there)."""
    device = device or current()
    if device.type == "cpu":
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device)[0] >= 8
    return False


def autocast(device: torch.device, bf16: bool):
    """bfloat16 autocast on ``device`` if ``bf16`` (which the caller has checked against
    :func:`native_bf16`), else nothing."""
    if not bf16:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def on_cpu(value):
    """``value`` (tensors, or dicts / lists / tuples of them) with every tensor on the CPU."""
    if isinstance(value, torch.Tensor):
        return value.cpu()
    if isinstance(value, dict):
        return {key: on_cpu(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(on_cpu(item) for item in value)
    return value


def to_numpy(tensor: torch.Tensor, dtype=None):
    """``tensor`` as a numpy array on the CPU, detached (``dtype``: e.g. ``np.float64``;
    converted on the CPU, as MPS has no float64)."""
    array = tensor.detach().cpu().numpy()
    return array if dtype is None else array.astype(dtype, copy=False)


def synchronize(device: torch.device) -> None:
    """Wait until ``device`` has finished its queued work (GPUs run asynchronously; a timing
    without this measures the launch, not the work)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def describe(device: torch.device) -> str:
    """``device`` for a reader: the GPU's name, or the CPU with its torch threads."""
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA)"
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return f"this machine's CPU ({torch.get_num_threads()} torch threads)"
