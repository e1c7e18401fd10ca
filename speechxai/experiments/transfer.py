"""Transfer to real speech: one sentence, written from the numbers, on how a model trained on
the embedded corpus hears people it never heard (issue 15)."""

from __future__ import annotations


def transfer_verdict(own: float, real: float, error_rate: bool = False) -> str:
    """"hears eSpeak voices far better than people" or not, from a model's score on its own
    held-out synthetic speakers and on real speech: accuracies, or error rates when
    ``error_rate``. A gap over 0.2 is far, over 0.05 somewhat, else about as well."""
    gap = (real - own) if error_rate else (own - real)
    if gap > 0.2:
        return "hears eSpeak voices far better than people"
    if gap > 0.05:
        return "hears people somewhat worse than eSpeak voices"
    return "hears people about as well as eSpeak voices"
