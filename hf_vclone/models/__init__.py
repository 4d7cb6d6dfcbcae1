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
