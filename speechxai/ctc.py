"""DeepSpeech's output alphabet, CTC loss, greedy CTC decoding and error rates.

DeepSpeech 0.9 (Mozilla's English model) emits one of 28 characters or the CTC blank per
frame (Graves et al. 2006, "Connectionist temporal classification"); the blank is the last
class, as in TensorFlow's CTC that DeepSpeech uses.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torchaudio.functional import edit_distance

ALPHABET = " abcdefghijklmnopqrstuvwxyz'"
"""The 28 characters, in the order of DeepSpeech's ``alphabet.txt``."""
BLANK = len(ALPHABET)
"""Index of the CTC blank: the last of the ``N_CLASSES`` outputs."""
N_CLASSES = len(ALPHABET) + 1


def encode(text: str) -> torch.Tensor:
    """Class indices (LongTensor) of the characters of ``text``.

    Raises
    ------
    ValueError
        If ``text`` holds a character outside :data:`ALPHABET` (lower-case letters, space,
        apostrophe).
    """
    unknown = sorted(set(text) - set(ALPHABET))
    if unknown:
        raise ValueError(f"characters {unknown} of {text!r} are not in the alphabet {ALPHABET!r}"
                         f" (lower-case letters, space, apostrophe)")
    return torch.tensor([ALPHABET.index(char) for char in text], dtype=torch.long)


def decode(labels: Sequence[int] | torch.Tensor) -> str:
    """The characters of class indices ``labels`` (the inverse of :func:`encode`; no blanks)."""
    labels = torch.as_tensor(labels).tolist()
    bad = [label for label in labels if not 0 <= label < len(ALPHABET)]
    if bad:
        raise ValueError(f"labels {bad} are not characters: expected 0..{len(ALPHABET) - 1} "
                         f"(the blank {BLANK} has no character)")
    return "".join(ALPHABET[label] for label in labels)


def greedy_decode(logits: torch.Tensor) -> str:
    """Best-path CTC decoding of one utterance's (T, N_CLASSES) outputs: the most likely
    class per frame, repeats merged, then blanks dropped (Graves et al. 2006, Sec. 3.2)."""
    if logits.ndim != 2 or logits.shape[1] != N_CLASSES:
        raise ValueError(f"expected logits of shape (frames, {N_CLASSES}), got "
                         f"{tuple(logits.shape)}")
    path = torch.unique_consecutive(logits.argmax(1))
    return decode(path[path != BLANK])


def ctc_loss(
    logits: torch.Tensor, lengths: torch.Tensor, transcripts: Sequence[str]
) -> torch.Tensor:
    """Mean over utterances of the CTC negative log-likelihood of ``transcripts``.

    Parameters
    ----------
    logits : torch.Tensor
        (N, T, N_CLASSES) outputs of a batch of zero-padded utterances
        (:class:`speechxai.models.DeepSpeech` on (N, T, 19, 26) windows).
    lengths : torch.Tensor
        (N,) number of real frames of each utterance.
    transcripts : sequence of str
        The N target texts.
    """
    if logits.ndim != 3 or len(lengths) != len(logits) or len(transcripts) != len(logits):
        raise ValueError(f"expected (N, T, classes) logits with N lengths and N transcripts, got "
                         f"{tuple(logits.shape)}, {len(lengths)} and {len(transcripts)}")
    targets = [encode(text) for text in transcripts]
    log_probs = logits.log_softmax(-1).transpose(0, 1)  # (T, N, C) as torch's CTC wants
    return torch.nn.functional.ctc_loss(
        log_probs,
        torch.cat(targets).to(log_probs.device),
        torch.as_tensor(lengths),
        torch.tensor([len(target) for target in targets]),
        blank=BLANK,
        reduction="none",
    ).mean()


def _error_rate(references, hypotheses, split) -> float:
    if isinstance(references, str) != isinstance(hypotheses, str):
        raise ValueError("give one reference and one hypothesis, or two sequences of texts")
    if isinstance(references, str):
        references, hypotheses = [references], [hypotheses]
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    pairs = [(split(ref), split(hyp)) for ref, hyp in zip(references, hypotheses, strict=True)]
    total = sum(len(ref) for ref, _ in pairs)
    if total == 0:
        raise ValueError("the references are empty: an error rate needs at least one unit")
    return sum(edit_distance(ref, hyp) for ref, hyp in pairs) / total


def character_error_rate(references: str | Sequence[str], hypotheses: str | Sequence[str]) -> float:
    """Character edits (substitutions, deletions, insertions: Levenshtein distance) needed to
    turn the hypotheses into the references, divided by the references' characters; over a
    corpus, edits and characters are summed before dividing."""
    return _error_rate(references, hypotheses, list)


def word_error_rate(references: str | Sequence[str], hypotheses: str | Sequence[str]) -> float:
    """:func:`character_error_rate` over whitespace-separated words."""
    return _error_rate(references, hypotheses, str.split)
