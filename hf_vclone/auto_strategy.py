"""`strategy.name: auto`: choose how much of the base to retrain, by the practice's rule.

    target audio | voice vs base | strategy
    little       | similar       | head only (or speaker embedding only)
    much         | similar       | upper layers (or everything)
    little       | dissimilar    | freeze the lower layers, train the upper ones
    much         | dissimilar    | full

"Similar" is measured, not guessed: the base speaks a few of the target's training sentences in
each voice it knows, and a speaker encoder compares that with the target's real recordings (the
speaker similarity of the evaluation). The nearest voice's score is what counts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from tqdm.auto import tqdm

from .config import AutoConfig
from .speaker_similarity import cosine, load_speaker_encoder

SpeakFn = Callable[[str], np.ndarray]  # text -> waveform, one base voice


@dataclass
class StrategyChoice:
    name: str
    reason: str
    minutes: float
    similarity: float
    nearest_voice: str
    encoder: str

    def as_dict(self) -> dict:
        return asdict(self)


def choose(minutes: float, similarity: float, cfg: AutoConfig) -> tuple[str, str]:
    """(strategy, reason) from the amount of audio and the base-vs-target similarity."""
    little = minutes <= cfg.little_minutes
    similar = similarity > cfg.similar_above
    amount = f"{minutes:.1f} min of audio is {'little' if little else 'much'} (<= {cfg.little_minutes} min is little)"
    closeness = (f"speaker similarity {similarity:.2f} to the base's nearest voice is "
                 f"{'similar' if similar else 'dissimilar'} (> {cfg.similar_above} is similar)")
    if little and similar:
        name, why = cfg.little_similar, "the base already nearly speaks this voice; little data can only move the heads"
    elif similar:
        name, why = cfg.much_similar, "the voice is close to the base's: retrain the upper layers, keep the rest"
    elif little:
        name, why = "freeze_lower", "a new voice from little data: adapt the upper layers, keep the shared lower ones"
    else:
        name = cfg.much_dissimilar
        why = ("a new voice with enough data to retrain everything" if name == "full" else
               "a new voice: adapt the upper layers, keep the shared lower ones (auto.much_dissimilar)")
    return name, f"{amount}; {closeness}: {name}, {why}"


def nearest_voice(voices: dict[str, SpeakFn], texts: list[str], references: list[np.ndarray], rate: int,
                  encoder: str | None) -> tuple[str, float, str]:
    """(voice name, its mean similarity to `references`, encoder name) for the closest base voice."""
    model = load_speaker_encoder(encoder, "evaluation.speaker_encoder")
    targets = [model.embed(np.asarray(wave, np.float32), rate) for wave in references]
    scores = {}
    for name, speak in tqdm(voices.items(), desc="strategy auto: how close is the base", unit="voice"):
        spoken = [model.embed(np.asarray(speak(text), np.float32), rate) for text in texts]
        scores[name] = float(np.mean([cosine(s, t) for s, t in zip(spoken, targets)]))
    best = max(scores, key=scores.get)
    return best, scores[best], model.name


def choose_strategy(voices: dict[str, SpeakFn], texts: list[str], references: list[np.ndarray], rate: int,
                    minutes: float, cfg: AutoConfig, encoder: str | None) -> StrategyChoice:
    voice, similarity, encoder_name = nearest_voice(voices, texts, references, rate, encoder)
    name, reason = choose(minutes, similarity, cfg)
    return StrategyChoice(name, reason, minutes, similarity, voice, encoder_name)
