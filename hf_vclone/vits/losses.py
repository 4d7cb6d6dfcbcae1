"""The VITS training losses (Kim et al., 2021), each a small function of tensors.

Defaults for their weights follow the paper and its public training configs: mel L1 x45,
KL x1, duration x1, adversarial x1, feature matching x2 (applied in the trainer, from the recipe).
"""

from __future__ import annotations

import torch


def kl_loss(z_p: torch.Tensor, logs_q: torch.Tensor, m_p: torch.Tensor, logs_p: torch.Tensor,
            mask: torch.Tensor) -> torch.Tensor:
    """KL(q || p) between the posterior, pushed through the flow (z_p, with the posterior's
    log-std logs_q), and the text prior N(m_p, exp(logs_p)), per unmasked element:

        logs_p - logs_q - 1/2 + (z_p - m_p)^2 / (2 exp(2 logs_p))

    A single-sample estimate (z_p is a sample), summed over the channels and averaged over the
    frames in `mask` (one channel wide), as VITS normalises it: about 1.5 per frame on our demo base.
    """
    kl = logs_p - logs_q - 0.5 + 0.5 * (z_p - m_p) ** 2 * torch.exp(-2.0 * logs_p)
    return (kl * mask).sum() / mask.sum()


def discriminator_loss(real: list[torch.Tensor], fake: list[torch.Tensor]) -> torch.Tensor:
    """LSGAN: each sub-discriminator pushes real scores to 1 and generated ones to 0."""
    return sum(torch.mean((1 - r) ** 2) + torch.mean(f ** 2) for r, f in zip(real, fake))


def generator_loss(fake: list[torch.Tensor]) -> torch.Tensor:
    """LSGAN: the generator wants every sub-discriminator to score its audio 1."""
    return sum(torch.mean((1 - f) ** 2) for f in fake)


def feature_matching_loss(real_features: list[list[torch.Tensor]],
                          fake_features: list[list[torch.Tensor]]) -> torch.Tensor:
    """L1 between the discriminators' hidden activations on real and generated audio, summed over
    layers and sub-discriminators (each layer's mean). Real activations are targets: no gradient."""
    return sum(torch.mean(torch.abs(r.detach() - f))
               for real_layers, fake_layers in zip(real_features, fake_features)
               for r, f in zip(real_layers, fake_layers))


def mel_l1_loss(generated_mel: torch.Tensor, target_mel: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.l1_loss(generated_mel, target_mel)


def duration_loss(nll: torch.Tensor, token_mask: torch.Tensor) -> torch.Tensor:
    """The stochastic duration predictor's negative log-likelihood (summed per item), per token."""
    return nll.sum() / token_mask.sum()


def waveform_dc_loss(generated: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """|mean(generated) - mean(real)| per slice, averaged: the one thing the mel loss cannot see.
    A constant offset falls below the mel filters (the first one weighs the 0 Hz bin 0), so nothing
    else holds the decoder's output centred, and once its tanh saturates no gradient brings it back
    (benchmarks/README.md, session 12)."""
    return (generated.mean(-1) - real.mean(-1)).abs().mean()
