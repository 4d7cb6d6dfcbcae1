"""Preflight checks: each one either passes, or names a clip's problem ("kind: detail").

They run on every clip before it can reach training, because bad clips cost more than their
share: one clipped, mislabelled or silent clip teaches the model noise for the whole run.
Thresholds are `DataConfig` fields so a corpus with known quirks can relax one check, not all.
"""

from __future__ import annotations

import numpy as np

from ..config import DataConfig
from .audio import ClipError

FULL_SCALE = 0.999


def check_transcript(text: str | None) -> str:
    if text is None or not text.strip():
        raise ClipError("empty transcript")
    return text.strip()


def check_unknown_characters(unknown: list[str], cfg: DataConfig) -> None:
    if unknown and cfg.unknown_characters == "skip":
        shown = " ".join(repr(c) for c in unknown)
        raise ClipError(
            f"unknown characters: the tokenizer cannot encode {shown}; map them to letters it has with "
            f"data.replacements (e.g. {{{unknown[0]!r}: ...}}), fix the transcript, enable data.normalize_text, "
            "or set data.unknown_characters: keep"
        )


def check_raw_audio(wave: np.ndarray, rate: int, model_rate: int, cfg: DataConfig) -> list[str]:
    """Checks on the decoded clip as recorded. Returns warnings; raises on a fatal problem."""
    clipped = float(np.mean(np.abs(wave) >= FULL_SCALE))
    if clipped > cfg.max_clipped_fraction:
        raise ClipError(
            f"heavy clipping: {100 * clipped:.1f}% of samples at full scale "
            f"(limit data.max_clipped_fraction={cfg.max_clipped_fraction})"
        )
    warnings = []
    if rate < cfg.min_sample_rate_ratio * model_rate:
        warnings.append(f"upsampled: recorded at {rate} Hz, the model works at {model_rate} Hz; it will sound dull")
    return warnings


def check_duration(seconds: float, cfg: DataConfig) -> None:
    if seconds < cfg.min_seconds:
        raise ClipError(f"too short: {seconds:.2f} s after trimming (data.min_seconds={cfg.min_seconds})")
    if seconds > cfg.max_seconds:
        raise ClipError(f"too long: {seconds:.2f} s after trimming (data.max_seconds={cfg.max_seconds})")


def chars_per_second_outliers(chars: list[int], seconds: list[float], z_limit: float | None) -> dict[int, str]:
    """Index -> reason for clips whose speaking rate is implausible for this corpus.

    A transcript that belongs to another clip, or audio cut short, shows up as a speaking rate far
    from the corpus' own. The robust z-score (median and MAD) is not dragged by the outliers."""
    if z_limit is None or len(chars) < 8:
        return {}
    rate = np.asarray(chars, dtype=np.float64) / np.maximum(np.asarray(seconds, dtype=np.float64), 1e-6)
    median = float(np.median(rate))
    mad = float(np.median(np.abs(rate - median))) or 1e-6
    z = 0.6745 * (rate - median) / mad
    return {
        int(i): (
            f"text/audio length mismatch: {chars[i]} characters in {seconds[i]:.2f} s is {rate[i]:.1f} chars/s; "
            f"this corpus speaks at {median:.1f} (robust z={z[i]:+.1f}, limit data.chars_per_second_z={z_limit})"
        )
        for i in np.flatnonzero(np.abs(z) > z_limit)
    }


def reason_kind(reason: str) -> str:
    return reason.split(":", 1)[0]
