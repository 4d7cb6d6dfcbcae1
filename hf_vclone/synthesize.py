"""Speak with a saved voice: text -> mel -> waveform."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from transformers import set_seed

from .export import load_voice
from .models import get_backend
from .errors import UserError


class Synthesizer:
    """A loaded voice (full model or adapter). `synthesize(text)` returns (audio, sampling_rate)."""

    def __init__(self, directory: str | Path) -> None:
        self.voice, self.processor, self.meta = load_voice(directory)
        self.backend = get_backend(self.meta.backend)
        self.vocoder = self.backend.load_vocoder(self.meta.vocoder)
        self.sampling_rate = self.backend.sampling_rate(self.processor)

    def mel(self, text: str, speaker: str | None = None, seed: int = 0,
            minlenratio: float = 0.5, maxlenratio: float = 8.0) -> np.ndarray:
        ids = torch.tensor([self.processor.tokenizer(text)["input_ids"]])
        set_seed(seed)  # SpeechT5's prenet dropout stays on at inference
        vector = self.voice.speakers.vector(speaker)
        return self.voice.generate_mel(ids, vector, minlenratio, maxlenratio).numpy()

    def synthesize(self, text: str, speaker: str | None = None, seed: int = 0) -> tuple[np.ndarray, int]:
        if not text.strip():
            raise UserError("nothing to say: the text is empty")
        audio = self.backend.mel_to_audio(self.mel(text, speaker, seed), self.processor, self.vocoder)
        return audio, self.sampling_rate

    def to_file(self, text: str, out: str | Path, speaker: str | None = None, seed: int = 0) -> Path:
        audio, rate = self.synthesize(text, speaker, seed)
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(out), audio, rate)
        return out
