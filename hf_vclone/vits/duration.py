"""The stochastic duration predictor's training loss, in the flow order its inference inverts.

VITS (Kim et al., 2021) trains the duration predictor as a flow: durations d -> (log(d - u), nu)
-> through the main flows -> a standard normal latent, with u, nu from a posterior flow; the loss
is the variational bound on -log p(d). At inference the flows run backwards from noise and the
first channel is log d.

transformers' `VitsStochasticDurationPredictor.forward(reverse=False)` cannot be used for this: it
flips the channels after *every* flow, including the first (the element-wise affine), while its
reverse path (which the Hub checkpoints were converted for, and which `VitsModel` uses to speak)
follows the original VITS order: affine, conv flow, flip, conv flow, flip, ... So its forward is
not the inverse of its reverse, and a predictor trained through it predicts durations that its
inference cannot reproduce (measured: 0.009 frames per token against a target of 2.06 after 400
steps, so every token got one frame). Here the main flows run in the original order; the posterior
flows, used only in this direction, keep transformers' order. tests/test_vits_math.py checks that
transformers' reverse path inverts this exactly on the duration channel.
"""

from __future__ import annotations

import math

import torch
from torch import nn

LOG_2PI = math.log(2 * math.pi)


def main_flows_forward(predictor: nn.Module, latents: torch.Tensor, mask: torch.Tensor,
                       conditioning: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(z, log-determinant): affine, then conv flows, each followed by a flip (the original order).
    The first conv flow only transforms the second channel, which is why inference may skip it."""
    log_det = torch.zeros(latents.shape[0], device=latents.device, dtype=latents.dtype)
    for index, flow in enumerate(predictor.flows):
        latents, step = flow(latents, mask, global_conditioning=conditioning)
        log_det = log_det + step
        if index > 0:
            latents = torch.flip(latents, [1])
    return latents, log_det


def duration_nll(predictor: nn.Module, hidden: torch.Tensor, mask: torch.Tensor,
                 durations: torch.Tensor) -> torch.Tensor:
    """-log p(durations) bound per item, (batch,). hidden: (batch, channels, tokens) text encoder
    output (detached: durations do not train the encoder); mask, durations: (batch, 1, tokens)."""
    conditioning = predictor.conv_pre(hidden.detach())
    conditioning = predictor.conv_dds(conditioning, mask)
    conditioning = predictor.conv_proj(conditioning) * mask

    # posterior q(u, nu | d): a flow from noise, conditioned on the text and the durations
    duration_features = predictor.post_conv_pre(durations)
    duration_features = predictor.post_conv_dds(duration_features, mask)
    duration_features = predictor.post_conv_proj(duration_features) * mask
    noise = torch.randn(durations.shape[0], 2, durations.shape[2], device=hidden.device, dtype=hidden.dtype) * mask
    posterior, log_det_q = noise, torch.zeros(durations.shape[0], device=hidden.device, dtype=hidden.dtype)
    for flow in predictor.post_flows:
        posterior, step = flow(posterior, mask, global_conditioning=conditioning + duration_features)
        posterior = torch.flip(posterior, [1])
        log_det_q = log_det_q + step
    u_logit, nu = torch.split(posterior, [1, 1], dim=1)
    u = torch.sigmoid(u_logit) * mask  # dequantisation noise in (0, 1)
    log_det_q = log_det_q + torch.sum((nn.functional.logsigmoid(u_logit) + nn.functional.logsigmoid(-u_logit)) * mask,
                                      [1, 2])
    log_q = torch.sum(-0.5 * (LOG_2PI + noise ** 2) * mask, [1, 2]) - log_det_q

    # log flow on d - u, then the main flows to a standard normal
    log_duration = torch.log(torch.clamp_min((durations - u) * mask, 1e-5)) * mask
    log_det = torch.sum(-log_duration, [1, 2])
    latents, flow_log_det = main_flows_forward(predictor, torch.cat([log_duration, nu], 1), mask, conditioning)
    nll = torch.sum(0.5 * (LOG_2PI + latents ** 2) * mask, [1, 2]) - (log_det + flow_log_det)
    return nll + log_q
