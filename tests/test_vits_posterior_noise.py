"""vits.posterior_noise: what the decoder trains on, between the posterior's mean (0) and its sample (1).

Session 15 found the demo base's posterior sample mostly noise: a linear probe reads the words from the
posterior mean (Griffin-Lim CER 0.15) but not from the sample (0.91), so a decoder trained on the sample
learns to blur. The KL and the flow must still see the sample, or the prior would fit a different latent.
"""

from __future__ import annotations

import pytest
import torch
from transformers import VitsConfig as HFVitsConfig, VitsModel

from conftest import TINY_VITS
from hf_vclone.config import load_recipe
from hf_vclone.models.speakers import SpeakerTable
from hf_vclone.models.vits import VitsVoice
from hf_vclone.models.vits_section import VitsConfig

FRAMES, TOKENS, MEL_BINS = 24, 5, 20


def _run(noise: float) -> dict[str, torch.Tensor]:
    """One training forward; returns the posterior's outputs, the decoder's input and the flow's input."""
    torch.manual_seed(0)
    tts = VitsModel(HFVitsConfig(**TINY_VITS, vocab_size=12)).train()
    voice = VitsVoice(tts, SpeakerTable([], torch.zeros(0, 1), False),
                      VitsConfig(posterior_noise=noise, segment_frames=FRAMES, mel_bins=MEL_BINS))
    seen: dict[str, torch.Tensor] = {}
    tts.posterior_encoder.register_forward_hook(
        lambda m, a, out: seen.update(sample=out[0].detach(), mean=out[1].detach()))
    tts.decoder.register_forward_pre_hook(lambda m, a: seen.update(decoder=a[0].detach()))
    tts.flow.register_forward_pre_hook(lambda m, a: seen.update(flow=a[0].detach()))
    g = torch.Generator().manual_seed(1)
    out = voice(input_ids=torch.randint(1, 12, (1, TOKENS), generator=g),
                attention_mask=torch.ones(1, TOKENS, dtype=torch.long),
                labels=torch.randn(1, FRAMES, MEL_BINS, generator=g),
                waveform=0.1 * torch.randn(1, FRAMES * voice.hop, generator=g),
                label_lengths=torch.tensor([FRAMES]))
    assert torch.isfinite(out.loss)
    return seen


@pytest.mark.parametrize("noise", [0.0, 0.3, 1.0])
def test_the_decoder_sees_the_mean_plus_that_share_of_the_noise_and_the_flow_the_sample(noise: float) -> None:
    seen = _run(noise)
    assert float((seen["sample"] - seen["mean"]).abs().mean()) > 0.1  # the posterior does sample noise
    expected = seen["mean"] + noise * (seen["sample"] - seen["mean"])
    torch.testing.assert_close(seen["decoder"], expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(seen["flow"], seen["sample"])


def test_the_recipe_key_is_checked(tmp_path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text("model: {type: vits, name_or_path: x}\nvits: {posterior_noise: 1.5}\n")
    with pytest.raises(Exception, match="vits.posterior_noise"):
        load_recipe(recipe)
