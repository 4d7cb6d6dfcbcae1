"""A recipe's data, prepared: corpus -> checked, cleaned, featurised and cached clips, with the
processor that featurised them.

`hf-vclone prepare`, the data doctor, `hf-vclone evaluate` and a training run all start here, and
none of them needs a Trainer or TrainingArguments for it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from datasets import IterableDataset

from .config import Recipe
from .data.card import write_data_card
from .data.demo_corpus import build_demo_corpus
from .data.prepare import PreparedData, prepare
from .data.sources import load_source
from .data.text import get_normalizer
from .models.backend import Backend
from .text_frontend import TextFrontEnd


def prepare_recipe_data(recipe: Recipe, backend: Backend, report_dir: Path | None) -> tuple[PreparedData, Any]:
    """(prepared clips, processor). Writes skipped.csv and the data card into `report_dir` (none:
    nowhere, e.g. on ranks other than the main one)."""
    cfg = recipe.data
    if cfg.normalize_text:
        get_normalizer(cfg.language)  # an unknown language fails now, not after decoding
    if cfg.generate_demo:
        build_demo_corpus(cfg.path, clips_per_base_voice=cfg.demo_clips_per_voice)
    raw = load_source(cfg)
    texts = [] if isinstance(raw, IterableDataset) else [t for t in raw["text"] if t]
    processor = backend.load_processor(recipe.model, texts)
    spec, frontend = backend.feature_spec(processor), recipe_frontend(recipe, backend, processor)
    if frontend:  # the tokenizer reads the mapped / romanised text; the dataset keeps the original
        plain = spec
        spec = replace(plain, featurize=lambda wave, text: plain.featurize(wave, frontend(text)),
                       unknown_characters=lambda text: plain.unknown_characters(frontend(text)))
    data = prepare(raw, cfg, spec, report_dir)
    if report_dir is not None and not isinstance(data.train, IterableDataset):
        write_data_card(data, cfg.path, report_dir)
    return data, processor


def recipe_frontend(recipe: Recipe, backend: Backend, processor: Any) -> TextFrontEnd:
    """data.replacements, and uroman where the recipe's tokenizer asks for it (text_frontend.py)."""
    return TextFrontEnd.for_tokenizer(backend.text_tokenizer(processor), recipe.data.replacements)
