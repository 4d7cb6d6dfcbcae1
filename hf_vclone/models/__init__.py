"""Model backends, by the name a recipe gives in `model.type`."""

from __future__ import annotations

from ..config import SpeechT5TrainingConfig, VitsConfig
from ..errors import UserError
from .speecht5 import SpeechT5Backend
from .vits import VitsBackend

BACKENDS = {"speecht5": SpeechT5Backend, "vits": VitsBackend}


def get_backend(name: str, vits: VitsConfig | None = None,
                speecht5: SpeechT5TrainingConfig | None = None) -> SpeechT5Backend | VitsBackend:
    """The backend for `model.type`; `vits` and `speecht5` carry the recipe's section to that backend."""
    if name not in BACKENDS:
        raise UserError(f"unknown model.type '{name}'; valid types: {', '.join(BACKENDS)}")
    return VitsBackend(vits) if name == "vits" else SpeechT5Backend(speecht5)


def saved_backend(name: str, settings: dict | None = None) -> SpeechT5Backend | VitsBackend:
    """The backend a saved voice was trained with, from the settings its vclone.json records
    (`backend_settings`), not the defaults: a VITS voice trained with `vits.mel_bins: 64` is
    scored with 64-band mels. Keys a newer or older version wrote and this one lacks are ignored."""
    if name == "vits" and settings:
        from dataclasses import fields

        known = {f.name for f in fields(VitsConfig)}
        return get_backend(name, vits=VitsConfig(**{k: v for k, v in settings.items() if k in known}))
    return get_backend(name)
