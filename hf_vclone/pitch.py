"""Pitch metrics: F0 error in cents and voicing disagreement between a real and a synthetic take.

MCD (metrics.py) says whether the spectral envelope is right; it is almost blind to intonation,
which is much of what makes a cloned voice sound like its speaker. So we also compare F0.

F0 comes from librosa's pYIN, which gives a voiced/unvoiced decision per frame as well as a
pitch. Frames are laid out exactly like SpeechT5's log-mel frames (hop 256 at 16 kHz, centred,
so frame i is centred at sample i * 256 and there are 1 + len(wave) // 256 of them). That lets
the DTW path that aligns the two mel-cepstra (`mel_dtw_path`, the same alignment as MCD) be
reused unchanged: timing is judged once, on the spectrum, and pitch is then read along it.

Per aligned frame pair (r, g):
    cents = 1200 * log2(f0_gen[g] / f0_ref[r])     over pairs voiced in both
    f0_rmse_cents = sqrt(mean(cents ** 2))
    voicing_error = fraction of pairs whose voiced/unvoiced decisions differ
Pairs are taken as the path lists them, so a frame the path repeats counts once per repetition,
as it does for MCD.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from dataclasses import asdict, dataclass

import librosa
import numpy as np

from .metrics import mel_dtw_path  # noqa: F401  (re-exported: the alignment F0 errors should use)

HOP_LENGTH = 256  # SpeechT5's mel hop at 16 kHz
# pYIN's pitch grid, in semitones. 0.1 (librosa's default) quantises F0 to 10 cents; coarser
# grids are faster (Viterbi cost grows with the square of the number of bins) but 20+ cents of
# quantisation would swamp the differences a fine-tuned voice is judged on.
RESOLUTION_SEMITONES = 0.1
WINDOW_SECONDS = 0.064  # 1024 samples at 16 kHz, SpeechT5's analysis window
# Fallback alignment (no mel path given): a voicing mismatch costs as much as an octave of pitch
# error, so DTW lines voiced regions up with voiced regions before it matches pitches.
VOICING_WEIGHT_SEMITONES = 12.0
# Sakoe-Chiba band (fraction of the shorter contour, widened by librosa to reach the corner):
# stops the F0-only alignment from warping far to hide pitch errors.
BAND_RADIUS = 0.25
# Contours already computed, by the wave's bytes and the settings. An evaluation scores every
# system against the same real recordings, and pYIN (0.6 s per 4-s clip on 2 cores, most of it
# its Viterbi pass) recomputed their contours for each: 36 of the quickstart's 84 contours, 20 s.
CONTOUR_CACHE_SIZE = 256
_contours: OrderedDict[tuple, np.ndarray] = OrderedDict()


@dataclass
class PitchErrors:
    f0_rmse_cents: float | None  # None when no aligned pair is voiced in both
    voicing_error: float  # fraction of aligned pairs with different voiced/unvoiced decisions
    voiced_pairs: int  # aligned pairs voiced in both, i.e. what f0_rmse_cents averages over

    def as_dict(self) -> dict:
        return asdict(self)


def frame_length_for(sampling_rate: int, fmin: float) -> int:
    """A power-of-two pYIN frame: SpeechT5's 64 ms window, or longer if two periods of fmin
    would not fit (YIN needs two periods to see one; librosa warns below that)."""
    needed = max(WINDOW_SECONDS * sampling_rate, 2.0 * sampling_rate / fmin + 2)
    return 1 << math.ceil(math.log2(needed))


def f0_contour(
    wave: np.ndarray,
    sampling_rate: int,
    hop_length: int = HOP_LENGTH,
    fmin: float = 50.0,
    fmax: float = 600.0,
) -> np.ndarray:
    """F0 in Hz per frame, NaN where pYIN calls the frame unvoiced.

    Centred frames (zero-padded by frame_length // 2 at both ends, as librosa's STFT does) give
    1 + len(wave) // hop_length frames, the SpeechT5 mel count at 16 kHz with hop 256.
    The 50-600 Hz default covers adult and child speech; narrowing it (e.g. 65-400 Hz for one
    known speaker) makes pYIN faster and less prone to octave errors.
    """
    wave = np.ascontiguousarray(wave, dtype=np.float32)
    if wave.ndim != 1:
        raise ValueError(f"f0_contour expects a mono 1-D wave, got shape {wave.shape}; downmix first")
    key = (hashlib.blake2b(wave.tobytes(), digest_size=16).digest(), len(wave), sampling_rate, hop_length, fmin, fmax)
    if key in _contours:
        _contours.move_to_end(key)
        return _contours[key].copy()
    f0, _, _ = librosa.pyin(
        wave,
        fmin=fmin,
        fmax=fmax,
        sr=sampling_rate,
        frame_length=frame_length_for(sampling_rate, fmin),
        hop_length=hop_length,
        resolution=RESOLUTION_SEMITONES,
        center=True,
        fill_na=np.nan,
    )
    _contours[key] = f0.copy()
    if len(_contours) > CONTOUR_CACHE_SIZE:
        _contours.popitem(last=False)
    return f0


def voiced_mask(f0: np.ndarray) -> np.ndarray:
    """Voiced = a finite, positive F0 (pYIN's NaN, and the 0 some trackers use, are unvoiced)."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(f0) & (f0 > 0)


def _alignment_features(f0: np.ndarray) -> np.ndarray:
    """(2, frames): pitch in semitones re 100 Hz, and voicing scaled to VOICING_WEIGHT_SEMITONES.

    Unvoiced frames have no pitch, so the semitone row is linearly interpolated across them
    (held flat at the ends; all zeros if nothing is voiced); the voicing row then makes a voiced
    frame and an unvoiced one differ by about an octave regardless of that filled-in pitch."""
    voiced = voiced_mask(f0)
    semitones = np.zeros(len(f0))
    if voiced.any():
        frames = np.arange(len(f0))
        semitones = np.interp(frames, frames[voiced], 12.0 * np.log2(f0[voiced] / 100.0))
    return np.stack([semitones, voiced * VOICING_WEIGHT_SEMITONES])


def f0_dtw_path(reference_f0: np.ndarray, generated_f0: np.ndarray) -> np.ndarray:
    """(K, 2) (ref, gen) pairs aligning two F0 contours directly, for when no mel path is at hand.

    Caveat: it minimises the very pitch distance being measured, so it is optimistic; the band
    limits that, and `mel_dtw_path` avoids it."""
    # librosa's band blocks the end corner when it rounds to 0 frames, so tiny contours go without.
    banded = round(BAND_RADIUS * min(len(reference_f0), len(generated_f0))) >= 1
    _, path = librosa.sequence.dtw(
        X=_alignment_features(reference_f0),
        Y=_alignment_features(generated_f0),
        metric="euclidean",
        global_constraints=banded,
        band_rad=BAND_RADIUS,
    )
    return path[::-1]


def _checked_path(path: np.ndarray, n_ref: int, n_gen: int) -> np.ndarray:
    path = np.asarray(path)
    if path.ndim != 2 or path.shape[1] != 2 or len(path) == 0:
        raise ValueError(f"path must be a non-empty (K, 2) array of (ref, gen) frame indices, got shape {path.shape}")
    if not np.issubdtype(path.dtype, np.integer):
        raise ValueError(f"path must hold integer frame indices, got dtype {path.dtype}")
    for column, name, n in ((0, "reference", n_ref), (1, "generated", n_gen)):
        low, high = int(path[:, column].min()), int(path[:, column].max())
        if low < 0 or high >= n:
            raise ValueError(
                f"path column {column} indexes {name} frames {low}..{high}, but the {name} F0 has {n} "
                "frames; compute the path on mels with the same hop and centring as f0_contour"
            )
    return path


def pitch_errors(
    reference_f0: np.ndarray, generated_f0: np.ndarray, path: np.ndarray | None = None
) -> PitchErrors:
    """Compare two F0 contours (NaN = unvoiced) along `path`, or along `f0_dtw_path` if None."""
    ref, gen = np.asarray(reference_f0, dtype=np.float64), np.asarray(generated_f0, dtype=np.float64)
    if ref.ndim != 1 or gen.ndim != 1 or len(ref) == 0 or len(gen) == 0:
        raise ValueError(f"F0 contours must be non-empty 1-D arrays, got shapes {ref.shape} and {gen.shape}")
    path = f0_dtw_path(ref, gen) if path is None else _checked_path(path, len(ref), len(gen))
    ref_pairs, gen_pairs = ref[path[:, 0]], gen[path[:, 1]]
    ref_voiced, gen_voiced = voiced_mask(ref_pairs), voiced_mask(gen_pairs)
    both = ref_voiced & gen_voiced
    rmse = None
    if both.any():
        cents = 1200.0 * np.log2(gen_pairs[both] / ref_pairs[both])
        rmse = float(np.sqrt(np.mean(cents**2)))
    return PitchErrors(
        f0_rmse_cents=rmse,
        voicing_error=float(np.mean(ref_voiced != gen_voiced)),
        voiced_pairs=int(both.sum()),
    )
