"""The black-box classifier interface of the model-agnostic explainers (Pastor et al., 2024).

A classifier is any ``predict_proba(waveforms) -> probabilities`` callable: it takes a list
of 1-D float waveforms (lengths may differ; one sample rate, known to the caller) and
returns either one ``(N, classes)`` probability table or, for a multi-slot model such as a
spoken-command classifier, a mapping ``slot -> (N, classes)``. Tensors or arrays are both
accepted. :func:`slot_probabilities` brings both forms to one shape and checks them, so the
explainers (word leave-one-out, paralinguistic perturbations, AOPC) never need to know
which model they explain.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch

Probabilities = np.ndarray | torch.Tensor
PredictProba = Callable[[list[torch.Tensor]], Probabilities | Mapping[str, Probabilities]]

SINGLE_SLOT = "label"  # slot name given to a classifier that returns one table


def as_waveforms(waveforms: Sequence[torch.Tensor | np.ndarray] | torch.Tensor
                 ) -> list[torch.Tensor]:
    """A list of 1-D float32 tensors from a list of waveforms or an ``(N, T)`` batch."""
    if isinstance(waveforms, torch.Tensor | np.ndarray) and np.ndim(waveforms) == 1:
        raise ValueError("give a list of waveforms (or an (N, T) batch), not one waveform")
    result = [torch.as_tensor(np.asarray(w) if not isinstance(w, torch.Tensor) else w,
                              dtype=torch.float32) for w in waveforms]
    for index, waveform in enumerate(result):
        if waveform.ndim != 1 or waveform.numel() == 0:
            raise ValueError(f"waveform {index} must be 1-D and non-empty, got shape "
                             f"{tuple(waveform.shape)}")
    return result


def slot_probabilities(predict_proba: PredictProba, waveforms, atol: float = 1e-3
                       ) -> dict[str, np.ndarray]:
    """Run ``predict_proba`` on ``waveforms`` and return ``slot -> (N, classes)`` float64
    arrays; a single table is returned under the slot ``"label"``.

    Raises ``ValueError`` naming the slot when a table has the wrong number of rows, is not
    2-D, or its rows are not probabilities (non-negative, summing to 1 within ``atol``).
    """
    batch = as_waveforms(waveforms)
    with torch.no_grad():
        output = predict_proba(batch)
    tables = output if isinstance(output, Mapping) else {SINGLE_SLOT: output}
    if not tables:
        raise ValueError("predict_proba returned no slots")
    checked = {}
    for slot, table in tables.items():
        array = (table.detach().cpu().double().numpy() if isinstance(table, torch.Tensor)
                 else np.asarray(table, dtype=np.float64))
        if array.ndim != 2 or array.shape[0] != len(batch):
            raise ValueError(f"slot {slot!r}: predict_proba must return one row of class "
                             f"probabilities per waveform, shape ({len(batch)}, classes); got "
                             f"{array.shape}")
        if (array < -atol).any() or not np.allclose(array.sum(1), 1.0, atol=atol):
            raise ValueError(f"slot {slot!r}: rows are not probabilities (negative or not "
                             f"summing to 1); did predict_proba return logits? Apply softmax.")
        checked[slot] = array
    return checked
