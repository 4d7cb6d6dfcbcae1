"""Hostile recipes: hundreds of malformed recipes, each refused with one clear line, never a traceback.

Every case starts from a valid recipe (the tiny one of conftest, evaluation off) and breaks one
thing: (a) a value of the wrong type, for every field of every section and every
TrainingArguments field; (b) an unknown key, everywhere; (c) options that contradict each other;
(d) files and folders that are missing or wrong; (e) values no run could use. Each is written to a
YAML file and run through `hf-vclone train` in-process. The assertion is the user's view: exit
code 2 and exactly one line on stderr, `hf-vclone train: error: ...`, naming the key or file.

The cases run in one test per kind that collects every failing case into one message: most
recipes are refused while loading (milliseconds each); the few that need the data listed or the
processor loaded are the slow ones.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import shutil
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file

from hf_vclone.cli import main
from hf_vclone.config import SECTIONS
from hf_vclone.config.schema import HUB_TRAINING_FIELDS

from conftest import tiny_recipe

PREFIX = "hf-vclone train: error:"


@dataclass
class Case:
    id: str
    recipe: dict | None = None  # written as YAML; None: `text` (or nothing at all) is the recipe file
    expect: tuple[str, ...] = ()  # every one of these appears in the error line
    overrides: tuple[str, ...] = ()
    text: str | bytes | None = None  # the recipe file's raw content, instead of `recipe`
    path: Path | None = None  # run this path as the recipe (for a missing file or a folder)


# ---- building blocks ----------------------------------------------------------------------------

def changed(base: dict, dotted: str, value: Any) -> dict:
    """A copy of `base` with `dotted` (e.g. strategy.layer_lr.decay) set, creating sections on the way."""
    recipe = copy.deepcopy(base)
    *parents, last = dotted.split(".")
    node = recipe
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return recipe


def with_all(base: dict, **sections: dict) -> dict:
    """A copy of `base` with several keys per section set at once: with_all(b, data={"streaming": True})."""
    recipe = copy.deepcopy(base)
    for section, values in sections.items():
        for dotted, value in values.items():
            recipe = changed(recipe, f"{section}.{dotted}", value)
    return recipe


def accepts(hint: Any) -> set[str]:
    """The kinds of YAML value a type hint allows (independent of hf_vclone's own checker)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return set().union(*(accepts(h) for h in typing.get_args(hint)))
    if origin is Literal:
        return {"literal"}
    if hint is type(None):
        return {"none"}
    if hint is list or origin is list:
        return {"list"}
    if hint is dict or origin is dict:
        return {"dict"}
    if hint is Any:
        return {"str", "list", "dict", "int", "bool"}
    if hint is bool:
        return {"bool"}
    if hint is int:
        return {"int"}
    if hint is float:
        return {"float", "int"}
    if isinstance(hint, type) and issubclass(hint, str):  # str and transformers' string enums
        return {"str"}
    return {"object"}


WRONG = {"str": "ten", "list": [1, 2], "dict": {"a": 1}, "int": 7, "bool": True}


def wrong_values(hint: Any, n: int) -> list[Any]:
    allowed = accepts(hint)
    return [value for kind, value in WRONG.items() if kind not in allowed][:n]


def section_fields() -> list[tuple[str, Any]]:
    """(dotted key, type hint) of every field of every section, nested sections included."""
    found = []

    def walk(cls: type, prefix: str) -> None:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            found.append((f"{prefix}.{f.name}", hints[f.name]))
            if dataclasses.is_dataclass(hints[f.name]):
                walk(hints[f.name], f"{prefix}.{f.name}")

    for name, cls in SECTIONS.items():
        walk(cls, name)
    return found


def training_fields() -> list[tuple[str, Any]]:
    from transformers import TrainingArguments

    return [(f.name, f.type) for f in dataclasses.fields(TrainingArguments)
            if f.name != "output_dir" and f.name not in HUB_TRAINING_FIELDS]


# ---- the cases, by kind ---------------------------------------------------------------------------

def wrong_types(base: dict, tmp: Path) -> list[Case]:
    cases = [
        Case(f"{key}={value!r}", changed(base, key, value), (key,))
        for key, hint in section_fields() for value in wrong_values(hint, 2)
    ]
    cases += [Case(f"training.{name}={value!r}", changed(base, f"training.{name}", value), (f"training.{name}",))
              for name, hint in training_fields() for value in wrong_values(hint, 1)]
    cases += [Case(f"{section}={value!r}", changed(base, section, value), (f"{section}: expected a mapping",))
              for section in [*SECTIONS, "training"] for value in ("ten", [1, 2])]
    lora = {"strategy": {"name": "lora"}}
    cases += [  # inside the mappings that are handed on to transformers and peft
        Case("config_overrides.hidden_size='x'", changed(base, "model.config_overrides", {"hidden_size": "x"}),
             ("model.config_overrides", "hidden_size")),
        Case("config_overrides.encoder_layers=[1]", changed(base, "model.config_overrides", {"encoder_layers": [1]}),
             ("model.config_overrides", "encoder_layers")),
        Case("init_config.hidden_size='x'", with_all(base, model={"init_config": {"hidden_size": "x"}}),
             ("model.init_config", "hidden_size")),
        Case("lora.r='x'", changed({**base, **lora}, "strategy.lora", {"r": "x"}), ("strategy.lora.r",)),
        Case("lora.target_modules=5", changed({**base, **lora}, "strategy.lora", {"target_modules": 5}),
             ("strategy.lora.target_modules",)),
        Case("lora.bias=true", changed({**base, **lora}, "strategy.lora", {"bias": True}), ("strategy.lora.bias",)),
        Case("layer_lr.groups value 'fast'", changed(base, "strategy.layer_lr.groups", {"speech_decoder_postnet.": "fast"}),
             ("strategy.layer_lr.groups",)),
        Case("exclude_speakers=[1, 2]", changed(base, "data.exclude_speakers", [1, 2]), ("data.exclude_speakers",)),
        Case("data.speaker=[['a']]", changed(base, "data.speaker", [["a"]]), ("data.speaker",)),
        Case("training.report_to=[1]", changed(base, "training.report_to", [1]), ("training.report_to",)),
    ]
    return cases


def unknown_keys(base: dict, tmp: Path) -> list[Case]:
    sections = [name for name, hint in section_fields() if dataclasses.is_dataclass(hint)] + list(SECTIONS)
    cases = []
    for section in [*sections, "training"]:
        for key in ("bogus_key", "nmae", "Path", "1"):
            cases.append(Case(f"{section}.{key}", changed(base, f"{section}.{key}", 1), (f"{section}.{key}",)))
    # Real field names with a letter too many (every 7th field): the message suggests the right one.
    cases += [Case(f"typo {key}s", changed(base, f"{key}s", 1), (f"{key}s", f"did you mean '{key.rsplit('.', 1)[1]}'"))
              for key, _ in section_fields()[:: 7]]
    cases += [Case(f"section {name}", {**base, name: {}}, (f"'{name}'",))
              for name in ("models", "Data", "strategies", "train", "trainer", "eval", "outputs", "push", "bogus")]
    cases += [
        Case("config_overrides unknown field", changed(base, "model.config_overrides", {"layerdrop": 0.0}),
             ("model.config_overrides.layerdrop", "did you mean")),
        Case("init_config unknown field", with_all(base, model={"init_config": {"hiden_size": 32}}),
             ("model.init_config.hiden_size", "did you mean 'hidden_size'")),
        Case("lora field unknown to peft", with_all(base, strategy={"name": "lora", "lora": {"lora_alpah": 4}}),
             ("strategy.lora.lora_alpah", "did you mean 'lora_alpha'")),
        Case("integer section", {**base, 7: {}}, ("'7'",)),
        Case("override unknown key", base, ("data.bogus",), overrides=("data.bogus=1",)),
        Case("override nested unknown key", base, ("strategy.layer_lr.x",), overrides=("strategy.layer_lr.x=1",)),
        Case("override unknown section", base, ("'nosection'",), overrides=("nosection.x=1",)),
        Case("override training typo", base, ("training.max_stepz", "did you mean 'max_steps'"),
             overrides=("training.max_stepz=3",)),
    ]
    return cases


def conflicts(base: dict, tmp: Path) -> list[Case]:
    vector = tmp / "speaker.npy"
    np.save(vector, np.ones(16, np.float32) / 4)
    streaming = {"streaming": True}
    return [
        Case("speaker_embedding with a file speaker", with_all(
            base, strategy={"name": "speaker_embedding"}, speaker={"mode": "file", "path": str(vector)}),
             ("speaker.mode: learned",)),
        Case("speaker_embedding with per_speaker", with_all(
            base, strategy={"name": "speaker_embedding"}, speaker={"mode": "per_speaker"}), ("speaker.mode",)),
        Case("auto may pick speaker_embedding, speaker fixed", with_all(
            base, strategy={"name": "auto", "auto.little_similar": "speaker_embedding"},
            speaker={"mode": "per_speaker"}), ("speaker.mode",)),
        Case("layer_lr decay with lora", with_all(base, strategy={"name": "lora", "layer_lr.decay": 0.5}),
             ("strategy.layer_lr",)),
        Case("layer_lr groups with head_only", with_all(
            base, strategy={"name": "head_only", "layer_lr.groups": {"speech_decoder_postnet.": 2.0}}),
             ("strategy.layer_lr",)),
        Case("layer_lr with speaker_embedding", with_all(
            base, strategy={"name": "speaker_embedding", "layer_lr.decay": 0.3}), ("strategy.layer_lr",)),
        Case("layer_lr with auto", with_all(base, strategy={"name": "auto", "layer_lr.decay": 0.3}),
             ("strategy.layer_lr",)),
        Case("lora settings without lora", with_all(base, strategy={"name": "full", "lora": {"r": 4}}),
             ("strategy.lora",)),
        Case("auto from scratch", with_all(base, strategy={"name": "auto"}, model={"init_config": {"hidden_size": 32}}),
             ("model.init_config",)),
        Case("auto with streaming", with_all(base, strategy={"name": "auto"}, data=streaming), ("data.streaming",)),
        Case("speaker file without a path", changed(base, "speaker.mode", "file"), ("speaker.path",)),
        Case("best model without evaluation", changed(base, "training.load_best_model_at_end", True),
             ("training.load_best_model_at_end",)),
        Case("best metric without evaluation", changed(base, "training.metric_for_best_model", "loss"),
             ("training.metric_for_best_model",)),
        Case("best model, eval and save strategies differ", with_all(base, training={
            "load_best_model_at_end": True, "eval_strategy": "steps", "eval_steps": 2, "save_strategy": "no"}),
             ("load_best_model_at_end",)),
        Case("evaluation without held-out clips", with_all(
            base, training={"eval_strategy": "steps"}, data={"eval_size": 0}), ("data.eval_size",)),
        Case("streaming without max_steps", with_all(base, training={"max_steps": -1}, data=streaming),
             ("training.max_steps",)),
        Case("streaming with max_minutes", with_all(base, data={**streaming, "max_minutes": 1.0}),
             ("data.max_minutes",)),
        Case("no epochs and no max_steps", with_all(base, training={"max_steps": -1, "num_train_epochs": 0}),
             ("training.num_train_epochs",)),
        Case("min_seconds above max_seconds", with_all(base, data={"min_seconds": 5.0, "max_seconds": 2.0}),
             ("data.min_seconds", "data.max_seconds")),
        Case("minlenratio above maxlenratio", with_all(base, evaluation={"minlenratio": 3.0, "maxlenratio": 2.0}),
             ("evaluation.minlenratio",)),
        Case("plateau schedule without evaluation", changed(base, "training.lr_scheduler_type", "reduce_lr_on_plateau"),
             ("reduce_lr_on_plateau",)),
        Case("deepspeed without deepspeed", changed(base, "training.deepspeed", str(tmp / "ds.json")), ("deepspeed",)),
        Case("no model and no init_config", changed(base, "model.name_or_path", None), ("model.name_or_path",)),
        Case("training.output_dir", changed(base, "training.output_dir", str(tmp / "x")), ("output.dir",)),
        *[Case(f"training.{name}", changed(base, f"training.{name}", value), (f"training.{name}", "push_to_hub"))
          for name, value in [("push_to_hub", True), ("hub_token", "hf_xxx"), ("hub_model_id", "me/voice"),
                              ("hub_private_repo", True)]],
    ]


def missing_files(base: dict, tmp: Path, corpus: Path, tiny_base: Path) -> list[Case]:
    no_weights = tmp / "no_weights"
    shutil.copytree(tiny_base, no_weights, ignore=shutil.ignore_patterns("model.safetensors"))
    pickled = tmp / "pickled"
    shutil.copytree(tiny_base, pickled, ignore=shutil.ignore_patterns("model.safetensors"))
    torch.save(load_file(str(tiny_base / "model.safetensors")), pickled / "pytorch_model.bin")
    short_vector = tmp / "short.npy"
    np.save(short_vector, np.ones(8, np.float32))
    empty_lj = tmp / "empty_lj"
    (empty_lj / "wavs").mkdir(parents=True)
    (empty_lj / "metadata.csv").write_text("")
    empty_dir = tmp / "empty_dir"
    empty_dir.mkdir()
    a_file = tmp / "a_file.txt"
    a_file.write_text("not a folder")
    wav = next((corpus / "us_f5" / "wavs").glob("*.wav"))
    outside = tmp / "outside.wav"
    shutil.copy(wav, outside)
    escapes = {}
    for name, audio, suffix in [("dotdot", "../outside.wav", ".csv"), ("absolute", str(outside), ".jsonl"),
                                ("symlink", "link.wav", ".csv")]:
        root = tmp / f"manifest_{name}"
        root.mkdir()
        if name == "symlink":
            (root / "link.wav").symlink_to(outside)
        manifest = root / f"manifest{suffix}"
        if suffix == ".csv":
            manifest.write_text(f"audio,text\n{audio},Hello there.\n")
        else:
            manifest.write_text(json.dumps({"audio": audio, "text": "Hello there."}) + "\n")
        escapes[name] = manifest
    no_text = tmp / "no_text" / "manifest.csv"
    no_text.parent.mkdir()
    no_text.write_text("audio,transcript\na.wav,Hello.\n")

    def data(**fields: Any) -> dict:
        return {**base, "data": fields}

    missing = tmp / "missing"
    return [
        Case("data.path missing", changed(base, "data.path", str(missing / "corpus")), ("data.path", "missing/corpus")),
        Case("data.path is a file", changed(base, "data.path", str(a_file)), ("data.path", "a_file.txt")),
        Case("data.path empty metadata.csv", changed(base, "data.path", str(empty_lj)), ("data.path", "empty_lj")),
        Case("data.path folder without metadata", changed(base, "data.path", str(empty_dir)), ("metadata.csv",)),
        *[Case(f"manifest escapes the data root ({name})", data(format="manifest", path=str(path)),
               ("escapes the data root",)) for name, path in escapes.items()],
        Case("manifest missing", data(format="manifest", path=str(missing / "m.csv")), ("data.path", "m.csv")),
        Case("manifest neither csv nor jsonl", data(format="manifest", path=str(a_file)), ("data.path", ".jsonl")),
        Case("manifest without a text column", data(format="manifest", path=str(no_text)), ("'text'",)),
        Case("model.name_or_path missing dir", changed(base, "model.name_or_path", str(missing / "base")),
             ("model.name_or_path", "is not a directory")),
        Case("model.name_or_path relative missing dir", changed(base, "model.name_or_path", "./no/such/base"),
             ("model.name_or_path",)),
        Case("model.name_or_path a file", changed(base, "model.name_or_path", str(a_file)), ("model.name_or_path",)),
        Case("model dir without weights", changed(base, "model.name_or_path", str(no_weights)),
             ("model.name_or_path", "safetensors")),
        Case("model dir with only a pickle", changed(base, "model.name_or_path", str(pickled)),
             ("model.name_or_path", "pytorch_model.bin", "safetensors")),
        Case("model.processor missing", changed(base, "model.processor", str(missing / "processor")),
             ("model.processor",)),
        Case("model.processor empty dir", changed(base, "model.processor", str(empty_dir)), ("model.processor",)),
        Case("model.vocoder missing", changed(base, "model.vocoder", str(missing / "hifigan")), ("model.vocoder",)),
        Case("model.vocoder without weights", changed(base, "model.vocoder", str(empty_dir)),
             ("model.vocoder", "safetensors")),
        Case("speaker.path missing", with_all(base, speaker={"mode": "file", "path": str(missing / "x.npy")}),
             ("speaker.path", "x.npy")),
        Case("speaker.path a folder", with_all(base, speaker={"mode": "file", "path": str(empty_dir)}),
             ("speaker.path",)),
        Case("speaker.init missing .npy", changed(base, "speaker.init", str(missing / "init.npy")),
             ("speaker.init", "init.npy")),
        Case("speaker.init vector of the wrong size", changed(base, "speaker.init", str(short_vector)),
             ("short.npy", "has 8 values")),
        Case("training.resume_from_checkpoint missing", changed(
            base, "training.resume_from_checkpoint", str(missing / "checkpoint-4")),
             ("training.resume_from_checkpoint", "checkpoint-4")),
        Case("speaker.init misspelt", changed(base, "speaker.init", "base-mean"), ("speaker.init", "base_mean")),
        Case("evaluation.speaker_encoder missing", changed(base, "evaluation.speaker_encoder", str(missing / "enc")),
             ("evaluation.speaker_encoder",)),
        Case("evaluation.asr_model missing", changed(base, "evaluation.asr_model", str(missing / "asr")),
             ("evaluation.asr_model",)),
        Case("output.dir under a file", changed(base, "output.dir", str(a_file / "run")), ("output.dir",)),
        Case("output.dir is a file", changed(base, "output.dir", str(a_file)), ("output.dir",)),
        Case("recipe file missing", path=missing / "recipe.yaml", expect=("missing/recipe.yaml", "does not exist")),
        Case("recipe path is a folder", path=empty_dir, expect=("empty_dir", "not a file")),
        Case("recipe is not YAML", text="model: [unclosed\ndata: {", expect=("not valid YAML", "line")),
        Case("recipe with a tab indent", text="model:\n\tname_or_path: x\n", expect=("not valid YAML",)),
        Case("recipe is binary", text=b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", expect=("not a text file",)),
        Case("recipe has an unhashable key", text="? [a, b]\n: 1\n", expect=("not valid YAML",)),
        Case("recipe top level is a list", text="- model\n- data\n", expect=("top level", "list")),
        Case("recipe top level is a string", text="just some words\n", expect=("top level", "str")),
        Case("recipe is empty", text="", expect=("data.path",)),
    ]


def impossible_values(base: dict, tmp: Path) -> list[Case]:
    values = [
        ("data.eval_size", -1), ("data.max_minutes", 0), ("data.max_minutes", -5.0), ("data.max_minutes", float("nan")),
        ("data.min_seconds", -1.0), ("data.max_seconds", 0), ("data.max_bad_fraction", 1.5),
        ("data.max_bad_fraction", -0.1), ("data.max_clipped_fraction", 2.0), ("data.min_sample_rate_ratio", 0),
        ("data.min_sample_rate_ratio", 1.5), ("data.trim_top_db", 0), ("data.trim_top_db", -40),
        ("data.num_proc", 0), ("data.num_proc", -2), ("data.path", ""), ("data.path", "   "),
        ("data.loudness_lufs", 10.0), ("data.chars_per_second_z", 0), ("data.speaker", []), ("data.speaker", ""),
        ("data.format", "wav"), ("data.unknown_characters", "drop"), ("data.language", "xx-nonsense"),
        ("data.speaker", "nobody"),
        ("strategy.name", "bogus"), ("strategy.freeze_layers", -1), ("strategy.l2sp", -0.1),
        ("strategy.l2sp", float("inf")), ("strategy.layer_lr.decay", 0), ("strategy.layer_lr.decay", 1.5),
        ("strategy.layer_lr.top", 0), ("strategy.layer_lr.groups", {"speech_decoder_postnet.": 0}),
        ("strategy.layer_lr.groups", {"speech_decoder_postnet.": -1.0}), ("strategy.auto.little_minutes", 0),
        ("strategy.auto.probe_sentences", 0), ("strategy.auto.similar_above", 2.0),
        ("strategy.auto.little_similar", "full"), ("strategy.auto.much_similar", "lora"),
        ("strategy.auto.much_dissimilar", "head_only"),
        ("speaker.mode", "bogus"), ("model.type", "tacotron"), ("output.save_dtype", "int8"),
        ("evaluation.num_samples", -1), ("evaluation.during_training", -1), ("evaluation.minlenratio", -0.5),
        ("evaluation.maxlenratio", 0), ("run.max_nonfinite_steps", 0), ("push_to_hub.repo_id", "no-slash"),
        ("push_to_hub.repo_id", "a/b/c"), ("push_to_hub.repo_id", ""), ("push_to_hub.repo_id", "me/has space"),
        ("output.dir", ""),
        ("training.learning_rate", 0), ("training.learning_rate", -1e-4), ("training.per_device_train_batch_size", 0),
        ("training.gradient_accumulation_steps", 0), ("training.lr_scheduler_type", "bogus"),
        ("training.eval_strategy", "sometimes"), ("training.save_strategy", "bogus"), ("training.optim", "bogus"),
        ("training.report_to", "bogus"), ("training.report_to", ["none", "bogus"]), ("training.logging_steps", 0),
        ("training.save_steps", 0), ("training.seed", 2**40), ("training.per_device_eval_batch_size", 0),
        ("training.dataloader_num_workers", -1), ("training.warmup_steps", -1),
        ("data.seed", -1), ("evaluation.seed", -1),
        # found after listing the data or loading the model: slower, so only a few
        ("data.eval_size", 100), ("data.max_minutes", 0.0001), ("data.min_seconds", 15.0),
    ]
    cases = [Case(f"{key}={value!r}", changed(base, key, value), (key,)) for key, value in values]
    lora = {**base, "strategy": {"name": "lora"}}
    cases += [
        Case("freeze_layers=99 of 2", with_all(base, strategy={"name": "freeze_lower", "freeze_layers": 99}),
             ("strategy.freeze_layers",)),
        Case("lora.r=0", changed(lora, "strategy.lora", {"r": 0}), ("strategy.lora.r",)),
        Case("lora.target_modules matches nothing", changed(lora, "strategy.lora", {"target_modules": ["nope"]}),
             ("strategy.lora.target_modules",)),
    ]
    overrides = [
        ("training.max_steps=abc", "training.max_steps"), ("nokey", "'nokey'"),
        ("data.eval_size.x=1", "data.eval_size"), ("=1", "'=1'"), (".x=1", "'.x=1'"), ("data..path=x", "'data..path=x'"),
        ("data.path=[unclosed", "data.path"), ("training=5", "training: expected a mapping"),
        ("strategy.name=bogus", "strategy.name"), ("data.eval_size=-3", "data.eval_size"),
        ("output.dir.sub=x", "output.dir"), ("data.path=", "data.path"),
    ]
    cases += [Case(f"override {item}", base, (needle,), overrides=(item,)) for item, needle in overrides]
    return cases


# ---- running them -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def quiet_progress():
    """Progress bars (datasets' map, transformers' weight loading) write to stderr; the error line is
    what these tests read there."""
    import datasets
    from transformers.utils import logging as transformers_logging

    datasets.disable_progress_bars()
    transformers_logging.disable_progress_bar()
    yield
    datasets.enable_progress_bars()
    transformers_logging.enable_progress_bar()


def failure(case: Case, number: int, tmp: Path, capsys: pytest.CaptureFixture) -> str | None:
    """Run one case through `hf-vclone train`; None when it is refused as it should be, else what went wrong."""
    path = case.path or tmp / f"case_{number}.yaml"
    if case.recipe is not None:
        path.write_text(yaml.safe_dump(case.recipe), encoding="utf-8")
    elif isinstance(case.text, bytes):
        path.write_bytes(case.text)
    elif case.text is not None:
        path.write_text(case.text, encoding="utf-8")
    try:
        code = main(["train", str(path), *case.overrides])
    except BaseException as err:  # noqa: BLE001 - a traceback is the failure this test looks for
        capsys.readouterr()
        return f"{case.id}: raised {type(err).__name__}: {' '.join(str(err).split())[:300]}"
    err = capsys.readouterr().err
    wrong = []
    if code != 2:
        wrong.append(f"exit code {code}")
    if len(err.splitlines()) != 1:
        wrong.append(f"{len(err.splitlines())} lines")
    if not err.startswith(PREFIX):
        wrong.append("no error prefix")
    if "Traceback" in err:
        wrong.append("traceback")
    wrong += [f"does not name {needle!r}" for needle in case.expect if needle not in err]
    return f"{case.id}: {', '.join(wrong)}: {err.strip()[:400]!r}" if wrong else None


def run_cases(cases: list[Case], tmp: Path, capsys: pytest.CaptureFixture) -> None:
    ids = [case.id for case in cases]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    failures = [f for number, case in enumerate(cases) if (f := failure(case, number, tmp, capsys))]
    assert not failures, f"{len(failures)} of {len(cases)} cases failed:\n" + "\n".join(failures)


@pytest.fixture()
def base(corpus: Path, tiny_base: Path, tmp_path: Path) -> dict:
    return tiny_recipe(corpus, tiny_base, tmp_path / "out", evaluation={"enabled": False})


def test_wrong_types(base: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run_cases(wrong_types(base, tmp_path), tmp_path, capsys)


def test_unknown_keys(base: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run_cases(unknown_keys(base, tmp_path), tmp_path, capsys)


def test_conflicting_options(base: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run_cases(conflicts(base, tmp_path), tmp_path, capsys)


def test_missing_files_and_directories(base: dict, corpus: Path, tiny_base: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture, quiet_progress: None) -> None:
    run_cases(missing_files(base, tmp_path, corpus, tiny_base), tmp_path, capsys)


def test_impossible_values(base: dict, tmp_path: Path, capsys: pytest.CaptureFixture, quiet_progress: None) -> None:
    run_cases(impossible_values(base, tmp_path), tmp_path, capsys)


def model_build_failures(base: dict) -> list[Case]:
    """Refused only when the model is built (after the data is prepared): the slow cases."""
    from conftest import TINY

    return [
        Case("config_overrides that change weight shapes", changed(base, "model.config_overrides", {"vocab_size": 5}),
             ("model.config_overrides",)),
        Case("init_config heads do not divide hidden_size", with_all(base, model={
            "init_config": {**TINY, "hidden_size": 30, "encoder_attention_heads": 4}, "processor": "build"}),
             ("model.init_config",)),
    ]


def test_architectures_that_cannot_be_built(base: dict, tmp_path: Path, capsys: pytest.CaptureFixture,
                                            quiet_progress: None) -> None:
    run_cases(model_build_failures(base), tmp_path, capsys)


def test_there_are_hundreds_of_distinct_cases(base: dict, corpus: Path, tiny_base: Path, tmp_path: Path) -> None:
    for name in "abcde":
        (tmp_path / name).mkdir()
    kinds = {
        "wrong types": wrong_types(base, tmp_path / "a"),
        "unknown keys": unknown_keys(base, tmp_path / "b"),
        "conflicts": conflicts(base, tmp_path / "c"),
        "missing files": missing_files(base, tmp_path / "d", corpus, tiny_base),
        "impossible values": impossible_values(base, tmp_path / "e"),
    }
    counts = {kind: len(cases) for kind, cases in kinds.items()}
    assert all(n >= 10 for n in counts.values()), counts
    assert sum(counts.values()) >= 200, counts
    # Distinct: no two cases of a kind write the same recipe with the same overrides.
    for kind, cases in kinds.items():
        recipes = [yaml.safe_dump(c.recipe) + repr(c.overrides) + repr(c.text) + repr(c.path) for c in cases]
        assert len(set(recipes)) == len(recipes), kind


def test_several_problems_are_listed_one_per_line(base: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    recipe = with_all(base, data={"eval_size": "ten", "max_bad_fraction": 2.0}, strategy={"nmae": "full"})
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    assert main(["train", str(path), "training.max_steps=abc"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == f"{PREFIX} 4 problems in {path}:"
    assert [line.split(":")[0] for line in lines[1:]] == [
        "  - data.eval_size", "  - strategy.nmae", "  - training.max_steps", "  - data.max_bad_fraction"]
