"""Evaluation: metric modules against known values, logging during training, the report and the CLI."""

import json
import subprocess
import sys
from pathlib import Path

import evaluate
import numpy as np
import pytest
import yaml

from conftest import tiny_recipe
from hf_vclone.config import recipe_from_dict
from hf_vclone.finetune import run
from hf_vclone.metric_modules import metric_path

BIN = Path(sys.executable).parent


def harmonic(f0: float, seconds: float = 1.5, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6)).astype(np.float32) * 0.2


def test_metric_modules_load_offline_by_path_and_match_known_values() -> None:
    mcd = evaluate.load(metric_path("mel_cepstral_distortion"))
    mel = np.random.default_rng(0).normal(size=(40, 80)).astype(np.float32)
    result = mcd.compute(predictions=[mel], references=[mel])
    assert result["mcd"] == pytest.approx(0.0, abs=1e-6) and result["counted"] == 1

    f0 = evaluate.load(metric_path("f0_error"))
    same = f0.compute(predictions=[harmonic(150)], references=[harmonic(150)], sampling_rate=16000)
    assert same["f0_rmse_cents"] == pytest.approx(0.0, abs=5) and same["voicing_error"] < 0.05
    shifted = f0.compute(predictions=[harmonic(150 * 2 ** (2 / 12))], references=[harmonic(150)], sampling_rate=16000)
    assert shifted["f0_rmse_cents"] == pytest.approx(200, abs=15)  # two semitones

    sim = evaluate.load(metric_path("speaker_similarity"))
    wave = harmonic(180)
    self_sim = sim.compute(predictions=[wave], references=[wave], sampling_rate=16000)
    assert self_sim["speaker_similarity"] == pytest.approx(1.0, abs=1e-5) and self_sim["encoder"]


@pytest.mark.slow
def test_training_logs_audio_spectrograms_and_voice_metrics_then_evaluate_cli_reports(
    corpus: Path, tiny_base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # wandb offline and trackio's local store: the same code path as an online run, kept on disk.
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb"))
    monkeypatch.setenv("TRACKIO_DIR", str(tmp_path / "trackio"))
    (tmp_path / "wandb").mkdir()
    out = tmp_path / "run"
    raw = tiny_recipe(corpus, tiny_base, out, training={
        "eval_strategy": "steps", "eval_steps": 2, "save_strategy": "steps", "save_steps": 2, "max_steps": 4,
        "report_to": ["tensorboard", "wandb", "trackio"], "load_best_model_at_end": True,
        "metric_for_best_model": "mcd", "greater_is_better": False,
    })
    result = run(recipe_from_dict(raw))
    evals = [h for h in result_history(out) if "eval_mcd" in h]
    assert [h["step"] for h in evals] == [2, 4]
    assert all("eval_speaker_similarity" in h and "eval_voicing_error" in h for h in evals)
    assert all(-1.0 <= h["eval_alignment_diagonality"] <= 1.0 for h in evals)
    for step in (2, 4):  # per clip: its audio, its mel plot and its alignment
        files = {p.name for p in (out / "eval_samples" / f"step-{step}").iterdir()}
        clips = {f.removesuffix(".wav") for f in files if f.endswith(".wav")}
        assert len(clips) == 2 and files == {f"{c}{end}" for c in clips for end in (".wav", ".png", "_alignment.png")}
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(next((out / "runs").rglob("events.out.tfevents*")).parent),
                              size_guidance={"audio": 0, "images": 0}).Reload()
    assert len(events.Tags()["audio"]) == 2 and len(events.Tags()["images"]) == 4  # mel and alignment per clip
    assert "eval/eval_mcd" in events.Tags()["scalars"] or any("mcd" in t for t in events.Tags()["scalars"])
    # 2 clips x 2 evaluations, as audio, spectrogram and alignment images, in each tracker's own store.
    wandb_media = [p for p in (tmp_path / "wandb").rglob("files/media/*/eval/*") if p.is_file()]
    assert sorted({p.suffix for p in wandb_media}) == [".png", ".wav"] and len(wandb_media) == 12
    trackio_media = [p for p in (tmp_path / "trackio" / "media").rglob("*") if p.is_file()]
    assert sorted({p.suffix for p in trackio_media}) == [".png", ".wav"] and len(trackio_media) == 12

    metrics = result.metrics["systems"]
    for system in ("base", "fine_tuned"):
        for key in ("mcd", "f0_rmse_cents", "voicing_error", "speaker_similarity", "rtf", "encoder", "alignment_diagonality"):
            assert key in metrics[system], (system, key)
    report = (out / "report.md").read_text()
    assert "| system | MCD (dB)" in report and "(spectrograms.png)" in report and "samples/" in report
    assert "(alignments.png)" in report and (out / "alignments.png").is_file()
    assert "CER" in report and "skipped" in report

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(raw))
    cli = subprocess.run([str(BIN / "hf-vclone"), "evaluate", "--model", str(out), str(recipe), "--out",
                          str(tmp_path / "ev")], capture_output=True, text=True, timeout=600)
    assert cli.returncode == 0, cli.stderr[-2000:]
    assert "fine_tuned" in cli.stdout and (tmp_path / "ev" / "report.md").is_file()
    again = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    # The saved voice, reloaded, speaks exactly as the trained one did (same seed, same lengths).
    frames = [s["fine_tuned"]["frames"] for s in again["samples"]]
    assert frames == [s["fine_tuned"]["frames"] for s in result.metrics["samples"]]
    assert again["systems"]["fine_tuned"]["length_ratio_mean"] == pytest.approx(metrics["fine_tuned"]["length_ratio_mean"])


