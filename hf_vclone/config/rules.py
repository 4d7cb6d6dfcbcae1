"""Values no run could use, and settings that contradict each other, each naming its key(s)."""

from __future__ import annotations

import dataclasses
import math
import operator
import re
import typing
from collections.abc import Callable
from typing import Any

from ..models import speecht5_section, tacotron2_section, vits_section
from ..ranges import fraction as _fraction
from .files import missing_files
from .schema import SECTIONS_BY_BACKEND, ModelConfig, Recipe, StrategyConfig
from .typecheck import check_type, did_you_mean


# ---- values and combinations ------------------------------------------------------------------
# Run after the type checks, on values of the right type: what no run could use, and settings
# that contradict each other. Each rule names its key(s) and says what would work.

# (key, holds for the value, what the value must be): the problem reads "key: expected ..., got value"
RANGES: list[tuple[str, Callable[[Any], bool], str]] = (speecht5_section.RANGES + vits_section.RANGES
                                                         + tacotron2_section.RANGES) + [
    ("data.path", lambda v: bool(v.strip()), "a corpus folder, manifest file or Hub dataset id (with "
                                              "data.generate_demo: the folder to write the demo corpus to)"),
    ("data.speaker", lambda v: v is None or (bool(v) if isinstance(v, list) else bool(v.strip())),
     "a speaker name or a non-empty list of names, or null for every speaker"),
    ("data.eval_size", lambda v: v >= 0, "0 or more held-out clips"),
    ("data.demo_clips_per_voice", lambda v: v >= 1, "1 or more sentences per base voice"),
    ("data.max_minutes", lambda v: v is None or v > 0, "minutes above 0, or null for all the audio"),
    ("data.min_seconds", lambda v: v >= 0, "0 or more seconds"),
    ("data.max_seconds", lambda v: v > 0, "seconds above 0"),
    ("data.max_bad_fraction", _fraction, "a share from 0 to 1, e.g. 0.5"),
    ("data.max_clipped_fraction", _fraction, "a share from 0 to 1, e.g. 0.01"),
    ("data.min_sample_rate_ratio", lambda v: 0 < v <= 1, "a ratio above 0 and at most 1, e.g. 0.5"),
    ("data.trim_top_db", lambda v: v > 0, "decibels above 0, e.g. 40"),
    ("data.loudness_lufs", lambda v: -70 <= v <= 0, "a loudness target from -70 to 0 LUFS, e.g. -23"),
    ("data.chars_per_second_z", lambda v: v is None or v > 0, "a z-score limit above 0, or null for no check"),
    ("data.num_proc", lambda v: v is None or v >= 1, "1 or more worker processes, or null"),
    ("data.replacements", lambda v: all(v), "a map from characters (each non-empty) to what replaces them, e.g. {é: e}"),
    ("data.seed", lambda v: 0 <= v < 2**32, "a seed from 0 to 2**32 - 1"),
    ("evaluation.seed", lambda v: 0 <= v < 2**32, "a seed from 0 to 2**32 - 1"),
    ("training.seed", lambda v: 0 <= v < 2**32, "a seed from 0 to 2**32 - 1"),
    ("training.data_seed", lambda v: v is None or 0 <= v < 2**32, "a seed from 0 to 2**32 - 1, or null"),
    ("strategy.freeze_layers", lambda v: v >= 0, "0 or more layers"),
    ("strategy.l2sp", lambda v: 0 <= v < math.inf, "a weight of 0 (off) or more"),
    ("strategy.layer_lr.decay", lambda v: v is None or 0 < v <= 1, "a factor above 0 and at most 1 (e.g. 0.3), or null"),
    ("strategy.layer_lr.top", lambda v: 0 < v < math.inf, "a multiplier above 0"),
    ("strategy.layer_lr.groups", lambda v: all(0 < m < math.inf for m in v.values()), "multipliers above 0"),
    ("strategy.auto.little_minutes", lambda v: 0 < v < math.inf, "minutes above 0"),
    ("strategy.auto.probe_sentences", lambda v: v >= 1, "1 or more sentences"),
    ("strategy.auto.similar_above", lambda v: -1 <= v <= 1, "a cosine similarity from -1 to 1"),
    ("evaluation.num_samples", lambda v: v >= 0, "0 or more sentences"),
    ("evaluation.during_training", lambda v: v >= 0, "0 or more sentences"),
    ("evaluation.test_sentences", lambda v: all(t.strip() for t in v), "a list of sentences, none of them empty"),
    ("evaluation.minlenratio", lambda v: 0 <= v < math.inf, "a ratio of 0 or more"),
    ("evaluation.maxlenratio", lambda v: 0 < v < math.inf, "a ratio above 0"),
    ("run.max_nonfinite_steps", lambda v: v >= 1, "1 or more steps"),
    ("push_to_hub.repo_id", lambda v: v is None or bool(REPO_ID.fullmatch(v)), "a Hub repo id like your-name/my-voice"),
    ("output.dir", lambda v: bool(v.strip()), "a folder for the run's outputs"),
    ("training.learning_rate", lambda v: 0 < v < math.inf, "a rate above 0, e.g. 1e-4"),
    ("training.per_device_train_batch_size", lambda v: v >= 1, "1 or more clips per batch"),
    ("training.per_device_eval_batch_size", lambda v: v >= 1, "1 or more clips per batch"),
    ("training.gradient_accumulation_steps", lambda v: v >= 1, "1 or more steps"),
    ("training.warmup_steps", lambda v: v >= 0, "0 or more steps (or a fraction of the run below 1)"),
    ("training.dataloader_num_workers", lambda v: v >= 0, "0 (load in the main process) or more workers"),
    ("training.logging_steps", lambda v: v > 0, "steps above 0 (or a fraction of the run below 1)"),
    ("training.eval_steps", lambda v: v is None or v > 0, "steps above 0 (or a fraction of the run below 1)"),
    ("training.save_steps", lambda v: v > 0, "steps above 0 (or a fraction of the run below 1)"),
]
REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}")


