"""model.warm_start: a model built from init_config starts from another saved model's weights,
except the named parts; nothing that does not fit is skipped silently."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from hf_vclone.config import RecipeError, recipe_from_dict
from hf_vclone.errors import UserError
from hf_vclone.finetune import FineTuneRun
from conftest import TINY_VITS
from test_vits_training import vits_recipe

FRESH = ["text_encoder", "duration_predictor"]


def phoneme_recipe(corpus: Path, source: Path, out: Path, exclude: list[str]) -> dict:
    """A VITS reading phonemes (a new vocabulary) warm-started from a letters VITS."""
    recipe = vits_recipe(corpus, source, out, max_steps=1)
    recipe["model"] = {"type": "vits", "name_or_path": None, "processor": "build",
                       "init_config": TINY_VITS, "warm_start": str(source), "warm_start_exclude": exclude}
    recipe["vits"]["phonemize"] = True
    return recipe


def test_a_phoneme_vits_keeps_the_letters_decoder_and_starts_its_text_side_fresh(
        corpus: Path, tiny_vits_base: Path, tmp_path: Path) -> None:
    source = load_file(str(tiny_vits_base / "model.safetensors"))
    job = FineTuneRun(recipe_from_dict(phoneme_recipe(corpus, tiny_vits_base, tmp_path / "out", FRESH)))
    job.setup()
    started = job.voice.tts.state_dict()
    kept = [k for k in started if not k.startswith(tuple(FRESH))]
    assert kept and all(torch.equal(started[k], source[k]) for k in kept)
    assert any(k.startswith("decoder") for k in kept) and any(k.startswith("flow") for k in kept)
    # the phoneme vocabulary is another size: the text encoder cannot have come from the source
    assert started["text_encoder.embed_tokens.weight"].shape != source["text_encoder.embed_tokens.weight"].shape
    fresh = [k for k in started if k.startswith("duration_predictor") and started[k].shape == source[k].shape
             and started[k].numel() > 1 and started[k].std() > 0]
    assert fresh and not all(torch.equal(started[k], source[k]) for k in fresh)
    assert job._meta().extra["warm_start"] == {"from": str(tiny_vits_base), "fresh": FRESH}


def test_a_part_that_does_not_fit_stops_the_run_naming_it(corpus: Path, tiny_vits_base: Path, tmp_path: Path) -> None:
    job = FineTuneRun(recipe_from_dict(phoneme_recipe(corpus, tiny_vits_base, tmp_path / "out", ["duration_predictor"])))
    with pytest.raises(UserError, match=r"model.warm_start: .*text_encoder.embed_tokens.weight .*model.warm_start_exclude"):
        job.setup()
    job = FineTuneRun(recipe_from_dict(phoneme_recipe(corpus, tiny_vits_base, tmp_path / "out2", ["text_encodr"])))
    with pytest.raises(UserError, match="model.warm_start_exclude: text_encodr names no part of the model"):
        job.setup()


def test_warm_start_keys_are_checked_before_any_data_is_prepared(corpus: Path, tiny_vits_base: Path,
                                                                   tmp_path: Path) -> None:
    pretrained = vits_recipe(corpus, tiny_vits_base, tmp_path / "out")
    pretrained["model"]["warm_start"] = str(tiny_vits_base)
    with pytest.raises(RecipeError, match="model.warm_start: starts a model built from model.init_config"):
        recipe_from_dict(pretrained)
    missing = phoneme_recipe(corpus, tmp_path / "no_such_voice", tmp_path / "out", FRESH)
    missing["model"]["warm_start"] = str(tmp_path / "no_such_voice")
    with pytest.raises(RecipeError, match="model.warm_start: .*no_such_voice is not a directory"):
        recipe_from_dict(missing)


def test_the_card_of_a_warm_started_voice_says_where_it_started() -> None:
    from hf_vclone.model_card import _summary
    from hf_vclone.voice_io import VoiceMeta

    meta = VoiceMeta("vits", None, "full")
    text = _summary(meta, {"train_minutes": 55.5, "train_clips": 996, "target_speaker": "us_f2",
                           "warm_start": {"from": "assets/vits_demo_base", "fresh": FRESH}}, None)
    assert ("trained from scratch with hf_vclone (warm-started from `assets/vits_demo_base`, all but "
            "`text_encoder`, `duration_predictor`)") in text


def test_the_alignment_prior_falls_and_the_kl_weight_rises_over_their_steps(
        corpus: Path, tiny_vits_base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """vits.alignment_prior_steps and vits.kl_warmup_steps: the trainer sets the weights step by step."""
    from hf_vclone.finetune import run
    from hf_vclone.models.vits import VitsVoice

    seen: list[tuple[float, float]] = []
    forward = VitsVoice.forward

    def spy(self, *args, **kwargs):
        if self.training:
            seen.append((self.alignment_prior_weight, self.kl_scale))
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(VitsVoice, "forward", spy)
    recipe = vits_recipe(corpus, tiny_vits_base, tmp_path / "out", max_steps=3)
    recipe["vits"] |= {"alignment_prior_steps": 2, "kl_warmup_steps": 2}
    run(recipe_from_dict(recipe))
    assert seen == [(1.0, 0.0), (0.5, 0.5), (0.0, 1.0)]  # the KL weight rises as the prior falls
