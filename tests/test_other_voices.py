"""Other real voices reading the held-out sentences: found, featurised like the target, refused when incomplete."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from hf_vclone.errors import UserError
from hf_vclone.other_voices import find_recording, nearest, other_voice_systems, voice_folders


def _write(folder: Path, clip_id: str, value: float, suffix: str = ".wav") -> None:
    (folder / "wavs").mkdir(parents=True, exist_ok=True)
    sf.write(str(folder / "wavs" / f"{clip_id}{suffix}"), np.full(1600, value, np.float32), 16000)


def _read(row: dict) -> np.ndarray:
    return sf.read(row["audio"]["path"], dtype="float32")[0]


def test_each_voice_speaks_its_own_recording_of_each_sentence(tmp_path: Path) -> None:
    _write(tmp_path / "a", "t_1", 0.1)
    _write(tmp_path / "a", "t_2", 0.2, ".FLAC")  # any container, any extension case
    _write(tmp_path / "b", "t_1", 0.3)
    _write(tmp_path / "b", "t_2", 0.4, ".ogg")
    (tmp_path / "not_a_voice").mkdir()  # no wavs/: not a voice
    systems = other_voice_systems(tmp_path, ["t_1", "t_2"], ["one.", "two."], _read,
                                  lambda wave, text: np.full((len(text), 2), wave.mean()))
    assert set(systems) == {"a", "b"}
    mel, wave = systems["b"]("two.")
    assert wave.mean() == pytest.approx(0.4, abs=1e-3) and mel.shape == (4, 2) and mel[0, 0] == pytest.approx(0.4, abs=1e-3)
    assert systems["a"]("one.")[1].mean() == pytest.approx(0.1, abs=1e-3)


def test_a_missing_or_doubled_recording_is_named(tmp_path: Path) -> None:
    _write(tmp_path / "a", "t_1", 0.1)
    with pytest.raises(UserError, match=r"evaluation.other_voices: .*a/wavs/t_2.wav is missing"):
        other_voice_systems(tmp_path, ["t_1", "t_2"], ["one.", "two."], _read, lambda w, t: w[:, None])
    _write(tmp_path / "a", "t_1", 0.1, ".flac")
    with pytest.raises(UserError, match="two recordings of one clip"):
        find_recording(tmp_path / "a", "t_1")


def test_a_folder_without_voices_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="is not a folder"):
        voice_folders(tmp_path / "nowhere")
    with pytest.raises(UserError, match="no <voice>/wavs/ subfolder"):
        voice_folders(tmp_path)


def test_nearest_is_the_lowest_measured_mcd() -> None:
    assert nearest({"a": {"mcd": 30.0}, "b": {"mcd": 20.0}, "c": {"mcd": None}}) == "b"
    assert nearest({"c": {"mcd": None}}) is None