def value_problems(recipe: Recipe, skip: set[str]) -> list[str]:
    """Impossible values, contradicting settings and missing local files, as problems naming their keys.
    A rule about a key in `skip` (or in a section in `skip`) is left out: that key is already reported."""
    problems, skip = [], set(skip)
    for key, holds, expected in RANGES:
        value = _lookup(recipe, key)
        if value is not _UNSET and not _is_skipped(key, skip) and not holds(value):
            problems.append(f"{key}: expected {expected}, got {value!r}")
            skip.add(key)  # and not again in a combination
    for keys, problem in _conflicts(recipe) + missing_files(recipe):
        if not any(_is_skipped(k, skip) for k in keys):
            problems.append(problem)
    return problems


_UNSET = object()


def _lookup(recipe: Recipe, key: str) -> Any:
    section, _, rest = key.partition(".")
    if section == "training":
        return recipe.training.get(rest, _training_default(rest))
    return operator.attrgetter(key)(recipe)


def _training_default(name: str) -> Any:
    from transformers import TrainingArguments

    field_ = TrainingArguments.__dataclass_fields__.get(name)
    return _UNSET if field_ is None or field_.default is dataclasses.MISSING else field_.default


def _is_skipped(key: str, skip: set[str]) -> bool:
    return any(key == s or key.startswith(f"{s}.") for s in skip)


