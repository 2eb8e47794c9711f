"""course_lib.ops.dropout: inverted dropout, its mask statistics and its backward."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from _ops_helpers import BACKENDS, as_kind, assert_same_kind, close, to_torch

from course_lib.ops import dropout, dropout_backward
from course_lib.ops.gradcheck import gradient_check


@pytest.mark.parametrize(("kind", "device"), BACKENDS)
@pytest.mark.parametrize("p", [0.0, 0.2, 0.5, 0.9])
def test_dropout_scales_kept_units_and_keeps_the_mean(kind, device, p):
    """Reference: the definition out = x * mask / (1 - p); the keep rate is 1 - p."""
    x = as_kind(np.random.default_rng(0).standard_normal((200, 250)) + 2, kind, device)
    out, mask = dropout(x, p, generator=3)
    assert_same_kind(out, x)
    assert tuple(mask.shape) == tuple(x.shape) and to_torch(mask).dtype == torch.bool
    keep = to_torch(mask)
    close(out, to_torch(x) * keep / (1 - p))
    n = keep.numel()
    assert abs(keep.double().mean().item() - (1 - p)) < 4 * np.sqrt(p * (1 - p) / n) + 1e-12
    assert abs(to_torch(out).mean().item() - to_torch(x).mean().item()) < 0.05


@pytest.mark.parametrize(("kind", "device"), BACKENDS)
def test_dropout_is_identity_at_inference_and_seeded_when_training(kind, device):
    x = as_kind(np.random.default_rng(0).standard_normal((3, 4, 5)), kind, device)
    out, mask = dropout(x, 0.5, training=False)
    close(out, x)
    assert bool(to_torch(mask).all())
    a, _ = dropout(x, 0.5, generator=7)
    b, _ = dropout(x, 0.5, generator=7)
    c, _ = dropout(x, 0.5, generator=8)
    close(a, b)
    assert not torch.equal(to_torch(a), to_torch(c))


def test_dropout_accepts_numpy_and_torch_generators():
    x = np.ones((50, 50))
    out1, _ = dropout(x, 0.3, generator=np.random.default_rng(1))
    out2, _ = dropout(x, 0.3, generator=np.random.default_rng(1))
    np.testing.assert_array_equal(out1, out2)
    g = torch.Generator().manual_seed(2)
    out3, m3 = dropout(torch.ones(50, 50, dtype=torch.float64), 0.3, generator=g)
    out4, _ = dropout(x, 0.3, generator=torch.Generator().manual_seed(2))
    close(out3, out4)
    # a numpy Generator for a tensor seeds a torch generator from one draw of it
    t = torch.ones(50, 50, dtype=torch.float64)
    out5, _ = dropout(t, 0.3, generator=np.random.default_rng(4))
    out6, _ = dropout(t, 0.3, generator=np.random.default_rng(4))
    out7, _ = dropout(t, 0.3, generator=np.random.default_rng(5))
    assert torch.equal(out5, out6) and not torch.equal(out5, out7)
    for bad in ("seed", True, 0.5):
        with pytest.raises(TypeError, match="generator="):
            dropout(torch.ones(3), 0.3, generator=bad)
    with pytest.raises(ValueError, match="generator=-1"):
        dropout(torch.ones(3), 0.3, generator=-1)


def test_dropout_draws_on_the_generators_device_for_a_tensor_elsewhere():
    """The CPU generator set_seed returns serves a tensor on another device (meta here)."""
    x = torch.ones(4, 5, device="meta")
    for generator in (torch.Generator().manual_seed(0), 3, np.random.default_rng(0), None):
        out, mask = dropout(x, 0.5, generator=generator)
        assert out.device.type == mask.device.type == "meta" and mask.dtype == torch.bool
        assert tuple(out.shape) == (4, 5)
    dx = dropout_backward(x, mask, 0.5)
    assert dx.device.type == "meta"


@pytest.mark.gpu
def test_dropout_with_a_cpu_generator_gives_the_cpu_mask_on_cuda():
    x = torch.ones(40, 30, dtype=torch.float64)
    _, on_cpu = dropout(x, 0.4, generator=torch.Generator().manual_seed(9))
    out, on_cuda = dropout(x.cuda(), 0.4, generator=torch.Generator().manual_seed(9))
    assert on_cuda.device.type == "cuda" and torch.equal(on_cuda.cpu(), on_cpu)
    _, by_seed = dropout(x.cuda(), 0.4, generator=9)
    assert torch.equal(by_seed.cpu(), on_cpu)


def test_dropout_lesson_example():
    """The lesson's worked example: d = (1..5), p = 0.2, fourth unit dropped."""
    d = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    keep = np.array([True, True, True, False, True])
    np.testing.assert_allclose(dropout_backward(d, keep, 0.2), [1.25, 2.5, 3.75, 0.0, 6.25])


