"""speechxai: helpers for an executable book on explainable AI for speech models."""

from speechxai.errors import AudioError

__all__ = ["AudioError"]
__version__ = "0.1.0"
