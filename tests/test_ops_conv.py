"""course_lib.ops.conv against torch.nn.functional.conv2d (the oracle) in float64.

Tolerances are ``_ops_helpers.tol``'s (float64: rtol 1e-7, atol 1e-9);
``tests/test_mutations.py`` runs plausible wrong convolutions through
:func:`assert_conv2d_matches_torch` to show that it fails them.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from _ops_helpers import (
    BACKENDS,
    ODD_LAYOUTS,
    as_kind,
    assert_same_kind,
    close,
    odd_layout,
    to_torch,
    tol,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.ops import conv2d, conv2d_backward, conv2d_naive
from course_lib.ops.gradcheck import gradient_check

HYP = settings(max_examples=30, deadline=None)


@st.composite
def conv_case(draw):
    """A random conv setting that torch accepts: shapes, stride and padding (int or pair)."""
    n, c, f = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h = draw(st.integers(max(1, kh - 2 * ph), 9))
    w = draw(st.integers(max(1, kw - 2 * pw), 9))
    stride = sh if sh == sw and draw(st.booleans()) else (sh, sw)
    padding = ph if ph == pw and draw(st.booleans()) else (ph, pw)
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w))
    wt = rng.standard_normal((f, c, kh, kw))
    b = rng.standard_normal(f) if draw(st.booleans()) else None
    return x, wt, b, stride, padding


def _torch_conv(x, w, b, stride, padding):
    return F.conv2d(
        to_torch(x), to_torch(w), None if b is None else to_torch(b), stride=stride, padding=padding
    )


def assert_conv2d_matches_torch(op, case, kind="numpy", device="cpu") -> None:
    """The forward tests' comparison: ``op(x, w, b, stride=, padding=)`` against F.conv2d.

    Inputs go in as ``kind`` on ``device``; the output must keep their kind, dtype and
    device and match torch within ``tol(float64)``.
    """
    x, w, b, stride, padding = case
    args = [as_kind(a, kind, device) if a is not None else None for a in (x, w, b)]
    out = op(*args, stride=stride, padding=padding)
    assert_same_kind(out, args[0])
    close(out, _torch_conv(x, w, b, stride, padding))


@pytest.mark.parametrize(("kind", "device"), BACKENDS)
@HYP
@given(case=conv_case())
def test_conv2d_forward_matches_torch(kind, device, case):
    """Oracle: torch.nn.functional.conv2d, float64, rtol 1e-7 and atol 1e-9."""
    assert_conv2d_matches_torch(conv2d, case, kind, device)


@HYP
@given(case=conv_case())
def test_conv2d_naive_matches_torch(case):
    """Oracle: torch.nn.functional.conv2d; the four-loop version must agree too."""
    assert_conv2d_matches_torch(conv2d_naive, case)


def test_conv2d_naive_accepts_torch_and_returns_torch():
    """Oracle: torch.nn.functional.conv2d."""
    x, w = (
        torch.randn(1, 2, 5, 5, dtype=torch.float64),
        torch.randn(3, 2, 3, 3, dtype=torch.float64),
    )
    out = conv2d_naive(x, w, padding=1)
    assert_same_kind(out, x)
    close(out, F.conv2d(x, w, padding=1))


@pytest.mark.parametrize(("kind", "device"), BACKENDS)
def test_conv2d_and_backward_of_a_larger_batch(kind, device):
    """Oracle: F.conv2d and its autograd, for 9 images (numpy multiplies the columns of
    the whole batch at once, torch image by image: both orders must come out right)."""
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((9, 2, 5, 6)), rng.standard_normal((3, 2, 3, 3)), np.ones(3)
    assert_conv2d_matches_torch(conv2d, (x, w, b, (1, 2), 1), kind, device)
    dout = rng.standard_normal((9, 3, 5, 3))
    xt, wt = to_torch(x).requires_grad_(True), to_torch(w).requires_grad_(True)
    F.conv2d(xt, wt, stride=(1, 2), padding=1).backward(to_torch(dout))
    dx, dw, db = conv2d_backward(
        *(as_kind(a, kind, device) for a in (dout, x, w)), stride=(1, 2), padding=1
    )
    close(dx, xt.grad)
    close(dw, wt.grad)
    close(db, to_torch(dout).sum(dim=(0, 2, 3)))


@pytest.mark.parametrize(("kind", "device"), BACKENDS)
def test_conv2d_keeps_float32(kind, device):
    """Oracle: torch.nn.functional.conv2d in float32 (tol(float32): rtol 1.3e-6, atol 1e-5)."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    xx, ww = as_kind(x, kind, device), as_kind(w, kind, device)
    out = conv2d(xx, ww, padding=1, stride=2)
    assert_same_kind(out, xx)
    close(out, F.conv2d(to_torch(x), to_torch(w), padding=1, stride=2))


