"""A recipe from YAML or a dict, with `key.sub=value` overrides, validated all at once."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from .rules import value_problems
from .schema import SECTIONS, Recipe, RecipeError
from .typecheck import build_section, check_training, did_you_mean


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
            problems += check_training(value)
        elif key in SECTIONS:
            section, errs = build_section(SECTIONS[key], value, key)
            sections[key] = section
            problems += errs
        else:
            problems.append(f"unknown section '{key}'{did_you_mean(key, [*SECTIONS, 'training'])}; "
                            f"valid sections: {', '.join([*SECTIONS, 'training'])}")
    # A key that already has a problem is not judged again: like a section's, it keeps its default.
    reported = {p.split(":", 1)[0] for p in problems}
    training = raw.get("training") if isinstance(raw.get("training"), dict) else {}
    training = {k: v for k, v in training.items() if f"training.{k}" not in reported}
    recipe = Recipe(**sections, training=training, source=source, raw=raw)
    problems += value_problems(recipe, reported)
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
