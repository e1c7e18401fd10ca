"""CTC forced alignment of word boundaries on scripted log-probabilities and recognizers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from speechxai.alignment import align_words, boundary_error_ms, forced_word_boundaries
from speechxai.ctc import ALPHABET, BLANK, N_CLASSES

# Per frame, the class that a scripted recognizer emits: "ab c" with known character spans
# a [3, 5), b [6, 8), space [10, 11), c [13, 16).
SCRIPT = "___aa_bb__ __ccc____"


def scripted_log_probs(script: str = SCRIPT) -> torch.Tensor:
    """Log-probabilities favouring each frame's scripted class ("_" is the blank)."""
    labels = torch.tensor([BLANK if char == "_" else ALPHABET.index(char) for char in script])
    logits = torch.zeros(len(script), N_CLASSES)
    logits[torch.arange(len(script)), labels] = 8.0
    return logits.log_softmax(-1)


class Scripted(nn.Module):
    """A recognizer emitting :data:`SCRIPT` whatever its MFCC windows hold."""

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        assert windows.shape[1:] == (19, 26) and len(windows) == len(SCRIPT)
        return scripted_log_probs()


def test_align_words_recovers_the_scripted_spans():
    assert align_words(scripted_log_probs(), "ab c") == [(3, 8), (13, 16)]
    assert align_words(scripted_log_probs(), "  ab   c ") == [(3, 8), (13, 16)]


@pytest.mark.parametrize("rate", [16000, 8000])
def test_forced_word_boundaries_in_samples_of_the_input(rate):
    # 20 frames of 320 samples at 16 kHz after the first 512-sample window
    n = (512 + 19 * 320) * rate // 16000
    spans = forced_word_boundaries(Scripted(), torch.randn(n) * 0.1, rate, "ab c")
    # frame i stands for 16-kHz samples [320 i + 96, 320 (i + 1) + 96)
    scale = rate / 16000
    assert spans == [(round((320 * 3 + 96) * scale), round((320 * 8 + 96) * scale)),
                     (round((320 * 13 + 96) * scale), round((320 * 16 + 96) * scale))]


def test_bad_transcripts_and_short_utterances_raise():
    with pytest.raises(ValueError, match="no words"):
        align_words(scripted_log_probs(), "  ")
    with pytest.raises(ValueError, match="not in the alphabet"):
        align_words(scripted_log_probs(), "Ab c")
    with pytest.raises(ValueError, match="not in the alphabet"):
        forced_word_boundaries(Scripted(), torch.zeros(8000), 16000, "seven 7")
    with pytest.raises(ValueError, match="too short"):
        align_words(scripted_log_probs("__"), "aa")  # a, blank, a: needs 3 frames
    align_words(scripted_log_probs("a_a"), "aa")
    with pytest.raises(ValueError, match="too short"):
        align_words(scripted_log_probs("a_a"), "a bc")


def test_boundary_error_ms_is_the_mean_absolute_difference_of_starts_and_ends():
    predicted = [(100, 900), (1200, 2000)]
    truth = [(80, 1000), (1200, 1900)]
    # |20| + |100| + |0| + |100| = 220 samples over 4 boundaries = 55 samples = 3.4375 ms
    assert boundary_error_ms(predicted, truth, 16000) == pytest.approx(3.4375)
    with pytest.raises(ValueError, match="same positive number"):
        boundary_error_ms(predicted, truth[:1], 16000)
