import subprocess
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf

from hf_vclone.data.audio import ClipError, clean, decode, normalize_loudness, resample, to_mono, trim_silence


def tone(freq: float, seconds: float, rate: int, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_frequency(wave: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    return float(np.fft.rfftfreq(len(wave), 1 / rate)[spectrum.argmax()])


def test_resample_keeps_pitch_and_duration() -> None:
    out = resample(tone(440.0, 1.0, 22050), 22050, 16000)
    assert len(out) == 16000
    assert abs(peak_frequency(out, 16000) - 440.0) < 2.0


def test_loudness_normalisation_reaches_target_from_quiet_and_loud() -> None:
    for amp in (0.01, 0.3):
        out = normalize_loudness(tone(300.0, 2.0, 16000, amp), 16000, -23.0)
        measured = pyloudnorm.Meter(16000).integrated_loudness(out.astype(np.float64))
        assert measured == pytest.approx(-23.0, abs=0.1)


def test_loudness_never_clips() -> None:
    out = normalize_loudness(tone(300.0, 2.0, 16000, 0.01), 16000, 0.0)  # asks for +37 dB
    assert np.abs(out).max() <= 0.99 + 1e-6


def test_trim_removes_leading_and_trailing_silence_only() -> None:
    rate = 16000
    speech = tone(500.0, 1.0, rate)
    padded = np.concatenate([np.zeros(rate // 2, np.float32), speech, np.zeros(rate, np.float32)])
    trimmed = trim_silence(padded, top_db=40)
    # Frame-based detection keeps at most about one analysis frame (64 ms) of margin per side.
    assert len(speech) <= len(trimmed) <= len(speech) + 2 * 1024
    onset = int(np.flatnonzero(trimmed)[0]) - 1  # the tone starts at sin(0) = 0
    assert onset <= 1024
    assert np.array_equal(trimmed[onset : onset + len(speech)], speech)  # speech itself is untouched


def test_stereo_is_mixed_to_mono() -> None:
    left, right = tone(200, 0.5, 8000), np.zeros(4000, np.float32)
    assert np.allclose(to_mono(np.stack([left, right], axis=1)), left / 2)


def test_clean_on_espeak_speech(tmp_path: Path) -> None:
    wav = tmp_path / "hello.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), "Hello there, this is a test."], check=True)
    raw, rate = decode(str(wav))
    assert rate == 22050
    out = clean(raw, rate, 16000, -23.0, 40.0)
    assert 0 < len(out) / 16000 < len(raw) / rate  # resampled and trimmed
    assert pyloudnorm.Meter(16000).integrated_loudness(out.astype(np.float64)) == pytest.approx(-23.0, abs=1.5)


def test_corrupt_missing_and_silent_clips_raise_with_a_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00not really a wav")
    with pytest.raises(ClipError, match="cannot decode"):
        decode(str(bad))
    with pytest.raises(ClipError, match="not found"):
        decode(str(tmp_path / "missing.wav"))
    silent = tmp_path / "silent.wav"
    sf.write(str(silent), np.zeros(16000, np.float32), 16000)
    wave, rate = decode(str(silent))
    with pytest.raises(ClipError, match="silence only"):
        clean(wave, rate, 16000, -23.0, 40.0)
