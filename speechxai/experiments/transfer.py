"""Transfer to real speech: one sentence, written from the numbers, on how a model trained on
the embedded corpus hears people it never heard (issue 15)."""

from __future__ import annotations


def trained_voices(dataset: str) -> str:
    """What a model of ``dataset`` was trained to hear, for :func:`transfer_verdict`."""
    return "eSpeak voices" if dataset == "embedded" else f"the voices of {dataset}"


def transfer_verdict(own: float, real: float, error_rate: bool = False,
                     trained_on: str = "eSpeak voices") -> str:
    """"hears eSpeak voices far better than people" or not, from a model's score on held-out
    speakers of the corpus it was ``trained_on`` and on real speech: accuracies, or error
    rates when ``error_rate``. A gap over 0.2 is far, over 0.05 somewhat, else about as
    well."""
    gap = (real - own) if error_rate else (own - real)
    if gap > 0.2:
        return f"hears {trained_on} far better than these people"
    if gap > 0.05:
        return f"hears these people somewhat worse than {trained_on}"
    return f"hears these people about as well as {trained_on}"
