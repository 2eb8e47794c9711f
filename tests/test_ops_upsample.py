"""course_lib.ops.upsample against torch (the oracle): conv_transpose2d, interpolate, max_unpool2d."""

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
)
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.models import bilinear_upsampler
from course_lib.ops import (
    bed_of_nails,
    bilinear_kernel,
    conv2d,
    conv2d_backward,
    conv_transpose2d,
    max_pool2d,
    max_unpool2d,
    upsample_nearest,
)
from course_lib.ops.gradcheck import gradient_check

HYP = settings(max_examples=30, deadline=None)


@st.composite
def tconv_case(draw):
    n, cin, cout = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    oph, opw = draw(st.integers(0, sh - 1)), draw(st.integers(0, sw - 1))
    # keep the output non-empty: 2p < (H-1)s + K + op
    ph = draw(st.integers(0, max(0, ((h - 1) * sh + kh + oph - 1) // 2)))
    pw = draw(st.integers(0, max(0, ((w - 1) * sw + kw + opw - 1) // 2)))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = rng.standard_normal((n, cin, h, w))
    wt = rng.standard_normal((cin, cout, kh, kw))
    b = rng.standard_normal(cout) if draw(st.booleans()) else None
    return x, wt, b, (sh, sw), (ph, pw), (oph, opw)


@pytest.mark.parametrize(("kind", "device"), BACKENDS)
@HYP
@given(case=tconv_case())
def test_conv_transpose2d_matches_torch(kind, device, case):
    """Oracle: torch.nn.functional.conv_transpose2d (float64, rtol 1e-7, atol 1e-9)."""
    x, w, b, s, p, op = case
    args = [None if a is None else as_kind(a, kind, device) for a in (x, w, b)]
    out = conv_transpose2d(*args, stride=s, padding=p, output_padding=op)
    assert_same_kind(out, args[0])
    ref = F.conv_transpose2d(
        to_torch(x),
        to_torch(w),
        None if b is None else to_torch(b),
        stride=s,
        padding=p,
        output_padding=op,
    )
    close(out, ref)


def test_conv_transpose2d_is_the_input_gradient_of_conv2d():
    """Oracle: our conv2d_backward (itself checked against torch autograd)."""
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((2, 3, 7, 7)), rng.standard_normal((4, 3, 3, 3))
    dout = rng.standard_normal(conv2d(x, w, stride=2, padding=1).shape)
    dx, _, _ = conv2d_backward(dout, x, w, stride=2, padding=1)
    close(conv_transpose2d(dout, w, stride=2, padding=1), dx)


def test_conv_transpose2d_gradient_check():
    """Oracle: centred differences; the adjoint of conv_transpose2d in x is conv2d."""
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((1, 2, 3, 3)), rng.standard_normal((2, 3, 3, 3))
    dout = rng.standard_normal(conv_transpose2d(x, w, stride=2, padding=1).shape)
    analytic = conv2d(dout, w, stride=2, padding=1)  # (1, 2, 3, 3)
    check = gradient_check(lambda z: conv_transpose2d(z, w, stride=2, padding=1), x, dout)
    assert check.relative_error(analytic) < 1e-6


@pytest.mark.parametrize(("kind", "device"), BACKENDS)
@pytest.mark.parametrize("scale", [1, 2, 3, (2, 3)])
def test_upsample_nearest_matches_interpolate(kind, device, scale):
    """Oracle: F.interpolate(mode='nearest')."""
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    out = upsample_nearest(as_kind(x, kind, device), scale)
    factor = scale if isinstance(scale, tuple) else (scale, scale)
    close(out, F.interpolate(to_torch(x), scale_factor=factor, mode="nearest"))


@pytest.mark.parametrize(("kind", "device"), BACKENDS)
def test_bed_of_nails_puts_values_top_left(kind, device):
    """Oracle: max_unpool2d in torch with every index at its block's top-left corner."""
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    xx = as_kind(x, kind, device)
    out = bed_of_nails(xx, 2)
    assert_same_kind(out, xx)
    rows = torch.arange(4)[:, None] * 2 * 10
    cols = torch.arange(5)[None, :] * 2
    idx = (rows + cols).expand(2, 3, 4, 5).contiguous()
    close(out, F.max_unpool2d(to_torch(x), idx, 2))
    assert float(to_torch(out)[:, :, 1::2].abs().sum()) == 0.0


@pytest.mark.parametrize(("kind", "device"), BACKENDS)
@pytest.mark.parametrize(("k", "s"), [(2, None), (3, 2), (2, 1), ((2, 3), (1, 2)), (3, (2, 1))])
def test_max_unpool2d_matches_torch(kind, device, k, s):
    """Oracle: F.max_unpool2d fed with F.max_pool2d's indices."""
    x = np.random.default_rng(1).standard_normal((2, 2, 7, 8))
    pooled, idx = max_pool2d(as_kind(x, kind, device), k, stride=s, return_indices=True)
    rp, ri = F.max_pool2d(to_torch(x), k, stride=s, return_indices=True)
    kh, kw = k if isinstance(k, tuple) else (k, k)
    sh, sw = (kh, kw) if s is None else s if isinstance(s, tuple) else (s, s)
    if (7 - kh) % sh == 0 and (8 - kw) % sw == 0:  # the default size is the input's size
        out = max_unpool2d(pooled, idx, k, stride=s)
        close(out, F.max_unpool2d(rp, ri, k, stride=s))
    full = max_unpool2d(pooled, idx, k, stride=s, output_size=(7, 8))
    close(full, F.max_unpool2d(rp, ri, k, stride=s, output_size=(7, 8)))


def test_max_unpool2d_refuses_indices_outside_the_plane():
    x = np.ones((1, 1, 2, 2))
    with pytest.raises(ValueError, match=r"indices run from 0 to 99.*\[0, 16\)"):
        max_unpool2d(x, np.array([[[[0, 1], [2, 99]]]]), 2)
    with pytest.raises(TypeError, match="integer dtype"):
        max_unpool2d(x, np.zeros((1, 1, 2, 2)), 2)


@pytest.mark.parametrize(("kind", "device"), BACKENDS)
@pytest.mark.parametrize("factor", [2, 3, 4])
def test_bilinear_kernel_makes_conv_transpose_bilinear(kind, device, factor):
    """Oracle: F.interpolate(mode='bilinear', align_corners=False), away from the border."""
    x = as_kind(np.random.default_rng(4).standard_normal((2, 3, 6, 6)), kind, device)
    w = bilinear_kernel(3, factor, like=x)
    assert_same_kind(w, x)
    out = conv_transpose2d(x, w, stride=factor, padding=factor // 2)
    ref = F.interpolate(to_torch(x), scale_factor=factor, mode="bilinear", align_corners=False)
    assert tuple(out.shape) == tuple(ref.shape)
    inner = slice(factor, -factor)
    close(to_torch(out)[..., inner, inner], ref[..., inner, inner])


def test_bilinear_kernel_shape_and_values():
    w = bilinear_kernel(2, 2)
    assert w.shape == (2, 2, 4, 4)
    np.testing.assert_allclose(w[0, 0, 0], [0.0625, 0.1875, 0.1875, 0.0625])
    assert np.all(w[0, 1] == 0)
    with pytest.raises(ValueError, match="factor=0"):
        bilinear_kernel(2, 0)
    with pytest.raises(TypeError, match="factor=2.0 must be a positive int, not float"):
        bilinear_kernel(2, 2.0)
    with pytest.raises(TypeError, match="like must be a numpy array or a torch tensor"):
        bilinear_kernel(2, 2, like=[1.0])
    np.testing.assert_array_equal(bilinear_kernel(np.int64(2), torch.tensor(2)), w)


@pytest.mark.parametrize("layout", ODD_LAYOUTS)
def test_odd_numpy_layouts_give_the_same_result(layout):
    """Oracle: the same op on the plain C-ordered array (exactly equal)."""
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((3, 2, 3, 2)), np.ones(2)
    xo, wo, bo = (odd_layout(a, layout) for a in (x, w, b))
    calls = [
        lambda x, w, b: conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
        lambda x, w, b: upsample_nearest(x, (2, 3)),
        lambda x, w, b: bed_of_nails(x, 2),
        lambda x, w, b: max_unpool2d(*max_pool2d(x, 2, return_indices=True), 2, output_size=(4, 5)),
        lambda x, w, b: bilinear_kernel(2, 3, like=x),
    ]
    for call in calls:
        out, want = call(xo, wo, bo), call(x, w, b)
        assert out.dtype == want.dtype == np.float64
        np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize(
    ("call", "exc", "pattern"),
    [
        (lambda: upsample_nearest(np.zeros((1, 1, 2, 2)), 0), ValueError, r"scale=0"),
        (lambda: bed_of_nails(np.zeros((1, 2, 2)), 2), ValueError, r"x has 3 dimensions"),
        (
            lambda: conv_transpose2d(np.zeros((1, 2, 3, 3)), np.zeros((3, 1, 2, 2))),
            ValueError,
            r"w has 3 input channels.*x has 2",
        ),
        (
            lambda: conv_transpose2d(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 2, 2)), stride=0),
            ValueError,
            r"stride=0",
        ),
        (
            lambda: conv_transpose2d(
                np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 2, 2)), output_padding=1
            ),
            ValueError,
            r"output_padding=1 must be smaller than the stride",
        ),
        (
            lambda: conv_transpose2d(np.zeros((1, 1, 1, 1)), np.zeros((1, 1, 1, 1)), padding=1),
            ValueError,
            r"padding=1 crops the whole output",
        ),
        (
            lambda: conv_transpose2d(np.zeros((1, 1, 2, 2)), torch.zeros(1, 1, 2, 2)),
            TypeError,
            r"mixed numpy and torch",
        ),
        (
            lambda: conv_transpose2d(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 0, 2))),
            ValueError,
            r"w has shape \(1, 1, 0, 2\), a 0x2 kernel; expected KH and KW >= 1",
        ),
    ],
)
def test_upsample_bad_input_is_named(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: upsample_nearest(None, 2), "x"),
        (lambda: bed_of_nails([[[[1.0]]]], 2), "x"),
        (lambda: conv_transpose2d(None, np.zeros((1, 1, 2, 2))), "x"),
        (lambda: conv_transpose2d(np.zeros((1, 1, 2, 2)), [[[[1.0]]]]), "w"),
        (lambda: conv_transpose2d(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 2, 2)), [0.0]), "b"),
        (lambda: max_unpool2d(np.ones((1, 1, 2, 2)), None, 2), "indices"),
        (lambda: max_unpool2d(None, np.zeros((1, 1, 2, 2), dtype=np.int64), 2), "x"),
    ],
)
def test_none_or_list_is_a_type_error_naming_the_parameter(call, name):
    with pytest.raises(TypeError, match=rf"^{name} must be a numpy array or a torch tensor"):
        call()


