"""Model backends, by the name a recipe gives in `model.type`, and the backend a saved voice was trained with."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from .config import SECTIONS_BY_BACKEND
from .errors import UserError
from .models.backend import Backend
from .models.speecht5 import SpeechT5Backend
from .models.tacotron2.backend import Tacotron2Backend
from .models.vits import VitsBackend

BACKENDS: dict[str, type] = {"speecht5": SpeechT5Backend, "vits": VitsBackend, "tacotron2": Tacotron2Backend}


def get_backend(name: str, settings: Any = None) -> Backend:
    """The backend for `model.type`, built with its recipe section (`recipe.<model.type>`, e.g.
    `recipe.vits`; none: the section's defaults)."""
    if name not in BACKENDS:
        raise UserError(f"unknown model.type '{name}'; valid types: {', '.join(BACKENDS)}")
    return BACKENDS[name](settings)


def recipe_backend(recipe: Any) -> Backend:
    """The backend a recipe trains, with the recipe's own section for it."""
    return get_backend(recipe.model.type, getattr(recipe, SECTIONS_BY_BACKEND[recipe.model.type].KEY))


def saved_backend(name: str, settings: dict | None = None) -> Backend:
    """The backend a saved voice was trained with, from the settings its vclone.json records
    (`backend_settings`), not the defaults: a VITS voice trained with `vits.mel_bins: 64` is
    scored with 64-band mels. Keys a newer or older version wrote and this one lacks are ignored."""
    if name not in SECTIONS_BY_BACKEND:
        raise UserError(f"unknown model.type '{name}'; valid types: {', '.join(BACKENDS)}")
    section = SECTIONS_BY_BACKEND[name].SETTINGS
    known = {f.name for f in fields(section)}
    return get_backend(name, section(**{k: v for k, v in (settings or {}).items() if k in known}))
