"""One object speaks a voice everywhere: the CLI and `load_voice`, evaluation, the in-training
evaluator and `strategy: auto` all turn text into an Utterance through `Speaking.say`.

It fixes what makes two runs of the same sentence comparable: the seed (SpeechT5's prenet dropout
and VITS's noise are random at inference) and the length limits of autoregressive generation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from transformers import set_seed

from .config import EvaluationConfig
from .models.backend import Backend, Utterance
from .text_frontend import TextFrontEnd


@dataclass(frozen=True)
class Speaking:
    backend: Backend
    processor: Any
    vocoder: nn.Module | None
    seed: int = 0
    minlenratio: float = 0.5
    maxlenratio: float = 8.0
    frontend: TextFrontEnd = TextFrontEnd()  # replacements and uroman, as in training

    @classmethod
    def for_evaluation(cls, backend: Backend, processor: Any, vocoder: nn.Module | None,
                       cfg: EvaluationConfig, frontend: TextFrontEnd = TextFrontEnd()) -> Speaking:
        return cls(backend, processor, vocoder, cfg.seed, cfg.minlenratio, cfg.maxlenratio, frontend)

    def say(self, voice: nn.Module, speaker: torch.Tensor, text: str, audio: bool = True) -> Utterance:
        """`voice` speaking `text` with the speaker vector `speaker`, seeded (`audio=False`: the
        mel alone, which skips the vocoder where the backend has one)."""
        set_seed(self.seed)
        ids = torch.tensor([self.backend.text_tokenizer(self.processor)(self.frontend(text))["input_ids"]])
        return self.backend.speak(voice, ids, speaker.detach(), self.minlenratio, self.maxlenratio, self.processor,
                                  self.vocoder, audio)

    def mel_fn(self, voice: nn.Module, speaker: torch.Tensor) -> Callable[[str], np.ndarray]:
        """text -> log10 mel (evaluation.MelFn)."""
        return lambda text: self.say(voice, speaker, text, audio=False).mel

    def system(self, voice: nn.Module, speaker: torch.Tensor) -> Callable[[str], tuple]:
        """text -> (log10 mel, waveform, alignment or None) (evaluation.System)."""
        def speak(text: str) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
            spoken = self.say(voice, speaker, text)
            return spoken.mel, spoken.audio, spoken.alignment

        return speak
