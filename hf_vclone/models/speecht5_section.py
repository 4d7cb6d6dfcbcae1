"""The `speecht5:` recipe section: the SpeechT5 backend's settings, their value ranges and the
rules that combine them with the rest of a recipe.

A light module (no torch, no transformers at import): hf_vclone.config reads every backend's section to
validate a recipe before anything heavy loads, and the backend (models/speecht5.py) imports config,
so the imports go one way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..ranges import fraction
from .section_rules import needs_a_built_tokenizer

KEY = "speecht5"


@dataclass
class SpeechT5TrainingConfig:
    """model.type speecht5: how the decoder is taught."""

    # Share of decoder input steps that are the model's own (teacher-forced, no-grad) prediction of
    # that frame instead of the real one: parallel scheduled sampling (Duckworth et al., 2019). A
    # decoder fed only real frames learns to continue them and ignore the text; at inference it is
    # fed its own (benchmarks/README.md, "Why the quickstart base did not speak"). 0: plain teacher forcing.
    scheduled_sampling: float = 0.0
    # When it starts and how fast it rises: 0 until training step `scheduled_sampling_start`, then
    # linearly up to `scheduled_sampling` over `scheduled_sampling_ramp` steps (Bengio et al., 2015).
    # Why: fed its own predictions from step 0, a model trained from scratch is fed its mean frame
    # and never aligns (benchmarks/README.md item 8); sampling pays only once it reads its text.
    scheduled_sampling_start: int = 0
    scheduled_sampling_ramp: int = 0
    # Share of training clips whose decoder is fed zeros at every step instead of real frames, so
    # that every frame of theirs must be read from the text (SpeechT5Voice.text_only_decoder_inputs
    # says why). 0: off. Inference is unchanged.
    # Tried once from scratch (0.25): it did not make the quickstart base speak (benchmarks/README.md item 10).
    text_only: float = 0.0
    # A model built from scratch (model.init_config, model.processor: build) reads espeak-ng IPA
    # phonemes instead of letters: its tokenizer is a phonemizing VitsTokenizer inside the
    # SpeechT5Processor. Why: five letter-reading bases never learned to read English spelling from
    # 5000 sentences (benchmarks/README.md, "Why the quickstart base did not speak").
    phonemize: bool = False


# (key, holds for the value, what the value must be), as config/rules.py RANGES
RANGES: list[tuple[str, Callable[[Any], bool], str]] = [
    ("speecht5.scheduled_sampling", fraction, "a share from 0 to 1, e.g. 0.5"),
    ("speecht5.scheduled_sampling_start", lambda v: v >= 0, "a training step, 0 or more"),
    ("speecht5.scheduled_sampling_ramp", lambda v: v >= 0, "a number of steps, 0 or more"),
    ("speecht5.text_only", fraction, "a share from 0 to 1, e.g. 0.25"),
]


def conflicts(r: Any) -> list[tuple[tuple[str, ...], bool, str]]:
    """(keys, clash, problem) for settings a SpeechT5 recipe cannot combine (config/rules.py's form)."""
    s = r.strategy
    return [
        (("strategy.freeze_groups", "model.type"), s.freeze_groups is not None,
         "strategy.freeze_groups: names VITS parts; for model.type speecht5 use strategy.freeze_layers"),
        needs_a_built_tokenizer(r, "speecht5.phonemize", r.speecht5.phonemize),
    ]


def model_config_class() -> type:
    """The transformers config class that `model.init_config` and `model.config_overrides` fill."""
    from transformers import SpeechT5Config

    return SpeechT5Config

# The settings class a recipe's `speecht5:` section fills (hf_vclone.backends builds the backend with it).
SETTINGS = SpeechT5TrainingConfig
