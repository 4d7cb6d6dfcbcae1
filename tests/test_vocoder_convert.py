"""`hf-vclone convert hifigan|waveglow`: the published vocoders for Tacotron 2's mels, from
checkpoints in their exact key layouts (speechbrain's tts-hifigan-ljspeech generator.ckpt,
the original HiFi-GAN's g_* files, NVIDIA DeepLearningExamples' WaveGlow), checked against
reference computations written here from the published descriptions."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F
from transformers import SpeechT5HifiGan

from hf_vclone.errors import UserError
from hf_vclone.models.tacotron2.backend import Tacotron2Backend
from hf_vclone.models.vocoder_convert import convert_hifigan, convert_waveglow
from hf_vclone.models.waveglow import WaveGlowVocoder

# ---- HiFi-GAN -----------------------------------------------------------------------------------

UPSAMPLE_KERNELS, RATES, RES_KERNELS, DILATIONS = (16, 16, 4, 4), (8, 8, 2, 2), (3, 7, 11), (1, 3, 5)


def speechbrain_generator(width: int = 16, mels: int = 80, seed: int = 0) -> dict[str, torch.Tensor]:
    """speechbrain's HifiganGenerator state dict at the published layout (narrower): every conv in a
    `.conv` wrapper, weight norm as weight_g / weight_v, transposed-conv weights (in, out, k)."""
    gen = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}

    def layer(name: str, shape: tuple[int, ...], bias: int) -> None:
        state[f"{name}.conv.bias"] = 0.1 * torch.randn(bias, generator=gen)
        state[f"{name}.conv.weight_g"] = 0.2 + torch.rand(shape[0], 1, 1, generator=gen)
        state[f"{name}.conv.weight_v"] = torch.randn(*shape, generator=gen)

    layer("conv_pre", (width, mels, 7), width)
    for i, k in enumerate(UPSAMPLE_KERNELS):
        layer(f"ups.{i}", (width >> i, width >> (i + 1), k), width >> (i + 1))
    n = 0
    for i in range(len(RATES)):
        channels = width >> (i + 1)
        for k in RES_KERNELS:
            for m in range(3):
                layer(f"resblocks.{n}.convs1.{m}", (channels, channels, k), channels)
                layer(f"resblocks.{n}.convs2.{m}", (channels, channels, k), channels)
            n += 1
    layer("conv_post", (1, width >> len(RATES), 7), 1)
    return state


def speechbrain_reference(state: dict[str, torch.Tensor], mel: torch.Tensor) -> torch.Tensor:
    """speechbrain's generator forward (HifiGAN.py), from its description: reflect-padded
    stride-1 convolutions, leaky ReLU 0.1, the mean over residual kernels, 0.01 before conv_post, tanh."""
    def w(name: str) -> torch.Tensor:
        v, g = state[f"{name}.conv.weight_v"], state[f"{name}.conv.weight_g"]
        return g * v / v.norm(dim=(1, 2), keepdim=True)

    def conv(x: torch.Tensor, name: str, dilation: int = 1) -> torch.Tensor:
        k = state[f"{name}.conv.weight_v"].shape[2]
        pad = dilation * (k - 1) // 2
        return F.conv1d(F.pad(x, (pad, pad), mode="reflect"), w(name), state[f"{name}.conv.bias"], dilation=dilation)

    x = conv(mel.T[None], "conv_pre")
    n = 0
    for i, (k, u) in enumerate(zip(UPSAMPLE_KERNELS, RATES)):
        x = F.conv_transpose1d(F.leaky_relu(x, 0.1), w(f"ups.{i}"), state[f"ups.{i}.conv.bias"], stride=u,
                               padding=(k - u) // 2)
        total = 0
        for _ in RES_KERNELS:
            y = x
            for m, d in enumerate(DILATIONS):
                t = conv(F.leaky_relu(y, 0.1), f"resblocks.{n}.convs1.{m}", d)
                y = y + conv(F.leaky_relu(t, 0.1), f"resblocks.{n}.convs2.{m}")
            total, n = total + y, n + 1
        x = total / len(RES_KERNELS)
    return torch.tanh(conv(F.leaky_relu(x, 0.01), "conv_post"))[0, 0]


def test_speechbrain_hifigan_converts_to_speecht5hifigan_and_speaks_as_it_does(tmp_path: Path) -> None:
    state = speechbrain_generator()
    torch.save(state, tmp_path / "generator.ckpt")  # a bare state dict, as speechbrain saves it
    vocoder = SpeechT5HifiGan.from_pretrained(convert_hifigan(tmp_path / "generator.ckpt", tmp_path / "hifigan")).eval()
    assert vocoder.config.upsample_rates == list(RATES) and vocoder.config.resblock_kernel_sizes == list(RES_KERNELS)
    assert not vocoder.config.normalize_before and vocoder.config.sampling_rate == 22050
    mel = torch.randn(60, 80)
    with torch.no_grad():
        ours, reference = vocoder(mel), speechbrain_reference(state, mel)
    assert ours.shape == reference.shape == (60 * 256,)
    middle = slice(20 * 256, 40 * 256)  # beyond the padding's reach: zero vs reflect differ only near the ends
    torch.testing.assert_close(ours[middle], reference[middle], atol=1e-5, rtol=1e-4)
    edge = (ours - reference).abs()
    assert edge[:256].max() > 0 and edge[middle].max() < 1e-4  # the documented difference is real, and confined


def test_every_weight_norm_style_and_the_original_hifigan_file_convert_alike(tmp_path: Path) -> None:
    state = speechbrain_generator()
    parametrized = {k.replace(".weight_g", ".parametrizations.weight.original0")
                    .replace(".weight_v", ".parametrizations.weight.original1"): v for k, v in state.items()}
    original = {k.replace(".conv.", "."): v for k, v in state.items()}  # jik876/hifi-gan: no wrappers, under "generator"
    torch.save(parametrized, tmp_path / "parametrized.ckpt")
    torch.save({"generator": original}, tmp_path / "g_02500000")
    torch.save(state, tmp_path / "generator.ckpt")
    folders = [convert_hifigan(tmp_path / f, tmp_path / f"out_{i}")
               for i, f in enumerate(["generator.ckpt", "parametrized.ckpt", "g_02500000"])]
    weights = [SpeechT5HifiGan.from_pretrained(f).state_dict() for f in folders]
    for other in weights[1:]:
        assert all(torch.equal(weights[0][k], other[k]) for k in weights[0])


def test_a_hifigan_that_does_not_fit_is_named(tmp_path: Path) -> None:
    state = speechbrain_generator()
    del state["resblocks.4.convs2.1.conv.weight_g"]
    torch.save(state, tmp_path / "broken.ckpt")
    with pytest.raises(UserError, match=r"resblocks\.4\.convs2\.1\.conv\.weight_v has no .*weight_g"):
        convert_hifigan(tmp_path / "broken.ckpt", tmp_path / "out")
    state = speechbrain_generator()
    state["ups.9.conv.bias"] = torch.zeros(2)
    torch.save(state, tmp_path / "extra.ckpt")
    with pytest.raises(UserError, match="unexpected upsampler.9.bias"):
        convert_hifigan(tmp_path / "extra.ckpt", tmp_path / "out")
    with pytest.raises(UserError, match="samples per frame; Tacotron 2's mels have 300"):
        convert_hifigan(tmp_path / "extra.ckpt", tmp_path / "out", hop_length=300)


# ---- WaveGlow -----------------------------------------------------------------------------------

WAVEGLOW = dict(n_mel_channels=20, n_flows=12, n_group=8, n_early_every=4, n_early_size=2,
                WN_config=dict(n_layers=2, kernel_size=3, n_channels=8))


def dle_waveglow(seed: int = 0) -> dict:
    """A DeepLearningExamples WaveGlow checkpoint: {"epoch", "config", "state_dict"}, keys under
    `module.` (saved from DDP), weight norm as weight_g / weight_v except `end` and `convinv`."""
    gen = torch.Generator().manual_seed(seed)
    cfg, wn = WAVEGLOW, WAVEGLOW["WN_config"]
    m, c, g = cfg["n_mel_channels"], wn["n_channels"], cfg["n_group"]
    state = {"module.upsample.weight": 0.05 * torch.randn(m, m, 1024, generator=gen),
             "module.upsample.bias": 0.1 * torch.randn(m, generator=gen)}

    def normed(name: str, shape: tuple[int, ...]) -> None:
        state[f"module.{name}.bias"] = 0.1 * torch.randn(shape[0], generator=gen)
        state[f"module.{name}.weight_g"] = 0.2 + 0.3 * torch.rand(shape[0], 1, 1, generator=gen)
        state[f"module.{name}.weight_v"] = torch.randn(*shape, generator=gen)

    half, remaining = g // 2, g
    for k in range(cfg["n_flows"]):
        if k % cfg["n_early_every"] == 0 and k > 0:
            half, remaining = half - 1, remaining - 2
        for i in range(wn["n_layers"]):
            normed(f"WN.{k}.in_layers.{i}", (2 * c, c, wn["kernel_size"]))
            normed(f"WN.{k}.res_skip_layers.{i}", (2 * c if i < wn["n_layers"] - 1 else c, c, 1))
            normed(f"WN.{k}.cond_layers.{i}", (2 * c, m * g, 1))
        normed(f"WN.{k}.start", (c, half, 1))
        state[f"module.WN.{k}.end.weight"] = 0.1 * torch.randn(2 * half, c, 1, generator=gen)
        state[f"module.WN.{k}.end.bias"] = 0.1 * torch.randn(2 * half, generator=gen)
        q = torch.linalg.qr(torch.randn(remaining, remaining, generator=gen))[0]
        state[f"module.convinv.{k}.conv.weight"] = q[..., None]
    return {"epoch": 7, "config": WAVEGLOW, "state_dict": state}


def _folded(state: dict[str, torch.Tensor], name: str) -> torch.Tensor:
    v, g = state[f"module.{name}.weight_v"], state[f"module.{name}.weight_g"]
    return g * v / v.norm(dim=(1, 2), keepdim=True)


def reference_wn(state: dict, k: int, audio: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
    """DLE's WN from the paper's description: gated dilated convolutions with residual and skip paths."""
    c = WAVEGLOW["WN_config"]["n_channels"]
    p = f"WN.{k}"
    x = F.conv1d(audio, _folded(state, f"{p}.start"), state[f"module.{p}.start.bias"])
    skip = 0
    for i in range(WAVEGLOW["WN_config"]["n_layers"]):
        z = F.conv1d(x, _folded(state, f"{p}.in_layers.{i}"), state[f"module.{p}.in_layers.{i}.bias"],
                     dilation=2 ** i, padding=2 ** i)
        z = z + F.conv1d(cond, _folded(state, f"{p}.cond_layers.{i}"), state[f"module.{p}.cond_layers.{i}.bias"])
        out = F.conv1d(torch.tanh(z[:, :c]) * torch.sigmoid(z[:, c:]), _folded(state, f"{p}.res_skip_layers.{i}"),
                       state[f"module.{p}.res_skip_layers.{i}.bias"])
        if i < WAVEGLOW["WN_config"]["n_layers"] - 1:
            x, skip = x + out[:, :c], skip + out[:, c:]
        else:
            skip = skip + out
    return F.conv1d(skip, state[f"module.{p}.end.weight"], state[f"module.{p}.end.bias"])


def reference_to_noise(state: dict, audio: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
    """WaveGlow's forward (training) direction, audio -> latent: early exits first, then the 1x1
    convolution W, then the affine coupling a1' = exp(s) * a1 + b."""
    z = audio.unfold(1, 8, 8).permute(0, 2, 1)  # sample t = frame * 8 + channel
    exits = []
    for k in range(WAVEGLOW["n_flows"]):
        if k % 4 == 0 and k > 0:
            exits.append(z[:, :2])
            z = z[:, 2:]
        z = F.conv1d(z, state[f"module.convinv.{k}.conv.weight"])
        half = z.size(1) // 2
        out = reference_wn(state, k, z[:, :half], cond)
        z = torch.cat([z[:, :half], torch.exp(out[:, half:]) * z[:, half:] + out[:, :half]], 1)
    return torch.cat([*exits, z], 1)


