"""Each recipe value against its section's type hints, and TrainingArguments' fields against theirs."""

from __future__ import annotations

import dataclasses
import difflib
import enum
import types
import typing
from typing import Any, Literal

from .schema import HUB_TRAINING_FIELDS


def did_you_mean(key: Any, valid: list[str]) -> str:
    close = difflib.get_close_matches(str(key), valid, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def build_section(cls: type, value: Any, prefix: str) -> tuple[Any, list[str]]:
    if value is None:
        value = {}
    if not isinstance(value, dict):
        return cls(), [f"{prefix}: expected a mapping of keys, got {type(value).__name__}"]
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    problems, kwargs = [], {}
    for key, item in value.items():
        if key not in hints:
            problems.append(f"{prefix}.{key}: unknown key{did_you_mean(key, names)}; valid keys: {', '.join(names)}")
            continue
        if dataclasses.is_dataclass(hints[key]):  # a nested section, e.g. strategy.layer_lr
            kwargs[key], errs = build_section(hints[key], item, f"{prefix}.{key}")
            problems += errs
            continue
        coerced, err = check_type(item, hints[key])
        if err:
            problems.append(f"{prefix}.{key}: {err}")
        else:
            kwargs[key] = coerced
    return cls(**kwargs), problems


def check_training(value: Any) -> list[str]:
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
                            f"{did_you_mean(key, list(known))}")
        elif key == "output_dir":
            problems.append("training.output_dir: set output.dir instead (one place for the run's folder)")
        elif key == "bf16" and item == "auto":
            continue  # resolved by Recipe.training_arguments: bf16 where the hardware has it natively
        elif key in HUB_TRAINING_FIELDS:
            problems.append(f"training.{key}: use the push_to_hub section (repo_id, private, adapter_only); it "
                            "uploads the voice with its model card, and the token comes from HF_TOKEN or `hf auth login`")
        else:
            coerced, err = check_type(item, known[key].type)
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


def check_type(value: Any, hint: Any) -> tuple[Any, str | None]:
    """Return (value, None) when `value` fits `hint`, else (value, reason). Accepts 1e-4-style strings as floats."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(hint):
            coerced, err = check_type(value, option)
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
            item, err = check_type(item, item_hint)
            if check_type(key, key_hint)[1] or err:
                return value, f"expected a mapping of {_describe(key_hint)} to {_describe(item_hint)}, got {key!r}: {item!r}"
            coerced[key] = item
        return coerced, None
    if origin is list:
        (item_hint,) = typing.get_args(hint)
        if not isinstance(value, list):
            return value, f"expected a list, got {value!r}"
        for item in value:
            if check_type(item, item_hint)[1]:
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
