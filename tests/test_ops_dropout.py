"""course_lib.ops.dropout: inverted dropout, its mask statistics and its backward."""

from __future__ import annotations

import numpy as np
import pytest
import torch
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
    with pytest.raises(TypeError, match="generator"):
        dropout(torch.ones(3), 0.3, generator=np.random.default_rng(0))


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
        (1.0, ValueError, r"p=1.0 must be in \[0, 1\)"),
        (-0.1, ValueError, "p=-0.1"),
        ("a", TypeError, "p='a'"),
    ],
)
def test_dropout_refuses_p_outside_0_1(p, exc, pattern):
    with pytest.raises(exc, match=pattern):
        dropout(np.ones(3), p)
    with pytest.raises(exc, match=pattern):
        dropout_backward(np.ones(3), np.ones(3, dtype=bool), p)


def test_dropout_backward_refuses_mixed_kinds():
    with pytest.raises(TypeError, match="mixed numpy and torch"):
        dropout_backward(np.ones(3), torch.ones(3, dtype=torch.bool), 0.5)


@pytest.mark.parametrize("x", [np.arange(6), torch.arange(6), np.ones(3, dtype=bool)])
def test_dropout_refuses_integer_and_bool_inputs(x):
    """Integer x used to come back all zeros (numpy) or raise torch's own error."""
    with pytest.raises(TypeError, match=f"x has dtype {x.dtype}; expected a floating dtype"):
        dropout(x, 0.5, generator=0)
