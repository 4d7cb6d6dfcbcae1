import csv
import shutil
from pathlib import Path

import pytest
from transformers import SpeechT5Processor

from hf_vclone.config import DataConfig
from hf_vclone.data.prepare import prepare
from hf_vclone.data.sources import DataError, load_ljspeech
from hf_vclone.models.speecht5 import SpeechT5Backend

SCHEMA = SpeechT5Backend.feature_schema


@pytest.fixture()
def damaged(corpus: Path, tmp_path: Path) -> Path:
    """The target speaker's folder with one missing clip, one corrupt clip and one empty transcript."""
    folder = tmp_path / "us_f5"
    shutil.copytree(corpus / "us_f5", folder)
    (folder / "wavs" / "us_f5_0001.wav").unlink()
    (folder / "wavs" / "us_f5_0002.wav").write_bytes(b"garbage")
    lines = (folder / "metadata.csv").read_text().splitlines()
    lines[2] = "us_f5_0003|   "
    (folder / "metadata.csv").write_text("\n".join(lines) + "\n")
    return folder


def featurizer(base: Path):
    processor = SpeechT5Processor.from_pretrained(base)
    return SpeechT5Backend().featurizer(processor)


def test_bad_clips_are_skipped_and_reported_with_reasons(damaged: Path, tiny_base: Path, tmp_path: Path) -> None:
    cfg = DataConfig(path=str(damaged), eval_size=2)
    data = prepare(load_ljspeech(damaged), cfg, 16000, featurizer(tiny_base), SCHEMA, tmp_path / "run")
    with open(tmp_path / "run" / "skipped.csv") as f:
        reasons = {row["id"]: row["reason"] for row in csv.DictReader(f)}
    assert set(reasons) == {"us_f5_0001", "us_f5_0002", "us_f5_0003"}
    assert "not found" in reasons["us_f5_0001"]
    assert "cannot decode" in reasons["us_f5_0002"]
    assert reasons["us_f5_0003"] == "empty transcript"
    assert len(data.train) + len(data.eval) == 7  # 10 clips, 3 skipped, none lost
    assert not set(data.train["id"]) & set(data.eval["id"])
    assert data.speakers == ["us_f5"]


def test_features_match_the_model_feature_extractor(corpus: Path, tiny_base: Path) -> None:
    data = prepare(load_ljspeech(corpus, ["us_f5"]), DataConfig(path=str(corpus)), 16000, featurizer(tiny_base), SCHEMA, None)
    row = data.train[0]
    assert len(row["labels"][0]) == 80 and row["length"] == len(row["labels"])
    # SpeechT5's hop is 16 ms: frames x 256 samples ~ trimmed duration
    assert abs(row["length"] * 256 / 16000 - row["seconds"]) < 0.1


def test_max_minutes_caps_training_audio(corpus: Path, tiny_base: Path) -> None:
    cfg = DataConfig(path=str(corpus), max_minutes=0.25)
    data = prepare(load_ljspeech(corpus, ["us_f5"]), cfg, 16000, featurizer(tiny_base), SCHEMA, None)
    assert 0 < sum(data.train["seconds"]) <= 15.0
    assert len(data.train) < 10


def test_a_dataset_left_empty_stops_with_a_clear_error(damaged: Path, tiny_base: Path, tmp_path: Path) -> None:
    for wav in (damaged / "wavs").glob("*.wav"):
        wav.write_bytes(b"broken")
    with pytest.raises(DataError, match="no usable clips.*skipped.csv"):
        prepare(load_ljspeech(damaged), DataConfig(path=str(damaged)), 16000, featurizer(tiny_base), SCHEMA, tmp_path)


def test_source_errors_name_the_path_and_the_choices(corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a directory"):
        load_ljspeech(tmp_path / "nowhere")
    with pytest.raises(DataError, match="no metadata.csv"):
        load_ljspeech(tmp_path)
    with pytest.raises(DataError, match="available: .*us_f5"):
        load_ljspeech(corpus, ["p225"])


def test_multi_speaker_folder_reads_every_speaker(corpus: Path) -> None:
    ds = load_ljspeech(corpus, exclude=["us_f5"])
    assert sorted(set(ds["speaker"])) == ["gb_m3", "rp_f4", "sc_m2", "us_f2", "us_m1"]
    assert len(ds) == 30