def test_a_dle_waveglow_converts_and_inverts_the_published_flow(tmp_path: Path) -> None:
    checkpoint = dle_waveglow()
    torch.save(checkpoint, tmp_path / "nvidia_waveglowpyt_fp32_20190427")
    vocoder = WaveGlowVocoder.from_pretrained(convert_waveglow(tmp_path / "nvidia_waveglowpyt_fp32_20190427",
                                                               tmp_path / "waveglow")).eval()
    assert (vocoder.config.n_channels, vocoder.config.n_layers, vocoder.config.n_mel_channels) == (8, 2, 20)
    state, frames = checkpoint["state_dict"], 12
    mel = torch.randn(1, frames, 20)
    cond = vocoder.condition(mel)
    assert cond.shape == (1, 20 * 8, frames * 256 // 8)
    with torch.no_grad():  # the coupling networks compute what the published WN does
        a0 = torch.randn(1, 4, cond.shape[2])
        torch.testing.assert_close(vocoder.WN[0](a0, cond), reference_wn(state, 0, a0, cond), atol=1e-5, rtol=1e-4)
        audio = 0.3 * torch.randn(1, frames * 256)
        latent = reference_to_noise(state, audio, cond)
        back = vocoder(mel, noise=latent)  # speaking runs the flow backwards: the same audio comes back
    assert back.shape == audio.shape
    torch.testing.assert_close(back, audio, atol=1e-4, rtol=1e-3)
    with torch.no_grad():
        spoken = vocoder(mel[0], sigma=0.6)
    assert spoken.shape == (frames * 256,) and torch.isfinite(spoken).all()


def test_a_pickled_waveglow_module_is_refused_and_a_wrong_config_is_named(tmp_path: Path) -> None:
    glow = types.ModuleType("glow")

    class WaveGlow(torch.nn.Module):  # what NVIDIA/waveglow's waveglow_256channels.pt pickles under "model"
        pass

    WaveGlow.__module__, WaveGlow.__qualname__ = "glow", "WaveGlow"
    glow.WaveGlow = WaveGlow
    sys.modules["glow"] = glow
    try:
        torch.save({"model": WaveGlow(), "iteration": 1}, tmp_path / "waveglow_256channels.pt")
    finally:
        del sys.modules["glow"]
    with pytest.raises(UserError, match=r"is a pickled glow\.WaveGlow object, not a state dict.*state_dict"):
        convert_waveglow(tmp_path / "waveglow_256channels.pt", tmp_path / "out")

    checkpoint = dle_waveglow()
    checkpoint["config"] = {**WAVEGLOW, "WN_config": {**WAVEGLOW["WN_config"], "n_channels": 256}}
    torch.save(checkpoint, tmp_path / "mismatch.pt")
    with pytest.raises(UserError, match=r"n_channels=256 \(the weights say 8\)"):
        convert_waveglow(tmp_path / "mismatch.pt", tmp_path / "out")


def test_the_tacotron2_backend_loads_either_converted_vocoder(tmp_path: Path) -> None:
    torch.save(dle_waveglow(), tmp_path / "waveglow.pt")
    torch.save(speechbrain_generator(mels=20), tmp_path / "generator.ckpt")
    backend = Tacotron2Backend()
    waveglow = backend.load_vocoder(str(convert_waveglow(tmp_path / "waveglow.pt", tmp_path / "wg")))
    hifigan = backend.load_vocoder(str(convert_hifigan(tmp_path / "generator.ckpt", tmp_path / "hg")))
    assert isinstance(waveglow, WaveGlowVocoder) and isinstance(hifigan, SpeechT5HifiGan)
    mel = torch.randn(9, 20)  # the call the backend makes: (frames, mels) -> samples
    with torch.no_grad():
        assert waveglow(mel).shape == hifigan(mel).shape == (9 * 256,)
