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
    corpus: Path, tiny_base: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    raw = tiny_recipe(corpus, tiny_base, out, training={
        "eval_strategy": "steps", "eval_steps": 2, "save_strategy": "steps", "save_steps": 2, "max_steps": 4,
        "report_to": "tensorboard", "load_best_model_at_end": True,
        "metric_for_best_model": "mcd", "greater_is_better": False,
    })
    result = run(recipe_from_dict(raw))
    evals = [h for h in result_history(out) if "eval_mcd" in h]
    assert [h["step"] for h in evals] == [2, 4]
    assert all("eval_speaker_similarity" in h and "eval_voicing_error" in h for h in evals)
    for step in (2, 4):
        assert sorted(p.suffix for p in (out / "eval_samples" / f"step-{step}").iterdir()) == [".png", ".png", ".wav", ".wav"]
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(next((out / "runs").rglob("events.out.tfevents*")).parent),
                              size_guidance={"audio": 0, "images": 0}).Reload()
    assert len(events.Tags()["audio"]) == 2 and len(events.Tags()["images"]) == 2
    assert "eval/eval_mcd" in events.Tags()["scalars"] or any("mcd" in t for t in events.Tags()["scalars"])

    metrics = result.metrics["systems"]
    for system in ("base", "fine_tuned"):
        for key in ("mcd", "f0_rmse_cents", "voicing_error", "speaker_similarity", "rtf", "encoder"):
            assert key in metrics[system], (system, key)
    report = (out / "report.md").read_text()
    assert "| system | MCD (dB)" in report and "(spectrograms.png)" in report and "samples/" in report
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