@pytest.mark.parametrize(("kind", "device"), BACKENDS)
def test_dropout_backward_matches_autograd_and_gradient_check(kind, device):
    """Oracle: torch autograd of x * mask / (1 - p), and centred differences (float64)."""
    rng = np.random.default_rng(4)
    x, dout = rng.standard_normal((6, 7)), rng.standard_normal((6, 7))
    xx = as_kind(x, kind, device)
    _, mask = dropout(xx, 0.4, generator=5)
    xt = to_torch(x).requires_grad_(True)
    (xt * to_torch(mask) / 0.6).backward(to_torch(dout))
    dx = dropout_backward(as_kind(dout, kind, device), mask, 0.4)
    assert_same_kind(dx, xx)
    close(dx, xt.grad)
    m = to_torch(mask).numpy()
    check = gradient_check(lambda z: z * m / 0.6, x, dout, analytic=to_torch(dx).numpy())
    assert check.passed


@pytest.mark.parametrize(
    ("p", "exc", "pattern"),
    [
        (1.5, ValueError, r"p=1.5 must be a probability in \[0, 1\]"),
        (-0.1, ValueError, "p=-0.1"),
        (float("nan"), ValueError, "p=nan"),
        ("a", TypeError, "p='a'"),
        (True, TypeError, "p=True"),
        (None, TypeError, "p=None"),
    ],
)
def test_dropout_refuses_p_outside_0_1(p, exc, pattern):
    with pytest.raises(exc, match=pattern):
        dropout(np.ones(3), p)
    with pytest.raises(exc, match=pattern):
        dropout_backward(np.ones(3), np.ones(3, dtype=bool), p)


def test_dropout_refuses_a_non_bool_training_flag():
    with pytest.raises(TypeError, match="training='yes' must be True or False"):
        dropout(np.ones(3), 0.5, training="yes")


@pytest.mark.parametrize(("kind", "device"), BACKENDS)
def test_p_one_gives_zeros_and_p_zero_the_input_like_torch(kind, device):
    """Oracle: torch.nn.functional.dropout at its two ends (NaN * 0 stays NaN, as there)."""
    values = np.array([[1.0, -2.0, np.nan], [np.inf, 0.5, 3.0]])
    x = as_kind(values, kind, device)
    with np.errstate(invalid="ignore"):  # inf * 0, as in torch
        out, mask = dropout(x, 1.0, generator=0)
    torch.testing.assert_close(
        to_torch(out), F.dropout(to_torch(values), 1.0), rtol=0, atol=0, equal_nan=True
    )
    assert not bool(to_torch(mask).any())
    dx = dropout_backward(as_kind(np.ones((2, 3)), kind, device), mask, 1.0)
    close(dx, np.zeros((2, 3)), rtol=0, atol=0)
    finite = as_kind(np.random.default_rng(0).standard_normal((3, 4)), kind, device)
    out, mask = dropout(finite, 1, generator=0)
    assert torch.equal(to_torch(out), torch.zeros(3, 4, dtype=torch.float64))
    for p in (0.0, 0, np.float32(0.0)):
        out, mask = dropout(x, p, generator=0)
        assert out is x and bool(to_torch(mask).all())  # torch returns its input too
    out, _ = dropout(x, 0.7, training=False)
    assert out is x


