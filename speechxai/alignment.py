"""Word boundaries by CTC forced alignment of a known transcript.

Pastor et al. (2024) explain a classifier by masking word-level audio segments, whose
timestamps come from an audio-transcript alignment (WhisperX when none is given). Here a
DeepSpeech-style CTC recognizer (:class:`speechxai.models.DeepSpeech` on MFCC windows, one
output frame per 20 ms) is forced to emit the transcript (Viterbi path through the CTC
topology, ``torchaudio.functional.forced_align``); a word spans its characters' frames.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torchaudio.functional import forced_align, merge_tokens

from speechxai.ctc import BLANK, N_CLASSES, encode
from speechxai.features import DEEPSPEECH_RATE, MFCC_HOP, MFCC_WINDOW, mfcc_windows

# Frame i reads 16-kHz samples [i * hop, i * hop + window); it stands for the hop-long
# slot centred in its window, which starts (window - hop) / 2 samples after i * hop.
_FRAME_OFFSET = (MFCC_WINDOW - MFCC_HOP) / 2


def transcript_targets(transcript: str) -> tuple[list[str], torch.Tensor]:
    """The words of ``transcript`` (split at whitespace) and the character indices of the
    words joined by single spaces; ``ValueError`` if there are no words or a character is
    outside :data:`speechxai.ctc.ALPHABET`."""
    words = transcript.split()
    if not words:
        raise ValueError(f"the transcript {transcript!r} has no words to align")
    return words, encode(" ".join(words))


def frame_log_probs(recognizer: nn.Module, waveform: torch.Tensor, sample_rate: int
                    ) -> torch.Tensor:
    """(T, 29) log-probabilities of a recognizer reading the MFCC windows of ``waveform``
    (:func:`speechxai.features.mfcc_windows`), in eval mode without gradients."""
    recognizer.eval()
    with torch.no_grad():
        return recognizer(mfcc_windows(waveform, sample_rate)).float().log_softmax(-1)


def align_words(log_probs: torch.Tensor, transcript: str) -> list[tuple[int, int]]:
    """Frame span ``[start, end)`` of each word of ``transcript`` on the CTC path forced
    through ``log_probs`` (T, 29): from its first character's first frame to its last
    character's last frame (spaces between words are aligned too, as the recognizer was
    trained to emit them, and belong to no word).

    Raises ``ValueError`` for an empty transcript, characters outside
    :data:`speechxai.ctc.ALPHABET`, or fewer frames than the path needs (one per character
    plus one blank between repeated characters).
    """
    words, targets = transcript_targets(transcript)
    if log_probs.ndim != 2 or log_probs.shape[1] != N_CLASSES:
        raise ValueError(f"expected log-probabilities (frames, {N_CLASSES}), got "
                         f"{tuple(log_probs.shape)}")
    needed = len(targets) + int((targets[1:] == targets[:-1]).sum())
    if len(log_probs) < needed:
        raise ValueError(f"the utterance has {len(log_probs)} frames but aligning "
                         f"{' '.join(words)!r} needs at least {needed} (one per character, one "
                         f"blank between repeats): the audio is too short for the transcript")
    path, scores = forced_align(log_probs[None].float(), targets[None].int(), blank=BLANK)
    spans = merge_tokens(path[0], scores[0], blank=BLANK)
    characters: list[list] = [[] for _ in words]  # one span per character, spaces left out
    word = 0
    for char, span in zip(" ".join(words), spans, strict=True):
        if char == " ":
            word += 1
        else:
            characters[word].append(span)
    return [(own[0].start, own[-1].end) for own in characters]


def frames_to_samples(span: tuple[int, int], sample_rate: int, n_samples: int
                      ) -> tuple[int, int]:
    """Samples ``[start, end)`` at ``sample_rate`` of the frames ``[start, end)``: each
    frame's 20-ms slot centred in its 32-ms window, clipped to the ``n_samples`` of the input."""
    scale = sample_rate / DEEPSPEECH_RATE
    start, end = ((frame * MFCC_HOP + _FRAME_OFFSET) * scale for frame in span)
    return (int(np.clip(round(start), 0, n_samples)), int(np.clip(round(end), 0, n_samples)))


def forced_word_boundaries(recognizer: nn.Module, waveform: torch.Tensor, sample_rate: int,
                           transcript: str) -> list[tuple[int, int]]:
    """``(start, end)`` samples of ``waveform`` (at ``sample_rate``) of each word of
    ``transcript`` (split at spaces), by CTC forced alignment with ``recognizer`` (a
    DeepSpeech-style model: MFCC windows (T, 19, 26) -> (T, 29) logits).

    Raises ``ValueError`` for an empty transcript, characters outside the alphabet, or an
    utterance with fewer frames than the transcript needs (see :func:`align_words`).
    """
    transcript_targets(transcript)  # a bad transcript fails before any feature is computed
    spans = align_words(frame_log_probs(recognizer, waveform, sample_rate), transcript)
    return [frames_to_samples(span, sample_rate, len(waveform)) for span in spans]


def boundary_error_ms(predicted: Sequence[tuple[int, int]], truth: Sequence[tuple[int, int]],
                      sample_rate: int) -> float:
    """Mean absolute difference in milliseconds between the predicted and true word starts
    and ends (both in samples at ``sample_rate``), over all words' starts and ends."""
    if len(predicted) != len(truth) or not truth:
        raise ValueError(f"need the same positive number of predicted and true spans, got "
                         f"{len(predicted)} and {len(truth)}")
    difference = np.abs(np.asarray(predicted, float) - np.asarray(truth, float))
    return float(difference.mean() * 1000 / sample_rate)
