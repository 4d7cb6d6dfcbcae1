"""`hf-vclone evaluate`: a saved voice scored on a recipe's held-out clips (the same split its
training used), against the recipe's base model, without building a training run."""

from __future__ import annotations

from pathlib import Path

from .backends import recipe_backend
from .config import Recipe, RecipeError
from .evaluation import compare_systems
from .recipe_data import prepare_recipe_data, recipe_frontend
from .synthesize import Synthesizer
from .speaking import Speaking
from .systems import base_system, other_voices, reference_audio


def evaluate_saved(recipe: Recipe, directory: str | Path, out: str | Path) -> dict:
    cfg = recipe.evaluation
    backend = recipe_backend(recipe)
    prepared = prepare_recipe_data(recipe, backend, Path(recipe.output.dir))
    data, processor, features = prepared.data, prepared.processor, prepared.features
    if data.eval is None:
        raise RecipeError(["data.eval_size: evaluation needs held-out clips; set it above 0"], recipe.source)
    synth = Synthesizer(directory)
    vocoder = backend.load_vocoder(recipe.model.vocoder)
    systems, notes = {}, {}
    if cfg.compare_base and recipe.model.init_config is None:
        base_tts = backend.load_model(recipe.model, processor)
        base_speaking = Speaking.for_evaluation(backend, processor, vocoder, cfg,
                                                recipe_frontend(recipe, backend, processor))
        systems["base"], notes = base_system(base_speaking, base_tts,
                                             recipe.model.name_or_path, synth.voice.speakers, data.train)
    systems["fine_tuned"] = Speaking.for_evaluation(backend, synth.processor, vocoder, cfg, synth.speaking.frontend).system(
        synth.voice, synth.voice.speakers.vector())
    rate = features.sampling_rate
    return compare_systems(systems, data.eval, cfg, out, rate, lambda row: reference_audio(row, recipe.data, rate),
                           notes, other_voices(cfg, data.eval, features, recipe.data))
