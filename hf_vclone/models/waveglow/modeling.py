"""WaveGlow inference as a transformers model: `(frames, mels)` natural-log mel -> waveform, the
same call as transformers' `SpeechT5HifiGan`, so the Tacotron 2 backend takes either vocoder.

WaveGlow is a normalising flow from audio to Gaussian noise; speaking runs it backwards. Audio is
folded into `n_group` channels (sample t = frame * n_group + channel). Each of the `n_flows` steps
is an invertible 1x1 convolution (a learned channel mixing) and an affine coupling: half of the
channels pass through unchanged and, with the upsampled mel, predict a shift b and log-scale s for
the other half (a1' = exp(s) * a1 + b). Every `n_early_every` flows, `n_early_size` channels leave
the flow early (they are noise at inference, prepended when running backwards). Weight norm is
folded away at conversion: these are inference weights.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from transformers import PreTrainedModel

from .configuration import WaveGlowConfig


class WaveNet(nn.Module):
    """The coupling network of one flow: a gated, dilated WaveNet conditioned on the mel
    (DLE's `WN`, with its parameter names)."""

    def __init__(self, n_in: int, n_cond: int, n_layers: int, n_channels: int, kernel_size: int) -> None:
        super().__init__()
        self.n_channels = n_channels
        self.start = nn.Conv1d(n_in, n_channels, 1)
        self.end = nn.Conv1d(n_channels, 2 * n_in, 1)
        self.in_layers = nn.ModuleList(
            nn.Conv1d(n_channels, 2 * n_channels, kernel_size, dilation=2 ** i, padding=(kernel_size - 1) * 2 ** i // 2)
            for i in range(n_layers))
        self.res_skip_layers = nn.ModuleList(
            nn.Conv1d(n_channels, 2 * n_channels if i < n_layers - 1 else n_channels, 1) for i in range(n_layers))
        self.cond_layers = nn.ModuleList(nn.Conv1d(n_cond, 2 * n_channels, 1) for _ in range(n_layers))

    def forward(self, audio: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        c = self.n_channels
        x, skip = self.start(audio), 0
        for i, (layer, res_skip, cond_layer) in enumerate(zip(self.in_layers, self.res_skip_layers, self.cond_layers)):
            z = layer(x) + cond_layer(cond)
            acts = torch.tanh(z[:, :c]) * torch.sigmoid(z[:, c:])
            out = res_skip(acts)
            if i < len(self.in_layers) - 1:
                x, skip = x + out[:, :c], skip + out[:, c:]
            else:
                skip = skip + out
        return self.end(skip)


class Invertible1x1(nn.Module):
    """A learned channel mixing W (DLE's `Invertible1x1Conv`; `conv.weight` is W)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, 1, bias=False)

    def inverse(self, audio: torch.Tensor) -> torch.Tensor:
        w = self.conv.weight.squeeze(-1).double()
        return F.conv1d(audio, torch.linalg.inv(w).to(audio.dtype).unsqueeze(-1))


class WaveGlowVocoder(PreTrainedModel):
    config_class = WaveGlowConfig
    main_input_name = "spectrogram"
    base_model_prefix = "waveglow"

    def __init__(self, config: WaveGlowConfig) -> None:
        super().__init__(config)
        m, g = config.n_mel_channels, config.n_group
        self.upsample = nn.ConvTranspose1d(m, m, config.upsample_kernel, stride=config.hop_length)
        self.WN = nn.ModuleList()
        self.convinv = nn.ModuleList()
        half, remaining = g // 2, g
        for k in range(config.n_flows):
            if k % config.n_early_every == 0 and k > 0:
                half, remaining = half - config.n_early_size // 2, remaining - config.n_early_size
            self.convinv.append(Invertible1x1(remaining))
            self.WN.append(WaveNet(half, m * g, config.n_layers, config.n_channels, config.kernel_size))
        self.n_remaining = remaining
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, Invertible1x1):  # a random rotation: invertible, as DLE initialises it
            q = torch.linalg.qr(torch.randn(module.conv.weight.shape[:2]))[0]
            if torch.det(q) < 0:
                q[:, 0] = -q[:, 0]
            with torch.no_grad():
                module.conv.weight.copy_(q.unsqueeze(-1))

    def condition(self, spectrogram: torch.Tensor) -> torch.Tensor:
        """(batch, frames, mels) -> the upsampled mel folded like the audio: (batch, mels * n_group, samples / n_group)."""
        cfg = self.config
        spect = self.upsample(spectrogram.transpose(1, 2))
        trim = cfg.upsample_kernel - cfg.hop_length  # the transposed convolution's overhang
        if trim > 0:
            spect = spect[:, :, :-trim]
        b, m, length = spect.shape
        g = cfg.n_group
        spect = spect[:, :, : length - length % g].unfold(2, g, g)  # (b, m, length / g, g)
        return spect.permute(0, 2, 1, 3).reshape(b, -1, m * g).transpose(1, 2)

    @torch.no_grad()
    def forward(self, spectrogram: torch.Tensor, sigma: float | None = None,
                noise: torch.Tensor | None = None) -> torch.Tensor:
        """`spectrogram`: (frames, mels) or (batch, frames, mels), natural-log mel. `noise`: the flow's
        latent, (batch, n_group, samples / n_group) with channels in the order the forward flow emits
        them (early exits first); default `sigma` times standard normal noise."""
        cfg = self.config
        single = spectrogram.dim() == 2
        spect = spectrogram[None] if single else spectrogram
        cond = self.condition(spect.to(self.upsample.weight.dtype))
        b, _, frames = cond.shape
        if noise is None:
            sigma = cfg.sigma if sigma is None else sigma
            noise = sigma * torch.randn(b, cfg.n_group, frames, dtype=cond.dtype, device=cond.device)
        position = cfg.n_group - self.n_remaining
        audio = noise[:, position:]
        for k in reversed(range(cfg.n_flows)):
            half = audio.size(1) // 2
            a0, a1 = audio[:, :half], audio[:, half:]
            out = self.WN[k](a0, cond)
            shift, log_scale = out[:, :half], out[:, half:]
            audio = self.convinv[k].inverse(torch.cat([a0, (a1 - shift) * torch.exp(-log_scale)], 1))
            if k % cfg.n_early_every == 0 and k > 0:
                audio = torch.cat([noise[:, position - cfg.n_early_size: position], audio], 1)
                position -= cfg.n_early_size
        wave = audio.permute(0, 2, 1).reshape(b, -1)
        return wave[0] if single else wave