def _conflicts(r: Recipe) -> list[tuple[tuple[str, ...], str]]:
    """Settings that contradict each other: (the keys involved, the problem), for those that do."""
    s, d, t = r.strategy, r.data, r.training
    evaluates = str(t.get("eval_strategy", "no")) != "no"
    max_steps = t.get("max_steps", -1)
    picks_speaker_embedding = s.name == "speaker_embedding" or (
        s.name == "auto" and s.auto.little_similar == "speaker_embedding")
    speaker_embedding = ("strategy.name: speaker_embedding" if s.name != "auto" else
                         "strategy.name: auto may pick speaker_embedding (strategy.auto.little_similar), which")
    rules = [
        (("data.min_seconds", "data.max_seconds"), d.min_seconds >= d.max_seconds,
         f"data.min_seconds ({d.min_seconds}) must be below data.max_seconds ({d.max_seconds}), or every clip is skipped"),
        (("evaluation.minlenratio", "evaluation.maxlenratio"), r.evaluation.minlenratio >= r.evaluation.maxlenratio,
         f"evaluation.minlenratio ({r.evaluation.minlenratio}) must be below evaluation.maxlenratio "
         f"({r.evaluation.maxlenratio})"),
        (("strategy.name", "strategy.auto.little_similar", "speaker.mode"), picks_speaker_embedding and r.speaker.mode != "learned",
         f"{speaker_embedding} trains only the speaker vector, but speaker.mode: {r.speaker.mode} fixes it; "
         "set speaker.mode: learned"),
        (("strategy.layer_lr", "strategy.name"),
         s.name not in ("full", "freeze_lower") and (s.layer_lr.decay is not None or bool(s.layer_lr.groups)),
         f"strategy.layer_lr applies to full and freeze_lower (the strategies that train whole layers); the "
         f"strategy is {s.name}: remove strategy.layer_lr or pick one of those"),
        (("strategy.lora", "strategy.name"), bool(s.lora) and s.name != "lora",
         f"strategy.lora: settings for strategy lora, but the strategy is {s.name}; remove them or set strategy.name: lora"),
        (("strategy.name", "model.init_config"), s.name == "auto" and r.model.init_config is not None,
         "strategy.name: auto chooses how much of a pretrained base to retrain; model.init_config trains from "
         "scratch, so name a strategy (full)"),
        (("strategy.name", "data.streaming"), s.name == "auto" and d.streaming,
         "strategy.name: auto weighs the minutes of audio, which data.streaming cannot tell in advance; name a strategy"),
        (("speaker.path", "speaker.mode"), r.speaker.mode == "file" and not r.speaker.path,
         "speaker.path: speaker.mode file needs an .npy file with one speaker vector; set speaker.path or use "
         "speaker.mode: learned"),
        (("model.warm_start", "model.init_config"), r.model.warm_start is not None and r.model.init_config is None,
         "model.warm_start: starts a model built from model.init_config; a pretrained model.name_or_path already "
         "starts from its own weights"),
        (("model.warm_start_exclude", "model.warm_start"), bool(r.model.warm_start_exclude) and r.model.warm_start is None,
         "model.warm_start_exclude: names parts to keep fresh in a warm start; set model.warm_start or remove it"),
        (("model.name_or_path", "model.init_config"), not r.model.name_or_path and r.model.init_config is None,
         "model.name_or_path: empty; give a Hub id (e.g. microsoft/speecht5_tts) or a local folder, or "
         "model.init_config to train from scratch"),
        (("training.load_best_model_at_end", "training.eval_strategy"), bool(t.get("load_best_model_at_end")) and not evaluates,
         "training.load_best_model_at_end: needs evaluations to pick the best from; set training.eval_strategy "
         "(steps or epoch) and data.eval_size above 0"),
        (("training.metric_for_best_model", "training.eval_strategy"), t.get("metric_for_best_model") is not None and not evaluates,
         "training.metric_for_best_model: needs evaluations to measure; set training.eval_strategy (steps or epoch) "
         "and data.eval_size above 0"),
        (("training.eval_strategy", "data.eval_size"), evaluates and d.eval_size <= 0,
         "training.eval_strategy: evaluation during training needs held-out clips; set data.eval_size above 0 or "
         "training.eval_strategy: 'no'"),
        (("training.max_steps", "data.streaming"), d.streaming and not (isinstance(max_steps, int) and max_steps > 0),
         "training.max_steps: data.streaming has no length; set training.max_steps above 0"),
        (("training.num_train_epochs", "training.max_steps"),
         not (isinstance(max_steps, int) and max_steps > 0) and not t.get("num_train_epochs", 3.0) > 0,
         "training.num_train_epochs: with no training.max_steps the run lasts this many epochs; set it above 0"),
        (("strategy.freeze_groups", "strategy.name"), s.freeze_groups is not None and s.name != "freeze_lower",
         f"strategy.freeze_groups: applies to strategy freeze_lower, but the strategy is {s.name}"),
        (("data.max_minutes", "data.streaming"), d.streaming and d.max_minutes is not None,
         "data.max_minutes needs the whole corpus; remove it or set data.streaming: false"),
    ]
    rules += SECTIONS_BY_BACKEND[r.model.type].conflicts(r)  # the backend's own rules
    return [(keys, problem) for keys, clash, problem in rules if clash] + _lora_fields(s) + _model_config(r.model)


def _lora_fields(s: StrategyConfig) -> list[tuple[tuple[str, ...], str]]:
    """strategy.lora against peft.LoraConfig's fields and their types (peft checks them only when applied)."""
    if s.name != "lora" or not s.lora:
        return []
    from peft import LoraConfig

    hints = typing.get_type_hints(LoraConfig)
    names = [f.name for f in dataclasses.fields(LoraConfig)]
    problems = []
    for key, value in s.lora.items():
        if key not in names:
            problems.append(f"strategy.lora.{key}: not a peft.LoraConfig field{did_you_mean(key, names)}")
        elif err := check_type(value, hints[key])[1]:
            problems.append(f"strategy.lora.{key}: {err}")
        elif key == "r" and value < 1:
            problems.append(f"strategy.lora.r: expected a rank of 1 or more, got {value!r}")
    return [(("strategy.lora",), p) for p in problems]


def _model_config(m: ModelConfig) -> list[tuple[tuple[str, ...], str]]:
    """model.init_config and model.config_overrides against the backend's config class. Its own
    checks run when the model loads, after the data is prepared, and an unknown override would
    reach the model's constructor as a keyword argument."""
    if not m.init_config and not m.config_overrides:
        return []
    config_class = SECTIONS_BY_BACKEND[m.type].model_config_class()
    # transformers' configs are dataclasses; one of ours (Tacotron2Config) sets its fields in __init__
    # on top of PretrainedConfig's dataclass fields, so both sources count
    declared = {f.name for f in dataclasses.fields(config_class)} if dataclasses.is_dataclass(config_class) else set()
    names = sorted(declared | set(vars(config_class())))
    problems = []
    for key, values in (("model.init_config", m.init_config or {}), ("model.config_overrides", m.config_overrides)):
        unknown = [k for k in values if k not in names]
        problems += [((key,), f"{key}.{k}: not a {config_class.__name__} field{did_you_mean(k, names)}")
                     for k in unknown]
        if values and not unknown:
            try:
                config_class(**values)
            except Exception as err:  # noqa: BLE001 - the config class's own checks of a value, whatever it raises
                problems.append(((key,), f"{key}: {err}"))
    return problems
