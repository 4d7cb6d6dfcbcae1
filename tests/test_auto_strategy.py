"""strategy: auto follows the practice's table, measures similarity with the base, and says why."""

import json
from pathlib import Path

import pytest

from conftest import tiny_recipe
from hf_vclone.auto_strategy import choose
from hf_vclone.config import AutoConfig, recipe_from_dict
from hf_vclone.finetune import FineTuneRun


@pytest.mark.parametrize("minutes, similarity, expected", [
    (1.0, 0.9, "head_only"),       # little, similar
    (20.0, 0.9, "freeze_lower"),   # much, similar: the upper layers
    (1.0, 0.1, "freeze_lower"),    # little, dissimilar
    (20.0, 0.1, "full"),           # much, dissimilar
    (3.0, 0.61, "head_only"),      # the thresholds: <= little_minutes is little, > similar_above is similar
    (3.01, 0.6, "full"),
])
def test_the_four_cases_and_their_thresholds(minutes: float, similarity: float, expected: str) -> None:
    name, reason = choose(minutes, similarity, AutoConfig(little_minutes=3.0, similar_above=0.6))
    assert name == expected
    assert f"{minutes:.1f} min" in reason and f"{similarity:.2f}" in reason and expected in reason


def test_the_named_choices_for_similar_voices_are_settings() -> None:
    cfg = AutoConfig(little_similar="speaker_embedding", much_similar="full", much_dissimilar="freeze_lower")
    assert choose(0.5, 0.9, cfg)[0] == "speaker_embedding"
    assert choose(30.0, 0.9, cfg)[0] == "full"
    name, reason = choose(30.0, 0.1, cfg)
    assert name == "freeze_lower" and "auto.much_dissimilar" in reason
    assert choose(0.5, 0.1, cfg)[0] == "freeze_lower"  # little, dissimilar is not a setting


@pytest.mark.parametrize("similar_above, expected", [(0.99, "freeze_lower"), (-1.0, "head_only")])
def test_auto_measures_the_base_and_records_its_choice_with_the_voice(
    similar_above: float, expected: str, corpus: Path, tiny_base: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture
) -> None:
    raw = tiny_recipe(corpus, tiny_base, tmp_path, evaluation={"enabled": False},
                      strategy={"name": "auto", "auto": {"similar_above": similar_above}})
    job = FineTuneRun(recipe_from_dict(raw))
    job.setup()
    choice = job.choice
    assert choice.name == job.strategy_name == expected
    assert 0 < choice.minutes < 3 and -1 <= choice.similarity <= 1 and choice.encoder
    assert choice.nearest_voice in ("gb_m3", "rp_f4", "sc_m2", "us_f2", "us_m1")  # the tiny base's voices
    assert f"strategy auto: {choice.reason}" in capsys.readouterr().out
    job.train()
    job.finish(0.0)
    meta = json.loads((tmp_path / "vclone.json").read_text())
    assert meta["strategy"] == expected and meta["strategy_choice"]["reason"] == choice.reason
