"""The classifiers whose decisions the book explains."""

from speechxai.models.alexnet import AlexNet
from speechxai.models.audionet import AudioNet
from speechxai.models.deepspeech import DeepSpeech, ExplicitLSTM
from speechxai.models.init import he_initialise

__all__ = ["AlexNet", "AudioNet", "DeepSpeech", "ExplicitLSTM", "he_initialise"]
