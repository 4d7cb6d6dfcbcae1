"""Model backends, by the name a recipe gives in `model.type`."""

from __future__ import annotations

from ..config import VitsConfig
from ..errors import UserError
from .speecht5 import SpeechT5Backend
from .vits import VitsBackend

BACKENDS = {"speecht5": SpeechT5Backend, "vits": VitsBackend}


def get_backend(name: str, vits: VitsConfig | None = None) -> SpeechT5Backend | VitsBackend:
    """The backend for `model.type`; `vits` carries the recipe's VITS section to that backend."""
    if name not in BACKENDS:
        raise UserError(f"unknown model.type '{name}'; valid types: {', '.join(BACKENDS)}")
    return VitsBackend(vits) if name == "vits" else BACKENDS[name]()
