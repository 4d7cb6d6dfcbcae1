"""The faster CPU dropout (hf_vclone/cpu_dropout.py) draws the masks torch's dropout would: same rate,
unbiased, the same gradient rule, repeatable under a seed, and only inside the training step."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from hf_vclone.cpu_dropout import dropout, fast_cpu_dropout, keep_mask


@pytest.mark.parametrize("p", [0.05, 0.1, 0.5, 0.9])
def test_drop_rate_matches_p_at_every_position_of_a_64_bit_draw(p: float) -> None:
    torch.manual_seed(0)
    n = 1 << 20
    mask, _ = keep_mask(torch.Size([n]), p)
    dropped = (~mask).float()
    tolerance = 5 * math.sqrt(p * (1 - p) / (n // 4))  # five standard errors of each quarter's share
    # Each int64 draw gives four 16-bit uniforms; the top one holds the word's sign bit, which an
    # unbounded `random_()` leaves at 0 (it would never be dropped below p = 0.5).
    for lane in range(4):
        assert abs(dropped[lane::4].mean().item() - p) < tolerance, lane


def test_kept_elements_are_scaled_to_keep_the_expectation() -> None:
    torch.manual_seed(1)
    x = torch.randn(4096, 64)
    y = dropout(x, 0.3)
    kept = y != 0
    dropped_levels = round(0.3 * 65536)
    scale = 65536 / (65536 - dropped_levels)
    assert torch.equal(y[kept], x[kept] * scale)
    assert abs((~kept).float().mean().item() - 0.3) < 0.005
    ones = dropout(torch.ones(1 << 20), 0.3)
    assert abs(ones.mean().item() - 1.0) < 0.005  # unbiased


def test_gradient_is_the_mask_times_the_scale() -> None:
    torch.manual_seed(2)
    x = torch.randn(512, 32, requires_grad=True)
    y = dropout(x, 0.2)
    y.sum().backward()
    kept = (y != 0).float()
    scale = 65536 / (65536 - round(0.2 * 65536))
    assert torch.allclose(x.grad, kept * scale)


def test_repeatable_under_a_seed_and_new_on_each_call() -> None:
    x = torch.ones(10_000)
    torch.manual_seed(3)
    first, second = dropout(x, 0.5), dropout(x, 0.5)
    torch.manual_seed(3)
    assert torch.equal(dropout(x, 0.5), first)
    assert not torch.equal(first, second)


def test_keeps_the_dtype_and_shape_of_its_input() -> None:
    x = torch.randn(3, 5, 7).to(torch.bfloat16)
    y = dropout(x, 0.1)
    assert y.dtype == torch.bfloat16 and y.shape == x.shape


def test_what_it_does_not_handle_goes_to_torch() -> None:
    x = torch.randn(100)
    assert torch.equal(dropout(x, 0.5, training=False), x)
    assert torch.equal(dropout(x, 0.0), x)
    assert torch.equal(dropout(x, 1.0), torch.zeros(100))
    with pytest.raises(ValueError):
        dropout(x, 1.5)
    near_one = dropout(torch.ones(10_000), 1 - 1e-6)  # would round to "drop every level": torch's mask
    assert near_one.isfinite().all() and (near_one == 0).float().mean() > 0.99
    y = x.clone()
    torch.manual_seed(4)
    out = dropout(y, 0.5, inplace=True)
    assert out is y  # torch's in-place dropout


def test_the_context_swaps_functional_dropout_for_modules_and_restores_it() -> None:
    torch.nn.Dropout(0.1)  # a module built before the context still calls F.dropout at call time
    layer = torch.nn.Dropout(0.25).train()
    x = torch.randn(2000)
    torch.manual_seed(5)
    expected = dropout(x, 0.25)
    original = F.dropout
    with fast_cpu_dropout():
        assert F.dropout is dropout
        torch.manual_seed(5)
        assert torch.equal(layer(x), expected)
    assert F.dropout is original
    with pytest.raises(RuntimeError), fast_cpu_dropout():
        raise RuntimeError("a failing step")
    assert F.dropout is original
    with fast_cpu_dropout(enabled=False):
        assert F.dropout is original
