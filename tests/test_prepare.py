"""Preparation: every clip is either featurised or reported with its reason; results are cached."""

import csv
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from transformers import SpeechT5Config, SpeechT5Processor

from hf_vclone.config import DataConfig
from hf_vclone.data.card import write_data_card
from hf_vclone.data.prepare import featurize_dataset, prepare
from hf_vclone.data.sources import DataError, load_source
from hf_vclone.models.speecht5 import SpeechT5Backend


@pytest.fixture()
def spec(tiny_base: Path):
    return SpeechT5Backend().feature_spec(SpeechT5Processor.from_pretrained(tiny_base), SpeechT5Config.from_pretrained(tiny_base))


@pytest.fixture()
def target(corpus: Path, tmp_path: Path) -> Path:
    """A private copy of the target speaker's LJSpeech folder (10 clips) to damage."""
    folder = tmp_path / "us_f5"
    shutil.copytree(corpus / "us_f5", folder)
    return folder


def set_line(folder: Path, index: int, line: bytes) -> None:
    lines = (folder / "metadata.csv").read_bytes().splitlines()
    lines[index] = line
    (folder / "metadata.csv").write_bytes(b"\n".join(lines) + b"\n")


def reasons_in(path: Path) -> dict[str, str]:
    with open(path, encoding="utf-8") as f:
        return {row["id"]: row["reason"] for row in csv.DictReader(f)}


def test_bad_clips_are_skipped_and_reported_with_reasons(target: Path, spec, tmp_path: Path) -> None:
    (target / "wavs" / "us_f5_0001.wav").unlink()
    (target / "wavs" / "us_f5_0002.wav").write_bytes(b"garbage")
    set_line(target, 2, b"us_f5_0003|   ")
    set_line(target, 3, b"us_f5_0004|caf\xe9 au lait")  # Latin-1, not UTF-8
    set_line(target, 4, "us_f5_0005|naïve façade".encode())  # characters the tiny tokenizer never saw
    wave, rate = sf.read(target / "wavs" / "us_f5_0006.wav")
    sf.write(target / "wavs" / "us_f5_0006.wav", np.clip(wave * 50, -1, 1), rate)  # hard clipping
    set_line(target, 6, (target / "metadata.csv").read_bytes().splitlines()[7])  # 0008 listed twice
    cfg = DataConfig(path=str(target), eval_size=1, max_bad_fraction=0.9, normalize_text=False)
    data = prepare(load_source(cfg), cfg, spec, tmp_path / "run")
    reasons = reasons_in(tmp_path / "run" / "skipped.csv")
    assert reasons["us_f5_0001"].startswith("file not found:")
    assert reasons["us_f5_0002"].startswith("cannot decode:")
    assert reasons["us_f5_0003"] == "empty transcript"
    assert "not UTF-8" in reasons["us_f5_0004"] and "line 4" in reasons["us_f5_0004"]
    assert reasons["us_f5_0005"].startswith("unknown characters:") and "'ï'" in reasons["us_f5_0005"]
    assert reasons["us_f5_0006"].startswith("heavy clipping:")
    assert reasons["us_f5_0008"].startswith("duplicate id: 'us_f5_0008' already used by row 7")
    assert len(reasons) == 7
    assert len(data.train) + len(data.eval) == 3 and data.total_clips == 10  # 10 rows, 7 reported, 3 kept


def test_text_that_does_not_fit_the_audio_is_caught(target: Path, spec, tmp_path: Path) -> None:
    long_text = "This transcript belongs to a much longer recording and goes on and on " * 3
    set_line(target, 0, f"us_f5_0001|{long_text.strip()}".encode())
    cfg = DataConfig(path=str(target))
    data = prepare(load_source(cfg), cfg, spec, tmp_path)
    assert list(reasons_in(tmp_path / "skipped.csv")) == ["us_f5_0001"]
    assert "text/audio length mismatch" in data.skipped[0]["reason"]