@pytest.mark.parametrize("p", [0.25, np.float32(0.5), torch.tensor(0.75)])
def test_dropout_keeps_the_expectation(p):
    """E[out] = x: the mean of many draws of each unit is x, within 5 standard errors."""
    x = torch.tensor([0.5, -1.0, 2.0, 4.0], dtype=torch.float64)
    draws = x.repeat(40_000, 1)  # (n, 4): one unit per column, n independent draws
    out, mask = dropout(draws, p, generator=torch.Generator().manual_seed(1))
    q = float(p)
    n = draws.shape[0]
    stderr = x.abs() * np.sqrt(q / (1 - q) / n)  # std of x * Bernoulli(1 - q) / (1 - q)
    assert bool(((out.mean(0) - x).abs() < 5 * stderr).all()), (out.mean(0), x)
    assert abs(mask.double().mean().item() - (1 - q)) < 5 * np.sqrt(q * (1 - q) / mask.numel())
    # the dropped units are exactly zero, the kept ones exactly x / (1 - p), as in torch
    torch.testing.assert_close(out, draws * mask * (1 / (1 - q)), rtol=1e-15, atol=0)


def test_mask_is_reused_by_the_backward_and_a_seed_repeats_it():
    """The forward's mask drives the backward; the same generator state gives the same mask."""
    x = torch.randn(5, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(3)
    out_a, mask_a = dropout(x, 0.3, generator=g)
    out_b, mask_b = dropout(x, 0.3, generator=g)  # the generator moved on
    assert not torch.equal(mask_a, mask_b)
    _, mask_again = dropout(x, 0.3, generator=torch.Generator().manual_seed(3))
    assert torch.equal(mask_a, mask_again)
    xt = x.clone().requires_grad_(True)
    out, mask = dropout(xt, 0.3, generator=torch.Generator().manual_seed(3))
    dout = torch.randn(5, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    out.backward(dout)
    torch.testing.assert_close(dropout_backward(dout, mask, 0.3), xt.grad, rtol=1e-15, atol=0)


def test_dropout_backward_refuses_mixed_kinds():
    with pytest.raises(TypeError, match="mixed numpy and torch"):
        dropout_backward(np.ones(3), torch.ones(3, dtype=torch.bool), 0.5)


@pytest.mark.parametrize("x", [np.arange(6), torch.arange(6), np.ones(3, dtype=bool)])
def test_dropout_refuses_integer_and_bool_inputs(x):
    """Integer x used to come back all zeros (numpy) or raise torch's own error."""
    with pytest.raises(TypeError, match=f"x has dtype {x.dtype}; expected a floating dtype"):
        dropout(x, 0.5, generator=0)


def test_dropout_names_none_arrays_and_bad_seeds():
    x = np.ones((3, 4))
    with pytest.raises(TypeError, match="x must be a numpy array or a torch tensor, not NoneType"):
        dropout(None, 0.5)
    for dout, mask, name in ((None, x > 0, "dout"), (x, None, "keep_mask")):
        with pytest.raises(TypeError, match=f"{name} must be a numpy array"):
            dropout_backward(dout, mask, 0.5)
    for kind in (np.asarray, torch.from_numpy):
        with pytest.raises(ValueError, match=r"generator=-1 must be an int seed >= 0"):
            dropout(kind(x), 0.5, generator=-1)


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_dropout_takes_numpy_and_0d_torch_int_seeds_like_an_int(kind):
    x = as_kind(np.ones((4, 5)), kind)
    out, keep = dropout(x, 0.5, generator=7)
    for seed in (np.int64(7), torch.tensor(7)):
        out2, keep2 = dropout(x, 0.5, generator=seed)
        assert torch.equal(to_torch(keep2), to_torch(keep))
        close(out2, out, rtol=0, atol=0)
