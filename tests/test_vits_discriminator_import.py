"""Importing a trained VITS discriminator (hf_vclone/vits/discriminator_import.py).

The reference below is VITS' discriminator written from its published description (one scale
discriminator, then periods 2, 3, 5, 7, 11; the old `torch.nn.utils.weight_norm`, so its keys are
`weight_g` / `weight_v`), at the published width. Its checkpoints are saved in the two layouts users
hold: an original training checkpoint (`D_<step>.pth`: {"model": ..., "optimizer": ..., ...}) and
finetune-hf-vits' converted model (weight norm removed, `discriminator.` keys beside the generator's,
`conv_post` renamed `final_conv`). Imported, our discriminator must score audio exactly as the
reference does.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from hf_vclone.config import VitsConfig
from hf_vclone.errors import UserError
from hf_vclone.vits.discriminator_import import read_discriminator
from hf_vclone.vits.trainer import build_discriminator

SCALE = [(1, 16, 15, 1, 1), (16, 64, 41, 4, 4), (64, 256, 41, 4, 16), (256, 1024, 41, 4, 64),
         (1024, 1024, 41, 4, 256), (1024, 1024, 5, 1, 1)]
PERIOD = [1, 32, 128, 512, 1024, 1024]


def _wn(module: nn.Module) -> nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return nn.utils.weight_norm(module)


class _Scale(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.convs = nn.ModuleList(_wn(nn.Conv1d(i, o, k, s, groups=g, padding=k // 2)) for i, o, k, s, g in SCALE)
        self.conv_post = _wn(nn.Conv1d(1024, 1, 3, 1, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = nn.functional.leaky_relu(conv(x), 0.1)
        return self.conv_post(x).flatten(1)


class _Period(nn.Module):
    def __init__(self, period: int) -> None:
        super().__init__()
        self.period = period
        self.convs = nn.ModuleList(_wn(nn.Conv2d(i, o, (5, 1), (3 if n < 4 else 1, 1), padding=(2, 0)))
                                   for n, (i, o) in enumerate(zip(PERIOD[:-1], PERIOD[1:])))
        self.conv_post = _wn(nn.Conv2d(1024, 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t = x.shape
        if t % self.period:
            x = nn.functional.pad(x, (0, self.period - t % self.period), "reflect")
            t = x.shape[-1]
        x = x.view(b, c, t // self.period, self.period)
        for conv in self.convs:
            x = nn.functional.leaky_relu(conv(x), 0.1)
        return self.conv_post(x).flatten(1)


class _Original(nn.Module):
    """VITS' MultiPeriodDiscriminator: discriminators[0] is the scale one."""

    def __init__(self) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList([_Scale()] + [_Period(p) for p in (2, 3, 5, 7, 11)])

    def scores(self, wave: torch.Tensor) -> list[torch.Tensor]:
        return [d(wave) for d in self.discriminators]


@pytest.fixture(scope="module")
def original() -> _Original:
    torch.manual_seed(0)
    model = _Original()
    with torch.no_grad():  # weight_g away from the norm of weight_v, so g is really used
        for name, p in model.named_parameters():
            if name.endswith("weight_g"):
                p.mul_(torch.rand_like(p) + 0.5)
    return model


