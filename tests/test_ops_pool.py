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
    """Random pooling setting torch accepts; stride None means 'same as the window'.

    Returns (x, kernel, stride, padding): non-square windows and inputs, strides
    different from the window (overlapping or gapped windows) and padding up to half
    the window, the most torch allows.
    """
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    h, w = draw(st.integers(max(1, kh - 2 * ph), 10)), draw(st.integers(max(1, kw - 2 * pw), 10))
    stride = draw(
        st.one_of(st.none(), st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3)))
    )
    kernel = kh if kh == kw and draw(st.booleans()) else (kh, kw)
    padding = ph if ph == pw and draw(st.booleans()) else (ph, pw)
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    return rng.standard_normal((n, c, h, w)), kernel, stride, padding


def tight(actual, expected) -> None:
    """float64 comparison: sums of a few terms agree to rounding."""
    close(actual, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("kind", "device"), BACKENDS)
@HYP
@given(case=pool_case())
def test_max_pool2d_values_and_indices_match_torch(kind, device, case):
    """Oracle: torch.nn.functional.max_pool2d(return_indices=True)."""
    x, k, s, p = case
    xx = as_kind(x, kind, device)
    out, idx = max_pool2d(xx, k, stride=s, padding=p, return_indices=True)
    ref, ref_idx = F.max_pool2d(to_torch(x), k, stride=s, padding=p, return_indices=True)
    assert_same_kind(out, xx)
    tight(out, ref)
    assert torch.equal(to_torch(idx), ref_idx)
    tight(max_pool2d(xx, k, stride=s, padding=p), ref)


@pytest.mark.parametrize(("kind", "device"), BACKENDS)
@HYP
@given(case=pool_case())
def test_avg_and_l2_pool2d_match_torch(kind, device, case):
    """Oracle: F.avg_pool2d (count_include_pad=True) and F.lp_pool2d(norm_type=2).

    lp_pool2d has no padding: with padding the oracle is sqrt(avg_pool2d(x**2) * KH*KW).
    """
    x, k, s, p = case
    xx = as_kind(x, kind, device)
    out = avg_pool2d(xx, k, stride=s, padding=p)
    assert_same_kind(out, xx)
    tight(out, F.avg_pool2d(to_torch(x), k, stride=s, padding=p))
    l2 = l2_pool2d(xx, k, stride=s, padding=p)
    assert_same_kind(l2, xx)
    kh, kw = (k, k) if isinstance(k, int) else k
    tight(l2, torch.sqrt(F.avg_pool2d(to_torch(x) ** 2, k, stride=s, padding=p) * kh * kw))
    if p in (0, (0, 0)):
        tight(l2, F.lp_pool2d(to_torch(x), 2, k, stride=s))


@pytest.mark.parametrize(("kind", "device"), BACKENDS)
@HYP
@given(case=pool_case())
def test_pool_backward_matches_torch_autograd(kind, device, case):
    """Oracle: torch autograd through F.max_pool2d and F.avg_pool2d (overlapping windows too)."""
    x, k, s, p = case
    for ours, theirs in ((max_pool2d_backward, F.max_pool2d), (avg_pool2d_backward, F.avg_pool2d)):
        xt = to_torch(x).requires_grad_(True)
        out = theirs(xt, k, stride=s, padding=p)
        dout = torch.randn(out.shape, dtype=torch.float64)
        out.backward(dout)
        xx = as_kind(x, kind, device)
        dx = ours(as_kind(dout.numpy(), kind, device), xx, k, stride=s, padding=p)
        assert_same_kind(dx, xx)
        tight(dx, xt.grad)


@settings(max_examples=15, deadline=None)
@given(case=pool_case())
def test_pool_backward_passes_numerical_gradient_check(case):
    """Oracle: centred differences of our own forward (float64), relative error < 1e-6."""
    x, k, s, p = case
    rng = np.random.default_rng(5)
    for fwd, bwd in ((max_pool2d, max_pool2d_backward), (avg_pool2d, avg_pool2d_backward)):
        dout = rng.standard_normal(fwd(x, k, stride=s, padding=p).shape)
        dx = bwd(dout, x, k, stride=s, padding=p)
        result = gradient_check(
            lambda z, fwd=fwd: fwd(z, k, stride=s, padding=p), x, dout, analytic=dx
        )
        assert result.passed, result.error


def test_pooling_keeps_channels_4x4x10_to_2x2x10():
    x = np.random.default_rng(0).standard_normal((1, 10, 4, 4))
    assert max_pool2d(x, 2).shape == (1, 10, 2, 2)
    assert max_pool2d(x, 2, stride=2).shape == (1, 10, 2, 2)


