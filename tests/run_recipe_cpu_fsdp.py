"""Test helper: tests/run_recipe.py under FSDP on CPU ranks, launched with tests/fsdp2_cpu.yaml.

TEST-ONLY SHIM, not for real runs. accelerate 1.15 silently drops FSDP on CPU ranks and runs DDP
instead: in accelerate/state.py, `AcceleratorState.__init__` sets `distributed_type = FSDP` and
keeps the `fsdp_plugin` only inside `elif self.distributed_type in [MULTI_GPU, MULTI_MLU,
MULTI_SDAA, MULTI_MUSA, MULTI_NPU, MULTI_XPU, MULTI_HPU, MULTI_NEURON]` (state.py:986-1013 in
1.15.0). A CPU rank is MULTI_CPU, not in that list, so the plugin is dropped without a message.
torch's FSDP2 itself runs on CPU over gloo.

This shim does, for MULTI_CPU ranks, what that branch does for GPUs: after the original
`__init__`, when an FSDP plugin was given it sets `distributed_type = FSDP` and keeps the
plugin, and it also writes `PartialState._shared_state["distributed_type"]`, as state.py:1037
does; without that the next `AcceleratorState()` copies MULTI_CPU back and
`accelerator.get_state_dict` returns shards. Nothing in hf_vclone is patched: the project code
under test is the code GPU runs use.
"""

import os
import sys

import accelerate.state as state
import torch.distributed as dist
from accelerate.utils import DistributedType

_original_init = state.AcceleratorState.__init__


def _init_keeping_fsdp_on_cpu(self, mixed_precision=None, cpu=False, dynamo_plugin=None, deepspeed_plugin=None,
                              fsdp_plugin=None, *args, **kwargs):
    _original_init(self, mixed_precision, cpu, dynamo_plugin, deepspeed_plugin, fsdp_plugin, *args, **kwargs)
    if fsdp_plugin is not None and self.distributed_type == DistributedType.MULTI_CPU:
        self.distributed_type = DistributedType.FSDP
        self.fsdp_plugin = fsdp_plugin
        state.PartialState._shared_state["distributed_type"] = DistributedType.FSDP


state.AcceleratorState.__init__ = _init_keeping_fsdp_on_cpu

if __name__ == "__main__":
    from run_recipe import main  # this script's folder (tests/) is first on sys.path

    main(sys.argv)
    # Leave without the interpreter's teardown once the run and its report are written. Under this shim the
    # gloo ranks sometimes abort in teardown ("Fatal Python error: Aborted", no Python frame left; one clean
    # CI run in ten in session 28, both FSDP tests of one run in session 30), after every file was written,
    # as tests/test_fsdp.py's guard test saw too. The barrier keeps a rank from leaving while its peer is
    # still in the report's last collective. Only the success path gets here; a failure above still
    # raises, and a rank killed on purpose (the resume test) never reaches it.
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