def _same_scores(imported, original: _Original) -> None:
    wave = torch.randn(2, 1, 1500, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours, _ = imported.build()(wave)
        theirs = original.scores(wave)
    # ours: periods, then the scale; theirs: the scale, then periods
    assert len(ours) == len(theirs) == 6
    for a, b in zip(ours, theirs[1:] + theirs[:1]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_an_original_vits_training_checkpoint_scores_exactly_as_it_did(original: _Original, tmp_path: Path) -> None:
    path = tmp_path / "D_50000.pth"
    optimizer = torch.optim.AdamW(original.parameters())
    torch.save({"model": original.state_dict(), "iteration": 50000, "optimizer": optimizer.state_dict(),
                "learning_rate": 2e-4}, path)
    imported = read_discriminator(path)
    assert (imported.layout, imported.width, imported.periods) == ("vits", 1.0, (2, 3, 5, 7, 11))
    _same_scores(imported, original)
    # saved from a DDP-wrapped model: the same, under module.
    torch.save({"model": {f"module.{k}": v for k, v in original.state_dict().items()}}, path)
    _same_scores(read_discriminator(path), original)


def test_a_finetune_hf_vits_model_folder_scores_exactly_as_it_did(original: _Original, tmp_path: Path) -> None:
    removed = _Original()
    removed.load_state_dict(original.state_dict())
    for sub in removed.discriminators:
        for conv in [*sub.convs, sub.conv_post]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                nn.utils.remove_weight_norm(conv)
    state = {f"discriminator.{k.replace('conv_post', 'final_conv')}": v.contiguous()
             for k, v in removed.state_dict().items()}
    state["text_encoder.embed_tokens.weight"] = torch.zeros(4, 8)  # the generator's weights beside it
    save_file(state, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps({"discriminator_periods": [2, 3, 5, 7, 11]}))
    imported = read_discriminator(tmp_path)
    assert imported.source.startswith("finetune-hf-vits")
    _same_scores(imported, original)


def test_what_does_not_fit_is_named(original: _Original, tmp_path: Path) -> None:
    state = dict(original.state_dict())
    del state["discriminators.3.convs.2.weight_v"]
    torch.save({"model": state}, tmp_path / "D_1.pth")
    with pytest.raises(UserError, match=r"D_1.pth.*weight_g of sub-discriminator 3 has no weight_v"):
        read_discriminator(tmp_path / "D_1.pth")
    state = dict(original.state_dict())
    state["discriminators.2.convs.1.weight_v"] = torch.zeros(128, 32, 3, 1)
    torch.save({"model": state}, tmp_path / "D_2.pth")
    with pytest.raises(UserError, match=r"shapes differ: periods\.1\.convs\.1\.parametrizations\.weight\.original1"):
        read_discriminator(tmp_path / "D_2.pth")
    torch.save({"model": {"enc_p.emb.weight": torch.zeros(3, 3)}}, tmp_path / "G_1.pth")
    with pytest.raises(UserError, match="G_1.pth has no discriminators"):
        read_discriminator(tmp_path / "G_1.pth")
    torch.save({"model": {"discriminators.0.convs.0.scale": torch.zeros(1)}}, tmp_path / "D_3.pth")
    with pytest.raises(UserError, match="not a VITS discriminator's: discriminators.0.convs.0.scale"):
        read_discriminator(tmp_path / "D_3.pth")
    (tmp_path / "pickle.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="weights_only=True"):
        read_discriminator(tmp_path / "pickle.pth")
    with pytest.raises(UserError, match="does not exist"):
        read_discriminator(tmp_path / "nowhere")


def test_a_recipe_that_asks_for_another_layout_or_width_is_refused(original: _Original, tmp_path: Path) -> None:
    torch.save({"model": original.state_dict()}, tmp_path / "D_9.pth")
    assert build_discriminator(VitsConfig(discriminator=str(tmp_path / "D_9.pth"))).layout == "vits"
    with pytest.raises(UserError, match="vits.discriminator_layout: hifigan was asked for"):
        build_discriminator(VitsConfig(discriminator=str(tmp_path / "D_9.pth"), discriminator_layout="hifigan"))
    with pytest.raises(UserError, match="vits.discriminator_width: 0.25 was asked for"):
        build_discriminator(VitsConfig(discriminator=str(tmp_path / "D_9.pth"), discriminator_width=0.25))


@pytest.mark.parametrize("layout", ["hifigan", "vits"])
def test_our_own_discriminator_round_trips_with_its_layout_and_width(layout: str, tmp_path: Path) -> None:
    from hf_vclone.vits.discriminator import VitsDiscriminator

    torch.manual_seed(0)
    disc = VitsDiscriminator(width=0.1, layout=layout)  # 0.1: a width the shapes alone cannot tell back
    state = {k: v.contiguous() for k, v in disc.state_dict().items()}
    save_file(state, str(tmp_path / "discriminator.safetensors"),
              metadata={"layout": layout, "width": "0.1", "periods": "2,3,5,7,11"})
    imported = read_discriminator(tmp_path)
    assert (imported.layout, imported.width) == (layout, 0.1)
    rebuilt = imported.build()
    wave = torch.randn(1, 1, 1200)
    with torch.no_grad():
        for a, b in zip(disc(wave)[0], rebuilt(wave)[0]):
            torch.testing.assert_close(a, b)
