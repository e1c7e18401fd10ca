"""DeepSpeech: the recognizer of Mozilla DeepSpeech 0.9 (Hannun et al. 2014, "Deep Speech:
Scaling up end-to-end speech recognition"), explained by Markert et al. (2021), "Visualizing
automatic speech recognition - means for a better understanding?".

Its LSTM is an explicit cell (:class:`ExplicitLSTM`), not ``nn.LSTM``: zennit puts no rule on
torch's recurrent layers, and LRP through the LSTM needs the cell's gates and cell states
(:func:`speechxai.attribution.deepspeech_lrp`).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from speechxai.ctc import N_CLASSES
from speechxai.features import MFCC_COEFFICIENTS, MFCC_CONTEXT
from speechxai.models.init import he_initialise

WINDOW = (2 * MFCC_CONTEXT + 1, MFCC_COEFFICIENTS)
"""Shape (19, 26) of the MFCC window that DeepSpeech reads for one output frame."""


class ClippedReLU(nn.Hardtanh):
    """``min(max(x, 0), clip)``, DeepSpeech's activation (clip 20)."""

    def __init__(self, clip: float = 20.0):
        super().__init__(0.0, clip)


class LSTMTrace(NamedTuple):
    """States of an :class:`ExplicitLSTM` at every step, each (..., T, ·)."""

    gates: torch.Tensor
    """Pre-activations (..., T, 4H) of the input gate, forget gate, cell input and output gate."""
    cell: torch.Tensor
    """Cell states (..., T, H)."""
    hidden: torch.Tensor
    """Outputs (..., T, H)."""


def _check_sequences(inputs: torch.Tensor) -> None:
    if inputs.ndim < 2 or inputs.shape[-2] == 0:
        raise ValueError(f"expected inputs (..., T, features) with T >= 1, got "
                         f"{tuple(inputs.shape)}")


class ExplicitLSTM(nn.Module):
    """One LSTM layer as an explicit cell of two linear maps, with torch's equations and
    parameters (``nn.LSTM``, one layer, gates in the order i, f, g, o)::

        i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of input_gates(x_t) + hidden_gates(h_{t-1})
        c_t = f * c_{t-1} + i * g
        h_t = o * tanh(c_t)

    starting from ``h_{-1} = c_{-1} = 0``. Inputs are (..., T, input_size), time second to
    last; the outputs (..., T, hidden_size). Causal: output t depends on inputs 0..t only,
    so zero-padding at the end of a sequence leaves its real frames unchanged.

    :meth:`trace` runs the cell step by step and keeps every gate and cell state, which LRP
    needs. :meth:`forward` (training, decoding, gradients) computes the same outputs with
    torch's own LSTM kernel on these parameters: its loop over the frames runs in C++, and
    forward and backward together take 2.5x less time than :meth:`trace`'s Python loop
    (batch 32, 250 frames, 128 units, 2 CPU cores).
    """

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.hidden_size = hidden_size
        self.input_gates = nn.Linear(input_size, 4 * hidden_size)
        self.hidden_gates = nn.Linear(hidden_size, 4 * hidden_size)

    @classmethod
    def from_lstm(cls, lstm: nn.LSTM, layer: int = 0) -> ExplicitLSTM:
        """The explicit cell with the weights of layer ``layer`` of a unidirectional
        ``nn.LSTM`` without projection (biases zero where it has none)."""
        if lstm.bidirectional or lstm.proj_size:
            raise ValueError(f"only a unidirectional nn.LSTM without projection can be copied, "
                             f"got {lstm}")
        if not 0 <= layer < lstm.num_layers:
            raise ValueError(f"layer must be in 0 .. {lstm.num_layers - 1}, got {layer}")
        weights = getattr(lstm, f"weight_ih_l{layer}")
        explicit = cls(weights.shape[1], lstm.hidden_size).to(weights)
        with torch.no_grad():
            explicit.input_gates.weight.copy_(weights)
            explicit.hidden_gates.weight.copy_(getattr(lstm, f"weight_hh_l{layer}"))
            for gates, name in ((explicit.input_gates, "ih"), (explicit.hidden_gates, "hh")):
                bias = getattr(lstm, f"bias_{name}_l{layer}") if lstm.bias else None
                gates.bias.copy_(bias) if bias is not None else gates.bias.zero_()
        return explicit

    def trace(self, inputs: torch.Tensor,
              state: tuple[torch.Tensor, torch.Tensor] | None = None) -> LSTMTrace:
        """Gate pre-activations, cell states and outputs at every step, starting from
        ``state`` = (hidden, cell) (default zeros; broadcast against the batch)."""
        _check_sequences(inputs)
        if state is None:
            hidden = cell = inputs.new_zeros(*inputs.shape[:-2], self.hidden_size)
        else:
            hidden, cell = state
        gates, cells, hiddens = [], [], []
        for from_input in self.input_gates(inputs).unbind(-2):
            gates.append(from_input + self.hidden_gates(hidden))
            i, f, g, o = gates[-1].chunk(4, -1)
            cell = torch.sigmoid(f) * cell + torch.sigmoid(i) * torch.tanh(g)
            hidden = torch.sigmoid(o) * torch.tanh(cell)
            cells.append(cell)
            hiddens.append(hidden)
        return LSTMTrace(torch.stack(gates, -2), torch.stack(cells, -2), torch.stack(hiddens, -2))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        _check_sequences(inputs)
        sequences = inputs.reshape(-1, *inputs.shape[-2:])
        zeros = sequences.new_zeros(1, len(sequences), self.hidden_size)
        weights = [self.input_gates.weight, self.hidden_gates.weight,
                   self.input_gates.bias, self.hidden_gates.bias]
        # nn.LSTM's kernel: biases, one layer, no dropout, train, unidirectional, batch first
        hidden, _, _ = torch.lstm(sequences, (zeros, zeros), weights, True, 1, 0.0,
                                  self.training, False, True)
        return hidden.reshape(*inputs.shape[:-1], self.hidden_size)


