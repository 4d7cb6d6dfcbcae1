"""Tacotron 2 as a transformers model (issue 17): registered with the Auto classes, so
`AutoConfig` / `AutoModelForTextToSpectrogram.from_pretrained(folder)` load a saved one."""

from transformers import AutoConfig, AutoModelForTextToSpectrogram

from .configuration import Tacotron2Config
from .modeling import Tacotron2ForTextToSpeech, Tacotron2Generation, Tacotron2Output

AutoConfig.register("tacotron2", Tacotron2Config, exist_ok=True)
AutoModelForTextToSpectrogram.register(Tacotron2Config, Tacotron2ForTextToSpeech, exist_ok=True)

__all__ = ["Tacotron2Config", "Tacotron2ForTextToSpeech", "Tacotron2Generation", "Tacotron2Output"]
