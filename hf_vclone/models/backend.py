"""The Backend protocol: everything the rest of hf_vclone asks of a model family.

A model family (SpeechT5, VITS, next Tacotron 2) is one module with a class that satisfies this
protocol, plus its light recipe section (`<family>_section.py`: settings, value ranges, rules),
registered by name in hf_vclone/backends.py. Nothing outside the backends asks which model it is;
it calls these members. tests/test_backends.py checks that every registered backend has each of
them with the same parameters, so a new family finds here what it must provide.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn
from transformers import PretrainedConfig

from ..config import ModelConfig, StrategyConfig
from ..data.prepare import FeatureSpec
from .speakers import SpeakerTable


@dataclass
class Utterance:
    """One generation: what is heard, scored and plotted is the same utterance (SpeechT5's prenet
    dropout is random even at inference, so a second generation would say something else)."""

    mel: np.ndarray  # (frames, mel bins) log10 mel, the scale evaluation compares on
    audio: np.ndarray | None  # waveform at the backend's rate; None when not asked for (scoring mels only)
    alignment: np.ndarray | None  # (decoder steps, text tokens) attention; None for a backend without one


class Backend(Protocol):
    name: str  # the recipe's model.type
    model_class: type  # the PreTrainedModel a voice's weights load into (`from_pretrained`)
    processor_class: type  # the tokenizer / processor saved beside them
    default_lora: dict  # peft LoraConfig fields for strategy lora, before the recipe's own
    head_prefixes: tuple[str, ...]  # parameter-name prefixes strategy head_only trains

    # ---- building: processor, model config, model, vocoder, the trainable voice ----------------
    # Stateless: each call gets what it depends on, so the same calls serve a training run (its
    # recipe) and a saved voice (its folder), in any order.
    def load_processor(self, cfg: ModelConfig, texts: list[str]) -> Any: ...

    def model_config(self, cfg: ModelConfig, processor: Any) -> PretrainedConfig:
        """The model's config as the recipe gives it (built, or the pretrained one with the
        overrides), without its weights: the data is prepared before the model is loaded."""
        ...

    def load_model(self, cfg: ModelConfig, processor: Any) -> nn.Module: ...

    def load_vocoder(self, name: str | None) -> nn.Module | None: ...

    def speaker_dim(self, tts: nn.Module) -> int: ...

    def make_voice(self, tts: nn.Module, speakers: SpeakerTable) -> nn.Module: ...

    # ---- data: what a clip becomes (at which rate), and how clips become a batch ----------------
    def feature_spec(self, processor: Any, config: PretrainedConfig) -> FeatureSpec: ...

    def collator(self, tts: nn.Module, processor: Any) -> Callable[[list[dict]], dict]: ...

    def text_tokenizer(self, processor: Any) -> Any: ...

    # ---- training: the Trainer, and the parts the strategies name ------------------------------
    def trainer_class(self) -> tuple[type, dict]: ...

    def frozen_prefixes(self, tts: nn.Module, cfg: StrategyConfig) -> list[str]: ...

    def depth_levels(self, tts: nn.Module) -> list[tuple[str, ...]]: ...

    # ---- speaking: one utterance, its log-mel (for scoring), audio and alignment ---------------
    def speak(self, voice: nn.Module, input_ids: torch.Tensor, speaker: torch.Tensor, minlenratio: float,
              maxlenratio: float, processor: Any, vocoder: nn.Module | None, audio: bool = True) -> Utterance: ...

    # ---- the model card ------------------------------------------------------------------------
    def card_model_line(self, meta: Any) -> str: ...

    def card_usage(self, meta: Any, where: str, speaker_name: str | None, from_hub: bool) -> list[str]: ...
