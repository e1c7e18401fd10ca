"""Errors raised for bad input, with messages that say what is wrong and how to fix it."""


class AudioError(ValueError):
    """Bad audio input: the message names the file or argument and the problem."""


class AttributionError(ValueError):
    """Bad input to an attribution: the message names the argument and the problem."""