@pytest.mark.parametrize("op", [conv2d, conv2d_naive])
def test_conv2d_bfloat16_tensors(op):
    """Oracle: F.conv2d in float32 on the same bfloat16 values, rounded to bfloat16."""
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 3, 6, 6, generator=g).to(torch.bfloat16)
    w = torch.randn(4, 3, 3, 3, generator=g).to(torch.bfloat16)
    b = torch.randn(4, generator=g).to(torch.bfloat16)
    out = op(x, w, b, padding=1)
    assert out.dtype == torch.bfloat16
    ref = F.conv2d(x.float(), w.float(), b.float(), padding=1).to(torch.bfloat16)
    close(out, ref)  # tol(bfloat16): rtol 1.6e-2
    assert tol(torch.bfloat16)[0] > tol(torch.float32)[0]


@pytest.mark.parametrize("layout", ODD_LAYOUTS)
def test_conv2d_odd_numpy_layouts_give_the_same_result(layout):
    """Oracle: the same op on the plain C-ordered array (exactly equal) and F.conv2d."""
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 2)), np.ones(4)
    xo, wo, bo = (odd_layout(a, layout) for a in (x, w, b))
    out = conv2d(xo, wo, bo, stride=(2, 1), padding=1)
    assert out.dtype == np.float64 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, conv2d(x, w, b, stride=(2, 1), padding=1))
    close(out, _torch_conv(x, w, b, (2, 1), 1))
    naive = conv2d_naive(xo, wo, bo, stride=(2, 1), padding=1)
    np.testing.assert_array_equal(naive, conv2d_naive(x, w, b, stride=(2, 1), padding=1))
    dout = rng.standard_normal(out.shape)
    got = conv2d_backward(odd_layout(dout, layout), xo, wo, stride=(2, 1), padding=1)
    want = conv2d_backward(dout, x, w, stride=(2, 1), padding=1)
    for g, e in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize(("kind", "device"), BACKENDS)
