"""Attribution for DeepSpeech through one interface shaped like Captum's, after Markert et
al. (2021), "Visualizing automatic speech recognition - means for a better understanding?".

Each method explains the logit ``S_c`` of character c at frame i by the attribution
``A^i`` (19, 26) of frame i's own MFCC window ``x^i``, the other windows held fixed (Sec. 3):
saliency ``|dS_c/dx^i|``, epsilon-LRP and SHAP. Below them: the paper's three displays of
A (N, 19, 26) as numbers, and its findings measured.
"""

from __future__ import annotations

import copy
import string
import warnings
from collections.abc import Sequence

import numpy as np
import torch

from speechxai.attribution.explanation import Explanation
from speechxai.attribution.lstm_lrp import (
    WINDOW_AXES,
    _character_index,
    _check_windows,
    as_index,
    deepspeech_relevance,
    output_name,
)
from speechxai.attribution.mutation import mutated
from speechxai.attribution.sanity import finite_difference_error
from speechxai.ctc import ALPHABET
from speechxai.device import device_of, to_numpy
from speechxai.errors import AttributionError, AudioError
from speechxai.models.deepspeech import WINDOW, DeepSpeech

METHODS = ("saliency", "lrp", "shap")
N_FEATURES = WINDOW[0] * WINDOW[1]
"""F = 19 * 26 = 494 features of one window."""
SHAP_MAX_EVALS = 2 * N_FEATURES + 1
"""Default model evaluations of the SHAP permutation explainer: one permutation, forward
and back (antithetic), the least shap accepts for 494 features."""
LETTERS = [ALPHABET.index(letter) for letter in string.ascii_lowercase]
_OPTIONS = {"saliency": ("output",), "lrp": ("epsilon",),
            "shap": ("background", "max_evals", "seed")}
SALIENCY_OUTPUTS = ("probability", "logit")
"""What saliency differentiates: the character's probability (the paper's S, a softmax over
the 29 classes) or its logit."""


def _explained_output(logits: torch.Tensor, targets: torch.Tensor, output: str) -> torch.Tensor:
    """The explained ``output`` of each row's target: its probability or its logit."""
    if output not in SALIENCY_OUTPUTS:
        raise AttributionError(f"output must be one of {', '.join(SALIENCY_OUTPUTS)}, got "
                               f"{output!r}")
    chosen = logits.softmax(-1) if output == "probability" else logits
    return chosen[torch.arange(len(targets)), targets]


