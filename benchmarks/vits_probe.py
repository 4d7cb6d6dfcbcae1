"""What the VITS latent probes share (vits_channels.py, vits_alignment_scale.py): a saved voice or
checkpoint, two held-out sentences, the voice's real recordings of them, and each recording's
linear spectrogram on the model's frame grid."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from base_cer import held_out_sentences, real_recordings
from hf_vclone.models.vits import _core
from hf_vclone.synthesize import load_voice


def held_out_spectrograms(voice_path: str, speaker: str = "us_f2", sentences: int = 2):
    """(synthesizer, VitsModel, VitsVoice, [(text, linear spectrogram (1, bins, frames))])."""
    torch.manual_seed(0)
    voice = load_voice(voice_path)
    vits, tv = _core(voice.voice.tts), voice.voice
    texts = held_out_sentences(sentences)
    with tempfile.TemporaryDirectory() as d:
        real = real_recordings(speaker, texts, voice.sampling_rate, Path(d))
    pairs = []
    for wave, text in zip(real, texts):
        w = torch.from_numpy(wave[: len(wave) // tv.hop * tv.hop].astype(np.float32))[None]
        pairs.append((text, tv.spectrogram.linear(w)))
    return voice, vits, tv, pairs