class DeepSpeech(nn.Module):
    """DeepSpeech 0.9's network: each frame's (19, 26) MFCC window (the frame with 9 past
    and 9 future frames, :func:`speechxai.features.mfcc_windows`) flattened to 494 values ->
    three dense layers -> one LSTM over the frames -> one dense layer (all ``hidden`` units,
    ReLU clipped at 20) -> :data:`speechxai.ctc.N_CLASSES` logits (a-z, space, apostrophe,
    CTC blank).

    Input: one utterance's windows (T, 19, 26), or a batch (N, T, 19, 26) zero-padded at
    the end; output: logits (T, 29) or (N, T, 29). The LSTM is causal, so padding changes no
    real frame's logits; pass the lengths to :func:`speechxai.ctc.ctc_loss`.

    ``hidden`` is DeepSpeech's ``n_hidden`` (2048 in Mozilla's release). The dense layers
    have He initialisation; the LSTM keeps ``nn.LSTM``'s uniform one (``nn.Linear``'s
    default equals it here, as its inputs have ``hidden`` units too).
    """

    def __init__(self, hidden: int = 2048, clip: float = 20.0):
        super().__init__()
        if not isinstance(hidden, int) or hidden < 1:
            raise ValueError(f"hidden must be a positive int, got {hidden!r}")
        self.dense = nn.Sequential(
            nn.Flatten(-2),
            nn.Linear(WINDOW[0] * WINDOW[1], hidden),
            ClippedReLU(clip),
            nn.Linear(hidden, hidden),
            ClippedReLU(clip),
            nn.Linear(hidden, hidden),
            ClippedReLU(clip),
        )
        self.lstm = ExplicitLSTM(hidden, hidden)
        self.head = nn.Sequential(nn.Linear(hidden, hidden), ClippedReLU(clip),
                                  nn.Linear(hidden, N_CLASSES))
        he_initialise(self.dense)
        he_initialise(self.head)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        if windows.ndim not in (3, 4) or tuple(windows.shape[-2:]) != WINDOW:
            raise ValueError(f"expected MFCC windows (T, 19, 26) or (N, T, 19, 26), got "
                             f"{tuple(windows.shape)}")
        return self.head(self.lstm(self.dense(windows)))