def _states(model: DeepSpeech, windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """LSTM outputs and cell states (T, H) just before each frame (zeros before frame 0)."""
    with torch.no_grad():
        trace = model.lstm.trace(model.dense(windows))
    zero = torch.zeros_like(trace.hidden[:1])
    return torch.cat([zero, trace.hidden[:-1]]), torch.cat([zero, trace.cell[:-1]])


def _frame_logits(
    model: DeepSpeech, variants: torch.Tensor, hidden: torch.Tensor, cell: torch.Tensor
) -> torch.Tensor:
    """Logits (n, 29) at a frame whose window is each of ``variants`` (n, 19, 26), the other
    windows fixed: one step of the LSTM from the state ``hidden``, ``cell`` that the earlier
    windows left. The LSTM is causal, so this equals the whole model's output at that frame,
    at the cost of one frame."""
    step = model.lstm.trace(model.dense(variants)[..., None, :], (hidden, cell))
    return model.head(step.hidden[..., 0, :])


class OwnWindow(torch.nn.Module):
    """DeepSpeech's logits (n, 29) at ``frame`` as a function of that frame's window
    (n, 19, 26), the utterance's other windows held fixed (Markert et al.'s A^i, Sec. 3): a
    classifier of one window, which any method of :func:`speechxai.explain` can explain."""

    def __init__(self, model: DeepSpeech, windows: torch.Tensor, frame: int):
        super().__init__()
        self.model, self.frame = model, int(frame)
        hidden, cell = _states(model, windows)
        self.hidden, self.cell = hidden[self.frame], cell[self.frame]

    def forward(self, variants: torch.Tensor) -> torch.Tensor:
        return _frame_logits(self.model, variants, self.hidden, self.cell)


def _saliency(model, windows, frames, targets, output="probability"):
    hidden, cell = _states(model, windows)
    with torch.enable_grad():
        inputs = windows[frames].detach().requires_grad_()
        logits = _frame_logits(model, inputs, hidden[frames], cell[frames])
        outputs = _explained_output(logits, torch.as_tensor(targets, device=logits.device),
                                    output)
        (gradient,) = torch.autograd.grad(outputs.sum(), inputs)
    return gradient.abs(), outputs.detach(), np.full(len(frames), np.nan)


def _lrp(model, windows, frames, targets, epsilon=1e-4):
    def own_window(frame: int, target: int) -> torch.Tensor:
        *_, relevance = deepspeech_relevance(model, windows, frame, target, epsilon)
        return relevance[frame]

    values = torch.stack([own_window(frame, target)
                          for frame, target in zip(frames.tolist(), targets.tolist(), strict=True)])
    with torch.no_grad():
        outputs = model(windows)[frames, targets]
    return values, outputs, np.full(len(frames), np.nan)


def _shap(model, windows, frames, targets, background=None, max_evals=SHAP_MAX_EVALS, seed=0):
    if background is None:
        background = letter_background(model, windows)
    background = np.asarray(background)
    if background.shape != WINDOW:
        raise AttributionError(f"background must be a (19, 26) window, got shape "
                               f"{background.shape}")
    if not np.issubdtype(background.dtype, np.floating) or not np.isfinite(background).all():
        raise AudioError(f"background must hold finite floating-point numbers, got a "
                         f"{background.dtype} window (NaN, inf or not float)")
    background = background.astype(np.float64)
    if as_index(max_evals, 2**62) is None or max_evals < SHAP_MAX_EVALS:
        raise AttributionError(f"max_evals must be an int >= 2 * {N_FEATURES} + 1 = "
                               f"{SHAP_MAX_EVALS} (one permutation forward and back), got "
                               f"{max_evals!r}")
    if as_index(seed, 2**32) is None:
        raise AttributionError(f"seed must be an int in 0..2**32 - 1, got {seed!r}")
    import shap  # on use: it takes seconds to import

    hidden, cell = _states(model, windows)
    masker = shap.maskers.Independent(background.reshape(1, -1), max_samples=1)
    values, base_values = [], []
    for frame, target in zip(frames.tolist(), targets.tolist(), strict=True):

        def output(features, frame=frame, target=target):
            variants = torch.as_tensor(features, dtype=windows.dtype,
                                       device=windows.device).reshape(-1, *WINDOW)
            with torch.no_grad():
                return to_numpy(_frame_logits(model, variants, hidden[frame],
                                              cell[frame])[:, target])

        # shap's explainer seeds numpy's global generator: keep the caller's state
        state = np.random.get_state()
        try:
            frame_seed = int(np.random.SeedSequence([seed, frame, target]).generate_state(1)[0])
            explainer = shap.explainers.Permutation(output, masker, seed=frame_seed)
            result = explainer(to_numpy(windows[frame].reshape(1, -1)), max_evals=max_evals,
                               silent=True)
        finally:
            np.random.set_state(state)
        values.append(result.values[0].reshape(WINDOW))
        base_values.append(float(result.base_values[0]))
    with torch.no_grad():
        outputs = model(windows)[frames, targets]
    return np.stack(values), outputs, np.array(base_values)


_METHODS = {"saliency": _saliency, "lrp": _lrp, "shap": _shap}


def _pairs(target: object, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    def is_pair(value):
        return isinstance(value, (tuple, list)) and len(value) == 2

    if not isinstance(target, (tuple, list)) or not target:
        raise AttributionError(f"target must be a (frame, character) pair or a non-empty "
                               f"sequence of them, got {target!r}")
    single = is_pair(target) and not isinstance(target[0], (tuple, list))
    frames, characters = [], []
    for pair in [target] if single else target:
        if not is_pair(pair):
            raise AttributionError(f"each target must be a (frame, character) pair, got {pair!r}")
        frame = as_index(pair[0], n_frames)
        if frame is None:
            raise AttributionError(f"frame must be an int in 0..{n_frames - 1}, got {pair[0]!r}")
        frames.append(frame)
        characters.append(_character_index(pair[1]))
    return np.array(frames), np.array(characters)


def attribute(
    model: DeepSpeech, windows: torch.Tensor, target: object, method: str, **kwargs
) -> Explanation:
    """Attribution of DeepSpeech's outputs to their own MFCC windows (Markert et al. 2021,
    Sec. 3): for each target (i, c), the (19, 26) attribution ``A^i`` of the logit ``S_c``
    at frame i to frame i's window, the other windows held fixed.

    Parameters
    ----------
    model : speechxai.models.DeepSpeech
        The recognizer.
    windows : torch.Tensor
        (T, 19, 26) MFCC windows of one utterance, of the model's dtype.
    target : (int, int or str) or sequence of them
        (frame, character) pairs; a character is one of :data:`speechxai.ctc.ALPHABET` or a
        class index (the CTC blank is :data:`speechxai.ctc.BLANK`).
    method : {"saliency", "lrp", "shap"}
        - ``"saliency"``: ``|dS_c/dx^i|`` (Simonyan et al. 2014), the gradient through the
          whole model of the character's probability (keyword ``output="probability"``, the
          paper's S) or of its logit (``output="logit"``);
        - ``"lrp"``: epsilon-LRP (:func:`speechxai.attribution.deepspeech_lrp`, keyword
          ``epsilon``, default 1e-4 as in the paper), the relevance of frame i's window;
        - ``"shap"``: shap's permutation explainer (Strumbelj & Kononenko 2014; Lundberg &
          Lee 2017) over the 494 features of the window. Keywords: ``background`` (19, 26)
          window that stands in for removed features (default :func:`letter_background`,
          the paper's median of frames transcribed as letters), ``max_evals`` (default
          :data:`SHAP_MAX_EVALS` = 989, one antithetic permutation, exact for models with
          interactions of order two at most; each further 989 adds one permutation),
          ``seed`` (default 0; each target draws its permutations from ``(seed, frame,
          character)``, so equal seeds give equal values). The variants of one permutation
          go through the model in one batch, and the LSTM steps once from the state the
          earlier windows left, so the cost does not grow with the frame index. The values
          sum to ``outputs - base_values`` (local accuracy).

    Returns
    -------
    Explanation
        N = number of targets.

    Raises
    ------
    AudioError
        For windows that are not finite floating-point numbers.
    AttributionError
        For an unknown method or option, a model other than DeepSpeech, windows of another
        shape or dtype than the model's, or a target outside the utterance or the alphabet.
    """
    if method not in METHODS:
        raise AttributionError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    unknown = sorted(set(kwargs) - set(_OPTIONS[method]))
    if unknown:
        raise AttributionError(f"method {method!r} takes the options "
                               f"{list(_OPTIONS[method])}, got unknown {unknown}")
    if not isinstance(model, DeepSpeech):
        raise AttributionError(f"model must be a speechxai.models.DeepSpeech, got "
                               f"{type(model).__name__}")
    _check_windows(windows, model)
    windows = windows.to(device_of(model))
    frames, targets = _pairs(target, len(windows))
    values, outputs, base_values = _METHODS[method](model, windows, frames, targets, **kwargs)
    if isinstance(values, torch.Tensor):
        values = to_numpy(values)
    if method != "lrp":  # LRP's own hook sits in deepspeech_relevance
        values = mutated(method, values)
    return Explanation(  # float64, in which the chapter's shares and curves are computed
        values=np.asarray(values, dtype=float), base_values=base_values,
        data=to_numpy(windows[frames], np.float64),
        frames=frames, targets=targets, outputs=to_numpy(outputs), method=method,
        axes=WINDOW_AXES, output_names=tuple(output_name(f, t) for f, t in zip(frames, targets,
                                                                               strict=True)),
    )


def saliency_error(model: DeepSpeech, windows: torch.Tensor, explanation: Explanation,
                   n_coordinates: int = 8, seed: int = 0, output: str = "probability") -> float:
    """:func:`~speechxai.attribution.sanity.finite_difference_error` of a saliency
    ``explanation`` of ``windows``: each ``|dS_c/dx^i|`` against central differences of the
    explained ``output`` (as in :func:`attribute`) at its frame, through a float64 copy of
    ``model``."""
    exact = copy.deepcopy(model).cpu().double()  # float64, which MPS lacks: on the CPU
    windows = windows.cpu().double()
    hidden, cell = _states(exact, windows)

    def outputs_of(n: int, variants: torch.Tensor) -> torch.Tensor:
        frame, target = explanation.frames[n], explanation.targets[n]
        logits = _frame_logits(exact, variants, hidden[frame], cell[frame])
        return _explained_output(logits, torch.full((len(variants),), int(target)), output)

    return finite_difference_error(outputs_of, windows[explanation.frames], explanation.values,
                                   n_coordinates, absolute=True, seed=seed)


def explain_utterance(
    model: DeepSpeech, windows: torch.Tensor, method: str, **kwargs
) -> Explanation:
    """:func:`attribute` of every frame's predicted class (greedy argmax, blanks included):
    N = T explanations, the matrix A (N, 19, 26) of the paper's displays (Sec. 3)."""
    if not isinstance(model, DeepSpeech):
        raise AttributionError(f"model must be a speechxai.models.DeepSpeech, got "
                               f"{type(model).__name__}")
    _check_windows(windows, model)
    with torch.no_grad():
        predicted = model(windows.to(device_of(model))).argmax(1).tolist()
    return attribute(model, windows, list(enumerate(predicted)), method, **kwargs)


def letter_background(
    model: torch.nn.Module, windows: torch.Tensor | Sequence[torch.Tensor]
) -> np.ndarray:
    """The paper's SHAP background (Sec. 3): the median (19, 26) window of the frames whose
    greedy argmax is a letter a-z.

    ``windows`` is one utterance (T, 19, 26) or a sequence of them (each run through
    ``model`` on its own). Without any letter frame it warns and takes all frames.
    """
    utterances = [windows] if isinstance(windows, torch.Tensor) else list(windows)
    if not utterances:
        raise AttributionError("letter_background needs at least one utterance")
    letters = []
    for utterance in utterances:
        if not isinstance(utterance, torch.Tensor) or utterance.ndim != 3 or (
                tuple(utterance.shape[1:]) != WINDOW):
            shape = tuple(utterance.shape) if isinstance(utterance, torch.Tensor) else utterance
            raise AttributionError(f"windows must be (T, 19, 26) tensors, got {shape!r}")
        with torch.no_grad():
            predicted = model(utterance.to(device_of(model))).argmax(-1).cpu()
        letters.append(utterance[torch.isin(predicted, torch.tensor(LETTERS))])
    frames = torch.cat(letters)
    if not len(frames):
        frames = torch.cat(utterances)
        warnings.warn(f"no frame is transcribed as a letter a-z (greedy argmax): the SHAP "
                      f"background is the median of all {len(frames)} frames' windows instead",
                      stacklevel=2)
    return np.median(to_numpy(frames, np.float64), axis=0)
