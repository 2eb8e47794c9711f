"""course_lib.ops.pool against torch.nn.functional's pooling (the oracle) in float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from _ops_helpers import BACKENDS, as_kind, assert_same_kind, close, to_torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.ops import (
    avg_pool2d,
    avg_pool2d_backward,
    l2_pool2d,
    max_pool2d,
    max_pool2d_backward,
)
from course_lib.ops.gradcheck import gradient_check

HYP = settings(max_examples=30, deadline=None)


@st.composite
def pool_case(draw):
    """Random pooling setting torch accepts; stride None means 'same as the window'."""
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    h, w = draw(st.integers(kh, 10)), draw(st.integers(kw, 10))
    stride = draw(
        st.one_of(st.none(), st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3)))
    )
    kernel = kh if kh == kw and draw(st.booleans()) else (kh, kw)
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    return rng.standard_normal((n, c, h, w)), kernel, stride


@pytest.mark.parametrize(("kind", "device"), BACKENDS)
@HYP
@given(case=pool_case())
def test_max_pool2d_values_and_indices_match_torch(kind, device, case):
    """Oracle: torch.nn.functional.max_pool2d(return_indices=True)."""
    x, k, s = case
    xx = as_kind(x, kind, device)
    out, idx = max_pool2d(xx, k, stride=s, return_indices=True)
    ref, ref_idx = F.max_pool2d(to_torch(x), k, stride=s, return_indices=True)
    assert_same_kind(out, xx)
    close(out, ref)
    assert torch.equal(to_torch(idx), ref_idx)
    close(max_pool2d(xx, k, stride=s), ref)


@pytest.mark.parametrize(("kind", "device"), BACKENDS)
@HYP
@given(case=pool_case())
def test_avg_and_l2_pool2d_match_torch(kind, device, case):
    """Oracle: torch.nn.functional.avg_pool2d and lp_pool2d(norm_type=2)."""
    x, k, s = case
    xx = as_kind(x, kind, device)
    out = avg_pool2d(xx, k, stride=s)
    assert_same_kind(out, xx)
    close(out, F.avg_pool2d(to_torch(x), k, stride=s))
    close(l2_pool2d(xx, k, stride=s), F.lp_pool2d(to_torch(x), 2, k, stride=s))


@pytest.mark.parametrize(("kind", "device"), BACKENDS)
@HYP
@given(case=pool_case())
def test_pool_backward_matches_torch_autograd(kind, device, case):
    """Oracle: torch autograd through F.max_pool2d and F.avg_pool2d (overlapping windows too)."""
    x, k, s = case
    for ours, theirs in ((max_pool2d_backward, F.max_pool2d), (avg_pool2d_backward, F.avg_pool2d)):
        xt = to_torch(x).requires_grad_(True)
        out = theirs(xt, k, stride=s)
        dout = torch.randn(out.shape, dtype=torch.float64)
        out.backward(dout)
        dx = ours(as_kind(dout.numpy(), kind, device), as_kind(x, kind, device), k, stride=s)
        close(dx, xt.grad)


@settings(max_examples=15, deadline=None)
@given(case=pool_case())
def test_pool_backward_passes_numerical_gradient_check(case):
    """Oracle: centred differences of our own forward (float64), relative error < 1e-6."""
    x, k, s = case
    rng = np.random.default_rng(5)
    for fwd, bwd in ((max_pool2d, max_pool2d_backward), (avg_pool2d, avg_pool2d_backward)):
        dout = rng.standard_normal(fwd(x, k, stride=s).shape)
        dx = bwd(dout, x, k, stride=s)
        result = gradient_check(lambda z, fwd=fwd: fwd(z, k, stride=s), x, dout, analytic=dx)
        assert result.passed, result.error


def test_pooling_keeps_channels_4x4x10_to_2x2x10():
    x = np.random.default_rng(0).standard_normal((1, 10, 4, 4))
    assert max_pool2d(x, 2).shape == (1, 10, 2, 2)
    assert max_pool2d(x, 2, stride=2).shape == (1, 10, 2, 2)


@pytest.mark.parametrize(
    ("shape", "kwargs", "exc", "pattern"),
    [
        ((1, 1, 2, 2), {"kernel_size": 3}, ValueError, r"kernel 3x3 is larger than the input 2x2"),
        ((1, 1, 4, 4), {"kernel_size": 2, "stride": 0}, ValueError, r"stride=0 must be positive"),
        ((1, 1, 4, 4), {"kernel_size": 0}, ValueError, r"kernel_size=0 must be positive"),
        ((4, 4), {"kernel_size": 2}, ValueError, r"x has 2 dimensions"),
        ((1, 1, 4, 4), {"kernel_size": (2, 2, 2)}, ValueError, r"kernel_size=\(2, 2, 2\)"),
    ],
)
@pytest.mark.parametrize("op", [max_pool2d, avg_pool2d, l2_pool2d])
def test_pool_bad_input_is_named(op, shape, kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        op(np.zeros(shape), **kwargs)


def test_pool_backward_refuses_mixed_kinds_and_wrong_dout():
    x = np.zeros((1, 1, 4, 4))
    with pytest.raises(TypeError, match="mixed numpy and torch"):
        max_pool2d_backward(torch.zeros(1, 1, 2, 2), x, 2)
    with pytest.raises(ValueError, match=r"dout has shape \(1, 1, 3, 3\)"):
        max_pool2d_backward(np.zeros((1, 1, 3, 3)), x, 2)
