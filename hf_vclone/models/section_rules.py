"""Recipe rules more than one backend section shares (config/rules.py's (keys, clash, problem) form).

A light module, as the sections are: no torch, no transformers at import.
"""

from __future__ import annotations

from typing import Any


def no_speaker_vector(r: Any, family: str) -> tuple[tuple[str, ...], bool, str]:
    """A single-speaker family (VITS) has no speaker vector, so strategy
    speaker_embedding, or auto where it may pick it, would train nothing."""
    s = r.strategy
    picks = s.name == "speaker_embedding" or (s.name == "auto" and s.auto.little_similar == "speaker_embedding")
    what = ("strategy.name: speaker_embedding" if s.name != "auto" else
            "strategy.name: auto may pick speaker_embedding (strategy.auto.little_similar), which")
    return (("strategy.name", "strategy.auto.little_similar", "model.type"), picks,
            f"{what} trains only a speaker vector, and a {family} voice has none (the voice is in its weights); "
            "pick another strategy (for auto: strategy.auto.little_similar: head_only)")


def needs_a_built_tokenizer(r: Any, key: str, asked: bool) -> tuple[tuple[str, ...], bool, str]:
    """`<family>.phonemize` and `vits.add_blank` shape the tokenizer built from the data; a
    pretrained one already says both (its tokenizer_config.json), so the key would silently do nothing."""
    built = r.model.init_config is not None and r.model.processor in (None, "build")
    setting = key.split(".")[-1]
    return ((key, "model.processor"), asked and not built,
            f"{key}: applies to a tokenizer built from the data (model.init_config with model.processor: build); "
            f"a pretrained tokenizer keeps its own, as its tokenizer_config.json says (`{setting}`)")