def test_low_sample_rate_is_kept_with_an_upsampling_warning(target: Path, spec) -> None:
    wave, rate = sf.read(target / "wavs" / "us_f5_0001.wav")
    sf.write(target / "wavs" / "us_f5_0001.wav", wave[::4], rate // 4)  # 5512 Hz
    cfg = DataConfig(path=str(target))
    data = prepare(load_source(cfg), cfg, spec, None)
    assert [w["id"] for w in data.warnings] == ["us_f5_0001"]
    assert "upsampled: recorded at 5512 Hz" in data.warnings[0]["warning"]


def test_mostly_bad_data_aborts_naming_the_top_reasons(target: Path, spec, tmp_path: Path) -> None:
    for wav in sorted((target / "wavs").glob("*.wav"))[:6]:
        wav.write_bytes(b"broken")
    cfg = DataConfig(path=str(target), max_bad_fraction=0.5)
    with pytest.raises(DataError, match=r"6 of 10 clips .* data.max_bad_fraction=0.5; top reasons: cannot decode \(6\)"):
        prepare(load_source(cfg), cfg, spec, tmp_path)
    assert len(reasons_in(tmp_path / "skipped.csv")) == 6  # the report is written before aborting


def test_a_dataset_left_empty_stops_with_a_clear_error(target: Path, spec, tmp_path: Path) -> None:
    for wav in (target / "wavs").glob("*.wav"):
        wav.write_bytes(b"broken")
    cfg = DataConfig(path=str(target))
    with pytest.raises(DataError, match="no usable clips.*skipped.csv"):
        prepare(load_source(cfg), cfg, spec, tmp_path)


def test_features_match_the_model_feature_extractor(corpus: Path, spec) -> None:
    cfg = DataConfig(path=str(corpus), speaker="us_f5")
    row = prepare(load_source(cfg), cfg, spec, None).train[0]
    assert len(row["labels"][0]) == 80 and row["length"] == len(row["labels"])
    assert abs(row["length"] * 256 / 16000 - row["seconds"]) < 0.1  # 16 ms hop


def test_max_minutes_caps_training_audio_and_eval_stays_disjoint(corpus: Path, spec) -> None:
    cfg = DataConfig(path=str(corpus), speaker="us_f5", max_minutes=0.25, eval_size=2)
    data = prepare(load_source(cfg), cfg, spec, None)
    assert 0 < sum(data.train["seconds"]) <= 15.0 and len(data.train) < 8
    assert not set(data.train["id"]) & set(data.eval["id"])


def test_second_run_reuses_the_cache_and_a_changed_file_invalidates_it(target: Path, spec) -> None:
    cfg = DataConfig(path=str(target))
    first, first_reused = featurize_dataset(load_source(cfg), cfg, spec)
    again, reused = featurize_dataset(load_source(cfg), cfg, spec)
    assert first.cache_files and again.cache_files == first.cache_files and reused
    wav = target / "wavs" / "us_f5_0001.wav"
    os.utime(wav, ns=(wav.stat().st_atime_ns, wav.stat().st_mtime_ns + 10**9))  # re-recorded
    changed, changed_reused = featurize_dataset(load_source(cfg), cfg, spec)
    assert changed.cache_files != first.cache_files and not changed_reused


def test_data_card_reports_minutes_durations_and_reasons(target: Path, spec, tmp_path: Path) -> None:
    (target / "wavs" / "us_f5_0001.wav").unlink()
    cfg = DataConfig(path=str(target), eval_size=2)
    data = prepare(load_source(cfg), cfg, spec, tmp_path)
    card = write_data_card(data, cfg.path, tmp_path).read_text()
    minutes = sum(data.train["seconds"]) / 60 + sum(data.eval["seconds"]) / 60
    assert f"| us_f5 | 9 | {minutes:.2f} |" in card
    assert "| file not found | 1 |" in card
    assert (tmp_path / "durations.png").stat().st_size > 1000


def test_source_errors_name_the_path_and_the_choices(corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a directory"):
        load_source(DataConfig(path=str(tmp_path / "nowhere")))
    with pytest.raises(DataError, match="no metadata.csv"):
        load_source(DataConfig(path=str(tmp_path)))
    with pytest.raises(DataError, match="available: .*us_f5"):
        load_source(DataConfig(path=str(corpus), speaker="p225"))


def test_speaker_selection_one_many_and_excluded(corpus: Path) -> None:
    assert set(load_source(DataConfig(path=str(corpus), speaker="us_f5"))["speaker"]) == {"us_f5"}
    both = load_source(DataConfig(path=str(corpus), speaker=["us_f5", "gb_m3"]))
    assert sorted(set(both["speaker"])) == ["gb_m3", "us_f5"]
    rest = load_source(DataConfig(path=str(corpus), exclude_speakers=["us_f5"]))
    assert sorted(set(rest["speaker"])) == ["gb_m3", "rp_f4", "sc_m2", "us_f2", "us_m1"] and len(rest) == 30


@pytest.mark.parametrize("seconds", [0.05, 1.0, 3.7])
def test_fast_log_mel_equals_the_model_feature_extractor(tiny_base: Path, seconds: float) -> None:
    from hf_vclone.data.features import LogMel

    extractor = SpeechT5Processor.from_pretrained(tiny_base).feature_extractor
    wave = (np.random.default_rng(int(seconds * 10)).normal(size=int(16000 * seconds)) * 0.1).astype(np.float32)
    expected = np.asarray(extractor(audio_target=wave, sampling_rate=16000)["input_values"][0])
    got = LogMel(extractor)(wave)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_ljspeech_doctor_keeps_every_container_refuses_escapes_and_names_each_defect(
    target: Path, spec, tmp_path: Path
) -> None:
    """Issue 18's hostile corpus: good clips in other containers are found, an id that leaves the
    data root is refused without being opened, and each broken file gets its true reason."""
    wavs = target / "wavs"
    wave, rate = sf.read(wavs / "us_f5_0001.wav")
    for clip, name, fmt in [("us_f5_0001", "us_f5_0001.flac", "FLAC"), ("us_f5_0002", "us_f5_0002.ogg", "OGG")]:
        clip_wave, _ = sf.read(wavs / f"{clip}.wav")
        (wavs / f"{clip}.wav").unlink()
        sf.write(wavs / name, clip_wave, rate, format=fmt)
    (wavs / "us_f5_0003.wav").rename(wavs / "us_f5_0003.WAV")
    sf.write(wavs / "us_f5_0004.flac", wave, rate)                       # a second file for 0004
    outside = tmp_path / "secret.wav"
    sf.write(outside, wave, rate)
    set_line(target, 4, f"{os.path.relpath(outside.with_suffix(''), wavs)}|a line that points outside".encode())
    nan = wave.astype(np.float32).copy()
    nan[1000:1100] = np.nan
    sf.write(wavs / "us_f5_0006.wav", nan, rate, subtype="FLOAT")
    whole = (wavs / "us_f5_0007.wav").read_bytes()
    (wavs / "us_f5_0007.wav").write_bytes(whole[: len(whole) // 3])      # cut off mid-copy
    set_line(target, 7, b"us_f5_0008")                                   # one field, no text
    opened: list[str] = []
    real_read = sf.read

    def spy(source, *args, **kwargs):
        opened.append(str(source))
        return real_read(source, *args, **kwargs)

    cfg = DataConfig(path=str(target), eval_size=1, max_bad_fraction=0.9)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sf, "read", spy)
        data = prepare(load_source(cfg), cfg, spec, tmp_path / "run")
    reasons = reasons_in(tmp_path / "run" / "skipped.csv")
    assert reasons["us_f5_0004"].startswith("ambiguous audio: us_f5_0004.flac, us_f5_0004.wav")
    escaped = next(v for k, v in reasons.items() if "secret" in k)
    assert escaped.startswith("path escapes the data root:") and str(target.resolve()) in escaped
    assert not any("secret" in path for path in opened)
    assert reasons["us_f5_0006"].startswith("non-finite samples: 100 of")
    assert reasons["us_f5_0007"].startswith("truncated file:")
    assert reasons["us_f5_0008"].startswith("malformed row: line 8 of") and "expected id|text" in reasons["us_f5_0008"]
    assert len(reasons) == 5
    kept = {*data.train["id"], *data.eval["id"]}
    assert {"us_f5_0001", "us_f5_0002", "us_f5_0003"} <= kept                 # flac, ogg, .WAV
    assert len(kept) == 5 and len(kept) + len(reasons) == data.total_clips == 10
