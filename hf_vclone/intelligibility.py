"""Intelligibility: what an ASR model hears in synthesized speech, scored as CER against the text.

A clone can match the speaker's timbre and still mumble; the only honest check of that is a
listener, and an ASR model is the listener we can automate. Without one (offline, none named)
CER is reported as skipped: an estimate from anything else would be a number that looks like
intelligibility and is not.
"""

from __future__ import annotations

import functools
import re

import numpy as np
import soxr

from .models.loading import ModelLoadError

KEY = "evaluation.asr_model"


@functools.lru_cache(maxsize=2)
def load_asr(name_or_path: str, key: str = KEY):
    """A transformers ASR pipeline (Whisper, wav2vec2 CTC, ...) on CPU; cached across evaluations."""
    from transformers import pipeline

    try:
        return pipeline("automatic-speech-recognition", model=name_or_path, device="cpu")
    except (OSError, ValueError) as err:
        raise ModelLoadError(
            f"{key}: cannot load ASR model '{name_or_path}': {err}; give a transformers ASR model id or folder "
            f"(e.g. openai/whisper-tiny.en), or remove {key} to skip CER"
        ) from None


def transcribe(name_or_path: str, waves: list[np.ndarray], rate: int) -> list[str]:
    """Resampled here to the model's rate: the pipeline's own resampling needs torchaudio."""
    asr = load_asr(name_or_path)
    target = asr.feature_extractor.sampling_rate
    texts = []
    for wave in waves:
        wave = np.asarray(wave, np.float32)
        if rate != target:
            wave = soxr.resample(wave, rate, target)
        texts.append(asr({"raw": wave, "sampling_rate": target})["text"])
    return texts


def normalize_for_cer(text: str) -> str:
    """Case, punctuation and spacing are not intelligibility: ASR models differ on all three."""
    text = re.sub(r"[^\w' ]+", " ", text.lower())
    return " ".join(text.split())
