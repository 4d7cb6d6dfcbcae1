"""Pitch metrics against signals whose F0 is known by construction, then on real espeak-ng speech."""

from __future__ import annotations

import subprocess
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf
import soxr
from transformers import SpeechT5FeatureExtractor

from hf_vclone.metrics import mel_dtw_path
from hf_vclone.pitch import f0_contour, pitch_errors

SR = 16000


def harmonic_tone(f0_hz: np.ndarray | float, seconds: float, sr: int = SR) -> np.ndarray:
    """Four harmonics (amplitude 1/k) following f0_hz, a constant or a per-sample glide."""
    n = int(seconds * sr)
    f0 = np.broadcast_to(np.asarray(f0_hz, dtype=np.float64), (n,))
    phase = 2 * np.pi * np.cumsum(f0) / sr
    wave = sum(np.sin(k * phase) / k for k in range(1, 5))
    return (0.3 * wave).astype(np.float32)


def glide(seconds: float, start_hz: float = 120.0, end_hz: float = 200.0) -> np.ndarray:
    """A tone gliding geometrically (linear in cents) from start_hz to end_hz over `seconds`."""
    n = int(seconds * SR)
    return harmonic_tone(start_hz * (end_hz / start_hz) ** np.linspace(0, 1, n), seconds)


def log10_mel(wave: np.ndarray) -> np.ndarray:
    """(frames, 80) log10 mel with SpeechT5's framing: n_fft 1024, hop 256, centred."""
    mel = librosa.feature.melspectrogram(y=wave, sr=SR, n_fft=1024, hop_length=256, n_mels=80, center=True)
    return np.log10(np.maximum(mel, 1e-10)).T


@pytest.fixture(scope="module")
def tone_150_f0() -> np.ndarray:
    return f0_contour(harmonic_tone(150.0, 2.0), SR)


def test_harmonic_tone_at_150_hz_reads_150_hz(tone_150_f0: np.ndarray) -> None:
    voiced = tone_150_f0[np.isfinite(tone_150_f0)]
    assert len(voiced) > 0.9 * len(tone_150_f0)
    assert np.median(voiced) == pytest.approx(150.0, abs=1.0)
    assert np.all(np.abs(1200 * np.log2(voiced / 150.0)) < 15)  # every voiced frame within 15 cents


def test_identical_contours_have_no_error(tone_150_f0: np.ndarray) -> None:
    errors = pitch_errors(tone_150_f0, tone_150_f0)
    assert errors.f0_rmse_cents == pytest.approx(0.0, abs=1e-9)
    assert errors.voicing_error == 0.0
    assert errors.voiced_pairs == np.isfinite(tone_150_f0).sum()


def test_two_semitones_up_is_200_cents(tone_150_f0: np.ndarray) -> None:
    shifted = f0_contour(harmonic_tone(150.0 * 2 ** (2 / 12), 2.0), SR)
    errors = pitch_errors(tone_150_f0, shifted)
    assert errors.f0_rmse_cents == pytest.approx(200.0, abs=5.0)
    assert errors.voicing_error < 0.05


def test_time_stretched_glide_is_forgiven_by_dtw_but_not_frame_by_frame() -> None:
    reference, stretched = glide(2.0), glide(3.0)  # same 120->200 Hz glide, 1.5x slower
    ref_f0, gen_f0 = f0_contour(reference, SR), f0_contour(stretched, SR)

    aligned = pitch_errors(ref_f0, gen_f0)  # F0-based DTW
    assert aligned.f0_rmse_cents is not None and aligned.f0_rmse_cents < 20

    n = len(ref_f0)
    naive = pitch_errors(ref_f0, gen_f0, path=np.stack([np.arange(n), np.arange(n)], axis=1))
    assert naive.f0_rmse_cents is not None and naive.f0_rmse_cents > 100


def test_mel_dtw_path_can_be_reused_for_pitch() -> None:
    reference, stretched = glide(2.0), glide(3.0)
    ref_mel, gen_mel = log10_mel(reference), log10_mel(stretched)
    ref_f0, gen_f0 = f0_contour(reference, SR), f0_contour(stretched, SR)
    assert (len(ref_mel), len(gen_mel)) == (len(ref_f0), len(gen_f0))
    errors = pitch_errors(ref_f0, gen_f0, path=mel_dtw_path(ref_mel, gen_mel))
    assert errors.f0_rmse_cents is not None and errors.f0_rmse_cents < 20


def test_silence_against_a_tone_is_all_voicing_error(tone_150_f0: np.ndarray) -> None:
    silence = f0_contour(np.zeros(2 * SR, dtype=np.float32), SR)
    assert np.isnan(silence).all()
    errors = pitch_errors(silence, tone_150_f0)
    assert errors.f0_rmse_cents is None and errors.voiced_pairs == 0
    assert errors.voicing_error > 0.9


@pytest.mark.parametrize("n_samples", [4000, 16000, 16255, 16256, 24100])
def test_frames_line_up_with_speecht5_mel_frames(n_samples: int) -> None:
    wave = harmonic_tone(200.0, n_samples / SR)
    mel = SpeechT5FeatureExtractor()(audio_target=wave, sampling_rate=SR, return_tensors="np")["input_values"]
    assert len(f0_contour(wave, SR)) == 1 + n_samples // 256 == mel.shape[1]


def test_path_outside_the_contours_is_rejected_naming_the_frame_counts(tone_150_f0: np.ndarray) -> None:
    n = len(tone_150_f0)
    with pytest.raises(ValueError, match=f"has {n} frames"):
        pitch_errors(tone_150_f0, tone_150_f0, path=np.array([[0, 0], [n, n]]))


def espeak_16k(text: str, pitch: int, folder: Path) -> np.ndarray:
    wav = folder / f"p{pitch}.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), "-p", str(pitch), text], check=True)
    wave, rate = sf.read(wav, dtype="float32")  # espeak-ng writes 22050 Hz
    return soxr.resample(wave, rate, SR)


def test_higher_espeak_pitch_reads_higher_and_differs_in_cents(tmp_path: Path) -> None:
    high, low = espeak_16k("hello there", 70, tmp_path), espeak_16k("hello there", 30, tmp_path)
    high_f0, low_f0 = f0_contour(high, SR), f0_contour(low, SR)
    assert np.nanmedian(high_f0) > np.nanmedian(low_f0)
    errors = pitch_errors(low_f0, high_f0, path=mel_dtw_path(log10_mel(low), log10_mel(high)))
    assert errors.voiced_pairs > 0
    assert errors.f0_rmse_cents is not None and errors.f0_rmse_cents > 100


def test_a_contour_is_computed_once_per_wave_and_handed_out_as_a_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    """An evaluation scores every system against the same real recordings: their pYIN runs once."""
    calls = []
    real_pyin = librosa.pyin
    monkeypatch.setattr(librosa, "pyin", lambda *a, **k: calls.append(1) or real_pyin(*a, **k))
    wave = harmonic_tone(173.0, 0.5)
    first = f0_contour(wave, SR)
    first[:] = 0.0  # a caller changing its copy changes nothing for the next one
    second = f0_contour(wave.copy(), SR)
    assert len(calls) == 1
    assert np.nanmedian(second) == pytest.approx(173.0, abs=2.0)
    f0_contour(harmonic_tone(181.0, 0.5), SR)  # another wave,
    f0_contour(wave, SR, fmin=80.0)  # or other settings: computed
    assert len(calls) == 3
    np.testing.assert_array_equal(f0_contour(wave, SR), second)
    assert len(calls) == 3
