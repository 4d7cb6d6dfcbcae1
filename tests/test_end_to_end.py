"""The whole path through the real launcher and CLI, on the tiny base and the espeak corpus."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
import yaml

from conftest import TINY, tiny_recipe
from hf_vclone.config import recipe_from_dict
from hf_vclone.finetune import run
from hf_vclone.synthesize import Synthesizer

ROOT = Path(__file__).parents[1]
BIN = Path(sys.executable).parent


def write_recipe(tmp_path: Path, recipe: dict) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


@pytest.mark.slow
def test_accelerate_launch_fine_tunes_writes_samples_metrics_and_a_loadable_adapter(
    corpus: Path, tiny_base: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    # The one end-to-end run that keeps the default offline ASR: every evaluation reports CER and WER.
    recipe = write_recipe(tmp_path, tiny_recipe(corpus, tiny_base, out, strategy={"name": "lora"},
                                                evaluation={"asr_model": "whisper-base",
                                                            "other_voices": str(corpus / "same_text" / "us_f5")}))
    proc = subprocess.run(
        [str(BIN / "accelerate"), "launch", "--config_file", "accelerate_configs/cpu.yaml", "train.py", str(recipe)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"metrics         {out / 'metrics.json'}" in proc.stdout  # the summary names the outputs
    assert "CER" in proc.stdout and "real recordings" in proc.stdout  # ... and each system's CER, and the floor
    for name in ["adapter_config.json", "adapter_model.safetensors", "speaker_embeddings.safetensors",
                 "vclone.json", "spectrograms.png", "alignments.png", "loss_curve.png", "skipped.csv"]:
        assert (out / name).is_file(), name
    adapter = json.loads((out / "adapter_config.json").read_text())
    assert Path(adapter["base_model_name_or_path"]).resolve() == tiny_base.resolve()  # it records its base
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["systems"]) == {"base", "fine_tuned"}
    assert len(metrics["samples"]) == 2
    for sample in metrics["samples"]:
        for system in ("base", "fine_tuned"):
            entry = sample[system]
            assert entry["counted"] == (0.5 <= entry["length_ratio"] <= 2.0)
            assert entry["length_ratio"] == pytest.approx(entry["frames"] / sample["reference_frames"])
            audio, rate = sf.read(out / entry["wav"])
            assert rate == 16000 and len(audio) > 0
            assert isinstance(entry["transcript"], str) and entry["cer"] >= 0 and entry["wer"] >= 0
        assert (out / "samples" / f"{sample['id']}_reference.wav").is_file()
        assert isinstance(sample["reference"]["transcript"], str) and sample["reference"]["cer"] >= 0
    # CER and WER for every system and for the real recordings (the floor), in metrics.json, the report
    # and the model card.
    assert all(metrics["systems"][s]["cer"] is not None and metrics["systems"][s]["wer"] is not None
               for s in ("base", "fine_tuned"))
    assert metrics["reference"]["cer"] < 0.5 and "whisper-base" in metrics["cer"]
    assert "| reference (real recordings) |" in (out / "report.md").read_text()
    # The other real voices reading the same sentences, and the nearest of them: how close "close" is.
    others = metrics["other_real_voices"]
    assert set(others) == {"us_m1", "gb_m3", "us_f2", "sc_m2", "rp_f4"}
    assert metrics["nearest_real_voice"] == min(others, key=lambda v: others[v]["mcd"])
    assert all(o["cer"] < 0.5 and o["counted"] == 2 for o in others.values())  # real speech, plausible lengths
    assert f"| another real voice: `{metrics['nearest_real_voice']}` (nearest) |" in (out / "report.md").read_text()
    assert "| reference (real recordings) |" in (out / "README.md").read_text()

    wav = tmp_path / "hello.wav"
    cli = subprocess.run([str(BIN / "hf-vclone"), "synthesize", "--model", str(out), "--text", "Hello there.",
                          "--out", str(wav)], capture_output=True, text=True, timeout=300)
    assert cli.returncode == 0, cli.stderr[-2000:]
    audio, rate = sf.read(wav)
    assert rate == 16000 and len(audio) > 1000


@pytest.mark.slow
def test_training_from_scratch_builds_a_multi_speaker_base(corpus: Path, tmp_path: Path) -> None:
    """The quickstart_base recipe's path: corpus tokenizer, fixed per-speaker vectors, float16 save."""
    out = tmp_path / "base"
    recipe = recipe_from_dict({
        "model": {"name_or_path": None, "processor": "build", "init_config": TINY},
        "speaker": {"mode": "per_speaker"},
        "data": {"path": str(corpus), "exclude_speakers": ["us_f5"]},
        "evaluation": {"enabled": False},
        "output": {"dir": str(out), "save_dtype": "float16"},
        "training": {"max_steps": 2, "per_device_train_batch_size": 4, "save_strategy": "no", "use_cpu": True},
    })
    run(recipe)
    synth = Synthesizer(out)
    assert synth.voice.speakers.names == ["gb_m3", "rp_f4", "sc_m2", "us_f2", "us_m1"]
    assert synth.voice.speakers.vectors.requires_grad is False
    assert next(synth.voice.tts.parameters()).dtype.is_floating_point
    from safetensors import safe_open

    with safe_open(str(out / "model.safetensors"), "pt") as f:
        assert all(f.get_tensor(k).dtype.itemsize == 2 for k in list(f.keys())[:5])
    assert synth.mel("Hello.", speaker="us_m1", maxlenratio=2.0).shape[1] == 80


def test_cli_errors_are_one_clear_line(corpus: Path, tiny_base: Path, tmp_path: Path) -> None:
    cases = {
        "strategy.name: 'bogus' is not one of: full, freeze_lower, lora": {"strategy": {"name": "bogus"}},
        "is not a directory": {"model": {"name_or_path": str(tmp_path / "missing_checkpoint")}},
        "data.speaker ['p225'] not found": {"data": {"speaker": "p225"}},
    }
    for needle, change in cases.items():
        recipe = write_recipe(tmp_path, tiny_recipe(corpus, tiny_base, tmp_path / "out", **change))
        proc = subprocess.run([str(BIN / "hf-vclone"), "train", str(recipe)], capture_output=True, text=True)
        assert proc.returncode == 2, proc.stderr[-2000:]
        assert needle in proc.stderr
        assert "Traceback" not in proc.stderr
