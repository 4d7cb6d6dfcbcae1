"""Start a model built from `model.init_config` with another saved model's weights, except the parts
the recipe names: `model.warm_start` and `model.warm_start_exclude`.

Why: a base that changes only its text side (letters -> phonemes, a new vocabulary) need not learn
again what its other parts already know. A VITS that reads phonemes can keep a letters base's
waveform decoder, posterior encoder and flow and train a fresh text encoder and duration predictor
(NeMo's `init_from_nemo_model` with `exclude`, coqui's partial restore). Unlike those, nothing is
skipped silently: every tensor that is not excluded must exist in the source with the same shape,
or the run stops naming it.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn

from ..errors import UserError
from .loading import state_dict_problems

KEY = "model.warm_start"


def warm_start(model: nn.Module, folder: str | Path, exclude: list[str]) -> str:
    """Copy every tensor of `folder`'s model.safetensors into `model`, except those whose names start
    with one of `exclude` (they keep their fresh initialisation). Returns a one-line summary."""
    path = Path(folder).expanduser() / "model.safetensors"
    if not path.is_file():
        raise UserError(f"{KEY}: {folder} holds no model.safetensors; give a saved voice or checkpoint folder "
                        "with whole weights (a LoRA adapter folder: merge it first with `hf-vclone export`)")
    source = load_file(str(path))
    target = model.state_dict()
    unused = [p for p in exclude if not any(k.startswith(p) for k in target)]
    if unused:
        raise UserError(f"model.warm_start_exclude: {', '.join(unused)} names no part of the model; parts are "
                        f"named by their parameter prefix, e.g. {', '.join(sorted({k.split('.')[0] for k in target}))}")

    def kept(name: str) -> bool:
        return not any(name.startswith(p) for p in exclude)

    wanted = {k: v for k, v in target.items() if kept(k)}
    problems = state_dict_problems({k: v for k, v in source.items() if kept(k)}, wanted)
    if problems:
        raise UserError(f"{KEY}: {folder} does not fit the model built from model.init_config: "
                        f"{'; '.join(problems)}; add the differing parts to model.warm_start_exclude "
                        "(they then start fresh), or make model.init_config match")
    with torch.no_grad():
        for name, tensor in wanted.items():
            tensor.copy_(source[name].to(tensor.dtype))
    return (f"warm start: {len(wanted)} of {len(target)} tensors from {folder}"
            + (f"; fresh: {', '.join(exclude)}" if exclude else ""))
