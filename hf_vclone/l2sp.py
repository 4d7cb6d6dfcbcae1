"""L2-SP (Li et al., 2018): pull the trained weights towards their pretrained values.

    loss += lambda * sum over trained parameters of ||theta - theta_pretrained||^2

Weight decay pulls weights towards zero, which on a small fine-tuning set erases what the base
knew; L2-SP pulls towards the starting point instead. Only the parameters that train are copied
(for LoRA, the adapters), so the anchor costs memory in proportion to what trains, not the model.
"""

from __future__ import annotations

import torch
from torch import nn


class L2SP:
    def __init__(self, model: nn.Module, weight: float) -> None:
        self.weight = weight
        self.pairs = [(p, p.detach().clone()) for p in model.parameters() if p.requires_grad]

    def __call__(self) -> torch.Tensor:
        distance = sum(((p - anchor) ** 2).sum() for p, anchor in self.pairs)
        return self.weight * torch.as_tensor(distance)

    @property
    def anchor_numel(self) -> int:
        return sum(anchor.numel() for _, anchor in self.pairs)
