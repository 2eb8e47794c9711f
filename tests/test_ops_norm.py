"""course_lib.ops.norm against torch.nn.functional's batch/group/layer/instance norm (the oracle)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from _ops_helpers import BACKENDS, as_kind, assert_same_kind, close, to_torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from course_lib.ops import (
    batch_norm,
    batch_norm_backward,
    group_norm,
    group_norm_backward,
    instance_norm,
    instance_norm_backward,
    layer_norm,
    layer_norm_backward,
)
from course_lib.ops.gradcheck import gradient_check

HYP = settings(max_examples=30, deadline=None)


@st.composite
def bn_case(draw):
    """(N, D) or (N, C, H, W) with at least 2 values per channel, and per-channel params."""
    four_d = draw(st.booleans())
    c = draw(st.integers(1, 4))
    if four_d:
        shape = (draw(st.integers(1, 4)), c, draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    else:
        shape = (draw(st.integers(2, 6)), c)
    if np.prod(shape) // c < 2:
        shape = (shape[0] + 1, *shape[1:])
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = rng.standard_normal(shape) * 3 + 1
    params = [
        rng.standard_normal(c),
        rng.standard_normal(c),
        rng.standard_normal(c),
        rng.random(c) + 0.5,
        rng.standard_normal(shape),  # an upstream gradient, from the same stream
    ]
    momentum = draw(st.sampled_from([0.0, 0.1, 0.5, 1.0]))
    return x, params, momentum


@pytest.mark.parametrize(("kind", "device"), BACKENDS)
@HYP
@given(case=bn_case(), training=st.booleans())
def test_batch_norm_matches_torch_including_running_stats(kind, device, case, training):
    """Oracle: F.batch_norm (which updates its running buffers in place: we compare to them)."""
    x, (gamma, beta, rm, rv, _), momentum = case
    args = [as_kind(a, kind, device) for a in (x, gamma, beta, rm, rv)]
    snapshot = [to_torch(a).clone() for a in args]
    out, new_rm, new_rv = batch_norm(*args, training=training, momentum=momentum)
    assert_same_kind(out, args[0])
    trm, trv = to_torch(rm), to_torch(rv)
    ref = F.batch_norm(
        to_torch(x), trm, trv, to_torch(gamma), to_torch(beta), training=training, momentum=momentum
    )
    close(out, ref)
    close(new_rm, trm)
    close(new_rv, trv)
    for before, after in zip(snapshot, args, strict=True):  # pure: nothing was modified
        assert torch.equal(before, to_torch(after))


def test_batch_norm_running_var_is_unbiased_and_keras_rule_is_the_same():
    """Oracle: numpy's var(ddof=1); Keras's momentum 0.99 equals torch's momentum 0.01."""
    x = np.random.default_rng(0).standard_normal((5, 2)) * 2
    _, rm, rv = batch_norm(x, None, None, np.zeros(2), np.ones(2), training=True, momentum=0.01)
    np.testing.assert_allclose(rv, 0.99 * 1 + 0.01 * x.var(axis=0, ddof=1))
    np.testing.assert_allclose(rm, 0.99 * 0 + 0.01 * x.mean(axis=0))


def test_batch_norm_without_running_stats_and_eval_needs_them():
    x = np.random.default_rng(0).standard_normal((4, 3))
    out, rm, rv = batch_norm(x, None, None, None, None, training=True)
    assert rm is None and rv is None
    close(out, F.batch_norm(to_torch(x), None, None, training=True))
    with pytest.raises(ValueError, match="training=False needs running_mean"):
        batch_norm(x, None, None, None, None, training=False)


@pytest.mark.parametrize(("kind", "device"), BACKENDS)
@HYP
@given(case=bn_case())
def test_batch_norm_backward_matches_torch_autograd(kind, device, case):
    """Oracle: torch autograd through F.batch_norm in training mode."""
    x, (gamma, beta, _, _, _), _ = case
    xt = to_torch(x).requires_grad_(True)
    gt = to_torch(gamma).requires_grad_(True)
    bt = to_torch(beta).requires_grad_(True)
    out = F.batch_norm(xt, None, None, gt, bt, training=True)
    dout = torch.randn(out.shape, dtype=torch.float64)
    out.backward(dout)
    dx, dgamma, dbeta = batch_norm_backward(
        as_kind(dout.numpy(), kind, device), as_kind(x, kind, device), as_kind(gamma, kind, device)
    )
    close(dx, xt.grad)
    close(dgamma, gt.grad)
    close(dbeta, bt.grad)


