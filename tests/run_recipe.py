"""Test helper, run as a subprocess: train a recipe (JSON on argv[1]) and optionally SIGKILL this
process at the start of step `argv[2]`, as a crash or an OOM killer would, mid-run.

With VCLONE_TEST_REPORT=<dir>, each rank writes rank-<i>.json: a digest of its parameters and
its logged losses, so a test can check that data-parallel ranks stayed in sync. Under FSDP the
digest is of the gathered full parameters (and the report says how the run was distributed)."""

import hashlib
import json
import os
import signal
import sys
from pathlib import Path

from torch import nn
from torch.distributed.tensor import DTensor
from transformers import TrainerCallback

from hf_vclone.config import recipe_from_dict
from hf_vclone.finetune import FineTuneRun


class KillAt(TrainerCallback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_begin(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


def digest(model: nn.Module) -> str:
    """sha256 over (name, fp32 bytes) of every parameter. Sharded (DTensor) ones are gathered
    first, a collective: every rank calls this, in the same (sorted) order. Only values count,
    not shapes, so a 0-d parameter trained 1-d under sharding hashes the same."""
    hashed = hashlib.sha256()
    for name, param in sorted(model.named_parameters()):
        full = param.full_tensor() if isinstance(param, DTensor) else param
        hashed.update(name.encode() + full.detach().float().numpy().tobytes())
    return hashed.hexdigest()


def main(argv: list[str]) -> None:
    job = FineTuneRun(recipe_from_dict(json.loads(argv[1])))
    job.setup()
    if len(argv) > 2:
        job.trainer.add_callback(KillAt(int(argv[2])))
    job.finish(job.train())
    if report := os.environ.get("VCLONE_TEST_REPORT"):
        trainer = job.trainer
        rank = trainer.args.process_index
        Path(report, f"rank-{rank}.json").write_text(json.dumps({
            "digest": digest(job.voice), "world_size": trainer.args.world_size,
            "distributed_type": str(trainer.accelerator.distributed_type),
            "sharded": any(isinstance(p, DTensor) for p in job.voice.parameters()),
            # VITS: the discriminator trains beside the voice, and must stay in sync too
            "discriminator_digest": digest(trainer._discriminator) if hasattr(trainer, "discriminator") else None,
            "losses": [h["loss"] for h in trainer.state.log_history if "loss" in h]}))


if __name__ == "__main__":
    main(sys.argv)
