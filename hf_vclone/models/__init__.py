"""Model backends, by the name a recipe gives in `model.type`."""

from __future__ import annotations

from .speecht5 import SpeechT5Backend
from ..errors import UserError

BACKENDS = {"speecht5": SpeechT5Backend}


def get_backend(name: str) -> SpeechT5Backend:
    if name not in BACKENDS:
        raise UserError(f"unknown model.type '{name}'; valid types: {', '.join(BACKENDS)}")
    return BACKENDS[name]()
