import math

import numpy as np
import pytest
from scipy.fft import idct

from hf_vclone.metrics import mcd_dtw, mel_cepstrum, summarize


def mel_from_cepstrum(cepstra: np.ndarray) -> np.ndarray:
    """Inverse of mel_cepstrum for 80 bins (zeros above c13), back to log10 magnitude."""
    full = np.zeros((len(cepstra), 80))
    full[:, : cepstra.shape[1]] = cepstra
    return idct(full, type=2, norm="ortho", axis=-1) / math.log(10.0)


def test_identical_spectrograms_have_zero_distance() -> None:
    mel = np.random.default_rng(0).normal(size=(50, 80))
    d = mcd_dtw(mel, mel)
    assert d.mcd == pytest.approx(0.0, abs=1e-9)
    assert d.length_ratio == 1.0 and d.counted


def test_overall_gain_is_ignored_because_c0_is_excluded() -> None:
    mel = np.random.default_rng(1).normal(size=(40, 80))
    assert mcd_dtw(mel, mel + 0.7).mcd == pytest.approx(0.0, abs=1e-9)


def test_known_cepstral_offset_gives_the_textbook_value() -> None:
    rng = np.random.default_rng(2)
    cep = np.concatenate([rng.normal(size=(30, 1)) * 5, np.zeros((30, 13))], axis=1)  # c0 only varies
    shifted = cep.copy()
    shifted[:, 3] += 0.25  # delta in c3 only
    d = mcd_dtw(mel_from_cepstrum(cep), mel_from_cepstrum(shifted))
    assert d.mcd == pytest.approx(10 / math.log(10) * math.sqrt(2 * 0.25**2), rel=1e-6)


def test_cepstrum_uses_coefficients_1_to_13() -> None:
    cep = np.zeros((1, 14))
    cep[0, 1:] = np.arange(1, 14)
    assert np.allclose(mel_cepstrum(mel_from_cepstrum(cep)), np.arange(1, 14))


def test_outputs_that_never_stop_are_not_counted() -> None:
    mel = np.random.default_rng(3).normal(size=(40, 80))
    endless = np.concatenate([mel, np.repeat(mel[-1:], 60, axis=0)])  # 2.5x the reference
    d = mcd_dtw(mel, endless)
    assert d.length_ratio == pytest.approx(2.5) and not d.counted
    summary = summarize([d, mcd_dtw(mel, mel)])
    assert summary["counted"] == 1 and summary["excluded_by_length"] == 1
    assert summary["mcd_mean"] == pytest.approx(0.0, abs=1e-9)
