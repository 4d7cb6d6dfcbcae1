"""A decoder trained from scratch stays centred: HiFi-GAN's initialisation and the DC loss.

Session 12 found the demo base's decoder outputting -0.985 on average with 72% of its samples
saturated at the tanh's -1: the mel loss sees a constant offset only through its lowest band and
through a log, and transformers' Kaiming start gives a fresh decoder an offset from step 0.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import VitsConfig, VitsModel, VitsTokenizer

from conftest import TINY_VITS
from hf_vclone.config import ModelConfig
from hf_vclone.models.char_tokenizer import build_vits_tokenizer
from hf_vclone.models.vits import VitsBackend
from hf_vclone.vits.decoder_init import HIFIGAN_STD, hifigan_init
from hf_vclone.vits.losses import waveform_dc_loss
from hf_vclone.vits.spectrogram import VitsSpectrogram

DEMO_DECODER = dict(upsample_initial_channel=128, upsample_rates=[8, 8, 4], upsample_kernel_sizes=[16, 16, 8],
                    resblock_kernel_sizes=[3, 7], resblock_dilation_sizes=[[1, 3, 5], [1, 3, 5]], flow_size=96)


def _voiced(samples: int = 8192, rate: int = 16000) -> torch.Tensor:
    t = torch.arange(samples) / rate
    g = torch.Generator().manual_seed(0)
    return 0.07 * torch.sin(2 * np.pi * 220 * t) * (1 + 0.5 * torch.sin(2 * np.pi * 3 * t)) \
        + 0.01 * torch.randn(samples, generator=g)


def test_the_mel_loss_barely_tells_a_small_offset_from_a_saturating_one() -> None:
    """Why the DC term exists: offsets of 0.05 and 0.9 differ by < 0.05 in mel L1, and only in band 0."""
    spectrogram = VitsSpectrogram(16000, 1024, 256)
    x = _voiced()[None]
    change = {c: (spectrogram.log_mel(x + c) - spectrogram.log_mel(x)).abs()[0] for c in (0.05, 0.9)}
    assert float(change[0.9].mean() - change[0.05].mean()) < 0.05
    assert float(change[0.9][1:].max()) < 1e-3  # every band above the lowest is unchanged
    slices = x[:, None]
    assert float(waveform_dc_loss(slices + 0.9, slices)) == pytest.approx(0.9, abs=1e-6)


def test_dc_loss_is_the_mean_offset_per_slice_and_ignores_level() -> None:
    real = torch.stack([_voiced(), -_voiced()])[:, None]
    offsets = torch.tensor([0.2, -0.4])[:, None, None]
    assert float(waveform_dc_loss(real + offsets, real)) == pytest.approx(0.3, abs=1e-6)
    assert float(waveform_dc_loss(3.0 * real, real)) < 1e-3  # louder or quieter is the mel loss's business
    generated = (real + offsets).requires_grad_()
    waveform_dc_loss(generated, real).backward()
    grad = generated.grad[:, 0]  # pushes every sample of each slice against its offset, equally
    assert torch.allclose(grad[0], torch.full_like(grad[0], 0.5 / grad.shape[1]))
    assert torch.allclose(grad[1], torch.full_like(grad[1], -0.5 / grad.shape[1]))


def test_hifigan_init_centres_a_fresh_decoder() -> None:
    torch.manual_seed(0)
    model = VitsModel(VitsConfig(**DEMO_DECODER)).eval()
    hifigan_init(model.decoder)
    for conv in (model.decoder.upsampler[0], model.decoder.resblocks[0].convs1[0]):
        assert abs(float(conv.weight.std()) - HIFIGAN_STD) < 0.002
    with torch.no_grad():
        out = model.decoder(torch.randn(2, 96, 64))[:, 0]
    assert float(out.mean().abs()) < 0.1 and float(out.abs().max()) < 0.5  # centred, far from the tanh's ends


def test_a_vits_built_from_scratch_gets_the_hifigan_decoder(tmp_path) -> None:
    texts = ["the old farmer carried a heavy box.", "a paper boat crossed the field."] * 10
    processor = build_vits_tokenizer(texts, tmp_path)
    assert isinstance(processor, VitsTokenizer)
    torch.manual_seed(0)
    model = VitsBackend().load_model(ModelConfig(name_or_path=None, init_config=dict(TINY_VITS)), processor)
    weights = torch.cat([m.weight.flatten() for m in model.decoder.upsampler])
    assert abs(float(weights.std()) - HIFIGAN_STD) < 0.003
