"""Recipe YAML -> typed, validated configuration.

A recipe says everything about a run: the base model, the data, the speaker embedding, the
fine-tuning strategy, the `transformers.TrainingArguments` fields and the outputs. Validation
collects *every* problem (unknown keys, wrong types, bad choices) and raises them together,
each naming its key, so a user fixes the whole recipe in one pass instead of one crash at a time.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import math
import operator
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from .errors import UserError
from .models import speecht5_section, vits_section
from .models.speecht5_section import SpeechT5TrainingConfig
from .models.vits_section import VitsConfig
from .ranges import fraction as _fraction

# Each backend's recipe section (its settings, value ranges and rules), by model.type. The sections
# are light modules (no torch): config reads them, and the heavy backends import config, one way.
SECTIONS_BY_BACKEND = {"speecht5": speecht5_section, "vits": vits_section}

BackendName = Literal["speecht5", "vits"]
StrategyName = Literal["full", "freeze_lower", "lora", "head_only", "speaker_embedding", "auto"]
SpeakerMode = Literal["learned", "file", "per_speaker"]
DataFormat = Literal["ljspeech", "librispeech", "vctk", "libritts", "common_voice", "folder", "manifest", "hub"]


class RecipeError(UserError):
    """A recipe problem a user can fix; the message names every bad key and what to do."""

    def __init__(self, problems: list[str], source: str = "recipe") -> None:
        # One line per problem, whatever the wrapped message (YAML, TrainingArguments) looked like.
        self.problems = [re.sub(r"\s*\n\s*", " ", str(p)).strip() for p in problems]
        self.source = source
        if len(self.problems) == 1:
            super().__init__(f"{source}: {self.problems[0]}")
        else:
            lines = "\n".join(f"  - {p}" for p in self.problems)
            super().__init__(f"{len(self.problems)} problems in {source}:\n{lines}")


@dataclass
class ModelConfig:
    type: BackendName = "speecht5"  # backend, see hf_vclone.backends
    name_or_path: str | None = "microsoft/speecht5_tts"  # Hub id or local save_pretrained dir
    init_config: dict | None = None  # train from scratch with these architecture fields instead
    processor: str | None = None  # Hub id or dir; default: name_or_path; "build": char tokenizer from the data
    config_overrides: dict = field(default_factory=dict)  # on top of the loaded config, e.g. encoder_layerdrop: 0
    vocoder: str | None = None  # e.g. microsoft/speecht5_hifigan; none means Griffin-Lim
    trust_remote_code: bool = False  # run Python code shipped with a Hub model; only for repos you trust


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
    demo_clips_per_voice: int = 150  # generate_demo: sentences each base voice reads (the base's corpus: 1000)
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
    # freeze_lower for VITS: which named parts stay frozen (text_encoder, duration_predictor, flow,
    # posterior_encoder, decoder); none: the backend's default (text_encoder, duration_predictor)
    freeze_groups: list[str] | None = None
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
    # CER and WER from an ASR model: whisper-base (offline, the `asr` extra), a CTranslate2 Whisper folder or
    # repo (Systran/faster-whisper-small), or a transformers ASR id/folder (openai/whisper-small); null: skipped
    asr_model: str | None = "whisper-base"
    asr_language: str | None = "en"  # the language Whisper transcribes and normalises in; null: detected
    # other real voices reading the held-out sentences (<voice>/wavs/<clip id>.wav): the "nearest real voice" bar
    other_voices: str | None = None
    during_training: int = 2  # held-out sentences spoken, scored and logged at each `eval_strategy` evaluation


@dataclass
class RunConfig:
    """How a run survives trouble: bad batches and preemption."""

    max_nonfinite_steps: int = 5  # abort after this many updates in a row with a NaN/inf loss or gradient
    stop_on_sigterm: bool = True  # on SIGTERM (preemption) finish the step, checkpoint, and exit


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
    run: RunConfig = field(default_factory=RunConfig)
    vits: VitsConfig = field(default_factory=VitsConfig)
    speecht5: SpeechT5TrainingConfig = field(default_factory=SpeechT5TrainingConfig)
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
        except (ValueError, TypeError, ImportError) as err:  # ImportError: e.g. deepspeed named but not installed
            raise RecipeError([f"training: {err}"], self.source) from None


SECTIONS: dict[str, type] = {
    "model": ModelConfig,
    "speaker": SpeakerConfig,
    "data": DataConfig,
    "strategy": StrategyConfig,
    "evaluation": EvaluationConfig,
    "output": OutputConfig,
    "push_to_hub": PushConfig,
    "run": RunConfig,
    "vits": VitsConfig,
    "speecht5": SpeechT5TrainingConfig,
}
# TrainingArguments' own Hub fields would push through the Trainer, without the voice's model card,
# and `hub_token` would put a secret into a file; the `push_to_hub` section replaces them.
_HUB_TRAINING_FIELDS = {"push_to_hub", "hub_model_id", "hub_token", "hub_strategy", "hub_private_repo",
                        "hub_always_push", "hub_revision"}


def load_recipe(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Recipe:
    """Read a YAML recipe, apply `key.sub=value` overrides, validate everything at once."""
    path = Path(path)
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "does not exist"
        raise RecipeError([f"recipe file {path} {what}; pass the path of a YAML recipe"], str(path))
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as err:
        raise RecipeError([f"not a text file (byte {err.start} is not UTF-8); a recipe is YAML text"], str(path)) from None
    except yaml.YAMLError as err:
        raise RecipeError([f"not valid YAML: {_yaml_problem(err)}"], str(path)) from None
    except OSError as err:
        raise RecipeError([f"cannot read the recipe: {err.strerror or err}"], str(path)) from None
    if not isinstance(raw, dict):
        raise RecipeError([f"the top level must be a mapping of sections (model:, data:, ...), got {type(raw).__name__}"],
                          str(path))
    return recipe_from_dict(raw, overrides, source=str(path))


def _yaml_problem(err: yaml.YAMLError) -> str:
    """PyYAML's message without its multi-line source excerpt: what is wrong, and where."""
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None)
    if problem and mark is not None:
        context = f"{err.context}: " if getattr(err, "context", None) else ""
        return f"{context}{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return re.sub(r"\s*\n\s*", " ", str(err)).strip()


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
            problems.append(f"unknown section '{key}'{_did_you_mean(key, [*SECTIONS, 'training'])}; "
                            f"valid sections: {', '.join([*SECTIONS, 'training'])}")
    # A key that already has a problem is not judged again: like a section's, it keeps its default.
    reported = {p.split(":", 1)[0] for p in problems}
    training = raw.get("training") if isinstance(raw.get("training"), dict) else {}
    training = {k: v for k, v in training.items() if f"training.{k}" not in reported}
    recipe = Recipe(**sections, training=training, source=source, raw=raw)
    problems += _value_problems(recipe, reported)
    if problems:
        raise RecipeError(problems, source)
    return recipe


