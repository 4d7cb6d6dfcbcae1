"""`hf-vclone convert hifigan|waveglow CHECKPOINT OUT`: a published vocoder for Tacotron 2's mels
as a `save_pretrained` folder that `model.vocoder` names.

- HiFi-GAN: speechbrain's `tts-hifigan-ljspeech` `generator.ckpt` (a bare state dict whose layers sit
  in speechbrain's `.conv` wrappers) or the original HiFi-GAN's `g_*` files (`{"generator": ...}`),
  into transformers' `SpeechT5HifiGan`. The layers, the mean over residual kernels, the slopes and
  the final tanh are the same; `normalize_before` is off (these mels are not standardised).
  One difference stays: speechbrain reflect-pads its stride-1 convolutions where SpeechT5HifiGan
  zero-pads, so the first and last few milliseconds differ slightly (tests measure how much).
- WaveGlow: NVIDIA DeepLearningExamples / torch.hub / NGC checkpoints (`{"state_dict", "config"}`,
  keys possibly under `module.`) into WaveGlowVocoder (hf_vclone.models.waveglow).

Weight norm is folded in either key style: `weight_g` / `weight_v` (`torch.nn.utils.weight_norm`)
or `parametrizations.weight.original0` / `original1` (its successor). Everything is read with
`torch.load(weights_only=True)`; every key and shape is checked and what does not fit is named.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from ..errors import UserError
from .loading import read_torch_checkpoint, state_dict_problems

RESBLOCK_DILATIONS = (1, 3, 5)  # HiFi-GAN's ResBlock1 (every published V1-V3 config); not in the weights


def fold_weight_norm(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`X.weight_g` + `X.weight_v` (or the parametrization's original0 / original1) -> `X.weight`
    = g * v / ||v||, the norm over every axis but the first, as weight_norm(dim=0) defines it."""
    state = {re.sub(r"\.parametrizations\.weight\.original0$", ".weight_g",
                    re.sub(r"\.parametrizations\.weight\.original1$", ".weight_v", k)): v for k, v in state.items()}
    out = {k: v for k, v in state.items() if not k.endswith((".weight_g", ".weight_v"))}
    for key in [k for k in state if k.endswith(".weight_v")]:
        stem = key[: -len(".weight_v")]
        if f"{stem}.weight_g" not in state:
            raise UserError(f"convert: {key} has no {stem}.weight_g beside it; the weight-normed layer is incomplete")
        v, g = state[key].float(), state[f"{stem}.weight_g"].float()
        out[f"{stem}.weight"] = g * v / v.norm(dim=tuple(range(1, v.dim())), keepdim=True)
    return out


def _tensors(raw: dict, inner: tuple[str, ...]) -> dict[str, torch.Tensor]:
    for key in inner:
        if isinstance(raw.get(key), dict):
            raw = raw[key]
            break
    return {re.sub(r"^module\.", "", k): v.float() for k, v in raw.items() if isinstance(v, torch.Tensor)}


# ---- HiFi-GAN -----------------------------------------------------------------------------------

def read_hifigan(path: str | Path) -> dict[str, torch.Tensor]:
    """The generator's weights under SpeechT5HifiGan's names (weight norm folded)."""
    raw = read_torch_checkpoint(path, "convert hifigan", "a HiFi-GAN generator checkpoint (speechbrain "
                                "generator.ckpt or a HiFi-GAN g_* file)")
    state = fold_weight_norm(_tensors(raw, ("generator", "state_dict")))
    state = {re.sub(r"\.conv\.(weight|bias)$", r".\1", k): v for k, v in state.items()}  # speechbrain's wrappers
    state = {re.sub(r"^ups\.", "upsampler.", k): v for k, v in state.items()}
    if "conv_pre.weight" not in state:
        raise UserError(f"convert hifigan: {path} has no conv_pre weights among its {len(state)} tensors "
                        f"(first: {', '.join(list(state)[:3]) or 'none'}); is this a HiFi-GAN generator?")
    return state


