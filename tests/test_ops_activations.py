"""course_lib.ops.activations against torch's activations and autograd (the oracle)."""

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
    """Oracle: torch's function and its autograd derivative (float64, rtol 1e-7, atol 1e-9)."""
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


SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-300, -1e-300, 800.0, -800.0])


@pytest.mark.parametrize(("kind", "device"), BACKENDS)
@pytest.mark.parametrize("name", list(PAIRS))
def test_nan_and_infinities_behave_as_in_torch(kind, device, name):
    """Oracle: torch's function and autograd at NaN, +-inf, +-0 and huge values.

    NaN stays NaN in every forward (relu used to turn it into 0); the derivatives give
    what torch's autograd gives (relu's is 1 at NaN, which relu passes through).
    """
    f, df, ref = PAIRS[name]
    xx = as_kind(SPECIAL, kind, device)
    xt = to_torch(SPECIAL).requires_grad_(True)
    y = ref(xt)
    y.sum().backward()
    with np.errstate(over="raise", invalid="ignore"):  # no overflow; NaN in, NaN out
        out, grad = f(xx), df(xx)
    assert_same_kind(out, xx)
    assert bool(torch.isnan(to_torch(out)[0])), f"{name}(nan) is not nan"
    close(out, y.detach(), equal_nan=True)
    close(grad, xt.grad, equal_nan=True)


@pytest.mark.parametrize("name", list(PAIRS))
@pytest.mark.parametrize(
    "x", [np.array(-1.5), np.float64(-1.5), np.float32(2.0), torch.tensor(-1.5, dtype=torch.float64)]
)
def test_zero_d_input_gives_zero_d_output(name, x):
    """Oracle: torch on the same 0-d value; numpy scalars count as 0-d arrays."""
    f, df, ref = PAIRS[name]
    for fn in (f, df):
        out = fn(x)
        assert tuple(out.shape) == ()
        assert isinstance(out, torch.Tensor if isinstance(x, torch.Tensor) else np.ndarray)
        assert out.dtype == (x.dtype if isinstance(x, torch.Tensor) else np.asarray(x).dtype)
    xt = to_torch(np.asarray(x)).requires_grad_(True)
    y = ref(xt)
    y.backward()
    close(f(x), y.detach())
    close(df(x), xt.grad)


@pytest.mark.parametrize("layout", ODD_LAYOUTS)
@pytest.mark.parametrize("name", list(PAIRS))
def test_odd_numpy_layouts_give_the_same_result(name, layout):
    """Oracle: the same function on the plain C-ordered array, exactly equal."""
    f, df, _ = PAIRS[name]
    x = np.random.default_rng(1).uniform(-4, 4, size=(3, 4))
    for fn in (f, df):
        out = fn(odd_layout(x, layout))
        assert out.dtype == np.float64  # native byte order, like the plain array's
        np.testing.assert_array_equal(out, fn(x))


@pytest.mark.parametrize("name", list(PAIRS))
@pytest.mark.parametrize("bad", [None, [1.0, 2.0], 3.0])
def test_none_list_or_python_number_is_a_type_error_naming_x(name, bad):
    f, df, _ = PAIRS[name]
    for fn in (f, df):
        with pytest.raises(TypeError, match=r"^x must be a numpy array or a torch tensor"):
            fn(bad)


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
    with pytest.raises(TypeError, match="slope='0.1' must be a number, not str"):
        leaky_relu(np.ones(2), slope="0.1")
    with pytest.raises(ValueError, match="slope=nan must be a finite number"):
        leaky_relu_grad(np.ones(2), slope=float("nan"))
    # numpy and 0-d torch numbers count as numbers
    np.testing.assert_allclose(leaky_relu(np.array([-2.0]), slope=np.float32(0.5)), [-1.0])
    np.testing.assert_allclose(leaky_relu(np.array([-2.0]), slope=torch.tensor(0.5)), [-1.0])