def result_history(out: Path) -> list[dict]:
    state = max(out.glob("checkpoint-*/trainer_state.json"), key=lambda p: int(p.parent.name.split("-")[1]))
    return json.loads(state.read_text())["log_history"]


def test_character_error_rate_counts_edits_per_reference_character() -> None:
    cer = evaluate.load(metric_path("character_error_rate"))
    one_sub = cer.compute(predictions=["Hallo, world!"], references=["hello world"])
    assert one_sub["cer"] == pytest.approx(1 / 11)  # case and punctuation are not errors
    mixed = cer.compute(predictions=["hello world", ""], references=["hello world", "abcd"])
    assert mixed["per_sample"] == [0.0, 1.0]
    assert mixed["cer"] == pytest.approx(4 / 15)  # pooled over the set, not a mean of sentences


def tiny_ctc_asr(directory: Path) -> Path:
    """A wav2vec2 CTC model in the Hub layout, small and random: it hears nonsense, but the
    pipeline, resampling and scoring path is the one a real ASR model takes."""
    from transformers import (Wav2Vec2Config, Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor, Wav2Vec2ForCTC,
                              Wav2Vec2Processor)

    directory.mkdir(parents=True)
    vocab = {"<pad>": 0, "<unk>": 1, "|": 2, **{c: i + 3 for i, c in enumerate("abcdefghijklmnopqrstuvwxyz'")}}
    (directory / "vocab.json").write_text(json.dumps(vocab))
    tokenizer = Wav2Vec2CTCTokenizer(str(directory / "vocab.json"))
    processor = Wav2Vec2Processor(Wav2Vec2FeatureExtractor(sampling_rate=16000), tokenizer)
    config = Wav2Vec2Config(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                            intermediate_size=32, conv_dim=(8, 8), conv_stride=(5, 4), conv_kernel=(10, 8),
                            num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=2, pad_token_id=0)
    import torch

    torch.manual_seed(0)
    Wav2Vec2ForCTC(config).save_pretrained(directory)
    processor.save_pretrained(directory)
    return directory


def test_cer_comes_from_the_named_asr_pipeline_and_a_missing_one_is_a_clear_error(tmp_path: Path) -> None:
    import jiwer

    from hf_vclone.evaluation import Spoken, score
    from hf_vclone.intelligibility import normalize_transcript, transcribe
    from hf_vclone.models.loading import ModelLoadError

    asr = str(tiny_ctc_asr(tmp_path / "asr"))
    rate = 22050  # not the ASR's 16 kHz: transcribe resamples
    waves = [harmonic(150, 1.0, rate), harmonic(220, 0.7, rate)]
    mels = [np.random.default_rng(i).normal(size=(30, 80)).astype(np.float32) for i in range(2)]
    texts = ["hello there", "a second sentence"]
    result = score(Spoken(mels, waves, 1.0), mels, waves, rate, None, texts, asr)
    heard = transcribe(asr, waves, rate)
    assert [s["transcript"] for s in result["per_sample"]] == heard
    refs, hyps = [normalize_transcript(t) for t in texts], [normalize_transcript(h) for h in heard]
    assert result["summary"]["cer"] == pytest.approx(jiwer.cer(refs, hyps))
    assert result["summary"]["wer"] == pytest.approx(jiwer.wer(refs, hyps))
    skipped = score(Spoken(mels, waves, 1.0), mels, waves, rate, None)["summary"]
    assert skipped["cer"] is None and skipped["wer"] is None

    with pytest.raises(ModelLoadError, match="evaluation.asr_model.*whisper"):
        transcribe(str(tmp_path / "no_such_asr"), waves, rate)
