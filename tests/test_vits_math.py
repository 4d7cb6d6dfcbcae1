"""VITS training pieces against the math: alignment search vs brute force, losses vs hand values."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from hf_vclone.vits.alignment import beta_binomial_log_prior, maximum_path
from hf_vclone.vits.discriminator import VitsDiscriminator
from hf_vclone.vits.losses import (discriminator_loss, duration_loss, feature_matching_loss, generator_loss,
                                   kl_loss)


def monotonic_paths(frames: int, tokens: int):
    """Every valid alignment, as the token of each frame: starts at 0, ends at tokens-1, steps 0 or 1."""
    for steps in itertools.product((0, 1), repeat=frames - 1):
        if sum(steps) == tokens - 1:
            yield [0, *itertools.accumulate(steps)]


def brute_force(value: torch.Tensor) -> tuple[float, list[int]]:
    frames, tokens = value.shape
    return max(((sum(float(value[y, x]) for y, x in enumerate(path)), path)
                for path in monotonic_paths(frames, tokens)), key=lambda t: t[0])


@pytest.mark.parametrize("seed", range(20))
def test_alignment_search_finds_the_brute_force_optimum_in_a_padded_batch(seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    sizes = [(int(torch.randint(1, 9, (1,), generator=gen)), 0) for _ in range(3)]
    sizes = [(frames, int(torch.randint(1, frames + 1, (1,), generator=gen))) for frames, _ in sizes]
    max_frames, max_tokens = max(s[0] for s in sizes), max(s[1] for s in sizes)
    value = torch.randn(len(sizes), max_frames, max_tokens, generator=gen)
    mask = torch.zeros_like(value, dtype=torch.bool)
    for b, (frames, tokens) in enumerate(sizes):
        mask[b, :frames, :tokens] = True
    path = maximum_path(value, mask)
    for b, (frames, tokens) in enumerate(sizes):
        best, best_path = brute_force(value[b, :frames, :tokens])
        ours = path[b, :frames, :tokens]
        assert torch.equal(ours.sum(1), torch.ones(frames)), "each frame on exactly one token"
        assert [int(row.argmax()) for row in ours] == best_path
        assert float((ours * value[b, :frames, :tokens]).sum()) == pytest.approx(best, abs=1e-4)
        assert float(path[b].sum()) == frames  # nothing outside the item's rectangle


def test_alignment_is_refused_when_there_are_fewer_frames_than_tokens() -> None:
    with pytest.raises(ValueError, match="at least as many frames as tokens"):
        maximum_path(torch.zeros(1, 2, 3), torch.ones(1, 2, 3, dtype=torch.bool))


def test_kl_loss_matches_the_closed_form_per_element() -> None:
    z_p, logs_q = torch.tensor([[[0.5, -1.0]]]), torch.tensor([[[0.1, 0.2]]])
    m_p, logs_p = torch.tensor([[[0.0, 1.0]]]), torch.tensor([[[0.3, -0.4]]])
    mask = torch.tensor([[[1.0, 0.0]]])
    expected = 0.3 - 0.1 - 0.5 + 0.5 * 0.5 ** 2 * math.exp(-0.6)  # only the first element counts
    assert float(kl_loss(z_p, logs_q, m_p, logs_p, mask)) == pytest.approx(expected)
    same = kl_loss(torch.zeros(1, 2, 4), torch.zeros(1, 2, 4), torch.zeros(1, 2, 4), torch.zeros(1, 2, 4),
                   torch.ones(1, 2, 4))
    assert float(same) == pytest.approx(-0.5)  # log-std equal, sample at the mean: only the -1/2 remains


def test_lsgan_and_feature_matching_losses_match_hand_values() -> None:
    real, fake = [torch.tensor([1.0, 0.5]), torch.tensor([0.0])], [torch.tensor([0.0, 0.5]), torch.tensor([1.0])]
    # D: mean((1-r)^2) + mean(f^2) per sub-discriminator
    assert float(discriminator_loss(real, fake)) == pytest.approx((0.125 + 0.125) + (1.0 + 1.0))
    assert float(generator_loss(fake)) == pytest.approx(0.625 + 0.0)
    real_features = [[torch.tensor([1.0, 2.0]), torch.tensor([0.0])]]
    fake_features = [[torch.tensor([1.5, 1.0]), torch.tensor([2.0])]]
    assert float(feature_matching_loss(real_features, fake_features)) == pytest.approx(0.75 + 2.0)
    assert float(duration_loss(torch.tensor([3.0, 5.0]), torch.ones(2, 1, 4))) == pytest.approx(1.0)


def test_discriminator_scores_every_sub_discriminator_and_trains_against_real_audio() -> None:
    torch.manual_seed(0)
    disc = VitsDiscriminator(width=1 / 16)
    wave = torch.randn(2, 1, 1000)
    scores, features = disc(wave)
    assert len(scores) == len(features) == 5 + 3
    assert all(s.shape[0] == 2 for s in scores) and all(len(f) >= 5 for f in features)
    real = torch.sin(torch.linspace(0, 200, 1000)).repeat(2, 1, 1) * 0.5
    fake = torch.randn(2, 1, 1000) * 0.5
    optimizer = torch.optim.Adam(disc.parameters(), lr=1e-3)
    losses = []
    for _ in range(20):
        loss = discriminator_loss(disc(real)[0], disc(fake)[0])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
    assert losses[-1] < 0.5 * losses[0]  # it learns to tell them apart


def _predictor(seed: int = 0):
    from transformers import VitsConfig
    from transformers.models.vits.modeling_vits import VitsStochasticDurationPredictor

    torch.manual_seed(seed)
    config = VitsConfig(hidden_size=16, duration_predictor_filter_channels=16, duration_predictor_num_flows=3,
                        depth_separable_num_layers=2)
    return VitsStochasticDurationPredictor(config).eval()


def test_transformers_reverse_path_inverts_our_duration_flow_on_the_duration_channel() -> None:
    """Training pushes (log d, nu) through the main flows to z; speaking runs transformers' reverse
    path from z. With our flow order, that recovers log d exactly (for any nu)."""
    from unittest import mock

    from hf_vclone.vits.duration import main_flows_forward

    predictor = _predictor()
    batch, tokens = 2, 7
    hidden = torch.randn(batch, 16, tokens)
    mask = torch.ones(batch, 1, tokens)
    mask[1, :, 5:] = 0
    log_duration = torch.randn(batch, 1, tokens) * mask
    nu = torch.randn(batch, 1, tokens) * mask
    with torch.no_grad():
        conditioning = predictor.conv_proj(predictor.conv_dds(predictor.conv_pre(hidden), mask)) * mask
        latents, _ = main_flows_forward(predictor, torch.cat([log_duration, nu], 1), mask, conditioning)
        with mock.patch.object(torch, "randn", return_value=latents):  # the reverse path's "noise" is our z
            recovered = predictor(hidden, mask, reverse=True, noise_scale=1.0)
    torch.testing.assert_close(recovered * mask, log_duration, rtol=1e-5, atol=1e-5)


def test_transformers_own_forward_flow_order_does_not_invert_which_is_why_we_do_not_use_it() -> None:
    """The same check through transformers' forward order (a flip after every flow) fails: this is
    the defect vits/duration.py works around; if transformers fixes it, this test says so."""
    from unittest import mock

    predictor = _predictor()
    hidden, mask = torch.randn(1, 16, 6), torch.ones(1, 1, 6)
    log_duration, nu = torch.randn(1, 1, 6), torch.randn(1, 1, 6)
    with torch.no_grad():
        conditioning = predictor.conv_proj(predictor.conv_dds(predictor.conv_pre(hidden), mask)) * mask
        latents = torch.cat([log_duration, nu], 1)
        for flow in predictor.flows:  # transformers' forward(reverse=False) order
            latents, _ = flow(latents, mask, global_conditioning=conditioning)
            latents = torch.flip(latents, [1])
        with mock.patch.object(torch, "randn", return_value=latents):
            recovered = predictor(hidden, mask, reverse=True, noise_scale=1.0)
    assert (recovered - log_duration).abs().max() > 1e-2


def test_duration_nll_is_the_flow_bound_and_training_it_teaches_the_durations() -> None:
    """Fit the predictor to durations of 3 frames per token with our loss; transformers' own
    inference then predicts about 3 frames per token."""
    from hf_vclone.vits.duration import duration_nll

    predictor = _predictor(1).train()
    hidden, mask = torch.randn(4, 16, 9), torch.ones(4, 1, 9)
    durations = torch.full((4, 1, 9), 3.0)
    optimizer = torch.optim.Adam(predictor.parameters(), lr=5e-3)
    first = None
    for _ in range(150):
        loss = duration_nll(predictor, hidden, mask, durations).sum() / mask.sum()
        first = first if first is not None else float(loss)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert float(loss) < first
    predictor.eval()
    torch.manual_seed(0)
    with torch.no_grad():
        predicted = torch.exp(predictor(hidden, mask, reverse=True, noise_scale=0.0))
    assert 2.0 < float(predicted.mean()) < 4.0, float(predicted.mean())


def test_the_alignment_prior_is_the_beta_binomial_of_badlani_et_al_in_a_padded_batch() -> None:
    from scipy.stats import betabinom

    sizes = [(12, 5), (7, 3)]  # (frames, tokens) per item
    prior = beta_binomial_log_prior(torch.tensor([f for f, _ in sizes]), torch.tensor([n for _, n in sizes]), 12, 5)
    for b, (frames, tokens) in enumerate(sizes):
        expected = torch.tensor([[betabinom.logpmf(k, tokens - 1, t, frames - t + 1) for k in range(tokens)]
                                 for t in range(1, frames + 1)], dtype=torch.float32)
        assert torch.allclose(prior[b, :frames, :tokens], expected, atol=1e-5)
        assert torch.allclose(prior[b, :frames, :tokens].exp().sum(1), torch.ones(frames), atol=1e-5)
        assert not prior[b, frames:].any() and not prior[b, :, tokens:].any()  # padding: left to the mask


def test_with_a_flat_likelihood_the_prior_alone_makes_the_search_find_the_diagonal() -> None:
    frames, tokens = 40, 8
    flat = torch.zeros(1, frames, tokens)  # a fresh text encoder: every token equally likely everywhere
    mask = torch.ones(1, frames, tokens, dtype=torch.bool)
    without = maximum_path(flat, mask)[0].sum(0)
    with_prior = maximum_path(flat + beta_binomial_log_prior(torch.tensor([frames]), torch.tensor([tokens]),
                                                             frames, tokens), mask)[0].sum(0)
    assert without.tolist() == [1, 1, 1, 1, 1, 1, 1, 33]  # ties: every token but the last gets a single frame
    assert (with_prior - frames / tokens).abs().max() <= 1  # about 5 frames each
