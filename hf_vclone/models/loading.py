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
    except RuntimeError as err:
        # A config override that reshapes weights (vocab_size, hidden_size, ...) cannot load them.
        raise ModelLoadError(f"{key}: the pretrained weights of '{name_or_path}' do not fit the configuration "
                             f"({' '.join(str(err).split())[:300]}); remove the model.config_overrides that change "
                             "layer sizes, or train from scratch with model.init_config") from None
    except (OSError, ValueError, TypeError) as err:
        where = "the local folder" if looks_local else "the Hub (is it reachable? is HF_HUB_OFFLINE set?)"
        hint = ""
        if kwargs.get("use_safetensors") and "safetensors" in str(err).lower():
            hint = ("; hf_vclone loads weights only from .safetensors (a pickled .bin can run code when loaded): "
                    "convert it with `model.save_pretrained(dir)` in a session you trust")
        raise ModelLoadError(f"{key}: cannot load '{name_or_path}' from {where}: {err}{hint}") from None


def load_model(cls: Any, name_or_path: str | None, key: str, overrides: dict | None = None,
               trust_remote_code: bool = False) -> Any:
    """Weights always load as float32, whatever dtype they were saved in: the committed
    quickstart base is float16 to stay small, and CPU training wants float32. Only safetensors
    weights load (no pickle), and a repo's own code runs only when the recipe says so."""
    return from_pretrained(cls, name_or_path, key, dtype=torch.float32, use_safetensors=True,
                           trust_remote_code=trust_remote_code, **(overrides or {}))


def state_dict_problems(state: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> list[str]:
    """What keeps `state` from loading into a model whose state dict is `target`: missing keys,
    unexpected keys and shape mismatches, a few of each named (the converters' error message)."""
    missing, extra = sorted(set(target) - set(state)), sorted(set(state) - set(target))
    shapes = [f"{k} {tuple(state[k].shape)} (expected {tuple(target[k].shape)})"
              for k in sorted(set(target) & set(state)) if state[k].shape != target[k].shape]

    def some(names: list[str], n: int, sep: str = ", ") -> str:
        return sep.join(names[:n]) + (" ..." if len(names) > n else "")

    return ([f"missing {some(missing, 4)}"] if missing else []) + \
           ([f"unexpected {some(extra, 4)}"] if extra else []) + \
           ([f"shapes differ: {some(shapes, 3, '; ')}"] if shapes else [])


def read_torch_checkpoint(path: str | Path, where: str, expected: str) -> dict:
    """A `.pt` / `.pth` / `.ckpt` dict read with `torch.load(weights_only=True)`: a checkpoint cannot
    run code. `where` starts every error; `expected` says what file to give instead.

    A file that pickles a whole model object (NVIDIA/waveglow's `waveglow_256channels.pt`, say)
    is refused: loading it would run that code. The message says how to turn it into a state dict."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{where}: {path} does not exist; give {expected}")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - every unreadable file gets the same one-line answer
        first = str(err).splitlines()[0][:200]
        pickled = next((line.split("GLOBAL", 1)[1].split()[0] for line in str(err).splitlines()
                        if "Unsupported global: GLOBAL" in line), None)
        what = f"a pickled {pickled} object, not a state dict" if pickled else f"unreadable with weights_only=True ({first})"
        raise UserError(f"{where}: {path} is {what}. Loading a pickled model runs its code, so hf_vclone refuses "
                        "it; load it once in a session you trust and torch.save its `.state_dict()`, or give "
                        f"{expected}") from None
    if not isinstance(loaded, dict):
        raise UserError(f"{where}: {path} holds a {type(loaded).__name__}, not a checkpoint dict; give {expected}")
    return loaded
