"""Layer-wise learning rates: each trainable parameter's multiplier of `training.learning_rate`.

The transfer-learning practice (Caffe's `lr_mult`) lets lower layers move slowly, or barely,
while the top layers move fast, instead of the all-or-nothing of freezing. The multipliers
become optimizer parameter groups (`VoiceTrainer.create_optimizer`), so the Trainer's scheduler
scales every group's rate by the same warm-up/decay factor and the ratios hold all run long.
"""

from __future__ import annotations

from torch import nn

from .config import LayerLRConfig
from .errors import UserError

# How a parameter of the voice is named relative to the backend's own model: the voice holds it
# as `tts.` (and peft inserts `base_model.model.`). Recipes and depth prefixes use the model's
# own names, as `named_parameters()` of a plain `from_pretrained` model prints them.
_WRAPPERS = ("tts.base_model.model.", "tts.")


def model_name(voice_param_name: str) -> str:
    for wrapper in _WRAPPERS:
        if voice_param_name.startswith(wrapper):
            return voice_param_name[len(wrapper):]
    return voice_param_name


def lr_multipliers(voice: nn.Module, cfg: LayerLRConfig, levels: list[tuple[str, ...]]) -> dict[str, float] | None:
    """name -> multiplier for every trainable parameter of `voice`, or None when all are 1.

    Parameters outside the model (the speaker vector) and those no level names count as top."""
    if cfg.decay is None and not cfg.groups:
        return None
    if cfg.decay is not None and not 0 < cfg.decay <= 1:
        raise UserError(f"strategy.layer_lr.decay={cfg.decay}: give a factor in (0, 1], e.g. 0.3")
    bad = {k: v for k, v in cfg.groups.items() if v <= 0}
    if bad or cfg.top <= 0:
        raise UserError(f"strategy.layer_lr: multipliers must be positive (top={cfg.top}, groups {bad or 'ok'})")
    trainable = [name for name, p in voice.named_parameters() if p.requires_grad]
    unmatched = [prefix for prefix in cfg.groups if not any(model_name(n).startswith(prefix) for n in trainable)]
    if unmatched:
        raise UserError(
            f"strategy.layer_lr.groups: no trainable parameter starts with {', '.join(map(repr, unmatched))}; "
            f"use the model's own parameter names, e.g. {model_name(trainable[0])!r}"
        )
    top = len(levels) - 1
    multipliers = {}
    for name in trainable:
        inner = model_name(name)
        # The longest matching explicit prefix wins, so "a." and "a.b." can both be named.
        explicit = [p for p in cfg.groups if inner.startswith(p)]
        if explicit:
            multipliers[name] = cfg.groups[max(explicit, key=len)]
            continue
        level = next((i for i, prefixes in enumerate(levels) if inner.startswith(prefixes)), top)
        decay = 1.0 if cfg.decay is None else cfg.decay
        multipliers[name] = cfg.top * decay ** (top - level)
    return multipliers


def parameter_groups(model: nn.Module, multipliers: dict[str, float], decay_names: set[str],
                     learning_rate: float, weight_decay: float) -> list[dict]:
    """One optimizer group per (multiplier, weight decay or not), each with its own `lr`.

    `model` may be the Trainer's wrapped model; names are matched after its wrappers."""
    groups: dict[tuple[float, bool], list[nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        key = name.removeprefix("module.")
        groups.setdefault((multipliers[key], name in decay_names), []).append(param)
    return [
        {"params": params, "lr": learning_rate * mult, "weight_decay": weight_decay if decays else 0.0,
         "lr_multiplier": mult}
        for (mult, decays), params in sorted(groups.items(), key=lambda item: item[0])
    ]