def _deep_copy(raw: dict) -> dict:
    return yaml.safe_load(yaml.safe_dump(raw))


def _apply_override(raw: dict, item: str) -> str | None:
    """`a.b=value`: the value is parsed as YAML, so numbers, booleans, lists and null work."""
    if "=" not in item:
        return f"override '{item}' must look like key.sub=value"
    dotted, text = item.split("=", 1)
    keys = dotted.strip().split(".")
    if not all(keys):
        return f"override '{item}' must look like key.sub=value"
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as err:
        return f"override '{dotted}': the value {text!r} is not valid YAML ({_yaml_problem(err)}); quote it"
    node = raw
    for key in keys[:-1]:
        if node.get(key) is None:
            node[key] = {}
        node = node[key]
        if not isinstance(node, dict):
            return f"override '{dotted}': '{key}' is not a section"
    node[keys[-1]] = value
    return None


def _did_you_mean(key: Any, valid: list[str]) -> str:
    close = difflib.get_close_matches(str(key), valid, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


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
            problems.append(f"{prefix}.{key}: unknown key{_did_you_mean(key, names)}; valid keys: {', '.join(names)}")
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
            problems.append(f"training.{key}: not a transformers.TrainingArguments field"
                            f"{_did_you_mean(key, list(known))}")
        elif key == "output_dir":
            problems.append("training.output_dir: set output.dir instead (one place for the run's folder)")
        elif key in _HUB_TRAINING_FIELDS:
            problems.append(f"training.{key}: use the push_to_hub section (repo_id, private, adapter_only); it "
                            "uploads the voice with its model card, and the token comes from HF_TOKEN or `hf auth login`")
        else:
            coerced, err = _check_type(item, known[key].type)
            if err or (err := _training_choice(key, item, known[key].type)):
                problems.append(f"training.{key}: {err}")
            elif isinstance(item, str) and isinstance(coerced, float):
                value[key] = coerced  # YAML reads 1e-4 as a string
    return problems


def _training_choice(key: str, value: Any, hint: Any) -> str | None:
    """A name TrainingArguments (or the Trainer, for report_to) would refuse later, without naming the key."""
    if key == "report_to":
        names = [value] if isinstance(value, str) else value or []
        if any(n not in ("all", "none") for n in names):
            from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK

            valid = ["all", "none", *INTEGRATION_TO_CALLBACK]
            bad = [n for n in names if n not in valid]
            return f"{', '.join(map(repr, bad))} is not one of: {', '.join(valid)}" if bad else None
        return None
    choices = [h for h in typing.get_args(hint) if isinstance(h, type) and issubclass(h, enum.Enum)]
    if choices and isinstance(value, str) and value not in {e.value for e in choices[0]}:
        return f"'{value}' is not one of: {', '.join(str(e.value) for e in choices[0])}"
    return None


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
        if any(value == c and type(value) is type(c) for c in choices):
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
    if hint is Any or not isinstance(hint, type):
        return value, None  # nothing to check against (Any, or an annotation this checker does not know)
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
    if typing.get_origin(hint) is Literal:
        return "one of " + ", ".join(map(str, typing.get_args(hint)))
    if typing.get_origin(hint) in (list, dict):
        return {list: "a list", dict: "a mapping"}[typing.get_origin(hint)]
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false", dict: "a mapping",
             list: "a list"}
    return names.get(hint, "null" if hint is type(None) else getattr(hint, "__name__", str(hint)))


