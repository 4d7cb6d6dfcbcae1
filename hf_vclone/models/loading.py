"""`from_pretrained` with errors that say which recipe key is wrong and how to fix it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..errors import UserError


class ModelLoadError(UserError):
    """A model, processor or vocoder that cannot be loaded from where the recipe points."""


def from_pretrained(cls: Any, name_or_path: str | None, key: str, **kwargs: Any) -> Any:
    """Load a Hub id or a local folder; `key` is the recipe key named in any error."""
    if not name_or_path:
        raise ModelLoadError(f"{key} is empty; give a Hub id (e.g. microsoft/speecht5_tts) or a local folder")
    local = Path(name_or_path).expanduser()
    looks_local = local.exists() or name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") > 1
    if looks_local and not local.is_dir():
        raise ModelLoadError(f"{key}: {name_or_path} is not a directory; give a folder written by save_pretrained")
    try:
        return cls.from_pretrained(str(local) if looks_local else name_or_path, **kwargs)
    except (OSError, ValueError) as err:
        where = "the local folder" if looks_local else "the Hub (is it reachable? is HF_HUB_OFFLINE set?)"
        raise ModelLoadError(f"{key}: cannot load '{name_or_path}' from {where}: {err}") from None


def load_model(cls: Any, name_or_path: str | None, key: str, overrides: dict | None = None) -> Any:
    """Weights always load as float32, whatever dtype they were saved in: the committed
    quickstart base is float16 to stay small, and CPU training wants float32."""
    return from_pretrained(cls, name_or_path, key, dtype=torch.float32, **(overrides or {}))