@pytest.mark.parametrize(
    ("shape", "kwargs", "exc", "pattern"),
    [
        (
            (1, 1, 2, 2),
            {"kernel_size": 3},
            ValueError,
            r"kernel_size=\(3, 3\) does not fit x \(shape \(1, 1, 2, 2\)\): along H the "
            r"window 3 is larger than the padded size 2 \+ 2\*0 = 2",
        ),
        (
            (1, 1, 6, 1),
            {"kernel_size": (2, 4), "padding": (0, 1)},
            ValueError,
            r"kernel_size=\(2, 4\) .*along W the window 4 is larger than the padded size 1 "
            r"\+ 2\*1 = 3",
        ),
        (
            (1, 1, 6, 6),
            {"kernel_size": 3, "padding": 2},
            ValueError,
            r"padding=\(2, 2\) must be at most half of kernel_size=\(3, 3\) \(along H: 2 > 3/2\)",
        ),
        ((1, 1, 4, 4), {"kernel_size": 2, "padding": -1}, ValueError, r"padding=-1 must be >= 0"),
        ((1, 1, 4, 4), {"kernel_size": 2, "padding": 0.5}, TypeError, r"padding=0.5"),
        ((1, 1, 4, 4), {"kernel_size": 2, "stride": 0}, ValueError, r"stride=0 must be positive"),
        ((1, 1, 4, 4), {"kernel_size": 0}, ValueError, r"kernel_size=0 must be positive"),
        ((1, 1, 4, 4), {"kernel_size": 2.0}, TypeError, r"kernel_size=2.0"),
        ((4, 4), {"kernel_size": 2}, ValueError, r"x has 2 dimensions"),
        ((1, 1, 4, 4), {"kernel_size": (2, 2, 2)}, ValueError, r"kernel_size=\(2, 2, 2\)"),
        ((1, 1, 0, 4), {"kernel_size": 1}, ValueError, r"along H .*n \(input size\)=0"),
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


@pytest.mark.parametrize("kind", ["numpy", "torch"])
@pytest.mark.parametrize("bad", [float("inf"), float("-inf"), float("nan")])
def test_max_pool2d_backward_routes_inf_and_nan_only_to_the_argmax(kind, bad):
    """Oracle: torch autograd. An inf (or NaN) upstream gradient reaches the maximum of
    its window and nothing else: no inf * 0 = NaN spreads over the other cells."""
    x = np.random.default_rng(1).standard_normal((2, 3, 5, 6))
    xt = to_torch(x).requires_grad_(True)
    out = F.max_pool2d(xt, (3, 2), stride=(1, 2), padding=1)
    dout = torch.randn(out.shape, dtype=torch.float64)
    dout[0, 1, 2, 1] = bad
    dout[1, 2, 0, 0] = bad
    out.backward(dout)
    dx = max_pool2d_backward(
        as_kind(dout.numpy(), kind), as_kind(x, kind), (3, 2), stride=(1, 2), padding=1
    )
    torch.testing.assert_close(to_torch(dx), xt.grad, rtol=1e-12, atol=1e-12, equal_nan=True)
    assert int(torch.isnan(to_torch(dx)).sum()) == (2 if np.isnan(bad) else 0)


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_max_pool2d_window_of_only_minus_inf_points_into_the_input_not_the_padding(kind):
    """Oracle: torch. A window whose real cells are all -inf ties with its -inf padding;
    torch then names the window's first real cell, and its gradient goes there."""
    x = np.random.default_rng(2).standard_normal((1, 2, 4, 5))
    x[0, 0, :2, :] = -np.inf
    x[0, 1] = -np.inf
    out, idx = max_pool2d(as_kind(x, kind), 3, stride=2, padding=1, return_indices=True)
    ref, ref_idx = F.max_pool2d(to_torch(x), 3, stride=2, padding=1, return_indices=True)
    tight(out, ref)
    assert torch.equal(to_torch(idx), ref_idx)
    xt = to_torch(x).requires_grad_(True)
    F.max_pool2d(xt, 3, stride=2, padding=1).backward(torch.ones_like(ref))
    ones = as_kind(np.ones(tuple(ref.shape)), kind)
    dx = max_pool2d_backward(ones, as_kind(x, kind), 3, stride=2, padding=1)
    tight(dx, xt.grad)


@pytest.mark.parametrize("kind", ["numpy", "torch"])
@pytest.mark.parametrize("shape", [(0, 3, 5, 4), (2, 0, 5, 4)])
def test_pooling_an_empty_batch_gives_an_empty_result(kind, shape):
    """N = 0 as torch does; C = 0 (which torch refuses) the same way."""
    x = np.zeros(shape)
    xx = as_kind(x, kind)
    kw = {"stride": (2, 1), "padding": (1, 0)}
    expected = (*shape[:2], 3, 3)  # (5 + 2 - 3) // 2 + 1 rows, (4 - 2) // 1 + 1 columns
    if shape[0] == 0:
        assert tuple(F.max_pool2d(to_torch(x), (3, 2), **kw).shape) == expected
    for op in (max_pool2d, avg_pool2d, l2_pool2d):
        out = op(xx, (3, 2), **kw)
        assert tuple(out.shape) == expected
        assert_same_kind(out, xx)
    dout = as_kind(np.zeros(expected), kind)
    for bwd in (max_pool2d_backward, avg_pool2d_backward):
        assert tuple(bwd(dout, xx, (3, 2), **kw).shape) == shape
    _, idx = max_pool2d(xx, (3, 2), return_indices=True, **kw)
    assert tuple(idx.shape) == expected


@pytest.mark.parametrize("op", [avg_pool2d, l2_pool2d, max_pool2d])
def test_pooling_returns_a_new_array_even_for_a_1x1_window(op):
    x = np.arange(12.0).reshape(1, 1, 3, 4)
    out = op(x, 1)
    out[...] = -1.0
    assert x[0, 0, 2, 3] == 11.0


def test_pooling_float32_keeps_its_dtype_and_matches_torch():
    """float32: agreement to float32 rounding of a 3x3 sum."""
    x = torch.randn(2, 4, 9, 7)
    for ours, theirs in ((max_pool2d, F.max_pool2d), (avg_pool2d, F.avg_pool2d)):
        out = ours(x, 3, stride=2, padding=1)
        assert out.dtype == torch.float32
        torch.testing.assert_close(out, theirs(x, 3, stride=2, padding=1), rtol=1e-6, atol=1e-6)


def test_max_pool2d_return_indices_must_be_a_bool():
    with pytest.raises(TypeError, match=r"return_indices=1 must be True or False"):
        max_pool2d(np.zeros((1, 1, 4, 4)), 2, return_indices=1)


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_max_pool2d_ties_nan_and_integers_follow_torch(kind):
    """Oracle: torch. Ties go to the first maximum, a NaN wins its window (the last NaN
    when there are several), and integer images pool too."""
    x = np.array([[[[1.0, 3.0, 3.0, 0.0], [np.nan, 2.0, np.nan, 5.0], [4.0, 4.0, 1.0, 1.0]]]])
    for k, s in (((2, 2), (1, 1)), ((3, 2), (1, 2)), ((1, 4), None)):
        out, idx = max_pool2d(as_kind(x, kind), k, stride=s, return_indices=True)
        ref, ref_idx = F.max_pool2d(to_torch(x), k, stride=s, return_indices=True)
        torch.testing.assert_close(to_torch(out), ref, rtol=0, atol=0, equal_nan=True)
        assert torch.equal(to_torch(idx), ref_idx)
        xt = to_torch(x).requires_grad_(True)
        F.max_pool2d(xt, k, stride=s).backward(torch.ones_like(ref))
        ones = as_kind(np.ones(tuple(ref.shape)), kind)
        tight(max_pool2d_backward(ones, as_kind(x, kind), k, stride=s), xt.grad)
    xi = np.array([[[[3, 1, 3, 2], [0, 7, 7, -5]]]], dtype=np.int64)
    out, idx = max_pool2d(as_kind(xi, kind), 2, padding=1, return_indices=True)
    ref, ref_idx = F.max_pool2d(to_torch(xi), 2, padding=1, return_indices=True)
    assert torch.equal(to_torch(out), ref) and torch.equal(to_torch(idx), ref_idx)


@pytest.mark.parametrize("op", [max_pool2d, avg_pool2d, l2_pool2d])
def test_pool_names_a_none_input(op):
    with pytest.raises(TypeError, match="x must be a numpy array or a torch tensor, not NoneType"):
        op(None, 2)


@pytest.mark.parametrize("backward", [max_pool2d_backward, avg_pool2d_backward])
def test_pool_backward_names_none_inputs(backward):
    x = np.zeros((1, 1, 4, 4))
    with pytest.raises(TypeError, match="dout must be a numpy array"):
        backward(None, x, 2)
    with pytest.raises(TypeError, match="x must be a numpy array"):
        backward(np.zeros((1, 1, 2, 2)), None, 2)


def test_max_pool_of_booleans_is_a_logical_or_of_each_window():
    rng = np.random.default_rng(3)
    x = rng.random((2, 3, 5, 7)) > 0.7
    ours = max_pool2d(x, 2, padding=1)
    as_float = torch.nn.functional.max_pool2d(torch.from_numpy(x).double(), 2, padding=1)
    assert ours.dtype == bool
    np.testing.assert_array_equal(ours, as_float.numpy() > 0)
