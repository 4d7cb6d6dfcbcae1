"""Mel-cepstral distortion with DTW, always reported beside the length ratio.

MCD here is computed from the 80-band log10-mel that SpeechT5 predicts (and that the feature
extractor computes for the reference), not from a vocoder's output, so Griffin-Lim artefacts do
not count against the acoustic model. Cepstra: DCT-II (orthonormal) of the natural-log mel
magnitude, coefficients 1..13 (c0, the energy, is left out, as is standard). Per frame:
    MCD = 10 / ln(10) * sqrt(2 * sum_d (c_d - c'_d)^2)      [dB]
averaged along the DTW path. DTW forgives timing, which is the point, but it also rewards
outputs that never stop (STACK.md); so a distance counts only when generated/reference frames
lies within LENGTH_RATIO_BOUNDS.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import librosa
import numpy as np
from scipy.fft import dct

LENGTH_RATIO_BOUNDS = (0.5, 2.0)
N_CEPSTRA = 13


@dataclass
class Distance:
    mcd: float  # dB, DTW-aligned
    length_ratio: float  # generated frames / reference frames
    counted: bool  # length_ratio within LENGTH_RATIO_BOUNDS

    def as_dict(self) -> dict:
        return asdict(self)


def mel_cepstrum(log10_mel: np.ndarray, n: int = N_CEPSTRA) -> np.ndarray:
    """(frames, bins) log10 magnitude mel -> (frames, n) cepstra without c0."""
    natural_log = np.asarray(log10_mel, dtype=np.float64) * math.log(10.0)
    return dct(natural_log, type=2, norm="ortho", axis=-1)[:, 1 : n + 1]


def frame_mcd(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (10.0 / math.log(10.0)) * np.sqrt(2.0 * np.sum((a - b) ** 2, axis=-1))


def mel_dtw_path(reference: np.ndarray, generated: np.ndarray) -> np.ndarray:
    """(K, 2) (reference, generated) frame pairs aligning two (frames, bins) log10-mels on their
    mel-cepstra, in forward order. MCD reads distances along it; F0 errors can reuse it, since a
    timing judged on the spectrum cannot hide intonation errors the way an F0-based one can."""
    _, path = librosa.sequence.dtw(X=mel_cepstrum(reference).T, Y=mel_cepstrum(generated).T, metric="euclidean")
    return path[::-1]


def mcd_dtw(reference: np.ndarray, generated: np.ndarray) -> Distance:
    ref, gen = mel_cepstrum(reference), mel_cepstrum(generated)
    path = mel_dtw_path(reference, generated)
    mcd = float(frame_mcd(ref[path[:, 0]], gen[path[:, 1]]).mean())
    ratio = len(generated) / len(reference)
    low, high = LENGTH_RATIO_BOUNDS
    return Distance(mcd=mcd, length_ratio=ratio, counted=low <= ratio <= high)


def summarize(distances: list[Distance]) -> dict:
    counted = [d.mcd for d in distances if d.counted]
    return {
        "mcd_mean": float(np.mean(counted)) if counted else None,
        "counted": len(counted),
        "excluded_by_length": len(distances) - len(counted),
        "length_ratio_mean": float(np.mean([d.length_ratio for d in distances])) if distances else None,
    }
