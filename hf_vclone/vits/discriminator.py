"""The discriminator VITS trains against: multi-period (HiFi-GAN's MPD) plus multi-scale (MSD).

transformers ships VITS for inference only, so there is no discriminator to load; this one is
initialised fresh (or loaded from a folder) and saved with every checkpoint. Each
sub-discriminator returns its scores and its hidden activations (for feature matching).

- Period p: the waveform folded into rows of p samples and read by 2-D convolutions along time,
  so periodic structure at that period (pitch harmonics) is visible. Periods 2, 3, 5, 7, 11.
- Scale s: 1-D grouped convolutions on the waveform, then on 2x and 4x average-pooled copies;
  the first uses spectral normalisation, as in HiFi-GAN.

`width` scales every channel count (1.0 is the published size; tests use a small one).

Two layouts (`LAYOUTS`): "hifigan", three scales (raw, 2x and 4x pooled; the first with spectral
normalisation), which a fresh discriminator uses; and "vits", the one VITS and MMS-TTS were trained
with: a single weight-normalised scale discriminator on the raw waveform. A discriminator imported
from a VITS checkpoint (hf_vclone/vits/discriminator_import.py) has the "vits" layout.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm, weight_norm

LRELU = 0.1
PERIODS = (2, 3, 5, 7, 11)
# layout -> (number of scale discriminators, whether the first uses spectral normalisation)
LAYOUTS = {"hifigan": (3, True), "vits": (1, False)}


def _run(convs: nn.ModuleList, post: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The conv stack shared by both kinds: every activation is kept for feature matching."""
    features = []
    for conv in convs:
        x = nn.functional.leaky_relu(conv(x), LRELU)
        features.append(x)
    x = post(x)
    features.append(x)
    return x.flatten(1), features


def _ch(channels: int, width: float, multiple: int = 1) -> int:
    return max(multiple, int(channels * width) // multiple * multiple)


class PeriodDiscriminator(nn.Module):
    def __init__(self, period: int, width: float = 1.0) -> None:
        super().__init__()
        self.period = period
        sizes = [1, _ch(32, width), _ch(128, width), _ch(512, width), _ch(1024, width), _ch(1024, width)]
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv2d(c_in, c_out, (5, 1), (3 if i < 4 else 1, 1), padding=(2, 0)))
            for i, (c_in, c_out) in enumerate(zip(sizes[:-1], sizes[1:]))
        )
        self.post = weight_norm(nn.Conv2d(sizes[-1], 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        batch, channels, length = wave.shape
        if length % self.period:
            # Reflect-pad to whole rows: zero padding would add a false edge the model could learn.
            pad = self.period - length % self.period
            wave = nn.functional.pad(wave, (0, pad), mode="reflect")
            length += pad
        return _run(self.convs, self.post, wave.view(batch, channels, length // self.period, self.period))


class ScaleDiscriminator(nn.Module):
    def __init__(self, width: float = 1.0, spectral: bool = False) -> None:
        super().__init__()
        norm = spectral_norm if spectral else weight_norm
        # (in, out, kernel, stride, groups) of HiFi-GAN's scale discriminator
        layers = [(1, 16, 15, 1, 1), (16, 64, 41, 4, 4), (64, 256, 41, 4, 16), (256, 1024, 41, 4, 64),
                  (1024, 1024, 41, 4, 256), (1024, 1024, 5, 1, 1)]
        groups = [max(1, int(g * width)) if g > 1 else 1 for *_, g in layers]
        # Each width must divide by its own layer's groups and by the next layer's, which reads it.
        outs = [_ch(c_out, width, math.lcm(groups[i], groups[i + 1] if i + 1 < len(layers) else 1))
                for i, (_, c_out, *_rest) in enumerate(layers)]
        convs = []
        for (_, _, kernel, stride, _), c_in, c_out, g in zip(layers, [1] + outs[:-1], outs, groups):
            convs.append(norm(nn.Conv1d(c_in, c_out, kernel, stride, groups=g, padding=kernel // 2)))
        self.convs = nn.ModuleList(convs)
        self.post = norm(nn.Conv1d(convs[-1].out_channels, 1, 3, 1, padding=1))

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        return _run(self.convs, self.post, wave)


class VitsDiscriminator(nn.Module):
    """All sub-discriminators; forward returns (scores, features), one entry per sub-discriminator."""

    def __init__(self, periods: tuple[int, ...] = PERIODS, width: float = 1.0, layout: str = "hifigan") -> None:
        super().__init__()
        if layout not in LAYOUTS:
            raise ValueError(f"discriminator layout {layout!r}: use one of {', '.join(LAYOUTS)}")
        scales, first_spectral = LAYOUTS[layout]
        self.layout, self.width, self.period_list = layout, width, tuple(periods)
        self.periods = nn.ModuleList(PeriodDiscriminator(p, width) for p in periods)
        self.scales = nn.ModuleList(ScaleDiscriminator(width, spectral=first_spectral and i == 0) for i in range(scales))
        self.pool = nn.AvgPool1d(4, 2, padding=2)

    def forward(self, wave: torch.Tensor) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
        if wave.dim() == 2:
            wave = wave[:, None]
        scores, features = [], []
        for sub in self.periods:
            score, feats = sub(wave)
            scores.append(score)
            features.append(feats)
        x = wave
        for i, sub in enumerate(self.scales):
            if i > 0:
                x = self.pool(x)
            score, feats = sub(x)
            scores.append(score)
            features.append(feats)
        return scores, features
