"""What evaluation scores voices against: the held-out recording as the model heard it, the base
model's voice nearest the target (the fair baseline), and other real voices reading the same
sentences. Training, `strategy: auto` and `hf-vclone evaluate` all use these.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from datasets import Dataset
from torch import nn

from .config import DataConfig, EvaluationConfig
from .data.audio import clean, decode
from .evaluation import System, closest_system
from .data.prepare import FeatureSpec
from .models.speakers import FILE_NAME as SPEAKER_FILE
from .models.speakers import SpeakerTable
from .other_voices import other_voice_systems
from .speaking import Speaking


def base_system(speaking: Speaking, base_tts: nn.Module, base_dir: str | None, fallback: SpeakerTable,
                train: Dataset) -> tuple[System, dict]:
    """The untouched base, speaking with its own voice nearest the target on training clips (a
    fair baseline: a user without hf_vclone would pick that voice). A base without a speaker
    table of its own (e.g. microsoft/speecht5_tts) speaks with the fine-tune's starting vector."""
    table = base_speakers(base_dir, fallback)
    base = speaking.backend.make_voice(base_tts, table).eval()
    candidates = {name: speaking.mel_fn(base, table.vector(name)) for name in table.names}
    name, scores = closest_system(candidates, train)
    notes = {"base_speaker": name, "base_speaker_mcd_on_training_clips": scores}
    return speaking.system(base, table.vector(name)), notes


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


def other_voices(cfg: EvaluationConfig, held_out: Any, features: FeatureSpec,
                 data_cfg: DataConfig) -> dict[str, System] | None:
    """`evaluation.other_voices`: other real voices reading the held-out sentences, featurised like
    the target's recordings (the same clips compare_systems scores)."""
    if not cfg.other_voices or not isinstance(held_out, Dataset):
        return None
    rows = held_out.select(range(min(cfg.num_samples, len(held_out))))
    featurize, rate = features.featurize, features.sampling_rate
    return other_voice_systems(cfg.other_voices, list(rows["id"]), list(rows["text"]),
                               lambda row: reference_audio(row, data_cfg, rate),
                               lambda wave, text: featurize(wave, text)["labels"])
