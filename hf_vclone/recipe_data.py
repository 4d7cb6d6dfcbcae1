"""A recipe's data, prepared: corpus -> checked, cleaned, featurised and cached clips, with the
processor that featurised them.

`hf-vclone prepare`, the data doctor, `hf-vclone evaluate` and a training run all start here, and
none of them needs a Trainer or TrainingArguments for it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from datasets import IterableDataset

from .config import Recipe
from .data.card import write_data_card
from .data.demo_corpus import build_demo_corpus
from .data.prepare import FeatureSpec, PreparedData, prepare
from .data.sources import load_source
from .data.text import get_normalizer
from .models.backend import Backend
from .text_frontend import TextFrontEnd


@dataclass
class RecipeData:
    data: PreparedData
    processor: Any
    features: FeatureSpec  # what a clip became, at which rate (the recipe's text front end included)


def prepare_recipe_data(recipe: Recipe, backend: Backend, report_dir: Path | None) -> RecipeData:
    """Prepared clips, with the processor and features that made them. Writes skipped.csv and the
    data card into `report_dir` (none: nowhere, e.g. on ranks other than the main one)."""
    cfg = recipe.data
    if cfg.normalize_text:
        get_normalizer(cfg.language)  # an unknown language fails now, not after decoding
    if cfg.generate_demo:
        build_demo_corpus(cfg.path, clips_per_base_voice=cfg.demo_clips_per_voice, extra_text=cfg.demo_extra_text)
    raw = load_source(cfg)
    texts = [] if isinstance(raw, IterableDataset) else [t for t in raw["text"] if t]
    processor = backend.load_processor(recipe.model, texts)
    spec = recipe_features(recipe, backend, processor)
    data = prepare(raw, cfg, spec, report_dir)
    if report_dir is not None and not isinstance(data.train, IterableDataset):
        write_data_card(data, cfg.path, report_dir)
    return RecipeData(data, processor, spec)


def recipe_features(recipe: Recipe, backend: Backend, processor: Any) -> FeatureSpec:
    """The backend's features for the model the recipe names, reading the text through the
    recipe's front end (the dataset keeps the original text)."""
    spec = backend.feature_spec(processor, backend.model_config(recipe.model, processor))
    frontend = recipe_frontend(recipe, backend, processor)
    if not frontend:
        return spec
    return replace(spec, featurize=lambda wave, text: spec.featurize(wave, frontend(text)),
                   unknown_characters=lambda text: spec.unknown_characters(frontend(text)))


def recipe_frontend(recipe: Recipe, backend: Backend, processor: Any) -> TextFrontEnd:
    """data.replacements, and uroman where the recipe's tokenizer asks for it (text_frontend.py)."""
    return TextFrontEnd.for_tokenizer(backend.text_tokenizer(processor), recipe.data.replacements)
