"""Waveform clean-up before features: decode, mono, resample, loudness-normalise, trim.

Each step exists because real recordings differ in ways the model should not have to learn:
sample rate (resample with soxr), level (EBU R128 loudness with pyloudnorm, so a quiet phone
recording and a hot studio take reach the model alike) and leading/trailing silence (which the
stop-token head would otherwise learn as speech). A clip that cannot be fixed raises `ClipError`
with a reason meant for the skipped-clips report.
"""

from __future__ import annotations

import io
import os

import librosa
import numpy as np
import pyloudnorm
import soundfile as sf
import soxr


class ClipError(ValueError):
    """This clip cannot be used; the message is the reason shown in skipped.csv.

    Messages read "kind: detail" (e.g. "file not found: wavs/a.wav"), so reports can count
    reasons by kind while each row keeps its specifics."""


def decode(path: str | None = None, data: bytes | None = None) -> tuple[np.ndarray, int]:
    """Decode with libsndfile (wav, flac, ogg, mp3); returns float32 (samples, channels)."""
    source = io.BytesIO(data) if data else path
    if source is None:
        raise ClipError("no audio: the row has neither a path nor bytes")
    if not data and not os.path.isfile(path):
        raise ClipError(f"file not found: {path}")
    cut = wav_truncation(path, data)
    if cut:
        raise ClipError(cut)
    try:
        wave, rate = sf.read(source, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as err:
        raise ClipError(f"cannot decode: {err}; re-export the file as WAV or FLAC") from None
    if wave.size == 0:
        raise ClipError("empty audio: the file has no samples")
    bad = int(wave.size - np.count_nonzero(np.isfinite(wave)))
    if bad:
        raise ClipError(f"non-finite samples: {bad} of {wave.size} samples are NaN or infinite; "
                        "the file is corrupt, re-export it")
    return wave, rate


def wav_truncation(path: str | None, data: bytes | None) -> str:
    """A WAV file cut off after its header (an interrupted copy or download) still decodes: to
    fewer samples, or none, which later reads as "silence only" or "too short". Its header says
    how many bytes of audio it should hold; compare that with what is there. "" for any other
    container, an intact file, or a streamed header that leaves the size open."""
    head = data[:4096] if data else _read_head(path)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return ""
    total = len(data) if data else os.path.getsize(path)
    offset = 12
    while offset + 8 <= len(head):
        chunk, size = head[offset:offset + 4], int.from_bytes(head[offset + 4:offset + 8], "little")
        if chunk == b"data":
            have = total - offset - 8
            if size not in (0, 0xFFFFFFFF) and have < size:
                return (f"truncated file: its WAV header promises {size} bytes of audio, the file holds "
                        f"{max(have, 0)}; it was cut off (re-copy or re-export it)")
            return ""
        offset += 8 + size + (size & 1)
    return ""


def _read_head(path: str | None) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(4096)
    except OSError:
        return b""  # decoding names the unreadable file


def to_mono(wave: np.ndarray) -> np.ndarray:
    return wave.mean(axis=1) if wave.ndim == 2 else wave


def resample(wave: np.ndarray, rate: int, target: int) -> np.ndarray:
    if rate == target:
        return wave
    return soxr.resample(wave, rate, target, quality="HQ").astype(np.float32)


def normalize_loudness(wave: np.ndarray, rate: int, target_lufs: float) -> np.ndarray:
    """Gain to `target_lufs` integrated loudness (BS.1770), then keep the peak below full scale."""
    block = min(0.4, len(wave) / rate)
    loudness = pyloudnorm.Meter(rate, block_size=block).integrated_loudness(wave.astype(np.float64))
    if not np.isfinite(loudness):
        raise ClipError("silence only: loudness is -inf")
    out = wave * np.float32(10.0 ** ((target_lufs - loudness) / 20.0))
    peak = float(np.abs(out).max())
    return out / peak * 0.99 if peak > 0.99 else out


def trim_silence(wave: np.ndarray, top_db: float) -> np.ndarray:
    trimmed, _ = librosa.effects.trim(wave, top_db=top_db, frame_length=1024, hop_length=256)
    return trimmed


def clean(wave: np.ndarray, rate: int, target_rate: int, target_lufs: float, top_db: float) -> np.ndarray:
    """The whole chain, in the order that keeps each step honest: trim after levelling so the
    silence threshold means the same thing for every clip."""
    wave = resample(to_mono(wave), rate, target_rate)
    if float(np.abs(wave).max()) < 1e-5:
        raise ClipError("silence only: peak below -100 dBFS")
    wave = normalize_loudness(wave, target_rate, target_lufs)
    return trim_silence(wave, top_db).astype(np.float32)
