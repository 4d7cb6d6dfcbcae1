"""Voices as evaluation systems: text -> (log10 mel, waveform, alignment), seeded so samples
repeat; the held-out recording as the model heard it; and the base model's voice nearest the
target, the fair baseline. Training, `strategy: auto` and `hf-vclone evaluate` all score with these.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from datasets import Dataset
from torch import nn
from transformers import set_seed

from .config import DataConfig, EvaluationConfig
from .data.audio import clean, decode
from .evaluation import MelFn, System, closest_system
from .models.backend import Backend
from .models.speakers import FILE_NAME as SPEAKER_FILE
from .models.speakers import SpeakerTable
from .other_voices import other_voice_systems


@dataclass
class Speaking:
    """How voices speak for scoring: one backend, processor and vocoder, the evaluation settings."""

    backend: Backend
    processor: Any
    vocoder: nn.Module | None
    cfg: EvaluationConfig

    def mel_fn(self, voice: nn.Module, speaker: torch.Tensor) -> MelFn:
        """text -> log10 mel of `voice` speaking with `speaker` (no waveform: cheaper where the
        backend has a separate vocoder), seeded."""
        tokenizer = self.backend.text_tokenizer(self.processor)

        def mel(text: str) -> np.ndarray:
            set_seed(self.cfg.seed)
            ids = torch.tensor([tokenizer(text)["input_ids"]])
            return self.backend.speak(voice, ids, speaker.detach(), self.cfg.minlenratio, self.cfg.maxlenratio,
                                      self.processor, self.vocoder, audio=False).mel

        return mel

    def system(self, voice: nn.Module, speaker: torch.Tensor) -> System:
        """text -> (log10 mel, waveform, alignment or None) of `voice` speaking with `speaker`,
        seeded; the alignment comes from the same generation as the mel, not from a second one."""
        tokenizer = self.backend.text_tokenizer(self.processor)

        def speak(text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
            set_seed(self.cfg.seed)
            ids = torch.tensor([tokenizer(text)["input_ids"]])
            spoken = self.backend.speak(voice, ids, speaker.detach(), self.cfg.minlenratio, self.cfg.maxlenratio,
                                        self.processor, self.vocoder)
            return spoken.mel, spoken.audio, spoken.alignment

        return speak

    def base_system(self, base_tts: nn.Module, base_dir: str | None, fallback: SpeakerTable,
                    train: Dataset) -> tuple[System, dict]:
        """The untouched base, speaking with its own voice nearest the target on training clips (a
        fair baseline: a user without hf_vclone would pick that voice). A base without a speaker
        table of its own (e.g. microsoft/speecht5_tts) speaks with the fine-tune's starting vector."""
        table = base_speakers(base_dir, fallback)
        base = self.backend.make_voice(base_tts, table).eval()
        candidates = {name: self.mel_fn(base, table.vector(name)) for name in table.names}
        name, scores = closest_system(candidates, train)
        notes = {"base_speaker": name, "base_speaker_mcd_on_training_clips": scores}
        return self.system(base, table.vector(name)), notes


def base_speakers(base_dir: str | None, fallback: SpeakerTable) -> SpeakerTable:
    """The base model's own speaker table when its folder has one, else `fallback`."""
    if base_dir and (Path(base_dir) / SPEAKER_FILE).is_file():
        return SpeakerTable.load(base_dir)
    return fallback


def audio_only(system: System):
    return lambda text: system(text)[1]


def reference_audio(row: dict, cfg: DataConfig, rate: int) -> np.ndarray:
    """The held-out recording as the model heard it: decoded and cleaned like training audio."""
    wave, source_rate = decode(row["audio"].get("path"), row["audio"].get("bytes"))
    return clean(wave, source_rate, rate, cfg.loudness_lufs, cfg.trim_top_db)


def other_voices(cfg: EvaluationConfig, held_out: Any, backend: Backend, processor: Any,
                 data_cfg: DataConfig) -> dict[str, System] | None:
    """`evaluation.other_voices`: other real voices reading the held-out sentences, featurised like
    the target's recordings (the same clips compare_systems scores)."""
    if not cfg.other_voices or not isinstance(held_out, Dataset):
        return None
    rows = held_out.select(range(min(cfg.num_samples, len(held_out))))
    featurize = backend.feature_spec(processor).featurize
    rate = backend.sampling_rate(processor)
    return other_voice_systems(cfg.other_voices, list(rows["id"]), list(rows["text"]),
                               lambda row: reference_audio(row, data_cfg, rate),
                               lambda wave, text: featurize(wave, text)["labels"])