@settings(max_examples=25, deadline=None)
@given(case=conv_case())
def test_conv2d_backward_matches_torch_autograd(kind, device, case):
    """Oracle: torch autograd through F.conv2d, float64, rtol 1e-7 and atol 1e-9."""
    x, w, b, stride, padding = case
    xt = to_torch(x).requires_grad_(True)
    wt = to_torch(w).requires_grad_(True)
    bt = torch.zeros(w.shape[0], dtype=torch.float64, requires_grad=True)
    out = F.conv2d(xt, wt, bt, stride=stride, padding=padding)
    dout = torch.randn(out.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    out.backward(dout)
    dx, dw, db = conv2d_backward(
        as_kind(dout.numpy(), kind, device),
        as_kind(x, kind, device),
        as_kind(w, kind, device),
        stride=stride,
        padding=padding,
    )
    for got, want in ((dx, xt.grad), (dw, wt.grad), (db, bt.grad)):
        assert tuple(got.shape) == tuple(want.shape)
        close(got, want)


@settings(max_examples=10, deadline=None)
@given(case=conv_case())
def test_conv2d_backward_passes_numerical_gradient_check(case):
    """Oracle: centred differences of conv2d itself (float64), relative error < 1e-6."""
    x, w, b, stride, padding = case
    rng = np.random.default_rng(7)
    out = conv2d(x, w, b, stride=stride, padding=padding)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = conv2d_backward(dout, x, w, stride=stride, padding=padding)
    b0 = np.zeros(w.shape[0]) if b is None else b
    checks = [
        gradient_check(lambda x_: conv2d(x_, w, b0, stride=stride, padding=padding), x, dout),
        gradient_check(lambda w_: conv2d(x, w_, b0, stride=stride, padding=padding), w, dout),
        gradient_check(lambda b_: conv2d(x, w, b_, stride=stride, padding=padding), b0, dout),
    ]
    for result, analytic in zip(checks, (dx, dw, db), strict=True):
        assert result.relative_error(analytic) < 1e-6


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "kwargs", "exc", "pattern"),
    [
        ((1, 3, 5, 5), (2, 4, 3, 3), {}, ValueError, r"w has 4 input channels.*x has 3"),
        (
            (1, 1, 4, 4),
            (1, 1, 5, 5),
            {},
            ValueError,
            r"kernel 5x5 is larger than the padded input 4x4 \(padding=0\)",
        ),
        ((1, 1, 4, 4), (1, 1, 3, 3), {"stride": 0}, ValueError, r"stride=0 must be positive"),
        ((1, 1, 4, 4), (1, 1, 3, 3), {"stride": (1, -2)}, ValueError, r"stride=\(1, -2\)"),
        (
            (1, 1, 4, 4),
            (1, 1, 3, 3),
            {"padding": -1},
            ValueError,
            r"padding=-1 must be non-negative",
        ),
        ((1, 4, 4), (1, 1, 3, 3), {}, ValueError, r"x has 3 dimensions.*\(N, C, H, W\)"),
        ((1, 1, 4, 4), (1, 3, 3), {}, ValueError, r"w has 3 dimensions"),
        ((1, 1, 4, 4), (1, 1, 3, 3), {"stride": 1.5}, TypeError, r"stride=1.5"),
        # torch refuses empty kernels; conv2d used to return zeros
        ((1, 1, 4, 4), (1, 1, 0, 3), {}, ValueError, r"a 0x3 kernel; expected KH and KW >= 1"),
        ((1, 1, 4, 4), (2, 1, 3, 0), {}, ValueError, r"a 3x0 kernel"),
        # course_lib.shapes.conv_output_size refuses; the message speaks in 2-D
        (
            (1, 1, 4, 4),
            (1, 1, 5, 5),
            {"padding": (0, 1)},
            ValueError,
            r"kernel 5x5 is larger than the padded input 4x6 \(padding=\(0, 1\)\)",
        ),
        # and so does torch for an empty image
        ((1, 1, 0, 4), (1, 1, 1, 1), {"padding": 1}, ValueError, r"an empty 0x4 image"),
    ],
)
@pytest.mark.parametrize("op", [conv2d, conv2d_naive])
def test_conv2d_bad_input_is_named(op, x_shape, w_shape, kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        op(np.zeros(x_shape), np.zeros(w_shape), **kwargs)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: conv2d(None, np.zeros((1, 1, 3, 3))), "x"),
        (lambda: conv2d([[[[1.0]]]], np.zeros((1, 1, 1, 1))), "x"),
        (lambda: conv2d(np.zeros((1, 1, 3, 3)), None), "w"),
        (lambda: conv2d_naive(np.zeros((1, 1, 3, 3)), [[[[1.0]]]]), "w"),
        (lambda: conv2d_backward(None, np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 3, 3))), "dout"),
        (lambda: conv2d_backward(np.zeros((1, 1, 1, 1)), None, np.zeros((1, 1, 3, 3))), "x"),
    ],
)
def test_conv2d_none_or_list_is_a_type_error_naming_the_parameter(call, name):
    with pytest.raises(TypeError, match=rf"^{name} must be a numpy array or a torch tensor"):
        call()


def test_conv2d_refuses_mixed_numpy_and_torch():
    with pytest.raises(
        TypeError, match=r"mixed numpy and torch.*x is a numpy array.*w is a torch tensor"
    ):
        conv2d(np.zeros((1, 1, 4, 4)), torch.zeros(1, 1, 3, 3, dtype=torch.float64))
    with pytest.raises(TypeError, match="b must be a numpy array or a torch tensor"):
        conv2d(np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 3, 3)), [0.0])
    with pytest.raises(ValueError, match=r"b has shape \(2,\); expected \(1,\)"):
        conv2d(np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 3, 3)), np.zeros(2))
    with pytest.raises(TypeError, match="dtype"):
        conv2d(np.zeros((1, 1, 4, 4), np.float32), np.zeros((1, 1, 3, 3)))


def test_conv2d_backward_refuses_wrong_dout_shape():
    with pytest.raises(ValueError, match=r"dout has shape \(1, 1, 3, 3\); expected \(1, 1, 2, 2\)"):
        conv2d_backward(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 3, 3)))


def test_conv2d_backward_refuses_dout_of_another_dtype():
    x, w = np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 3, 3))
    with pytest.raises(TypeError, match="dout has dtype float32 but x has float64"):
        conv2d_backward(np.zeros((1, 1, 2, 2), np.float32), x, w)
