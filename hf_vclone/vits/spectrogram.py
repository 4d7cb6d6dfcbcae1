"""The two spectrograms VITS trains on, computed in torch from the waveform at training time.

- linear magnitude (n_fft/2+1 bins): what the posterior encoder reads;
- log mel: what the reconstruction loss compares (generated slice vs real slice).

The frame grid is the decoder's: hop = product of its upsampling rates, so frame t of the
spectrogram is exactly the t-th hop of samples the decoder produces from latent frame t. The
STFT is not centred; instead the signal is reflect-padded by (n_fft - hop) / 2 on each side, so a
waveform of T * hop samples gives exactly T frames (the published VITS convention).

Computing these on the fly (instead of caching them) keeps the prepared dataset small: a 513-bin
linear spectrogram is 2x the size of the waveform itself, and one STFT of a batch costs
milliseconds next to a training step.
"""

from __future__ import annotations

import librosa
import torch
from torch import nn


class VitsSpectrogram(nn.Module):
    def __init__(self, sampling_rate: int, n_fft: int, hop: int, mel_bins: int = 80,
                 fmin: float = 0.0, fmax: float | None = None) -> None:
        super().__init__()
        if hop > n_fft:
            raise ValueError(f"hop {hop} is longer than the FFT window {n_fft}")
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        filters = librosa.filters.mel(sr=sampling_rate, n_fft=n_fft, n_mels=mel_bins, fmin=fmin, fmax=fmax)
        self.register_buffer("mel_filters", torch.from_numpy(filters).float(), persistent=False)

    def linear(self, wave: torch.Tensor) -> torch.Tensor:
        """(batch, samples) -> (batch, n_fft/2+1, samples // hop) magnitude."""
        pad = (self.n_fft - self.hop) // 2
        padded = nn.functional.pad(wave.float()[:, None], (pad, pad), mode="reflect")[:, 0]
        spec = torch.stft(padded, self.n_fft, self.hop, self.n_fft, self.window, center=False,
                          return_complex=True)
        # sqrt(re^2 + im^2 + eps): |z| has an infinite gradient at 0, which silence reaches.
        return torch.sqrt(spec.real ** 2 + spec.imag ** 2 + 1e-6)[..., : wave.shape[-1] // self.hop]

    def mel(self, linear: torch.Tensor) -> torch.Tensor:
        """Linear magnitude -> natural-log mel, floored at 1e-5 (-11.5)."""
        return torch.log(torch.clamp(self.mel_filters @ linear, min=1e-5))

    def log_mel(self, wave: torch.Tensor) -> torch.Tensor:
        return self.mel(self.linear(wave))
