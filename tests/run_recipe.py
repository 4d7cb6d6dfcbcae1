"""Test helper, run as a subprocess: train a recipe (JSON on argv[1]) and optionally SIGKILL this
process at the start of step `argv[2]`, as a crash or an OOM killer would, mid-run.

With VCLONE_TEST_REPORT=<dir>, each rank writes rank-<i>.json: a digest of its parameters and
its logged losses, so a test can check that data-parallel ranks stayed in sync."""

import hashlib
import json
import os
import signal
import sys
from pathlib import Path

from transformers import TrainerCallback

from hf_vclone.config import recipe_from_dict
from hf_vclone.finetune import FineTuneRun


class KillAt(TrainerCallback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_begin(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    job = FineTuneRun(recipe_from_dict(json.loads(sys.argv[1])))
    job.setup()
    if len(sys.argv) > 2:
        job.trainer.add_callback(KillAt(int(sys.argv[2])))
    job.finish(job.train())
    if report := os.environ.get("VCLONE_TEST_REPORT"):
        digest = hashlib.sha256()
        for name, param in sorted(job.voice.named_parameters()):
            digest.update(name.encode() + param.detach().float().numpy().tobytes())
        rank = job.trainer.args.process_index
        Path(report, f"rank-{rank}.json").write_text(json.dumps({
            "digest": digest.hexdigest(), "world_size": job.trainer.args.world_size,
            "losses": [h["loss"] for h in job.trainer.state.log_history if "loss" in h]}))
