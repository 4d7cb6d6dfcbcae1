from pathlib import Path

import pytest
import torch
import yaml

from hf_vclone.config import RecipeError, load_recipe, recipe_from_dict
from hf_vclone.backends import BACKENDS
from hf_vclone.strategies import STRATEGIES

RECIPES = sorted((Path(__file__).parents[1] / "recipes").glob("*.yaml"))


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_every_shipped_recipe_loads_and_says_how_to_launch(path: Path) -> None:
    recipe = load_recipe(path)
    if recipe.training.get("bf16") is True and not recipe.training.get("use_cpu") and not torch.cuda.is_available():
        # A GPU recipe with bf16: TrainingArguments refuses bf16 without a GPU unless told to use the CPU.
        with pytest.raises(RecipeError, match="bf16"):
            recipe.training_arguments()
        recipe = load_recipe(path, ["training.use_cpu=true"])
    recipe.training_arguments()
    header = path.read_text().splitlines()[:8]
    assert any("train.py" in line and path.name in line for line in header), "header must give the launch command"


def test_unknown_keys_and_wrong_types_are_all_reported_at_once() -> None:
    raw = {
        "model": {"nme_or_path": "x"},
        "data": {"path": "d", "eval_size": "ten", "speaker": 225},
        "strategy": {"name": "bogus"},
        "training": {"learning_rat": 1e-4, "max_steps": "many"},
        "extra": {},
    }
    with pytest.raises(RecipeError) as info:
        recipe_from_dict(raw)
    message = str(info.value)
    for needle in ["model.nme_or_path", "data.eval_size", "data.speaker", "strategy.name", "full, freeze_lower, lora",
                   "training.learning_rat", "training.max_steps", "unknown section 'extra'"]:
        assert needle in message
    assert len(info.value.problems) == 7


def test_overrides_reach_nested_fields_and_parse_yaml_values() -> None:
    recipe = recipe_from_dict(
        {"data": {"path": "d"}},
        ["strategy.name=lora", "strategy.lora.r=4", "training.learning_rate=1e-4", "data.speaker=[a, b]"],
    )
    assert recipe.strategy.name == "lora"
    assert recipe.strategy.lora == {"r": 4}
    assert recipe.data.speaker == ["a", "b"]
    assert recipe.training_arguments().learning_rate == pytest.approx(1e-4)


def test_bad_override_is_named() -> None:
    with pytest.raises(RecipeError, match="training.max_stepz"):
        recipe_from_dict({}, ["training.max_stepz=3"])
    with pytest.raises(RecipeError, match="key.sub=value"):
        recipe_from_dict({}, ["nonsense"])


def test_output_dir_lives_in_one_place() -> None:
    with pytest.raises(RecipeError, match="output.dir"):
        recipe_from_dict({"training": {"output_dir": "x"}})


def test_missing_recipe_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match="does not exist"):
        load_recipe(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed")
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_recipe(bad)


def test_config_choices_match_the_registries() -> None:
    import typing

    from hf_vclone.config import BackendName, StrategyName

    assert set(typing.get_args(StrategyName)) == set(STRATEGIES) | {"auto"}  # auto resolves to one of them
    assert set(typing.get_args(BackendName)) == set(BACKENDS)


def test_recipe_round_trips_through_yaml(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({"data": {"path": "d"}, "strategy": {"name": "freeze_lower", "freeze_layers": 2}}))
    assert load_recipe(path).strategy.freeze_layers == 2


@pytest.mark.parametrize("native", [True, False])
def test_bf16_auto_is_bf16_only_where_the_cpu_has_it_natively(native: bool, monkeypatch: pytest.MonkeyPatch,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: native)
    recipe = recipe_from_dict({"data": {"path": "d"}, "training": {"bf16": "auto", "use_cpu": True}})
    with caplog.at_level("INFO", logger="hf_vclone.config.schema"):
        args = recipe.training_arguments()
    assert args.bf16 is native
    said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    # auto never asks for emulated bf16, and says so when it falls back to float32
    assert not said if native else (len(said) == 1 and "float32" in said[0])
    assert recipe.training["bf16"] == "auto"  # the recipe (and its model card) keeps what the user wrote


def test_bf16_takes_true_false_or_auto_only() -> None:
    with pytest.raises(RecipeError, match="training.bf16"):
        recipe_from_dict({"data": {"path": "d"}, "training": {"bf16": "sometimes"}})


def test_bf16_on_a_cpu_without_native_bf16_is_warned_with_the_fix(caplog: pytest.LogCaptureFixture) -> None:
    from transformers import TrainingArguments

    from hf_vclone.config.schema import warn_if_bf16_is_emulated

    bf16 = TrainingArguments(output_dir="unused", use_cpu=True, bf16=True, report_to="none")
    with caplog.at_level("WARNING", logger="hf_vclone.config.schema"):
        warn_if_bf16_is_emulated(bf16, native_bf16=True)
        assert not caplog.records
        warn_if_bf16_is_emulated(TrainingArguments(output_dir="unused", use_cpu=True, report_to="none"),
                                 native_bf16=False)
        assert not caplog.records  # float32: nothing to say
        warn_if_bf16_is_emulated(bf16, native_bf16=False)
    assert len(caplog.records) == 1 and "training.bf16=false" in caplog.records[0].getMessage()
