"""A spoken-command classifier with one output per slot, the kind of model that Pastor et
al. (2024), "Explaining speech classification models via word-level audio segments and
paralinguistic features", explain (their intent classifiers on Fluent Speech Commands):
here the action / object / location slots of :mod:`speechxai.datasets.sequences`.

Each slot is decided by a word at a known position (first, second, last), so the model must
know word order: a small convolutional front-end on log-mel frames, a bidirectional GRU, and
per slot an attention pooling over time and a linear head.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
import torchaudio
from torch import nn

from speechxai.datasets.sequences import SLOTS, slot_classes
from speechxai.features import LOG_MEL_OFFSET

MEL_BINS = 40  # the 40 log-mel filterbanks of spoken-language-understanding baselines
HOP_SECONDS = 0.020  # one log-mel frame every 20 ms
STRIDES = (2, 2, 1)  # of the three convolutions: one GRU step per 80 ms


def default_slots() -> dict[str, int]:
    """Number of classes of each command slot of :data:`speechxai.datasets.sequences.SLOTS`."""
    return {slot: len(slot_classes(slot)) for slot in SLOTS}


def pad_features(features: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 40, T) log-mel spectrograms zero-padded at the end, and their (N,) frame counts."""
    lengths = torch.tensor([f.shape[1] for f in features])
    padded = nn.utils.rnn.pad_sequence([f.T for f in features], batch_first=True)
    return padded.transpose(1, 2), lengths