# ---- values and combinations ------------------------------------------------------------------
# Run after the type checks, on values of the right type: what no run could use, and settings
# that contradict each other. Each rule names its key(s) and says what would work.

# (key, holds for the value, what the value must be): the problem reads "key: expected ..., got value"
RANGES: list[tuple[str, Callable[[Any], bool], str]] = speecht5_section.RANGES + vits_section.RANGES + [
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


def _value_problems(recipe: Recipe, skip: set[str]) -> list[str]:
    """Impossible values, contradicting settings and missing local files, as problems naming their keys.
    A rule about a key in `skip` (or in a section in `skip`) is left out: that key is already reported."""
    problems, skip = [], set(skip)
    for key, holds, expected in RANGES:
        value = _lookup(recipe, key)
        if value is not _UNSET and not _is_skipped(key, skip) and not holds(value):
            problems.append(f"{key}: expected {expected}, got {value!r}")
            skip.add(key)  # and not again in a combination
    for keys, problem in _conflicts(recipe) + _missing_files(recipe):
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
            problems.append(f"strategy.lora.{key}: not a peft.LoraConfig field{_did_you_mean(key, names)}")
        elif err := _check_type(value, hints[key])[1]:
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
    names = sorted(f.name for f in dataclasses.fields(config_class)) if dataclasses.is_dataclass(config_class) \
        else sorted(vars(config_class()))
    problems = []
    for key, values in (("model.init_config", m.init_config or {}), ("model.config_overrides", m.config_overrides)):
        unknown = [k for k in values if k not in names]
        problems += [((key,), f"{key}.{k}: not a {config_class.__name__} field{_did_you_mean(k, names)}")
                     for k in unknown]
        if values and not unknown:
            try:
                config_class(**values)
            except Exception as err:  # noqa: BLE001 - the config class's own checks of a value, whatever it raises
                problems.append(((key,), f"{key}: {err}"))
    return problems


def _missing_files(r: Recipe) -> list[tuple[tuple[str, ...], str]]:
    """Local files and folders the recipe names, checked now instead of after the data is prepared.
    A value that looks like a Hub id (owner/name) is left to the loader."""
    m, sp, ev = r.model, r.speaker, r.evaluation
    found = [
        ("model.name_or_path", _folder_problem(m.name_or_path, weights=m.init_config is None)),
        ("model.processor", None if m.processor == "build" else _folder_problem(m.processor)),
        ("model.vocoder", _folder_problem(m.vocoder, weights=True)),
        ("evaluation.speaker_encoder", None if ev.speaker_encoder == "offline" else _folder_problem(ev.speaker_encoder)),
        ("evaluation.asr_model", _folder_problem(ev.asr_model)),
        ("vits.discriminator", _folder_problem(r.vits.discriminator)),
        ("speaker.path", _file_problem(sp.path, ".npy file with one speaker vector")),
        ("speaker.init", None if sp.init in ("base_mean", "random") else
         _file_problem(sp.init, ".npy file with one speaker vector, or base_mean or random")),
        ("output.dir", _output_problem(r.output.dir)),
    ]
    return [((key,), f"{key}: {problem}") for key, problem in found if problem]


# What `from_pretrained(..., use_safetensors=True)` can load from a folder (a peft adapter folder names its base).
SAFETENSORS_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "adapter_model.safetensors")


def _looks_local(name: str) -> bool:
    """The loader's rule (models/loading.py): an existing path, or one that cannot be a Hub id."""
    return Path(name).expanduser().exists() or name.startswith((".", "/", "~")) or name.count("/") > 1


def _folder_problem(name: str | None, weights: bool = False) -> str | None:
    if not name or not _looks_local(name):
        return None
    folder = Path(name).expanduser()
    if not folder.is_dir():
        return f"{name} is not a directory; give a folder written by save_pretrained, or a Hub id like owner/name"
    if weights and not any((folder / file).is_file() for file in SAFETENSORS_WEIGHTS):
        pickles = sorted(p.name for p in folder.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".ckpt", ".pkl"))
        if pickles:
            return (f"{name} has weights only in {', '.join(pickles)}; hf_vclone loads weights only from .safetensors "
                    "(a pickle can run code when loaded): convert with `model.save_pretrained(dir)` in a session you trust")
        return f"{name} holds no .safetensors weights; give a folder written by save_pretrained"
    return None


def _file_problem(name: str | None, what: str) -> str | None:
    if name is None or Path(name).expanduser().is_file():
        return None
    return f"{name} is not a file; give an {what}"


def _output_problem(name: str) -> str | None:
    """The run's folder must be creatable: neither it nor a parent may be an existing file."""
    path = Path(name).expanduser()
    blocker = next((p for p in (path, *path.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        return f"{name} cannot be a folder: {blocker} is a file; choose another output.dir"
    return None
