"""A run survives: exact resume after SIGKILL, SIGTERM checkpoints, interrupted saves, NaN batches."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from conftest import tiny_recipe
from hf_vclone.checkpoints import MARKER, latest_complete
from hf_vclone.config import recipe_from_dict
from hf_vclone.errors import UserError
from hf_vclone.finetune import FineTuneRun
from hf_vclone.guards import NonFiniteLoss

HERE = Path(__file__).parent
BIN = Path(sys.executable).parent


def recipe(corpus: Path, base: Path, out: Path, strategy: str = "full", **training) -> dict:
    train = {"max_steps": 8, "save_strategy": "steps", "save_steps": 2, "per_device_train_batch_size": 2,
             "learning_rate": 1e-3, "train_sampling_strategy": "group_by_length", **training}
    return tiny_recipe(corpus, base, out, evaluation={"enabled": False}, strategy={"name": strategy},
                       training=train)


def run_subprocess(raw: dict, kill_at: int | None = None) -> subprocess.CompletedProcess:
    args = [sys.executable, str(HERE / "run_recipe.py"), json.dumps(raw)] + ([str(kill_at)] if kill_at else [])
    return subprocess.run(args, capture_output=True, text=True, timeout=600, cwd=HERE)


def weights(out: Path) -> dict[str, torch.Tensor]:
    files = [out / "model.safetensors", out / "adapter_model.safetensors", out / "speaker_embeddings.safetensors"]
    return {f"{f.name}:{k}": v for f in files if f.is_file() for k, v in load_file(str(f)).items()}


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["full", "freeze_lower", "lora"])
def test_killed_and_resumed_run_ends_with_the_same_weights_as_an_unbroken_one(
    strategy: str, corpus: Path, tiny_base: Path, tmp_path: Path
) -> None:
    # All three runs are fresh processes, as a user's would be. On 2026-12-02 CI saw an unbroken run made
    # inside the pytest worker end with other weights than the killed and resumed fresh processes, for
    # every strategy (cause not found; never seen here), while the FSDP resume test, fresh processes
    # throughout, passed in the same run.
    unbroken = tmp_path / "unbroken"
    whole = run_subprocess(recipe(corpus, tiny_base, unbroken, strategy))
    assert whole.returncode == 0, whole.stderr[-3000:]

    broken = tmp_path / "broken"
    killed = run_subprocess(recipe(corpus, tiny_base, broken, strategy), kill_at=4)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert latest_complete(broken).name == "checkpoint-4" and not (broken / "vclone.json").exists()
    resumed = run_subprocess(recipe(corpus, tiny_base, broken, strategy, resume_from_checkpoint="latest"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming from" in resumed.stdout and "checkpoint-4" in resumed.stdout

    # The losses first: where they part says whether the resume (step 5 on) or the run itself differs.
    state = json.loads((broken / "checkpoint-8" / "trainer_state.json").read_text())
    unbroken_state = json.loads((unbroken / "checkpoint-8" / "trainer_state.json").read_text())
    losses = [h["loss"] for h in state["log_history"] if "loss" in h]
    assert losses == [h["loss"] for h in unbroken_state["log_history"] if "loss" in h], unbroken_state["log_history"]
    expected, got = weights(unbroken), weights(broken)
    assert expected.keys() == got.keys() and expected
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=0, atol=0, msg=name)


def test_resume_with_changed_accumulation_or_strategy_is_refused(
    corpus: Path, tiny_base: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    job = FineTuneRun(recipe_from_dict(recipe(corpus, tiny_base, out, max_steps=2)))
    job.setup()
    job.train()
    changed = recipe(corpus, tiny_base, out, max_steps=4, resume_from_checkpoint="latest",
                     gradient_accumulation_steps=2)
    job = FineTuneRun(recipe_from_dict(changed))
    job.setup()
    with pytest.raises(UserError, match=r"training.gradient_accumulation_steps was 1, now 2"):
        job.train()
    job = FineTuneRun(recipe_from_dict(recipe(corpus, tiny_base, out, "lora", resume_from_checkpoint="latest")))
    job.setup()
    with pytest.raises(UserError, match=r"cannot resume from .*checkpoint-2: strategy was .*'full'.*now .*'lora'"):
        job.train()


def test_an_interrupted_save_leaves_the_previous_checkpoint_whole_and_resume_skips_it(
    corpus: Path, tiny_base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hf_vclone.trainer import VoiceTrainer

    out = tmp_path / "run"
    job = FineTuneRun(recipe_from_dict(recipe(corpus, tiny_base, out, max_steps=4, save_total_limit=1)))
    job.setup()
    original = VoiceTrainer._save_rng_state

    def fail_at_step_4(self, output_dir):
        if self.state.global_step == 4:
            raise OSError("disk full (injected)")
        return original(self, output_dir)

    monkeypatch.setattr(VoiceTrainer, "_save_rng_state", fail_at_step_4)
    with pytest.raises(OSError, match="injected"):
        job.train()
    good = out / "checkpoint-2"
    assert (good / MARKER).is_file() and (good / "optimizer.pt").is_file()  # not rotated away
    assert (out / "checkpoint-4").is_dir() and not (out / "checkpoint-4" / MARKER).exists()
    assert latest_complete(out) == good

    monkeypatch.setattr(VoiceTrainer, "_save_rng_state", original)
    job = FineTuneRun(recipe_from_dict(recipe(corpus, tiny_base, out, max_steps=4, save_total_limit=1,
                                              resume_from_checkpoint="latest")))
    job.setup()
    job.train()
    assert job.trainer.state.global_step == 4
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-4"]  # rotated once 4 was complete
    assert (out / "checkpoint-4" / MARKER).is_file()


def test_sigterm_finishes_the_step_checkpoints_and_exits_then_resume_continues(
    corpus: Path, tiny_base: Path, tmp_path: Path
) -> None:
    import yaml

    out = tmp_path / "run"
    raw = recipe(corpus, tiny_base, out, max_steps=10_000, save_strategy="no", logging_steps=1)
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(raw))
    proc = subprocess.Popen([str(BIN / "hf-vclone"), "train", str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    deadline = time.time() + 300
    while not any("'loss'" in line for line in lines) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    err = proc.stderr.read()
    assert proc.wait(timeout=300) == 143, err[-3000:]
    assert "stopped by SIGTERM after step" in err and "Traceback" not in err
    step = int(err.split("stopped by SIGTERM after step ")[1].split(";")[0])
    assert 1 <= step < 10_000 and latest_complete(out).name == f"checkpoint-{step}"

    resumed = recipe(corpus, tiny_base, out, max_steps=step + 2, save_strategy="no",
                     resume_from_checkpoint="latest")
    job = FineTuneRun(recipe_from_dict(resumed))
    job.setup()
    job.train()
    state = job.trainer.state
    assert state.global_step == step + 2
    assert [h["step"] for h in state.log_history if "loss" in h][-2:] == [step + 1, step + 2]


def poisoned(collate, bad_batches: set[int]):
    """The real collator, with NaN targets in the chosen batches (counted from 1)."""
    count = {"n": 0}

    def collate_with_nan(rows):
        batch = collate(rows)
        count["n"] += 1
        if count["n"] in bad_batches:
            batch["labels"] = torch.where(batch["labels"] == -100, batch["labels"], torch.nan)
        return batch

    return collate_with_nan


def test_a_nan_batch_is_skipped_and_named_and_repeated_nans_abort(
    corpus: Path, tiny_base: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    job = FineTuneRun(recipe_from_dict(recipe(corpus, tiny_base, tmp_path / "a", max_steps=3, save_strategy="no")))
    job.setup()
    job.trainer.data_collator = poisoned(job.trainer.data_collator, {2})
    snapshots = []
    from transformers import TrainerCallback

    class Snapshot(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kwargs):
            snapshots.append({n: p.detach().clone() for n, p in model.named_parameters()})

    job.trainer.add_callback(Snapshot())
    with caplog.at_level("WARNING"):
        job.train()
    guard = job.trainer.nonfinite_guard
    assert [s["step"] for s in guard.skipped] == [2] and len(guard.skipped[0]["clips"]) == 2
    assert all(clip.startswith("us_f5_") for clip in guard.skipped[0]["clips"])
    assert "step 2: non-finite loss or gradient; update skipped" in caplog.text
    assert all(torch.equal(snapshots[1][n], snapshots[0][n]) for n in snapshots[0])  # step 2 changed nothing
    assert any(not torch.equal(snapshots[2][n], snapshots[1][n]) for n in snapshots[0])  # step 3 trained
    assert all(torch.isfinite(p).all() for p in job.voice.parameters())

    job = FineTuneRun(recipe_from_dict({**recipe(corpus, tiny_base, tmp_path / "b", max_steps=10, save_strategy="no"),
                                        "run": {"max_nonfinite_steps": 3}}))
    job.setup()
    before = {n: p.detach().clone() for n, p in job.voice.named_parameters()}
    job.trainer.data_collator = poisoned(job.trainer.data_collator, set(range(1, 100)))
    with pytest.raises(NonFiniteLoss, match=r"3 steps in a row had a non-finite loss .*last clips: us_f5_"):
        job.train()
    assert all(torch.equal(p, before[n]) for n, p in job.voice.named_parameters())


def test_activation_checkpointing_trains_the_same_steps(corpus: Path, tiny_base: Path, tmp_path: Path) -> None:
    losses = {}
    for flag in (False, True):
        raw = recipe(corpus, tiny_base, tmp_path / str(flag), max_steps=2, save_strategy="no",
                     activation_checkpointing=flag)
        job = FineTuneRun(recipe_from_dict(raw))
        job.setup()
        job.train()
        assert job.voice.tts.is_gradient_checkpointing == flag
        losses[flag] = [h["loss"] for h in job.trainer.state.log_history if "loss" in h]
    assert losses[True] == pytest.approx(losses[False], rel=1e-5)
