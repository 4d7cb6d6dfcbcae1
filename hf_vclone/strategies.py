"""Fine-tuning strategies: each one decides which parameters train. Nothing else.

- full:              every weight of the acoustic model trains.
- freeze_lower:      embeddings, prenets and the lowest N encoder/decoder layers are frozen; the
                     upper layers adapt. Low layers hold text and acoustic basics every voice shares.
                     (VITS: named parts, by default the text encoder and duration predictor.)
- lora:              peft LoRA adapters; the base stays untouched and the voice is a small adapter.
- head_only:         the "fixed feature extractor" case: only the output heads train (the
                     backend's `head_prefixes`: for SpeechT5 the postnet with feat_out/prob_out,
                     and the speaker projection).
- speaker_embedding: the whole model is frozen; only the speaker vector (a few hundred numbers)
                     trains, so the base must already be able to speak the voice.

How fast the trainable parameters move (layer-wise rates, L2-SP) is layered on top in
`layer_lr.py` and `l2sp.py`; `strategy: auto` picks one of these names (`auto_strategy.py`).
The speaker table is not part of a strategy: a learned speaker vector trains under all of them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from peft import LoraConfig, get_peft_model
from torch import nn

from .config import SpeakerConfig, StrategyConfig
from .errors import UserError

logger = logging.getLogger(__name__)


def _train_only(tts: nn.Module, prefixes: tuple[str, ...]) -> nn.Module:
    for name, param in tts.named_parameters():
        param.requires_grad_(name.startswith(prefixes))
    return tts


def _full(tts: nn.Module, cfg: StrategyConfig, backend) -> nn.Module:
    tts.requires_grad_(True)
    return tts


def _freeze_lower(tts: nn.Module, cfg: StrategyConfig, backend) -> nn.Module:
    frozen = tuple(backend.frozen_prefixes(tts, cfg))
    for name, param in tts.named_parameters():
        param.requires_grad_(not name.startswith(frozen))
    return tts


def _head_only(tts: nn.Module, cfg: StrategyConfig, backend) -> nn.Module:
    return _train_only(tts, tuple(backend.head_prefixes))


def _speaker_embedding(tts: nn.Module, cfg: StrategyConfig, backend) -> nn.Module:
    # A family whose models never have a speaker vector (VITS) is refused by its recipe section
    # already; one where it depends on the checkpoint (Tacotron 2's speaker_embedding_dim) only here.
    if backend.speaker_dim(tts) == 0:
        raise UserError("strategy.name: speaker_embedding trains only a speaker vector, and this model has none "
                        "(a single-speaker model: its voice is in its weights); pick another strategy "
                        "(for auto: strategy.auto.little_similar: head_only)")
    return _train_only(tts, ())


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
    "head_only": _head_only,
    "speaker_embedding": _speaker_embedding,
}


def check_compatible(name: str, cfg: StrategyConfig, speaker: SpeakerConfig) -> None:
    """Combinations that would train nothing, or ignore a setting, fail before any work."""
    if name == "speaker_embedding" and speaker.mode != "learned":
        raise UserError(
            f"strategy speaker_embedding trains only the speaker vector, but speaker.mode={speaker.mode} fixes it; "
            "set speaker.mode: learned"
        )
    if name not in ("full", "freeze_lower") and (cfg.layer_lr.decay is not None or cfg.layer_lr.groups):
        raise UserError(
            f"strategy.layer_lr applies to full and freeze_lower (the strategies that train whole layers); "
            f"the strategy is {name}: remove strategy.layer_lr or pick one of those"
        )


def apply_strategy(tts: nn.Module, name: str, cfg: StrategyConfig, backend) -> nn.Module:
    """Return the model to train (a PeftModel for lora) with requires_grad set."""
    if name not in STRATEGIES:
        raise UserError(f"unknown strategy.name '{name}'; valid strategies: {', '.join(STRATEGIES)}, auto")
    return STRATEGIES[name](tts, cfg, backend)


def parameter_counts(model: nn.Module) -> tuple[int, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in model.parameters())


def describe(model: nn.Module, strategy: str) -> str:
    trainable, total = parameter_counts(model)
    return f"strategy {strategy}: {trainable:,} of {total:,} parameters train ({100 * trainable / total:.2f}%)"
