"""`hf-vclone dataset`: long recordings made of espeak-ng sentences joined by pauses of known
lengths go in; every sentence must come out in exactly one clip, cut inside its pauses, and be
transcribed by the offline Whisper; a silent and an undecodable file are named, not fatal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf

from conftest import tiny_recipe
from hf_vclone import dataset_builder
from hf_vclone.config import recipe_from_dict
from hf_vclone.data.demo_corpus import sentences
from hf_vclone.finetune import FineTuneRun
from hf_vclone.intelligibility import error_rates
from hf_vclone.slicing import plan_clips

BIN = Path(sys.executable).parent
TEXTS = sentences(7, seed=3)
PAUSES = {"long.flac": [0.8, 1.1, 0.6], "talk.mp3": [0.9, 0.7]}


def say(text: str, folder: Path) -> tuple[np.ndarray, int]:
    path = folder / "s.wav"
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True)
    wave, rate = sf.read(path, dtype="float32")
    trimmed, _ = librosa.effects.trim(wave, top_db=40)
    return trimmed, rate


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[tuple[float, float, str]]]]:
    """Raw files, and for each the (start, end, text) of every sentence in it."""
    folder, scratch = tmp_path_factory.mktemp("raw"), tmp_path_factory.mktemp("espeak")
    rng = np.random.default_rng(0)
    truth: dict[str, list[tuple[float, float, str]]] = {}
    texts = iter(TEXTS)
    for name, pauses in PAUSES.items():
        pieces, spans, t = [], [], 0.5
        rate = 22050
        pieces.append(np.zeros(int(0.5 * rate), np.float32))
        for k in range(len(pauses) + 1):
            text = next(texts)
            wave, rate = say(text, scratch)
            spans.append((t, t + len(wave) / rate, text))
            pieces.append(wave)
            t += len(wave) / rate
            gap = pauses[k] if k < len(pauses) else 0.6
            pieces.append(np.zeros(int(gap * rate), np.float32))
            t += int(gap * rate) / rate
        audio = np.concatenate(pieces)
        if name.endswith(".flac"):  # 44.1 kHz stereo with a noise floor at about -60 dBFS
            up = librosa.resample(audio, orig_sr=rate, target_sr=44100)
            stereo = np.stack([up, 0.8 * up], axis=1) + rng.normal(0, 1e-3, (len(up), 2)).astype(np.float32)
            sf.write(folder / name, stereo, 44100)
        else:
            sf.write(folder / name, audio, rate, format="MP3")
        truth[name] = spans
    sf.write(folder / "silence.wav", rng.normal(0, 3e-4, 3 * 16000).astype(np.float32), 16000)
    (folder / "broken.wav").write_bytes(b"RIFF not really")
    return folder, truth


def test_every_sentence_lands_in_one_clip_cut_in_its_pauses_and_transcribed(recordings, tmp_path: Path) -> None:
    raw, truth = recordings
    report = dataset_builder.build_dataset([raw], tmp_path / "voice")
    review = dataset_builder.read_review(tmp_path / "voice")
    for name, spans in truth.items():
        clips = [r for r in review if Path(r["source"]).name == name]
        for start, end, text in spans:
            holding = [c for c in clips if c["start"] <= start + 0.05 and end - 0.05 <= c["end"]]
            assert len(holding) == 1, (name, text, clips)
        pauses = [(a[1], b[0]) for a, b in zip(spans, spans[1:])]
        for left, right in zip(clips, clips[1:]):
            for cut in (left["end"], right["start"]):
                assert any(p0 - 0.15 <= cut <= p1 + 0.15 for p0, p1 in pauses), (name, cut, pauses)
        heard = " ".join(c["text"] for c in clips)
        cer, _ = error_rates([heard], [" ".join(t for *_, t in spans)], "cer")
        assert cer <= 0.15, (name, heard)
    assert set(map(Path, report.skipped_sources)) == {raw / "silence.wav", raw / "broken.wav"}
    assert report.skipped_sources[str(raw / "silence.wav")].startswith("no speech found")
    assert "cannot decode" in report.skipped_sources[str(raw / "broken.wav")]
    summary = (tmp_path / "voice" / "review.md").read_text()
    assert "silence.wav" in summary and "broken.wav" in summary
    lines = (tmp_path / "voice" / "metadata.csv").read_text().splitlines()
    assert len(lines) == len(review) >= 5
    assert all((tmp_path / "voice" / "wavs" / f"{line.split('|')[0]}.wav").is_file() for line in lines)

    # A second run skips every finished file: nothing is decoded or transcribed again.
    def refuse(*_args, **_kwargs):
        raise AssertionError("re-run decoded a finished file")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dataset_builder, "_decode", refuse)
        again = dataset_builder.build_dataset([raw], tmp_path / "voice")
    assert len(again.reused_sources) == 4 and again.clips == report.clips


def test_the_built_folder_prepares_and_trains_unchanged(recordings, corpus: Path, tiny_base: Path, tmp_path: Path) -> None:
    raw, _ = recordings
    out = tmp_path / "voice"
    run = subprocess.run([str(BIN / "hf-vclone"), "dataset", str(raw / "long.flac"), "--out", str(out)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "4 clips" in run.stdout and "data.format: ljspeech" in run.stdout
    recipe = tiny_recipe(corpus, tiny_base, tmp_path / "run", evaluation={"enabled": False})
    recipe["data"] = {"format": "ljspeech", "path": str(out), "eval_size": 1, "unknown_characters": "keep"}
    job = FineTuneRun(recipe_from_dict(recipe))
    job.setup()
    assert len(job.data.train) == 3 and not job.data.skipped
    job.train()
    assert job.trainer.state.global_step == 4


def test_short_pieces_join_a_neighbour_across_the_shorter_pause_and_nothing_is_dropped() -> None:
    regions = [(0.5, 3.0), (3.4, 3.8), (5.0, 9.0), (9.2, 9.5)]
    spans = plan_clips(regions, duration=10.0, min_seconds=1.0, max_seconds=12.0, pad=0.2)
    assert [(s.speech_start, s.speech_end) for s in spans] == [(0.5, 3.8), (5.0, 9.5)]
    assert spans[0].start == 0.3 and spans[0].end == 4.0 and spans[1].start == 4.8 and spans[1].end == 9.7
    too_long = plan_clips([(0.0, 11.0), (11.5, 11.8)], duration=12.0, min_seconds=1.0, max_seconds=11.5, pad=0.2)
    assert len(too_long) == 2 and too_long[1].flag.startswith("short:")  # kept and flagged, never dropped
    assert too_long[0].end <= too_long[1].start


def test_an_output_folder_inside_the_recordings_is_not_read_as_recordings(tmp_path: Path) -> None:
    (tmp_path / "out" / "wavs").mkdir(parents=True)
    for path in (tmp_path / "take.wav", tmp_path / "out" / "wavs" / "take_0000.wav"):
        sf.write(path, np.zeros(1600), 16000)
    assert dataset_builder.find_sources([tmp_path], exclude=tmp_path / "out") == [tmp_path / "take.wav"]


def test_a_missing_input_names_it() -> None:
    from hf_vclone.errors import UserError

    with pytest.raises(UserError, match="nowhere.wav is neither an audio file nor a folder"):
        dataset_builder.find_sources(["nowhere.wav"])


def test_the_page_slices_long_recordings_into_clips_with_editable_transcripts(recordings, tmp_path: Path) -> None:
    from hf_vclone.ui.corpus import parse_transcripts, slice_recordings, write_corpus

    raw, truth = recordings
    sliced = slice_recordings([raw / "talk.mp3", raw / "silence.wav"], tmp_path / "long")
    assert len(sliced.files) == len(truth["talk.mp3"]) == len(sliced.transcripts.splitlines())
    assert "silence.wav: no speech found" in sliced.summary
    edited = sliced.transcripts.replace(sliced.transcripts.splitlines()[0].split("|", 1)[1], "An edited line.")
    clips = parse_transcripts([Path(f) for f in sliced.files], edited)
    assert clips[0].text == "An edited line."
    folder = write_corpus(clips, tmp_path / "corpus")
    assert len((folder / "metadata.csv").read_text().splitlines()) == len(sliced.files)
