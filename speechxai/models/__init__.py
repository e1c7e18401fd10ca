"""The classifiers whose decisions the book explains."""

from speechxai.models.alexnet import AlexNet
from speechxai.models.audionet import AudioNet
from speechxai.models.commands import CommandClassifier
from speechxai.models.deepspeech import DeepSpeech, ExplicitLSTM
from speechxai.models.init import he_initialise
from speechxai.models.wav2letter import Wav2Letter, output_stride, receptive_field

__all__ = ["AlexNet", "AudioNet", "CommandClassifier", "DeepSpeech", "ExplicitLSTM",
           "he_initialise", "output_stride", "receptive_field", "Wav2Letter"]
