"""The mel spectrogram Tacotron 2 and its vocoders speak in, and Griffin-Lim back to audio.

Published Tacotron 2 models (NVIDIA's, speechbrain's) and the HiFi-GAN / WaveGlow vocoders trained
beside them take magnitude (not power) STFT mels: 22,050 Hz, n_fft 1024, hop 256, Hann window 1024,
80 Slaney-scale, Slaney-normalised bands from 0 to 8000 Hz, natural log clamped at 1e-5. The sizes
come from the model's config (its `filter_length`, `hop_length`, ... under NVIDIA's names), so a
smaller demo model can use another rate with the same recipe of features.
"""

from __future__ import annotations

import librosa
import numpy as np
import torch
from torch import nn

from ...griffin_lim import mel_to_audio
from .configuration import Tacotron2Config

CLAMP = 1e-5


class Tacotron2Mel(nn.Module):
    """waveform (batch, samples) -> natural-log mel (batch, frames, n_mels)."""

    def __init__(self, config: Tacotron2Config) -> None:
        super().__init__()
        self.config = config
        basis = librosa.filters.mel(sr=config.sampling_rate, n_fft=config.filter_length,
                                    n_mels=config.n_mel_channels, fmin=config.mel_fmin, fmax=config.mel_fmax)
        self.register_buffer("basis", torch.from_numpy(basis).float(), persistent=False)
        self.register_buffer("window", torch.hann_window(config.win_length), persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        c = self.config
        spec = torch.stft(wave, c.filter_length, c.hop_length, c.win_length, self.window, center=True,
                          pad_mode="reflect", return_complex=True).abs()
        return torch.log(torch.clamp(self.basis @ spec, min=CLAMP)).transpose(1, 2)

    def frames(self, samples: int) -> int:
        return samples // self.config.hop_length + 1  # center=True adds one frame


def griffin_lim(mel: np.ndarray, config: Tacotron2Config, iterations: int = 32) -> np.ndarray:
    """(frames, n_mels) natural-log mel -> waveform, with the same STFT settings (the offline
    stand-in for a neural vocoder; it sounds phasey, but Whisper understands it), from fixed starting
    phases: the same mel, the same audio."""
    return mel_to_audio(np.exp(mel.T), config.sampling_rate, config.filter_length, config.hop_length,
                        config.win_length, config.mel_fmin, config.mel_fmax, iterations)
