"""Fine-tuning strategies: each one decides which parameters train. Nothing else.

- full:         every weight of the acoustic model trains.
- freeze_lower: embeddings, prenets and the lowest N encoder/decoder layers are frozen; the
                upper layers adapt. Low layers hold text and acoustic basics every voice shares.
- lora:         peft LoRA adapters; the base stays untouched and the voice is a small adapter.

The speaker table is not part of a strategy: a learned speaker vector trains under all of them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from peft import LoraConfig, get_peft_model
from torch import nn

from .config import StrategyConfig
from .errors import UserError

logger = logging.getLogger(__name__)


def _full(tts: nn.Module, cfg: StrategyConfig, backend) -> nn.Module:
    tts.requires_grad_(True)
    return tts


def _freeze_lower(tts: nn.Module, cfg: StrategyConfig, backend) -> nn.Module:
    frozen = tuple(backend.lower_layer_prefixes(tts, cfg.freeze_layers))
    for name, param in tts.named_parameters():
        param.requires_grad_(not name.startswith(frozen))
    return tts


def _lora(tts: nn.Module, cfg: StrategyConfig, backend) -> nn.Module:
    settings = {**backend.default_lora, **cfg.lora}
    try:
        lora = LoraConfig(**settings)
    except TypeError as err:
        raise UserError(f"strategy.lora: {err}; see peft.LoraConfig for the valid fields") from None
    try:
        return get_peft_model(tts, lora)
    except ValueError as err:
        raise UserError(f"strategy.lora.target_modules: {err}") from None


STRATEGIES: dict[str, Callable[[nn.Module, StrategyConfig, object], nn.Module]] = {
    "full": _full,
    "freeze_lower": _freeze_lower,
    "lora": _lora,
}


def apply_strategy(tts: nn.Module, cfg: StrategyConfig, backend) -> nn.Module:
    """Return the model to train (a PeftModel for lora) with requires_grad set."""
    if cfg.name not in STRATEGIES:
        raise UserError(f"unknown strategy.name '{cfg.name}'; valid strategies: {', '.join(STRATEGIES)}")
    return STRATEGIES[cfg.name](tts, cfg, backend)


def parameter_counts(model: nn.Module) -> tuple[int, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in model.parameters())


def describe(model: nn.Module, strategy: str) -> str:
    trainable, total = parameter_counts(model)
    return f"strategy {strategy}: {trainable:,} of {total:,} parameters train ({100 * trainable / total:.2f}%)"