def test_conv_transpose2d_sizes_come_from_shapes():
    """Oracle: course_lib.shapes.conv_transpose_output_size, and torch's refusals."""
    x, w = np.ones((1, 1, 3, 4)), np.ones((1, 1, 3, 2))
    out = conv_transpose2d(x, w, stride=(2, 3), padding=(1, 0), output_padding=(1, 2))
    assert out.shape == (1, 1, 2 * 2 - 2 + 3 + 1, 3 * 3 + 2 + 2)
    with pytest.raises(ValueError, match=r"x has shape \(1, 1, 0, 4\), an empty 0x4 map"):
        conv_transpose2d(np.ones((1, 1, 0, 4)), w)


@pytest.mark.parametrize("factor", [2, 4, 32])
def test_bilinear_upsampler_layer_is_the_bilinear_transposed_conv(factor):
    """Oracle: F.interpolate(mode='bilinear', align_corners=False) inside the border band of
    factor // 2 pixels, and the course's conv_transpose2d with bilinear_kernel everywhere."""
    x = torch.from_numpy(np.random.default_rng(6).standard_normal((1, 2, 4, 5)))
    layer = bilinear_upsampler(2, factor).double()
    with torch.no_grad():
        out = layer(x)
    close(out, conv_transpose2d(x, bilinear_kernel(2, factor, like=x), stride=factor,
                                padding=factor // 2))  # fmt: skip
    ref = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
    band = slice(factor // 2, -(factor // 2))
    assert out.shape == ref.shape == (1, 2, 4 * factor, 5 * factor)
    close(out[..., band, band], ref[..., band, band])
    assert float((out - ref).abs()[..., 0, :].max()) > 1e-3  # the border band differs
