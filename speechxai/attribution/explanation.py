"""One result object for every attribution of the package, shape-agnostic like shap's
``Explanation`` (values, base values, data) with named axes: what every method returns and
every plot of the book accepts.

An explanation holds N explained outputs; for each, ``values`` and ``data`` have one shape,
whose dimensions the ``axes`` name (time in s, frequency in Hz, MFCC, frame, word,
perturbation, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import torch

from speechxai.device import to_numpy
from speechxai.errors import AttributionError


@dataclass(frozen=True, eq=False)
class Axis:
    """One feature dimension of an explanation: its name, unit (``""`` for none) and the
    coordinate of each position (numbers, or labels such as words)."""

    name: str
    unit: str
    coords: np.ndarray

    def __post_init__(self):
        object.__setattr__(self, "coords", np.asarray(self.coords))
        if self.coords.ndim != 1:
            raise AttributionError(f"axis {self.name!r}: coords must be 1-D, got shape "
                                   f"{self.coords.shape}")

    @property
    def label(self) -> str:
        return f"{self.name} ({self.unit})" if self.unit else self.name


def index_axes(shape: Sequence[int]) -> tuple[Axis, ...]:
    """Unnamed axes ``dim 1``, ``dim 2``, ... with positions 0, 1, ... for a feature shape."""
    return tuple(Axis(f"dim {k + 1}", "", np.arange(size)) for k, size in enumerate(shape))


def time_axis(n_samples: int, sample_rate: int) -> Axis:
    """The time axis (s) of ``n_samples`` samples at ``sample_rate``."""
    return Axis("time", "s", np.arange(n_samples) / sample_rate)


def slot_output_name(slot: str, target: object) -> str:
    """The output name of one slot's decision, ``slot=class`` (the word-level explainers'
    explanations: one output per slot); :func:`output_slot` reads it back."""
    return f"{slot}={target}"


def output_slot(name: str) -> str:
    """The slot of a :func:`slot_output_name`."""
    return name.partition("=")[0]


def slot_rows(explanation: Explanation, method: str, axis: str, kind: str) -> list[str]:
    """The slots of an explanation by ``method`` over the one axis ``axis`` (the word-level
    explainers' results), in output order; AttributionError naming ``kind`` for any other."""
    if (explanation.method != method or len(explanation.axes) != 1
            or explanation.axes[0].name != axis):
        raise AttributionError(f"not a {kind} explanation: method {explanation.method!r}, "
                               f"axes {[a.name for a in explanation.axes]}")
    return [output_slot(name) for name in explanation.output_names]


@dataclass(frozen=True, eq=False)
class Explanation:
    """Attributions of N outputs of a model to its inputs.

    Attributes
    ----------
    values : numpy.ndarray
        (N, ...) attribution of each explained output to each input feature, of the method's
        floating-point type (float32 methods give float32).
    data : numpy.ndarray
        (N, ...) the explained inputs, of the shape of ``values``.
    method : str
        Name of the attribution method.
    base_values : numpy.ndarray
        (N,) reference outputs the values explain the difference from (SHAP: the
        background's expected output; Integrated Gradients: the output at the baseline);
        NaN where a method has none (saliency, LRP).
    targets : numpy.ndarray
        (N,) the explained class of each output; -1 where none was given.
    outputs : numpy.ndarray
        (N,) the explained outputs (logits or probabilities); NaN where not known.
    axes : tuple of Axis
        One per feature dimension (default: ``dim 1``, ``dim 2``, ... by position).
    output_names : tuple of str
        (N,) a name for each explained output (default: ``class <target>``).
    sample_rate : int, optional
        Samples per second where an axis is the waveform's time (:meth:`play`).
    frames : numpy.ndarray, optional
        (N,) for a recogniser's outputs at frames: the frame each explanation explains.
    """

    values: np.ndarray
    data: np.ndarray
    method: str
    base_values: np.ndarray | None = None
    targets: np.ndarray | None = None
    outputs: np.ndarray | None = None
    axes: tuple[Axis, ...] = ()
    output_names: tuple[str, ...] = ()
    sample_rate: int | None = None
    frames: np.ndarray | None = field(default=None)

    def __post_init__(self):
        values, data = _floating(self.values), _floating(self.data)
        if values.ndim < 2:
            raise AttributionError(f"Explanation.values must be (N, ...) with at least one "
                                   f"feature axis, got shape {values.shape}")
        if data.shape != values.shape:
            raise AttributionError(f"Explanation.data must have the shape of values "
                                   f"{values.shape}, got {data.shape}")
        n = len(values)
        per_output = {"base_values": (float, np.nan), "targets": (int, -1),
                      "outputs": (float, np.nan)}
        for name, (kind, missing) in per_output.items():
            given = getattr(self, name)
            array = (np.full(n, missing, dtype=kind) if given is None
                     else np.asarray(_host(given), dtype=kind))
            if array.shape != (n,):
                raise AttributionError(f"Explanation.{name} must have shape ({n},), got "
                                       f"{array.shape}")
            object.__setattr__(self, name, array)
        if self.frames is not None:
            frames = np.asarray(self.frames, dtype=int)
            if frames.shape != (n,):
                raise AttributionError(f"Explanation.frames must have shape ({n},), got "
                                       f"{frames.shape}")
            object.__setattr__(self, "frames", frames)
        axes = tuple(self.axes) or index_axes(values.shape[1:])
        sizes = tuple(len(axis.coords) for axis in axes)
        if sizes != values.shape[1:]:
            raise AttributionError(f"Explanation.axes must give one coordinate per position of "
                                   f"the feature shape {values.shape[1:]}, got sizes {sizes}")
        names = tuple(self.output_names) or tuple(f"class {t}" for t in self.targets)
        if len(names) != n:
            raise AttributionError(f"Explanation.output_names must name the {n} outputs, got "
                                   f"{len(names)}")
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "axes", axes)
        object.__setattr__(self, "output_names", names)

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, index) -> Explanation:
        """The explanations of the outputs ``index`` (an int keeps the output axis)."""
        rows = np.arange(len(self))[index]
        rows = np.atleast_1d(rows)
        return replace(self, values=self.values[rows], data=self.data[rows],
                       base_values=self.base_values[rows], targets=self.targets[rows],
                       outputs=self.outputs[rows],
                       output_names=tuple(self.output_names[r] for r in rows),
                       frames=None if self.frames is None else self.frames[rows])

    def to_frame(self) -> pd.DataFrame:
        """One row per output and feature: ``output`` (its position), ``output_name``,
        ``target``, ``method``, one column per axis (its coordinate), ``value``, ``data``."""
        grids = np.meshgrid(*(axis.coords for axis in self.axes), indexing="ij")
        size = int(np.prod(self.values.shape[1:]))
        n = len(self)
        frame = pd.DataFrame({
            "output": np.repeat(np.arange(n), size),
            "output_name": np.repeat(np.asarray(self.output_names, dtype=object), size),
            "target": np.repeat(self.targets, size),
            "method": self.method,
            **{axis.name: np.tile(grid.ravel(), n) for axis, grid in zip(self.axes, grids,
                                                                         strict=True)},
            "value": self.values.ravel(),
            "data": self.data.ravel(),
        })
        return frame

    def plot(self, index: int = 0, ax=None):
        """The explanation of output ``index``: over one numeric axis (a waveform) the data
        with its attribution's positive (red) and negative (blue) parts; over one axis of
        labels (words, perturbations) a bar per label; over two axes a heat map (red:
        evidence for the output, blue: against). Returns the figure."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(8, 3), constrained_layout=True)
        values, data, axes = self._shown(index)
        title = f"{self.method}: {self.output_names[index]}"
        if len(axes) == 1 and axes[0].coords.dtype.kind not in "iuf":
            axis = axes[0]
            colors = np.where(values >= 0, "tab:red", "tab:blue")
            ax.bar(np.arange(len(values)), values, color=colors)
            ax.set_xticks(np.arange(len(values)), [str(c) for c in axis.coords], rotation=45,
                          ha="right")
            ax.axhline(0, color="0.3", lw=0.8)
            ax.set(xlabel=axis.label, ylabel="attribution", title=title)
        elif len(axes) == 1:
            axis = axes[0]
            scale = np.abs(values).max() or 1.0
            height = np.abs(data).max() or 1.0
            ax.plot(axis.coords, data, color="0.6", lw=0.6, label="input")
            shown = values / scale * height
            ax.fill_between(axis.coords, 0, np.maximum(shown, 0), color="tab:red", alpha=0.6,
                            label="attribution > 0")
            ax.fill_between(axis.coords, 0, np.minimum(shown, 0), color="tab:blue", alpha=0.6,
                            label="attribution < 0")
            ax.set(xlabel=axis.label, ylabel="input (attribution scaled)", title=title)
            ax.legend(loc="upper right", fontsize="small")
        elif len(axes) == 2:
            rows, columns = axes
            limit = np.abs(values).max() or 1.0
            image = ax.imshow(values, aspect="auto", origin="lower", cmap="bwr", vmin=-limit,
                              vmax=limit, interpolation="nearest",
                              extent=_extent(columns.coords) + _extent(rows.coords))
            ax.figure.colorbar(image, ax=ax, label="attribution")
            ax.set(xlabel=columns.label, ylabel=rows.label, title=title)
        else:
            raise AttributionError(f"plot shows one or two feature axes longer than 1; this "
                                   f"explanation has {len(axes)} "
                                   f"({', '.join(a.name for a in axes)}): select or sum some first")
        return ax.figure

    def _shown(self, index: int) -> tuple[np.ndarray, np.ndarray, tuple[Axis, ...]]:
        """Output ``index``'s values and data, and the axes, without the axes of length 1
        (a waveform's single channel)."""
        kept = [k for k, axis in enumerate(self.axes) if len(axis.coords) > 1]
        shape = [len(self.axes[k].coords) for k in kept]
        return (self.values[index].reshape(shape), self.data[index].reshape(shape),
                tuple(self.axes[k] for k in kept))

    def waveform(self, index: int = 0) -> tuple[np.ndarray, np.ndarray, int]:
        """Output ``index``'s waveform (its data), the waveform's attribution and the sample
        rate; AttributionError unless this explains a waveform (one ``time`` axis longer than
        1 and a ``sample_rate``)."""
        values, data, axes = self._shown(index)
        if len(axes) != 1 or axes[0].name != "time" or self.sample_rate is None:
            raise AttributionError(
                f"this needs an explanation of a waveform (one 'time' axis and a sample_rate); "
                f"this one has axes {[a.name for a in self.axes]} and sample_rate "
                f"{self.sample_rate}")
        return data, values, self.sample_rate

    def image(self, index: int = 0) -> tuple[np.ndarray, np.ndarray, Axis, Axis]:
        """Output ``index``'s attribution and data over two axes (rows, columns: e.g.
        frequency x time) and those axes; AttributionError for another number of axes."""
        values, data, axes = self._shown(index)
        if len(axes) != 2:
            raise AttributionError(f"this needs an explanation over two axes (e.g. frequency x "
                                   f"time); this one has {[a.name for a in axes]}")
        return values, data, axes[0], axes[1]

    def play(self, index: int = 0, sign: str = "positive"):
        """The audible explanation of output ``index`` (Becker et al. 2024, Eq. 4): the
        waveform weighted by ``ReLU(R)`` (``sign="positive"``) or ``ReLU(-R)``, as an
        IPython audio player. Needs a waveform (:meth:`waveform`)."""
        from IPython.display import Audio

        from speechxai.attribution.audible import audible_explanation
        from speechxai.display.players import peak_normalized

        data, values, sample_rate = self.waveform(index)
        return Audio(peak_normalized(audible_explanation(data, values, sign), 1.0),
                     rate=sample_rate, normalize=False)


def _floating(array) -> np.ndarray:
    """``array`` as a numpy array of its own floating-point type (float32 stays float32, so an
    explanation holds a method's values bit for bit), other numbers as float64."""
    array = np.asarray(_host(array))
    return array if array.dtype.kind == "f" else array.astype(float)


def _host(values):
    """A tensor on any device as a numpy array on the CPU; anything else as it is."""
    return to_numpy(values) if isinstance(values, torch.Tensor) else values


def waveform_and_relevance(waveform, relevance=None, sample_rate=None
                           ) -> tuple[np.ndarray, np.ndarray, int]:
    """``(waveform, relevance, sample_rate)`` as given, or from an :class:`Explanation` of a
    waveform passed as ``waveform`` (its first output): what the waveform figures and players
    take. ValueError when arrays come without their relevance or sample rate."""
    if isinstance(waveform, Explanation):
        return waveform.waveform()
    if relevance is None or sample_rate is None:
        raise ValueError("give the relevance and the sample rate with the waveform, or an "
                         "Explanation of a waveform")
    return waveform, relevance, sample_rate


def _extent(coords: np.ndarray) -> list[float]:
    """Image extent along one numeric axis: half a step beyond the first and last positions."""
    coords = coords.astype(float) if coords.dtype.kind in "iuf" else np.arange(len(coords),
                                                                               dtype=float)
    step = (coords[-1] - coords[0]) / (len(coords) - 1) if len(coords) > 1 else 1.0
    return [coords[0] - step / 2, coords[-1] + step / 2]


def concatenate(explanations: Sequence[Explanation]) -> Explanation:
    """One Explanation of all the outputs that ``explanations`` (of one method, over the same
    axes) explain, e.g. frames of several utterances pooled for corpus-level statistics."""
    if not explanations:
        raise AttributionError("nothing to concatenate")
    methods = {e.method for e in explanations}
    if len(methods) > 1:
        raise AttributionError(f"cannot pool explanations of different methods: {methods}")
    first = explanations[0]
    frames = [e.frames for e in explanations]
    return replace(
        first,
        **{name: np.concatenate([getattr(e, name) for e in explanations])
           for name in ("values", "data", "base_values", "targets", "outputs")},
        output_names=tuple(name for e in explanations for name in e.output_names),
        frames=None if any(f is None for f in frames) else np.concatenate(frames))
