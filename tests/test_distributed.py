"""Data parallel on 2 CPU processes through `accelerate launch`: ranks in sync, and the same
training as one process at the same global batch. Plus: every launch config parses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from accelerate.commands.config.config_args import load_config_from_file

from conftest import launch_failure, tiny_recipe

ROOT = Path(__file__).parents[1]
BIN = Path(sys.executable).parent


@pytest.mark.parametrize("config", sorted(p.name for p in (ROOT / "accelerate_configs").glob("*.yaml")))
def test_every_launch_config_parses_and_says_how_to_launch_it(config: str) -> None:
    path = ROOT / "accelerate_configs" / config
    parsed = load_config_from_file(str(path))
    assert parsed.num_processes >= 1
    assert f"accelerate launch --config_file accelerate_configs/{config}" in path.read_text()


def launch(raw: dict, report: Path, processes: int) -> subprocess.CompletedProcess:
    report.mkdir(parents=True)
    env = {**os.environ, "VCLONE_TEST_REPORT": str(report)}
    script = [str(ROOT / "tests" / "run_recipe.py"), json.dumps(raw)]
    if processes == 1:
        cmd = [sys.executable, *script]
    else:
        cmd = [str(BIN / "accelerate"), "launch", "--config_file", "accelerate_configs/cpu_ddp.yaml", *script]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_two_cpu_processes_stay_in_sync_and_match_one_process_at_the_same_global_batch(
    corpus: Path, tiny_base: Path, tmp_path: Path
) -> None:
    def recipe(out: Path, per_device: int) -> dict:
        return tiny_recipe(corpus, tiny_base, out, evaluation={"enabled": False}, training={
            "max_steps": 3, "per_device_train_batch_size": per_device, "learning_rate": 1e-3,
            # SpeechT5 ignores num_items_in_batch; averaging tokens over devices would double the loss (STACK.md).
            "average_tokens_across_devices": False})

    two = launch(recipe(tmp_path / "two", 2), tmp_path / "report2", processes=2)
    assert two.returncode == 0, launch_failure(two.stderr)
    one = launch(recipe(tmp_path / "one", 4), tmp_path / "report1", processes=1)
    assert one.returncode == 0, launch_failure(one.stderr)

    ranks = [json.loads((tmp_path / "report2" / f"rank-{i}.json").read_text()) for i in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2]
    assert ranks[0]["digest"] == ranks[1]["digest"], "the two ranks ended with different weights"
    single = json.loads((tmp_path / "report1" / "rank-0.json").read_text())
    assert single["world_size"] == 1
    # Same 4 clips per step, split 2+2: the loss is a mean over each rank's padded frames, so
    # it matches the 1-process mean up to the padding of the halves.
    assert ranks[0]["losses"] == pytest.approx(single["losses"], rel=0.01)  # measured: within 0.1%
    assert (tmp_path / "two" / "vclone.json").is_file()  # rank 0 saved the voice


@pytest.mark.slow
def test_vits_on_two_cpu_processes_keeps_voice_and_discriminator_in_sync_and_resumes_exactly(
    corpus: Path, tiny_vits_base: Path, tmp_path: Path
) -> None:
    """VITS trains two models per step (the discriminator steps inside the generator's loss), so
    both are DDP-wrapped and both must end identical on every rank. Resuming a 2-rank run from its
    step-2 checkpoint (each rank's RNG state, the discriminator and its optimizer) must end where
    the unbroken run did. Against one process at the same global batch, the losses agree only
    approximately: VITS draws random slices and noise per clip, and 2 ranks x 2 clips draw other
    numbers than 1 x 4."""
    from test_vits_training import vits_recipe

    def recipe(out: Path, per_device: int, **training) -> dict:
        return vits_recipe(corpus, tiny_vits_base, out, max_steps=4, per_device_train_batch_size=per_device,
                           save_strategy="steps", save_steps=2, **training)

    two = launch(recipe(tmp_path / "two", 2), tmp_path / "report2", processes=2)
    assert two.returncode == 0, launch_failure(two.stderr)
    ranks = [json.loads((tmp_path / "report2" / f"rank-{i}.json").read_text()) for i in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2]
    assert ranks[0]["digest"] == ranks[1]["digest"], "the two ranks ended with different voices"
    assert ranks[0]["discriminator_digest"] == ranks[1]["discriminator_digest"], "different discriminators"

    resumed_out = tmp_path / "resumed"
    resumed_out.mkdir()
    subprocess.run(["cp", "-r", str(tmp_path / "two" / "checkpoint-2"), str(resumed_out)], check=True)
    resumed = launch(recipe(resumed_out, 2, resume_from_checkpoint="latest"), tmp_path / "report_resumed", processes=2)
    assert resumed.returncode == 0, launch_failure(resumed.stderr)
    after = [json.loads((tmp_path / "report_resumed" / f"rank-{i}.json").read_text()) for i in (0, 1)]
    assert after[0]["digest"] == after[1]["digest"] == ranks[0]["digest"], "resuming changed the voice"
    assert after[0]["discriminator_digest"] == ranks[0]["discriminator_digest"], "resuming changed the discriminator"

    one = launch(recipe(tmp_path / "one", 4), tmp_path / "report1", processes=1)
    assert one.returncode == 0, launch_failure(one.stderr)
    single = json.loads((tmp_path / "report1" / "rank-0.json").read_text())
    # Measured (2026-12-01): 1238 / 239 / 226 / 205 on 2 ranks, 899 / 204 / 179 / 194 in one process;
    # the first step's loss is mostly the KL of a random prior, the noisiest term. A rank that summed
    # instead of averaging, or trained on other clips, would be off by far more than this.
    assert len(ranks[0]["losses"]) == len(single["losses"]) == 4
    assert ranks[0]["losses"] == pytest.approx(single["losses"], rel=0.5)
    assert ranks[0]["losses"][-1] < ranks[0]["losses"][0] and single["losses"][-1] < single["losses"][0]
