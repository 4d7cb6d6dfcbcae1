"""Dropout masks drawn 64 random bits at a time on the CPU: the same Bernoulli masks, about half the cost.

Why: torch's CPU dropout (`aten::bernoulli_`) draws its mask one element at a time. The profiler puts it at
9.5% of a full-size SpeechT5 training step in float32 and the largest single cost of the quickstart
model's (benchmarks/README.md, "Where a training step's time goes"); under bf16 autocast, where the
matmuls shrink, the transformer dropouts cost a fifth of the step. Here one 64-bit draw of the
generator gives four 16-bit uniforms, each compared with p: one dropout of a 4 x 600 x 768 activation
takes 6-7 ms against torch's 14.5 ms on this 2-core CPU.

The mask keeps an element with probability (65536 - k) / 65536, k = round(p * 65536), p within 1e-5 of
the asked rate, and scales kept elements by the inverse of that exact probability, so the output's
expectation equals the input, as torch's dropout. The draws come from torch's default CPU generator,
so `torch.manual_seed`, the Trainer's seeding and its saved RNG state make a run repeatable as before.

Only the training step runs with it (`VoiceTrainer.training_step`, `run.fast_cpu_dropout`): every module
calling `torch.nn.functional.dropout` (`nn.Dropout`, transformers' attention) picks it up. Inputs that
are not on the CPU, in-place calls and `training=False` go to torch's own dropout unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F

_TORCH_DROPOUT = F.dropout
_LEVELS = 1 << 16


def keep_mask(shape: torch.Size, p: float) -> tuple[torch.Tensor, float]:
    """A boolean mask of `shape` that is True with probability 1 - p (to 1/65536), and the scale that
    makes the masked tensor unbiased."""
    dropped_levels = round(p * _LEVELS)
    count = math.prod(shape)
    # The full signed range: `random_()` with no bounds leaves the top bit of an int64 at 0.
    words = torch.empty((count + 3) // 4, dtype=torch.int64).random_(-(1 << 63), (1 << 63) - 1)
    uniforms = words.view(torch.int16)[:count].view(shape)
    mask = uniforms >= dropped_levels - (_LEVELS >> 1)
    return mask, _LEVELS / (_LEVELS - dropped_levels)


def dropout(input: torch.Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> torch.Tensor:
    """`torch.nn.functional.dropout` with the faster mask for CPU tensors; anything else goes to torch's."""
    # p that 16 bits cannot tell from 0 or 1 (below 1/131072 of either) goes to torch's exact mask
    if (not training or inplace or input.device.type != "cpu" or not 0 < round(p * _LEVELS) < _LEVELS
            or input.numel() == 0):
        return _TORCH_DROPOUT(input, p, training, inplace)
    mask, scale = keep_mask(input.shape, p)
    return torch.where(mask, input * scale, 0.0)  # one pass fewer than input * mask * scale


@contextmanager
def fast_cpu_dropout(enabled: bool = True) -> Iterator[None]:
    """Within the block, `torch.nn.functional.dropout` is `dropout` above; restored on the way out,
    exceptions included."""
    if not enabled:
        yield
        return
    previous = F.dropout
    F.dropout = dropout
    try:
        yield
    finally:
        F.dropout = previous