class CommandClassifier(nn.Module):
    """Log-mel frames every 20 ms (:meth:`features`) -> three convolutions (kernel 5,
    strides 2, 2, 1, batch normalisation, ReLU: one step per 80 ms) -> bidirectional GRU ->
    per slot, attention pooling over the real steps and a linear head.

    Measured on 1,000 digit sequences (held-out speakers, 2 CPU cores): without batch
    normalisation and with two convolutions (40-ms steps), 400 training steps left the
    object slot at chance (0.34); batch normalisation alone reached 0.82 in 300 steps, with
    the third convolution 0.97. In training, the batch statistics include the padding; in
    eval mode the normalisation is a fixed affine map, so padding changes no output.

    ``forward(features, lengths)`` takes (N, 40, T) log-mel spectrograms zero-padded at the
    end (zero is each bin's mean; :meth:`features`) with their frame counts and returns
    ``slot -> (N, classes)`` logits; padding changes no real step (the GRU runs on packed
    sequences, the pooling is masked). ``predict_proba`` is the black-box interface of
    :mod:`speechxai.attribution.blackbox` on raw waveforms at ``sample_rate``.
    """

    def __init__(self, sample_rate: int, slots: Mapping[str, int] | None = None,
                 width: int = 64):
        super().__init__()
        self.sample_rate = sample_rate
        window = 2 ** round(math.log2(0.025 * sample_rate))  # a fast FFT size near 25 ms
        hop = round(HOP_SECONDS * sample_rate)
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate, n_fft=window, hop_length=hop, n_mels=MEL_BINS,
            f_max=min(8000.0, sample_rate / 2), center=False, mel_scale="slaney")
        self.slots = dict(default_slots() if slots is None else slots)
        if not self.slots or min(self.slots.values()) < 2 or width < 1:
            raise ValueError(f"need at least one slot of >= 2 classes and width >= 1, got "
                             f"{self.slots} and width {width}")
        self.convolutions = nn.ModuleList([
            nn.Sequential(nn.Conv1d(channels, width, 5, stride=stride, padding=2),
                          nn.BatchNorm1d(width), nn.ReLU())
            for channels, stride in zip((MEL_BINS, width, width), STRIDES, strict=True)
        ])
        self.gru = nn.GRU(width, width, batch_first=True, bidirectional=True)
        self.attention = nn.Linear(2 * width, len(self.slots))
        self.heads = nn.ModuleDict({slot: nn.Linear(2 * width, n)
                                    for slot, n in self.slots.items()})

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> dict[str, torch.Tensor]:
        if features.ndim != 3 or features.shape[1] != MEL_BINS or len(lengths) != len(
                features):
            raise ValueError(f"expected (N, {MEL_BINS}, T) log-mel features and N lengths, "
                             f"got {tuple(features.shape)} and {len(lengths)} lengths")
        hidden, steps = features, torch.as_tensor(lengths, device=features.device)
        for convolution, stride in zip(self.convolutions, STRIDES, strict=True):
            hidden, steps = convolution(hidden), (steps + stride - 1) // stride  # rounding up
            # zero the padding's outputs, as the next convolution pads a lone input with zeros
            hidden = hidden * (torch.arange(hidden.shape[2], device=hidden.device)
                               < steps[:, None])[:, None]
        hidden = hidden.transpose(1, 2)  # (N, T', width)
        if bool((steps == hidden.shape[1]).all()):  # no padding (e.g. masked copies of one
            outputs, _ = self.gru(hidden)          # utterance): packing would change nothing
        else:
            packed = nn.utils.rnn.pack_padded_sequence(hidden, steps.cpu(), batch_first=True,
                                                       enforce_sorted=False)
            outputs, _ = self.gru(packed)
            outputs, _ = nn.utils.rnn.pad_packed_sequence(outputs, batch_first=True,
                                                          total_length=hidden.shape[1])
        real = torch.arange(outputs.shape[1], device=outputs.device) < steps[:, None]  # (N, T')
        scores = self.attention(outputs).masked_fill(~real[..., None], float("-inf"))
        pooled = torch.einsum("nts,ntd->nsd", scores.softmax(1), outputs)
        return {slot: head(pooled[:, index]) for index, (slot, head) in
                enumerate(self.heads.items())}

    def features(self, waveforms: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, 40, T) log-mel inputs of waveforms at ``sample_rate`` and their frame counts.

        At the waveforms' own rate (no resampling) in one batched transform: Hann frames of
        the power of two of samples nearest 25 ms (512 = 23 ms at 22.05 kHz; a fast FFT)
        every 20 ms, without centring (``T = 1 + (n - window) // hop``, so no frame of
        a waveform sees the batch's zero filling), 40 Slaney mel bins up to 8 kHz,
        ``log(mel + 1e-6)``, each bin z-normalised over the waveform's frames (a constant
        bin becomes zero), padding frames zero. A waveform's features do not depend on the
        rest of the batch.
        """
        window, hop = self.mel.spectrogram.n_fft, self.mel.spectrogram.hop_length
        device = self.mel.spectrogram.window.device  # the model's
        samples = torch.tensor([w.numel() for w in waveforms], device=device)
        batch = nn.utils.rnn.pad_sequence(
            [torch.as_tensor(w, dtype=torch.float32, device=device) for w in waveforms],
            batch_first=True)
        batch = nn.functional.pad(batch, (0, max(0, window - batch.shape[1])))
        log_mel = (self.mel_power(batch) + LOG_MEL_OFFSET).log()  # (N, 40, T)
        lengths = 1 + (samples.clamp_min(window) - window) // hop
        real = (torch.arange(log_mel.shape[2], device=device) < lengths[:, None])[:, None]
        mean = (log_mel * real).sum(2, keepdim=True) / lengths[:, None, None]
        variance = ((log_mel - mean) ** 2 * real).sum(2, keepdim=True) / lengths[:, None, None]
        std = variance.sqrt()
        normalised = torch.where(std > 1e-4, (log_mel - mean) / std.clamp_min(1e-4), 0.0)
        return normalised * real, lengths

    def mel_power(self, batch: torch.Tensor) -> torch.Tensor:
        """(N, 40, T) mel power spectrogram of an (N, samples) batch: what
        ``self.mel`` (torchaudio's ``MelSpectrogram``) returns, computed with its Hann window
        and filterbank as one real FFT of the unfolded frames. Measured on 2 CPU cores for six
        3.2-s waveforms: about 1.5x faster than the transform (whose ``torch.stft`` and
        complex ``abs().pow(2)`` cost 3-4x this FFT and sum of squares), equal within 1e-7
        relative (tested)."""
        spectrogram = self.mel.spectrogram
        frames = batch.unfold(-1, spectrogram.n_fft, spectrogram.hop_length)
        spectrum = torch.fft.rfft(frames * spectrogram.window)  # (N, T, n_fft // 2 + 1)
        power = spectrum.real.square() + spectrum.imag.square()
        return (power @ self.mel.mel_scale.fb).transpose(1, 2)

    def predict_proba(self, waveforms: Sequence[torch.Tensor], batch_size: int = 16
                      ) -> dict[str, torch.Tensor]:
        """``slot -> (N, classes)`` softmax probabilities of raw waveforms (eval mode, no
        gradients). Waveforms are classified in batches of ``batch_size`` of similar length
        (sorted by length, rows returned in the input order): padding a short waveform to a
        long one costs as much as classifying it (e.g. time-stretched versions, 0.55-1.45x:
        3x faster than one batch of all)."""
        self.eval()
        order = sorted(range(len(waveforms)), key=lambda i: waveforms[i].numel())
        parts: dict[str, list[torch.Tensor]] = {slot: [] for slot in self.slots}
        with torch.no_grad():
            for start in range(0, len(order), batch_size):
                chunk = [waveforms[i] for i in order[start:start + batch_size]]
                logits = self(*self.features(chunk))
                for slot, table in logits.items():
                    parts[slot].append(table.softmax(-1).cpu())
        inverse = torch.argsort(torch.tensor(order, dtype=torch.long))
        return {slot: torch.cat(tables)[inverse] if tables else torch.empty(0, self.slots[slot])
                for slot, tables in parts.items()}
