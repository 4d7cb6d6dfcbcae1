"""The `tacotron2:` recipe section: the Tacotron 2 backend's settings, their value ranges and the
rules that combine them with the rest of a recipe.

A light module (no torch, no transformers at import), as speecht5_section.py and vits_section.py:
hf_vclone.config validates a recipe with it before anything heavy loads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

KEY = "tacotron2"


@dataclass
class Tacotron2Settings:
    """model.type tacotron2: how it speaks during evaluation and synthesis."""

    griffin_lim_iters: int = 32  # Griffin-Lim iterations when no neural vocoder is named (model.vocoder)


RANGES: list[tuple[str, Callable[[Any], bool], str]] = [
    ("tacotron2.griffin_lim_iters", lambda v: v >= 1, "1 or more iterations (32 is usual)"),
]


def conflicts(r: Any) -> list[tuple[tuple[str, ...], bool, str]]:
    """(keys, clash, problem) for settings a Tacotron 2 recipe cannot combine (config/rules.py's form).
    None today: whether a voice has a speaker vector (strategy speaker_embedding) is its checkpoint's
    `speaker_embedding_dim`, which strategies.py checks once the model is loaded."""
    return []


def model_config_class() -> type:
    """The config class that `model.init_config` and `model.config_overrides` fill."""
    from .tacotron2.configuration import Tacotron2Config

    return Tacotron2Config


SETTINGS = Tacotron2Settings