def hifigan_config(state: dict[str, torch.Tensor], sampling_rate: int, hop_length: int):
    """SpeechT5HifiGanConfig from the tensors' shapes. The upsampling strides are not stored: the
    published generators all use kernel = 2 x stride, which is checked against the hop."""
    from transformers import SpeechT5HifiGanConfig

    stages = sorted({int(m.group(1)) for k in state if (m := re.match(r"upsampler\.(\d+)\.weight$", k))})
    kernels = [int(state[f"upsampler.{i}.weight"].shape[2]) for i in stages]
    rates = [k // 2 for k in kernels]
    if not stages or int(torch.tensor(rates).prod()) != hop_length:
        raise UserError(f"convert hifigan: upsampling kernels {kernels} give strides {rates} (kernel = 2 x stride, "
                        f"as published), {int(torch.tensor(rates).prod()) if stages else 0} samples per frame; "
                        f"Tacotron 2's mels have {hop_length}")
    blocks = len({int(m.group(1)) for k in state if (m := re.match(r"resblocks\.(\d+)\.", k))})
    per_stage = blocks // len(stages)
    return SpeechT5HifiGanConfig(
        model_in_dim=int(state["conv_pre.weight"].shape[1]), sampling_rate=sampling_rate,
        upsample_initial_channel=int(state["conv_pre.weight"].shape[0]), upsample_rates=rates,
        upsample_kernel_sizes=kernels,
        resblock_kernel_sizes=[int(state[f"resblocks.{j}.convs1.0.weight"].shape[2]) for j in range(per_stage)],
        resblock_dilation_sizes=[list(RESBLOCK_DILATIONS)] * per_stage, leaky_relu_slope=0.1, normalize_before=False)


def convert_hifigan(path: str | Path, out: str | Path, sampling_rate: int = 22050, hop_length: int = 256) -> Path:
    from transformers import SpeechT5HifiGan

    state = read_hifigan(path)
    model = SpeechT5HifiGan(hifigan_config(state, sampling_rate, hop_length))
    target = model.state_dict()
    for buffer, value in (("mean", 0.0), ("scale", 1.0)):  # unused with normalize_before off; kept neutral
        state.setdefault(buffer, torch.full_like(target[buffer], value))
    return _save(model, state, target, path, "HiFi-GAN (SpeechT5HifiGan)", out)


# ---- WaveGlow -----------------------------------------------------------------------------------

def convert_waveglow(path: str | Path, out: str | Path, sampling_rate: int = 22050, sigma: float = 0.9) -> Path:
    from .waveglow import WaveGlowConfig, WaveGlowVocoder

    raw = read_torch_checkpoint(path, "convert waveglow", "NVIDIA DeepLearningExamples' WaveGlow checkpoint "
                                "(nvidia_waveglowpyt_*, a dict with state_dict and config)")
    if "model" in raw and not isinstance(raw["model"], dict):
        raise UserError(f"convert waveglow: {path} keeps its model as a {type(raw['model']).__name__}, not a state "
                        "dict; use NVIDIA DeepLearningExamples' checkpoint (torch.hub nvidia_waveglow)")
    state = fold_weight_norm(_tensors(raw, ("state_dict", "model")))
    if "upsample.weight" not in state:
        raise UserError(f"convert waveglow: {path} has no upsample.weight among its {len(state)} tensors "
                        f"(first: {', '.join(list(state)[:3]) or 'none'}); is this a WaveGlow checkpoint?")
    config = dict(raw.get("config") or {})
    wn = dict(config.pop("WN_config", {}) or {})
    n_flows = len({int(m.group(1)) for k in state if (m := re.match(r"WN\.(\d+)\.", k))})
    upsample = state["upsample.weight"]
    shape_config = {  # what the tensors say; a stored config must agree
        "n_mel_channels": int(upsample.shape[0]), "upsample_kernel": int(upsample.shape[2]), "n_flows": n_flows,
        "n_channels": int(state["WN.0.start.weight"].shape[0]),
        "n_layers": len({int(m.group(1)) for k in state if (m := re.match(r"WN\.0\.in_layers\.(\d+)\.", k))}),
        "kernel_size": int(state["WN.0.in_layers.0.weight"].shape[2]),
        "n_group": int(state["convinv.0.conv.weight"].shape[0]),
    }
    stored = {k: v for k, v in {**config, **wn}.items() if k in WaveGlowConfig().to_dict()}
    clash = [f"{k}={stored[k]} (the weights say {v})" for k, v in shape_config.items() if k in stored and stored[k] != v]
    if clash:
        raise UserError(f"convert waveglow: {path}'s config disagrees with its weights: {'; '.join(clash)}")
    model = WaveGlowVocoder(WaveGlowConfig(**{**stored, **shape_config}, sampling_rate=sampling_rate, sigma=sigma))
    return _save(model, state, model.state_dict(), path, "WaveGlow", out)


def _save(model: torch.nn.Module, state: dict, target: dict, path: str | Path, what: str, out: str | Path) -> Path:
    problems = state_dict_problems(state, target)
    if problems:
        raise UserError(f"convert: {path} does not fit {what}: " + " | ".join(problems))
    model.load_state_dict({k: state[k].to(target[k].dtype) for k in target})
    out = Path(out)
    model.eval().save_pretrained(out)
    return out
