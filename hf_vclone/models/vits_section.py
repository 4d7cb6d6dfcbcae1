"""The `vits:` recipe section: the VITS backend's settings (loss weights, discriminator), their
value ranges and the rules that combine them with the rest of a recipe.

A light module (no torch, no transformers at import), for the same reason as speecht5_section.py:
hf_vclone.config validates a recipe with it, and the backend imports config, one way.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .section_rules import needs_a_built_tokenizer, no_speaker_vector

KEY = "vits"


@dataclass
class VitsConfig:
    """model.type vits: the training losses' weights (the published VITS defaults) and the discriminator."""

    mel_weight: float = 45.0  # L1 between log-mels of the generated and the real slice
    kl_weight: float = 1.0
    duration_weight: float = 1.0
    adversarial_weight: float = 1.0
    feature_matching_weight: float = 2.0
    # |mean(generated) - mean(real)| per slice: a constant offset is invisible to the mel loss, and a
    # decoder trained from scratch drifted into a saturated tanh by it (benchmarks/README.md, session 12)
    dc_weight: float = 10.0
    # the share of the posterior's noise in the latent the decoder trains on: 1 the sample (VITS), 0 the
    # posterior mean. Why: on our demo base the sample is mostly noise (per channel the mean's variance
    # across frames is at most 3.7x the noise's), a linear probe reads the words from the mean (Griffin-Lim
    # CER 0.15) but not from the sample (0.91), and the decoder trained on the sample blurs the formants
    # (benchmarks/README.md, "The decoder trains on noise"). The KL and the flow still see the sample.
    posterior_noise: float = 1.0
    segment_frames: int = 32  # latent frames decoded per clip per step (32 x hop 256 = 8192 samples)
    mel_bins: int = 80
    # a model built from scratch (model.processor: build) reads espeak-ng IPA phonemes, as the original
    # VITS does, instead of letters; a pretrained tokenizer says for itself (its `phonemize`)
    phonemize: bool = False
    # a built tokenizer puts a blank token between symbols, as VITS and MMS-TTS do; false: none. Why:
    # the blanks halve the frames each token gets (espeak-ng's fast speech at hop 256 / 16 kHz leaves
    # 1.6 frames per token with them, 3.2 without), which the alignment search has to resolve
    add_blank: bool = True
    # the discriminator to start from: an hf_vclone voice or checkpoint folder, an original VITS / MMS
    # training checkpoint (D_*.pth) or a finetune-hf-vits model folder; none: a fresh one
    discriminator: str | None = None
    discriminator_width: float | None = None  # channel multiplier; none: the imported one's, or 1.0 (published) fresh
    discriminator_layout: str | None = None  # hifigan (3 scales) or vits (1 scale); none: the imported one's, or hifigan
    discriminator_learning_rate: float | None = None  # none: training.learning_rate
    # the first N steps add a diagonal prior (beta-binomial, Badlani et al. 2021) to the alignment
    # search, its weight falling from 1 to 0; 0: off. A fresh text encoder cannot tell its tokens apart,
    # and without it the search never finds the real durations (benchmarks/README.md)
    alignment_prior_steps: int = 0
    # the KL term's weight rises from 0 to kl_weight over the first N steps; 0: off. Why: the KL pushes
    # the posterior's spread up at every step, and on our small bases it collapsed onto a prior that
    # says nothing about the text (benchmarks/README.md); a VAE's usual cure is to anneal it
    kl_warmup_steps: int = 0
    # where the alignment search may look. search: anywhere (VITS). espeak: the corpus is espeak-ng
    # speech (the offline demo corpus), so each token is held to the frames of its phoneme as
    # libespeak-ng timed it, +- 1 frame (vits/espeak_timing.py). Why: on our small bases the text prior
    # explains too little of the latent for the search to find the true durations (benchmarks/README.md).
    # espeak_durations: no search at all; each token gets the frames a fixed rule gives it from those
    # timings (a phoneme its own, a blank or stress mark one, a pause to the tokens in it), so the
    # duration predictor learns targets the text predicts
    alignment: str = "search"
    # vits.alignment espeak: the espeak-ng voice that spoke the clips, a demo corpus voice (us_f2) or
    # espeak-ng arguments ("-v en-us+f2 -p 55 -s 170")
    espeak_voice: str | None = None
    # after training, set the voice's speaking_rate so that its predicted durations, drawn as it speaks,
    # add up to this many times its training clips' length (1.0: their pace; 1.3: 30% slower); null: keep
    # the base's. Why: a low duration noise predicts short durations, and a fine-tune that keeps the base's
    # duration predictor speaks at the base's pace, not the target's (vits/pace.py)
    calibrate_length: float | None = None


