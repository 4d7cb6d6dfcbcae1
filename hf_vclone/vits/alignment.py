"""Monotonic alignment search (Kim et al., Glow-TTS / VITS), vectorised in torch.

Given the log-likelihood of every (spectrogram frame, text token) pair, find the alignment that
maximises the total: every frame belongs to exactly one token, the first frame to the first
token and the last frame to the last, and from one frame to the next the token stays or moves on
by one. The dynamic programme runs frame by frame with whole-batch, whole-row tensor operations,
so there is no per-element Python loop and nothing to compile (finetune-hf-vits builds a Cython
extension for this, which users struggle to build).
"""

from __future__ import annotations

import torch

_IMPOSSIBLE = -1e9  # a score no real path reaches; -inf would turn into nan in the sums


@torch.no_grad()
def maximum_path(log_likelihood: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The best monotonic path, as a 0/1 tensor.

    log_likelihood: (batch, frames, tokens); mask: (batch, frames, tokens), true inside each
    item's (frames_b x tokens_b) rectangle. Needs frames_b >= tokens_b for every item.
    """
    value = log_likelihood.float().masked_fill(~mask.bool(), _IMPOSSIBLE)
    batch, frames, tokens = value.shape
    n_frames = mask[:, :, 0].sum(1).long()
    n_tokens = mask[:, 0, :].sum(1).long()
    if bool((n_frames < n_tokens).any()):
        raise ValueError("monotonic alignment needs at least as many frames as tokens in every item")
    token_index = torch.arange(tokens, device=value.device)

    # best[b, y, x]: the best score of a path through frames 0..y that is at token x on frame y.
    best = torch.full_like(value, _IMPOSSIBLE)
    best[:, 0, 0] = value[:, 0, 0]
    for y in range(1, frames):
        stay = best[:, y - 1]
        advance = torch.nn.functional.pad(best[:, y - 1, :-1], (1, 0), value=_IMPOSSIBLE)
        row = value[:, y] + torch.maximum(stay, advance)
        # Token x cannot be reached before frame x (one step per frame at most).
        best[:, y] = row.masked_fill(token_index > y, _IMPOSSIBLE)

    # Walk back from the last token on each item's last frame, choosing the better predecessor.
    path = torch.zeros_like(value)
    rows = torch.arange(batch, device=value.device)
    index = n_tokens - 1
    for y in range(frames - 1, -1, -1):
        active = y < n_frames
        path[rows[active], y, index[active]] = 1.0
        if y == 0:
            break
        prev = best[:, y - 1]
        stay = prev.gather(1, index[:, None])[:, 0]
        advance = prev.gather(1, (index - 1).clamp(min=0)[:, None])[:, 0]
        # Move to the previous token when staying is impossible (as many tokens left as frames)
        # or worse than arriving from it; never below token 0.
        step = active & (index > 0) & ((index == y) | (stay < advance))
        index = index - step.long()
    return path * mask


@torch.no_grad()
def beta_binomial_log_prior(n_frames: torch.Tensor, n_tokens: torch.Tensor, frames: int, tokens: int) -> torch.Tensor:
    """log P(token | frame) of the static alignment prior of Badlani et al. (2021, "One TTS
    Alignment To Rule Them All"): frame t of T (1-based) puts its mass on tokens 0..N-1 as a
    beta-binomial with N-1 trials, alpha = t and beta = T - t + 1, so the likely token moves from
    the first to the last along the diagonal. (batch, frames, tokens); entries outside an item's
    T x N rectangle are 0 (the search masks them).

    Why: the search needs a prior that already tells tokens apart. A fresh text encoder's is the
    same for every token, so the first alignments put most tokens on one frame each and the text
    encoder learns from those (benchmarks/README.md); the diagonal gives it a rough start."""
    t = torch.arange(1, frames + 1, dtype=torch.float64)[None, :, None]  # (1, frames, 1)
    k = torch.arange(tokens, dtype=torch.float64)[None, None, :]  # (1, 1, tokens)
    big_t = n_frames.to(torch.float64)[:, None, None]
    n = (n_tokens.to(torch.float64) - 1)[:, None, None]
    inside = (t <= big_t) & (k <= n)
    alpha, beta = t, (big_t - t + 1).clamp(min=1)
    k_, rest = k.clamp(max=n.max().item()), (n - k).clamp(min=0)

    def log_beta(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.lgamma(a) + torch.lgamma(b) - torch.lgamma(a + b)

    log_choose = torch.lgamma(n + 1) - torch.lgamma(k_ + 1) - torch.lgamma(rest + 1)
    value = log_choose + log_beta(k_ + alpha, rest + beta) - log_beta(alpha, beta)
    return torch.where(inside, value, torch.zeros_like(value)).float()
