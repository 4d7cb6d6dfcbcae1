"""hf_vclone's voice metrics as `evaluate` modules, loaded by path so they work offline.

    import evaluate
    from hf_vclone.metric_modules import metric_path
    mcd = evaluate.load(metric_path("mel_cepstral_distortion"))

(`evaluate.load("wer")` and friends fetch their scripts from the Hub; these live in the package.)
"""

from __future__ import annotations

from pathlib import Path

NAMES = ("mel_cepstral_distortion", "f0_error", "speaker_similarity", "character_error_rate", "word_error_rate")


def metric_path(name: str) -> str:
    if name not in NAMES:
        raise ValueError(f"unknown metric '{name}'; hf_vclone has: {', '.join(NAMES)}")
    return str(Path(__file__).parent / f"{name}.py")