@settings(max_examples=15, deadline=None)
@given(case=bn_case())
def test_batch_norm_backward_passes_gradient_check(case):
    """Oracle: centred differences of our own batch_norm (float64), relative error < 1e-6.

    With only two values per channel the output is always about +-1, so dx is of order
    eps / var and drowns in rounding: such cases are left to the autograd test.
    """
    x, (gamma, beta, _, _, dout), _ = case
    assume(np.prod(x.shape) // x.shape[1] >= 3)
    dx, dgamma, dbeta = batch_norm_backward(dout, x, gamma)

    def bn(x_=x, g_=gamma, b_=beta):
        return batch_norm(x_, g_, b_, None, None, training=True)[0]

    assert gradient_check(lambda z: bn(x_=z), x, dout, analytic=dx).passed
    assert gradient_check(lambda z: bn(g_=z), gamma, dout, analytic=dgamma).passed
    assert gradient_check(lambda z: bn(b_=z), beta, dout, analytic=dbeta).passed


@st.composite
def gn_case(draw):
    groups = draw(st.integers(1, 3))
    c = groups * draw(st.integers(1, 3))
    shape = (draw(st.integers(1, 3)), c, *draw(st.sampled_from([(), (3,), (2, 3), (4, 1)])))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    return rng.standard_normal(shape) * 2, groups, rng.standard_normal(c), rng.standard_normal(c)


@pytest.mark.parametrize(("kind", "device"), BACKENDS)
@HYP
@given(case=gn_case(), affine=st.booleans())
def test_group_layer_instance_norm_match_torch(kind, device, case, affine):
    """Oracle: F.group_norm, F.layer_norm (no affine) and F.instance_norm."""
    x, groups, gamma, beta = case
    xx = as_kind(x, kind, device)
    g, b = (as_kind(gamma, kind, device), as_kind(beta, kind, device)) if affine else (None, None)
    tg, tb = (to_torch(gamma), to_torch(beta)) if affine else (None, None)
    out = group_norm(xx, groups, g, b)
    assert_same_kind(out, xx)
    if np.prod(x.shape[1:]) // groups == 1:
        # torch refuses groups of one value; the normalised value is then 0, leaving beta
        expected = np.zeros_like(x) if not affine else np.broadcast_to(beta, x.shape)
        close(out, expected)
        return
    close(out, F.group_norm(to_torch(x), groups, tg, tb))
    close(layer_norm(xx, g, b), F.group_norm(to_torch(x), 1, tg, tb))
    close(layer_norm(xx), F.layer_norm(to_torch(x), x.shape[1:]))
    if x.ndim > 2 and np.prod(x.shape[2:]) > 1:
        close(instance_norm(xx, g, b), F.instance_norm(to_torch(x), weight=tg, bias=tb))


@pytest.mark.parametrize(
    ("call", "exc", "pattern"),
    [
        (
            lambda: group_norm(np.zeros((2, 6, 3)), 4),
            ValueError,
            r"num_groups=4 does not divide the 6",
        ),
        (lambda: group_norm(np.zeros((2, 6)), 0), ValueError, r"num_groups=0"),
        (
            lambda: batch_norm(np.zeros((2, 3, 4)), None, None, None, None, training=True),
            ValueError,
            r"x has 3 dimensions.*\(N, D\) or \(N, C, H, W\)",
        ),
        (
            lambda: batch_norm(np.zeros((2, 3)), np.ones(4), None, None, None, training=True),
            ValueError,
            r"gamma has shape \(4,\); expected \(3,\)",
        ),
        (
            lambda: batch_norm(np.zeros((1, 3)), None, None, None, None, training=True),
            ValueError,
            r"only 1 value per channel",
        ),
        (
            lambda: batch_norm(np.zeros((2, 3)), torch.ones(3), None, None, None, training=True),
            TypeError,
            r"mixed numpy and torch",
        ),
        (
            lambda: batch_norm(
                np.zeros((2, 3)), None, None, None, None, training=True, momentum=1.5
            ),
            ValueError,
            r"momentum=1.5",
        ),
        (
            lambda: batch_norm(np.zeros((2, 3)), None, None, None, None, training="yes"),
            TypeError,
            r"training='yes'",
        ),
        # mixed dtypes used to upcast the float32 x silently
        (
            lambda: batch_norm(
                np.zeros((2, 3), np.float32), np.ones(3), None, None, None, training=True
            ),
            TypeError,
            r"gamma has dtype float64 but x has float32; expected one floating dtype",
        ),
        (
            lambda: batch_norm(
                np.zeros((2, 3), np.float32),
                None,
                None,
                np.zeros(3),
                np.ones(3, np.float32),
                training=False,
            ),
            TypeError,
            r"running_mean has dtype float64 but x has float32",
        ),
        (
            lambda: group_norm(torch.zeros(2, 4), 2, torch.ones(4, dtype=torch.float64)),
            TypeError,
            r"gamma has dtype torch.float64 but x has torch.float32",
        ),
        (
            lambda: batch_norm_backward(np.zeros((2, 3)), np.zeros((2, 3), np.float32), None),
            TypeError,
            r"dout has dtype float64 but x has float32",
        ),
    ],
)
def test_norm_bad_input_is_named(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


def test_group_norm_accepts_numpy_integer_num_groups():
    x = np.random.default_rng(0).normal(size=(2, 4, 3))
    close(group_norm(x, np.int64(2)), group_norm(x, 2))


def tight(actual, expected) -> None:
    """float64: a few sums and one square root agree to about 1e-10 relative."""
    close(actual, expected, rtol=1e-10, atol=1e-12)


def _torch_grads(fn, x, gamma, beta, dout):
    """(dx, dgamma, dbeta) of sum(fn(x, gamma, beta) * dout) by torch autograd."""
    xt = to_torch(x).requires_grad_(True)
    gt = to_torch(gamma).requires_grad_(True)
    bt = to_torch(beta).requires_grad_(True)
    fn(xt, gt, bt).backward(to_torch(dout))
    return xt.grad, gt.grad, bt.grad


@pytest.mark.parametrize(("kind", "device"), BACKENDS)
@HYP
@given(case=gn_case(), affine=st.booleans())
def test_group_layer_instance_norm_backward_match_torch_autograd(kind, device, case, affine):
    """Oracle: torch autograd through F.group_norm (G groups, 1 group, C groups)."""
    x, groups, gamma, beta = case
    c = x.shape[1]
    dout = np.random.default_rng(int(abs(x).sum() * 1e3) % 2**16).standard_normal(x.shape)
    k = {"kind": kind, "device": device}
    xx, dd = as_kind(x, **k), as_kind(dout, **k)
    g = as_kind(gamma, **k) if affine else None
    for ours, g_count in (
        (lambda d_, x_, g_: group_norm_backward(d_, x_, groups, g_), groups),
        (layer_norm_backward, 1),
        (instance_norm_backward, c),
    ):
        if np.prod(x.shape[1:]) // g_count == 1:
            continue  # torch refuses groups of one value (tested below)
        expected = _torch_grads(
            lambda xt, gt, bt, n=g_count: F.group_norm(xt, n, gt, bt), x, gamma, beta, dout
        )
        if not affine:  # dgamma and dbeta do not depend on gamma; dx does
            plain = _torch_grads(
                lambda xt, gt, bt, n=g_count: F.group_norm(xt, n), x, gamma, beta, dout
            )
            expected = (plain[0], *expected[1:])
        dx, dgamma, dbeta = ours(dd, xx, g)
        assert_same_kind(dx, xx)
        for got, want in zip((dx, dgamma, dbeta), expected, strict=True):
            tight(got, want)


@settings(max_examples=15, deadline=None)
@given(case=gn_case())
def test_group_norm_backward_passes_gradient_check(case):
    """Oracle: centred differences of our own forward (float64), relative error < 1e-6,
    for x, gamma and beta; groups of one or two values (output always 0 or +-1) are
    left to the autograd test."""
    x, groups, gamma, beta = case
    assume(np.prod(x.shape[1:]) // groups >= 3)
    dout = np.random.default_rng(3).standard_normal(x.shape)
    dx, dgamma, dbeta = group_norm_backward(dout, x, groups, gamma)

    def gn(x_=x, g_=gamma, b_=beta):
        return group_norm(x_, groups, g_, b_)

    assert gradient_check(lambda z: gn(x_=z), x, dout, analytic=dx).passed
    assert gradient_check(lambda z: gn(g_=z), gamma, dout, analytic=dgamma).passed
    assert gradient_check(lambda z: gn(b_=z), beta, dout, analytic=dbeta).passed


def test_layer_and_instance_norm_backward_pass_gradient_check():
    rng = np.random.default_rng(4)
    x, gamma = rng.standard_normal((2, 3, 4, 2)), rng.standard_normal(3)
    dout = rng.standard_normal(x.shape)
    for fwd, bwd in ((layer_norm, layer_norm_backward), (instance_norm, instance_norm_backward)):
        dx, dgamma, _ = bwd(dout, x, gamma)
        assert gradient_check(lambda z, f=fwd: f(z, gamma), x, dout, analytic=dx).passed
        assert gradient_check(lambda z, f=fwd: f(x, z), gamma, dout, analytic=dgamma).passed


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_group_layer_instance_norm_of_an_empty_batch_is_empty_like_torch(kind):
    """N = 0: an empty output (as torch gives) and zero parameter gradients."""
    x = np.zeros((0, 4, 3, 2))
    xx, g = as_kind(x, kind), as_kind(np.ones(4), kind)
    for out, ref in (
        (group_norm(xx, 2, g, g), F.group_norm(to_torch(x), 2)),
        (layer_norm(xx), F.layer_norm(to_torch(x), x.shape[1:])),
        (instance_norm(xx), F.instance_norm(to_torch(x))),
    ):
        assert tuple(out.shape) == tuple(ref.shape) == x.shape
    for dx, dgamma, dbeta in (
        group_norm_backward(xx, xx, 2, g),
        layer_norm_backward(xx, xx),
        instance_norm_backward(xx, xx, g),
    ):
        assert tuple(dx.shape) == x.shape
        tight(dgamma, np.zeros(4))
        tight(dbeta, np.zeros(4))


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (lambda: group_norm(np.zeros((2, 0, 3)), 1), r"each of the 1 groups holds no values"),
        (lambda: layer_norm(np.zeros((2, 3, 0))), r"groups holds no values"),
        (
            lambda: batch_norm(np.zeros((0, 3)), None, None, None, None, training=True),
            r"only 0 values per channel",
        ),
    ],
)
def test_empty_inputs_are_refused_clearly(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


def test_batch_norm_of_an_empty_batch_in_eval_is_empty():
    x = np.zeros((0, 3, 2, 2))
    out, _, _ = batch_norm(x, None, None, np.zeros(3), np.ones(3), training=False)
    assert out.shape == (0, 3, 2, 2)


def _bn(**kwargs):
    return batch_norm(np.ones((4, 3)), None, None, None, None, training=True, **kwargs)


@pytest.mark.parametrize(
    ("call", "exc", "pattern"),
    [
        (lambda: _bn(eps=float("nan")), ValueError, r"eps=nan must be a positive finite number"),
        (lambda: _bn(eps=float("inf")), ValueError, r"eps=inf"),
        (lambda: _bn(eps=0), ValueError, r"eps=0.0"),
        (lambda: _bn(eps=-1e-5), ValueError, r"eps=-1e-05"),
        (lambda: _bn(eps="1e-5"), TypeError, r"eps='1e-5'"),
        (lambda: _bn(eps=True), TypeError, r"eps=True .*not a bool"),
        (lambda: _bn(momentum=float("nan")), ValueError, r"momentum=nan must be a number in"),
        (lambda: _bn(momentum=-0.1), ValueError, r"momentum=-0.1"),
        (lambda: _bn(momentum=None), TypeError, r"momentum=None"),
        (lambda: group_norm(np.ones((2, 4)), 2, eps=float("nan")), ValueError, r"eps=nan"),
        (
            lambda: group_norm_backward(np.ones((2, 4)), np.ones((2, 4)), 2, eps=0.0),
            ValueError,
            r"eps=0.0",
        ),
        (
            lambda: batch_norm_backward(np.ones((2, 4)), np.ones((2, 4)), None, eps=float("nan")),
            ValueError,
            r"eps=nan",
        ),
        (lambda: group_norm(np.ones((2, 4)), 2.0), TypeError, r"num_groups=2.0"),
        (
            lambda: layer_norm_backward(np.ones((2, 4)), np.ones((2, 3))),
            ValueError,
            r"dout has shape \(2, 4\); expected \(2, 3\)",
        ),
        (lambda: instance_norm_backward(np.ones(3), np.ones(3)), ValueError, r"x has 1 dim"),
    ],
)
def test_bad_eps_momentum_and_shapes_are_refused(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


@pytest.mark.parametrize(("kind", "device"), BACKENDS)
def test_numpy_and_0d_torch_scalars_are_accepted_for_eps_and_momentum(kind, device):
    x = as_kind(np.random.default_rng(0).standard_normal((5, 2)), kind, device)
    eps, momentum = np.float32(1e-5), torch.tensor(0.1)
    out, _, _ = batch_norm(x, None, None, None, None, training=True, eps=eps, momentum=momentum)
    close(out, batch_norm(x, None, None, None, None, training=True)[0])


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_batch_norm_is_accurate_for_a_large_mean_and_a_small_spread(kind):
    """Oracle: torch. The variance comes from deviations from the mean (two passes),
    not from mean(x**2) - mean(x)**2, which would lose every digit here."""
    rng = np.random.default_rng(6)
    x = 1e6 + 1e-3 * rng.standard_normal((8, 3, 4, 4))
    rm, rv = np.zeros(3), np.ones(3)
    args = [as_kind(a, kind) for a in (x, rm, rv)]
    out, new_rm, new_rv = batch_norm(args[0], None, None, *args[1:], training=True)
    trm, trv = to_torch(rm), to_torch(rv)
    ref = F.batch_norm(to_torch(x), trm, trv, training=True)
    close(out, ref, rtol=1e-6, atol=1e-6)
    close(new_rv, trv, rtol=1e-6, atol=1e-15)
    close(new_rm, trm, rtol=1e-12, atol=0)


def test_norms_name_none_arrays():
    x, g = np.ones((2, 2, 3, 3)), np.ones(2)
    calls = [
        (lambda: batch_norm(None, g, g, None, None, training=True), "x"),
        (lambda: batch_norm_backward(None, x, g), "dout"),
        (lambda: group_norm(None, 1), "x"),
        (lambda: group_norm_backward(None, x, 1), "dout"),
        (lambda: layer_norm(None), "x"),
        (lambda: layer_norm_backward(None, x), "dout"),
        (lambda: instance_norm(None), "x"),
        (lambda: instance_norm_backward(x, None), "x"),
    ]
    for call, name in calls:
        with pytest.raises(TypeError, match=f"{name} must be a numpy array or a torch tensor"):
            call()


def test_norms_take_big_endian_numpy_arrays_like_native_ones():
    """Byte order is not a dtype difference: >f8 and float64 hold the same numbers."""
    rng = np.random.default_rng(3)
    x, dout = rng.standard_normal((2, 4, 3, 3)), rng.standard_normal((2, 4, 3, 3))
    g, b = rng.standard_normal(4), rng.standard_normal(4)

    def big(a):
        return a.astype(">f8")

    def same(got, want):
        for u, v in zip(got if isinstance(got, tuple) else (got,),
                        want if isinstance(want, tuple) else (want,), strict=True):
            np.testing.assert_allclose(u, v, rtol=1e-15, atol=1e-15)

    stats = (np.zeros(4), np.ones(4))
    want = batch_norm(x, g, b, *stats, training=True)
    same(batch_norm(big(x), g, big(b), *map(big, stats), training=True), want)
    same(batch_norm_backward(big(dout), x, big(g)), batch_norm_backward(dout, x, g))
    same(group_norm(x, 2, big(g), b), group_norm(x, 2, g, b))
    same(group_norm_backward(dout, big(x), 2, g), group_norm_backward(dout, x, 2, g))
    same(layer_norm(big(x), g, b), layer_norm(x, g, b))
    same(instance_norm_backward(big(dout), x, big(g)), instance_norm_backward(dout, x, g))
    with pytest.raises(TypeError, match="gamma has dtype float32 but x has float64"):
        group_norm(x, 2, g.astype(np.float32))


def test_norm_shape_errors_name_x():
    x = np.ones((2, 4, 3))
    with pytest.raises(ValueError, match=r"one per channel of x \(shape \(2, 4, 3\)\)"):
        group_norm(x, 2, np.ones(2))
    with pytest.raises(ValueError, match=r"expected \(0, 4, 3\), the shape of x"):
        layer_norm_backward(x, x[:0])


def test_layer_and_instance_norm_refuse_no_channels_naming_x():
    """instance_norm's group count is C: C = 0 used to blame num_groups, not x."""
    for call in (instance_norm, layer_norm):
        with pytest.raises(ValueError, match=r"x has shape \(0, 0\): no channels"):
            call(np.zeros((0, 0)))
