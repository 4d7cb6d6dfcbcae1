"""Recipe YAML -> typed, validated configuration.

A recipe says everything about a run: the base model, the data, the speaker embedding, the
fine-tuning strategy, the `transformers.TrainingArguments` fields and the outputs. Validation
collects *every* problem (unknown keys, wrong types, bad choices) and raises them together,
each naming its key, so a user fixes the whole recipe in one pass instead of one crash at a time.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from .errors import UserError

BackendName = Literal["speecht5"]
StrategyName = Literal["full", "freeze_lower", "lora", "head_only", "speaker_embedding", "auto"]
SpeakerMode = Literal["learned", "file", "per_speaker"]
DataFormat = Literal["ljspeech", "librispeech", "vctk", "libritts", "common_voice", "folder", "manifest", "hub"]


class RecipeError(UserError):
    """A recipe problem a user can fix; the message names every bad key and what to do."""

    def __init__(self, problems: list[str], source: str = "recipe") -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in {source}:\n{lines}")


@dataclass
class ModelConfig:
    type: BackendName = "speecht5"  # backend, see hf_vclone.models
    name_or_path: str | None = "microsoft/speecht5_tts"  # Hub id or local save_pretrained dir
    init_config: dict | None = None  # train from scratch with these architecture fields instead
    processor: str | None = None  # Hub id or dir; default: name_or_path; "build": char tokenizer from the data
    config_overrides: dict = field(default_factory=dict)  # on top of the loaded config, e.g. layerdrop: 0
    vocoder: str | None = None  # e.g. microsoft/speecht5_hifigan; none means Griffin-Lim


@dataclass
class SpeakerConfig:
    mode: SpeakerMode = "learned"  # learned: trains with the voice; file: fixed vector; per_speaker: one fixed vector each
    path: str | None = None  # mode=file: an .npy vector (for example an x-vector)
    init: str = "base_mean"  # mode=learned: base_mean | random | path to an .npy vector


@dataclass
class DataConfig:
    # --- where the clips come from
    format: DataFormat = "ljspeech"
    path: str = ""  # a local corpus folder or manifest file; for format=hub, the dataset id (or a local copy of one)
    speaker: str | list[str] | None = None  # keep only this speaker (or these); none keeps all
    exclude_speakers: list[str] = field(default_factory=list)
    generate_demo: bool = False  # build the offline espeak-ng demo corpus at `path` if it is missing
    dataset_config: str | None = None  # format=hub: the dataset's config name (e.g. "clean")
    split: str = "train"  # format=hub: which split
    audio_column: str = "audio"  # format=hub: column names
    text_column: str = "text"
    speaker_column: str | None = "speaker_id"
    id_column: str | None = "id"
    streaming: bool = False  # read lazily, for corpora too large to prepare whole (needs training.max_steps)
    # --- what is held out and how much is used
    eval_size: int = 0  # clips held out (never trained on) for evaluation
    max_minutes: float | None = None  # cap on training audio, for "a few minutes of one speaker"
    seed: int = 0
    # --- clean-up
    loudness_lufs: float = -23.0  # EBU R128 target
    trim_top_db: float = 40.0  # silence threshold below peak for leading/trailing trim
    num_proc: int | None = None  # parallel preprocessing workers
    # --- preflight checks (per clip; a failed check skips the clip and says why)
    min_seconds: float = 0.3
    max_seconds: float = 20.0
    max_clipped_fraction: float = 0.01  # share of samples at full scale before a clip counts as clipped
    min_sample_rate_ratio: float = 0.5  # warn when a clip's rate is below this share of the model's
    unknown_characters: Literal["skip", "keep"] = "skip"  # transcript characters the tokenizer cannot encode
    chars_per_second_z: float | None = 5.0  # robust z-score beyond which text length does not fit the audio
    max_bad_fraction: float = 0.5  # abort when more than this share of clips is skipped
    normalize_text: bool = True  # expand numbers, abbreviations and symbols
    language: str = "en"  # text normalisation language


@dataclass
class LayerLRConfig:
    """Layer-wise learning rates, as multipliers of `training.learning_rate` (Caffe's `lr_mult`).

    Lower layers hold what every voice shares and should move little; the top layers and heads
    carry the voice. `decay` sets a geometric ladder by depth (the top ×`top`, each depth below
    ×`decay` more); `groups` names parameter-name prefixes explicitly and wins over the ladder."""

    decay: float | None = None  # e.g. 0.3: with 4 depths the bottom trains at top x 0.3^4 = top x 0.008
    top: float = 1.0  # multiplier of the top depth (heads, speaker projection, speaker vector)
    groups: dict[str, float] = field(default_factory=dict)  # prefix (model's own names) -> multiplier


@dataclass
class AutoConfig:
    """`strategy.name: auto`: the practice's rule, from the amount of target audio and how
    close the target voice is to the voices the base already speaks."""

    little_minutes: float = 3.0  # at most this much training audio is "little"
    similar_above: float = 0.6  # speaker similarity (base's nearest voice vs target) above this is "similar"
    probe_sentences: int = 2  # training sentences the base speaks to measure that similarity
    little_similar: Literal["head_only", "speaker_embedding"] = "head_only"
    much_similar: Literal["freeze_lower", "full"] = "freeze_lower"


@dataclass
class StrategyConfig:
    name: StrategyName = "full"
    freeze_layers: int = 1  # freeze_lower: lower encoder *and* decoder layers frozen
    lora: dict = field(default_factory=dict)  # peft.LoraConfig fields; the backend supplies defaults
    layer_lr: LayerLRConfig = field(default_factory=LayerLRConfig)  # with full / freeze_lower
    l2sp: float = 0.0  # lambda of L2-SP: loss += lambda * ||theta - theta_pretrained||^2 over trained parameters
    auto: AutoConfig = field(default_factory=AutoConfig)


@dataclass
class EvaluationConfig:
    """After training: synthesize held-out sentences and score them against the real recordings."""

    enabled: bool = True
    num_samples: int = 4  # held-out sentences to synthesize
    compare_base: bool = True  # also synthesize with the untouched base model
    seed: int = 0  # SpeechT5's prenet dropout is active at inference; a fixed seed makes samples repeatable
    minlenratio: float = 0.5
    maxlenratio: float = 8.0
    speaker_encoder: str | None = None  # WavLMForXVector id/folder (e.g. microsoft/wavlm-base-plus-sv); none: offline encoder
    asr_model: str | None = None  # transformers ASR id/folder (e.g. openai/whisper-tiny.en) for CER; none: CER skipped
    during_training: int = 2  # held-out sentences spoken, scored and logged at each `eval_strategy` evaluation


@dataclass
class PushConfig:
    """Publish the voice to the Hub after training (same as `hf-vclone push DIR REPO_ID`).

    The token comes from HF_TOKEN or `hf auth login`, never from a recipe."""

    repo_id: str | None = None  # e.g. your-name/my-voice; none: do not push
    private: bool = True
    adapter_only: bool = True  # a LoRA voice: push the adapter (small; needs the base) or, if false, the merged model
    commit_message: str = "Upload voice fine-tuned with hf_vclone"


@dataclass
class OutputConfig:
    dir: str = "outputs/run"
    save_dtype: Literal["float32", "float16", "bfloat16"] = "float32"


@dataclass
class Recipe:
    model: ModelConfig = field(default_factory=ModelConfig)
    speaker: SpeakerConfig = field(default_factory=SpeakerConfig)
    data: DataConfig = field(default_factory=DataConfig)
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    push_to_hub: PushConfig = field(default_factory=PushConfig)
    training: dict = field(default_factory=dict)  # transformers.TrainingArguments fields
    source: str = "recipe"
    raw: dict = field(default_factory=dict)  # the recipe as given (after overrides), for the model card

    def training_arguments(self) -> Any:
        """Build `TrainingArguments`; errors from its own checks are re-raised naming the recipe."""
        from transformers import TrainingArguments

        # The collator picks its own columns; the parent's column pruning would drop `length`
        # (for length-grouped batches) and `speaker_id`, which the model's signature cannot show.
        defaults = {"report_to": "none", "remove_unused_columns": False}
        kwargs = {**defaults, **self.training, "output_dir": self.output.dir}
        try:
            return TrainingArguments(**kwargs)
        except (ValueError, TypeError) as err:
            raise RecipeError([f"training: {err}"], self.source) from None


SECTIONS: dict[str, type] = {
    "model": ModelConfig,
    "speaker": SpeakerConfig,
    "data": DataConfig,
    "strategy": StrategyConfig,
    "evaluation": EvaluationConfig,
    "output": OutputConfig,
    "push_to_hub": PushConfig,
}
# TrainingArguments' own Hub fields would push through the Trainer, without the voice's model card,
# and `hub_token` would put a secret into a file; the `push_to_hub` section replaces them.
_HUB_TRAINING_FIELDS = {"push_to_hub", "hub_model_id", "hub_token", "hub_strategy", "hub_private_repo",
                        "hub_always_push", "hub_revision"}


def load_recipe(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Recipe:
    """Read a YAML recipe, apply `key.sub=value` overrides, validate everything at once."""
    path = Path(path)
    if not path.is_file():
        raise RecipeError([f"recipe file {path} does not exist; pass the path of a YAML recipe"], str(path))
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise RecipeError([f"not valid YAML: {err}"], str(path)) from None
    if not isinstance(raw, dict):
        raise RecipeError(["the top level must be a mapping of sections"], str(path))
    return recipe_from_dict(raw, overrides, source=str(path))


def recipe_from_dict(raw: dict, overrides: list[str] | tuple[str, ...] = (), source: str = "recipe") -> Recipe:
    raw = _deep_copy(raw)
    problems = [p for item in overrides if (p := _apply_override(raw, item))]
    sections: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "training":
            problems += _check_training(value)
        elif key in SECTIONS:
            section, errs = _build(SECTIONS[key], value, key)
            sections[key] = section
            problems += errs
        else:
            problems.append(f"unknown section '{key}'; valid sections: {', '.join([*SECTIONS, 'training'])}")
    if problems:
        raise RecipeError(problems, source)
    training = dict(raw.get("training") or {})
    return Recipe(**sections, training=training, source=source, raw=raw)


def _deep_copy(raw: dict) -> dict:
    return yaml.safe_load(yaml.safe_dump(raw))


def _apply_override(raw: dict, item: str) -> str | None:
    """`a.b=value`: the value is parsed as YAML, so numbers, booleans, lists and null work."""
    if "=" not in item:
        return f"override '{item}' must look like key.sub=value"
    dotted, text = item.split("=", 1)
    keys = dotted.strip().split(".")
    node = raw
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            return f"override '{dotted}': '{key}' is not a section"
    node[keys[-1]] = yaml.safe_load(text)
    return None


def _build(cls: type, value: Any, prefix: str) -> tuple[Any, list[str]]:
    if value is None:
        value = {}
    if not isinstance(value, dict):
        return cls(), [f"{prefix}: expected a mapping of keys, got {type(value).__name__}"]
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    problems, kwargs = [], {}
    for key, item in value.items():
        if key not in hints:
            problems.append(f"{prefix}.{key}: unknown key; valid keys: {', '.join(names)}")
            continue
        if dataclasses.is_dataclass(hints[key]):  # a nested section, e.g. strategy.layer_lr
            kwargs[key], errs = _build(hints[key], item, f"{prefix}.{key}")
            problems += errs
            continue
        coerced, err = _check_type(item, hints[key])
        if err:
            problems.append(f"{prefix}.{key}: {err}")
        else:
            kwargs[key] = coerced
    return cls(**kwargs), problems


def _check_training(value: Any) -> list[str]:
    from transformers import TrainingArguments

    if value is None:
        return []
    if not isinstance(value, dict):
        return [f"training: expected a mapping of TrainingArguments fields, got {type(value).__name__}"]
    known = {f.name: f for f in dataclasses.fields(TrainingArguments)}
    problems = []
    for key, item in value.items():
        if key not in known:
            problems.append(f"training.{key}: not a transformers.TrainingArguments field")
        elif key == "output_dir":
            problems.append("training.output_dir: set output.dir instead (one place for the run's folder)")
        elif key in _HUB_TRAINING_FIELDS:
            problems.append(f"training.{key}: use the push_to_hub section (repo_id, private, adapter_only); it "
                            "uploads the voice with its model card, and the token comes from HF_TOKEN or `hf auth login`")
        else:
            expected = {int: "an integer", float: "a number", bool: "true or false"}.get(known[key].type)
            if known[key].type in (int, float, bool) and _check_type(item, known[key].type)[1]:
                problems.append(f"training.{key}: expected {expected}, got {item!r}")
            elif known[key].type is float and isinstance(item, str):
                value[key] = float(item)  # YAML reads 1e-4 as a string
    return problems


def _check_type(value: Any, hint: Any) -> tuple[Any, str | None]:
    """Return (value, None) when `value` fits `hint`, else (value, reason). Accepts 1e-4-style strings as floats."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(hint):
            coerced, err = _check_type(value, option)
            if err is None:
                return coerced, None
        return value, f"expected {_describe(hint)}, got {value!r}"
    if origin is Literal:
        choices = typing.get_args(hint)
        if value in choices:
            return value, None
        return value, f"'{value}' is not one of: {', '.join(map(str, choices))}"
    if hint is type(None):
        return value, None if value is None else "expected null"
    if origin is dict:
        key_hint, item_hint = typing.get_args(hint)
        if not isinstance(value, dict):
            return value, f"expected a mapping, got {value!r}"
        coerced = {}
        for key, item in value.items():
            item, err = _check_type(item, item_hint)
            if _check_type(key, key_hint)[1] or err:
                return value, f"expected a mapping of {_describe(key_hint)} to {_describe(item_hint)}, got {key!r}: {item!r}"
            coerced[key] = item
        return coerced, None
    if origin is list:
        (item_hint,) = typing.get_args(hint)
        if not isinstance(value, list):
            return value, f"expected a list, got {value!r}"
        for item in value:
            if _check_type(item, item_hint)[1]:
                return value, f"expected a list of {_describe(item_hint)}, got item {item!r}"
        return value, None
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value), None
        if isinstance(value, str):
            try:
                return float(value), None
            except ValueError:
                pass
        return value, f"expected a number, got {value!r}"
    if hint is int and isinstance(value, bool):
        return value, f"expected an integer, got {value!r}"
    if isinstance(value, hint):
        return value, None
    return value, f"expected {_describe(hint)}, got {value!r}"


def _describe(hint: Any) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_describe(h) for h in typing.get_args(hint))
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false", dict: "a mapping"}
    return names.get(hint, "null" if hint is type(None) else getattr(hint, "__name__", str(hint)))
