"""course_lib.ops.activations against torch's activations and autograd (the oracle)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from _ops_helpers import BACKENDS, as_kind, assert_same_kind, close, to_torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from course_lib.ops import (
    leaky_relu,
    leaky_relu_grad,
    relu,
    relu_grad,
    sigmoid,
    sigmoid_grad,
    softplus,
    softplus_grad,
    tanh,
    tanh_grad,
)
from course_lib.ops.gradcheck import gradient_check

PAIRS = {
    "relu": (relu, relu_grad, torch.relu),
    "leaky_relu": (leaky_relu, leaky_relu_grad, F.leaky_relu),
    "sigmoid": (sigmoid, sigmoid_grad, torch.sigmoid),
    "tanh": (tanh, tanh_grad, torch.tanh),
    "softplus": (softplus, softplus_grad, F.softplus),
}
values = arrays(
    np.float64, st.integers(1, 20), elements=st.floats(-30, 30, allow_nan=False, width=64)
)


@pytest.mark.parametrize(("kind", "device"), BACKENDS)
@pytest.mark.parametrize("name", list(PAIRS))
@settings(max_examples=30, deadline=None)
@given(x=values)
def test_activation_and_derivative_match_torch(kind, device, name, x):
    """Oracle: torch's function and its autograd derivative (float64, relative 1e-5)."""
    f, df, ref = PAIRS[name]
    x = np.concatenate([x, [0.0, -1e-3, 1e-3]])
    xx = as_kind(x, kind, device)
    out = f(xx)
    assert_same_kind(out, xx)
    xt = to_torch(x).requires_grad_(True)
    y = ref(xt)
    y.sum().backward()
    close(out, y.detach())
    close(df(xx), xt.grad)


@pytest.mark.parametrize("name", list(PAIRS))
def test_activation_derivatives_pass_gradient_check(name):
    """Oracle: centred differences (float64), away from relu's kink at 0."""
    f, df, _ = PAIRS[name]
    rng = np.random.default_rng(0)
    x = rng.uniform(-4, 4, size=50)
    x = x[np.abs(x) > 1e-3]
    dout = rng.standard_normal(x.shape)
    assert gradient_check(f, x, dout, analytic=dout * df(x)).passed


def test_sigmoid_derivative_peaks_at_a_quarter_and_softplus_derivative_is_sigmoid():
    x = np.linspace(-6, 6, 1201)
    g = sigmoid_grad(x)
    assert np.isclose(g.max(), 0.25) and x[g.argmax()] == 0.0
    np.testing.assert_allclose(softplus_grad(x), sigmoid(x))
    big = np.array([-1000.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # stable forms
        np.testing.assert_allclose(sigmoid(big), [0.0, 1.0])
        np.testing.assert_allclose(softplus(big), [0.0, 1000.0])


def test_leaky_relu_slope_and_bad_input():
    np.testing.assert_allclose(leaky_relu(np.array([-2.0, 3.0]), slope=0.1), [-0.2, 3.0])
    np.testing.assert_allclose(leaky_relu_grad(np.array([-2.0, 3.0]), slope=0.1), [0.1, 1.0])
    with pytest.raises(TypeError, match="x has dtype int64; expected a floating dtype"):
        relu(np.array([1, 2]))
    with pytest.raises(TypeError, match="x must be a numpy array or a torch tensor, not list"):
        sigmoid([1.0])