# (key, holds for the value, what the value must be), as config/rules.py RANGES
RANGES: list[tuple[str, Callable[[Any], bool], str]] = [
    ("vits.mel_weight", lambda v: 0 <= v < math.inf, "a weight of 0 or more (published: 45)"),
    ("vits.kl_weight", lambda v: 0 <= v < math.inf, "a weight of 0 or more (published: 1)"),
    ("vits.duration_weight", lambda v: 0 <= v < math.inf, "a weight of 0 or more (published: 1)"),
    ("vits.adversarial_weight", lambda v: 0 <= v < math.inf, "a weight of 0 or more (published: 1)"),
    ("vits.feature_matching_weight", lambda v: 0 <= v < math.inf, "a weight of 0 or more (published: 2)"),
    ("vits.dc_weight", lambda v: 0 <= v < math.inf, "a weight of 0 or more (0: off)"),
    ("vits.posterior_noise", lambda v: 0 <= v <= 1, "a share from 0 (the posterior mean) to 1 (its sample, as VITS)"),
    ("vits.segment_frames", lambda v: v >= 1, "1 or more frames (published: 32)"),
    ("vits.mel_bins", lambda v: v >= 1, "1 or more mel bins (published: 80)"),
    ("vits.discriminator_width", lambda v: v is None or 0 < v < math.inf,
     "a channel multiplier above 0 (1.0 is the published size), or null"),
    ("vits.discriminator_layout", lambda v: v is None or v in ("hifigan", "vits"),
     "hifigan (three scale discriminators) or vits (one, as VITS and MMS-TTS trained with), or null"),
    ("vits.kl_warmup_steps", lambda v: v >= 0, "a number of training steps, 0 or more (0: off)"),
    ("vits.alignment_prior_steps", lambda v: v >= 0, "a number of training steps, 0 or more (0: off)"),
    ("vits.alignment", lambda v: v in ("search", "espeak", "espeak_durations"),
     "search (the monotonic alignment search, as VITS), espeak (the search inside windows from espeak-ng's "
     "phoneme timings) or espeak_durations (the durations those timings give, no search)"),
    ("vits.discriminator_learning_rate", lambda v: v is None or 0 < v < math.inf, "a rate above 0, or null"),
    ("vits.calibrate_length", lambda v: v is None or 0 < v < math.inf,
     "a length relative to the training clips above 0 (1.0: their pace), or null (keep the base's speaking_rate)"),
]


def conflicts(r: Any) -> list[tuple[tuple[str, ...], bool, str]]:
    """(keys, clash, problem) for settings a VITS recipe cannot combine (config/rules.py's form)."""
    return [
        (("training.fp16", "model.type"), bool(r.training.get("fp16")),
         "training.fp16: VITS is known to produce NaNs in float16 (its flows and duration predictor overflow); "
         "use training.bf16: true or float32"),
        no_speaker_vector(r, "VITS"),
        needs_a_built_tokenizer(r, "vits.phonemize", r.vits.phonemize),
        needs_a_built_tokenizer(r, "vits.add_blank", not r.vits.add_blank),
        (("vits.alignment", "vits.espeak_voice"),
         r.vits.alignment in ("espeak", "espeak_durations") and not r.vits.espeak_voice,
         f"vits.alignment {r.vits.alignment} needs vits.espeak_voice: the espeak-ng voice that spoke the clips "
         "(a demo corpus voice such as us_f2, or arguments such as '-v en-us+f2 -p 55 -s 170')"),
    ]


def model_config_class() -> type:
    """The transformers config class that `model.init_config` and `model.config_overrides` fill."""
    from transformers import VitsConfig as HFVitsConfig

    return HFVitsConfig

# The settings class a recipe's `vits:` section fills (hf_vclone.backends builds the backend with it).
SETTINGS = VitsConfig
