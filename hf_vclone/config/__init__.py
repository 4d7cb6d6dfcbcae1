"""Recipe YAML -> typed, validated configuration.

A recipe says everything about a run: the base model, the data, the speaker embedding, the
fine-tuning strategy, the `transformers.TrainingArguments` fields and the outputs. Validation
collects *every* problem (unknown keys, wrong types, bad choices) and raises them together,
each naming its key, so a user fixes the whole recipe in one pass instead of one crash at a time.

A package of one job per module: schema.py (the sections as dataclasses), loading.py (YAML,
overrides, the whole check), typecheck.py (types), rules.py (ranges and conflicts, with each
backend's own from its section module), files.py (local paths).
"""

from .loading import load_recipe, recipe_from_dict
from .schema import (SECTIONS, SECTIONS_BY_BACKEND, AutoConfig, BackendName, DataConfig, DataFormat,
                     EvaluationConfig, LayerLRConfig, ModelConfig, OutputConfig, PushConfig, Recipe, RecipeError,
                     RunConfig, SpeakerConfig, SpeakerMode, SpeechT5TrainingConfig, StrategyConfig, StrategyName,
                     VitsConfig)

__all__ = ["SECTIONS", "SECTIONS_BY_BACKEND", "AutoConfig", "BackendName", "DataConfig", "DataFormat",
           "EvaluationConfig", "LayerLRConfig", "ModelConfig", "OutputConfig", "PushConfig", "Recipe", "RecipeError",
           "RunConfig", "SpeakerConfig", "SpeakerMode", "SpeechT5TrainingConfig", "StrategyConfig", "StrategyName",
           "VitsConfig", "load_recipe", "recipe_from_dict"]
