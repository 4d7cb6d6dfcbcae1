"""What sharded training (FSDP2, DeepSpeed) needs changed in a voice, and undone when it is saved.

SpeechT5 has 0-d parameters: `SpeechT5ScaledPositionalEncoding.alpha`, the scale of the positional
encoding in the encoder and decoder prenets, is `nn.Parameter(torch.tensor(1.0))`. Both sharding
engines reject those, on any device:
- FSDP2's `fully_shard`: "fully_shard doesn't support scalar parameters. Change alpha to a 1D
  tensor with numel equal to 1." (torch/distributed/fsdp/_fully_shard/_fsdp_init.py)
- DeepSpeed's `_broadcast_model` views every parameter as bytes: "self.dim() cannot be 0 to view
  Float as Byte" (deepspeed/runtime/engine.py).

So under sharding such a parameter becomes 1-d with one element: `emb + alpha * pe` broadcasts
the same. It is done in place (`param.data`), so the parameter keeps its identity for anything
that already holds it (the optimizer is not built yet; L2-SP's pairs). And only under sharding:
a 1-d parameter reduces its gradient in a different order than a 0-d one, and single-process and
DDP runs must stay bit-for-bit what they were.

A saved voice gets the original 0-d shape back (`restore_scalar_shapes`, used by `save_voice`),
so `SpeechT5ForTextToSpeech.from_pretrained` loads it as before; `load_voice_weights` reshapes
the other way when it loads a saved voice into a promoted one.
"""

from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

# The names (as `voice.named_parameters()` gives them) of the parameters made 1-d, kept on the voice
# itself: `save_voice` and `load_voice_weights` only get the voice.
_PROMOTED = "_vclone_promoted_scalars"


def promote_scalar_parameters(voice: nn.Module) -> tuple[str, ...]:
    """Make every 0-d parameter of `voice` 1-d (numel 1), in place; returns their names."""
    names = []
    for name, param in voice.named_parameters():
        if param.dim() == 0:
            param.data = param.data.reshape(1)
            names.append(name)
    setattr(voice, _PROMOTED, tuple(sorted(set(getattr(voice, _PROMOTED, ())) | set(names))))
    return tuple(names)


def promoted_scalars(voice: nn.Module, prefix: str = "") -> set[str]:
    """The promoted parameters' names, relative to `prefix` (e.g. "tts." for the voice's model)."""
    return {n[len(prefix):] for n in getattr(voice, _PROMOTED, ()) if n.startswith(prefix)}


def restore_scalar_shapes(state: Mapping[str, torch.Tensor], names: set[str]) -> dict[str, torch.Tensor]:
    """`state` with the named tensors 0-d again, as the model class itself declares them."""
    return {k: (v.reshape(()) if k in names and v.numel() == 1 else v) for k, v in state.items()}
