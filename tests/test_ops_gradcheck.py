"""course_lib.ops.gradcheck: the numerical gradient itself, checked against torch autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _ops_helpers import ODD_LAYOUTS, odd_layout

from course_lib.ops import gradient_check, numerical_gradient, relative_error


def test_numerical_gradient_matches_torch_autograd():
    """Oracle: torch autograd of a smooth nonlinear function (float64)."""
    rng = np.random.default_rng(0)
    x, df = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))

    def f(z):
        return z**3 * np.sin(z) if isinstance(z, np.ndarray) else z**3 * torch.sin(z)

    xt = torch.from_numpy(x).requires_grad_(True)
    f(xt).backward(torch.from_numpy(df))
    num = numerical_gradient(f, x, df)
    np.testing.assert_allclose(num, xt.grad.numpy(), rtol=1e-6, atol=1e-8)
    num_t = numerical_gradient(f, torch.from_numpy(x), torch.from_numpy(df))
    assert isinstance(num_t, torch.Tensor)
    torch.testing.assert_close(num_t, xt.grad, rtol=1e-6, atol=1e-8)


def test_gradient_check_flags_a_wrong_backward():
    x = np.linspace(-2, 2, 9)
    right = gradient_check(np.tanh, x, analytic=1 - np.tanh(x) ** 2)
    wrong = gradient_check(np.tanh, x, analytic=1 - np.tanh(x))
    assert right.passed and right.error < 1e-8
    assert not wrong.passed and wrong.error > 1e-2
    assert gradient_check(np.tanh, x).error is None
    assert np.isclose(right.relative_error(1 - np.tanh(x) ** 2), right.error)


def test_gradient_check_scalar_output_and_input_untouched():
    x = np.array([1.0, -2.0, 3.0])
    before = x.copy()
    check = gradient_check(lambda z: float(np.sum(z**2)), x, analytic=2 * x)
    assert check.passed
    np.testing.assert_array_equal(x, before)


def test_relative_error_is_the_norm_ratio_not_cs231ns_elementwise_max():
    """Oracle: the formula by hand, ||a - n|| / (||a|| + ||n||), on a case where the two
    definitions disagree; cs231n's rel_error would give 1/3 here, from the tiny entry."""
    a, n = np.array([3.0, 1e-7, -4.0]), np.array([3.0, 2e-7, -4.0])
    expected = 1e-7 / (2 * 5.0)  # ||[0, -1e-7, 0]|| / (||a|| + ||n||), both norms ~5
    np.testing.assert_allclose(relative_error(a, n), expected, rtol=1e-6)
    cs231n = np.max(np.abs(a - n) / np.maximum(1e-8, np.abs(a) + np.abs(n)))
    np.testing.assert_allclose(cs231n, 1 / 3)
    a, n = np.array([1.0, 2.0]), np.array([2.0, 0.0])
    expected = np.sqrt(1 + 4) / (np.sqrt(5) + 2)
    assert relative_error(a, n) == pytest.approx(expected, rel=1e-15)
    assert relative_error(n, a) == pytest.approx(expected, rel=1e-15)  # symmetric


def test_relative_error_takes_any_float_kind():
    """bfloat16 and float16 tensors, float32 arrays, odd numpy layouts: computed in float64."""
    a = torch.tensor([1.0, 2.0, 3.0])
    for dtype in (torch.bfloat16, torch.float16, torch.float64):
        assert relative_error(a.to(dtype), a.to(dtype)) == 0.0
        assert relative_error(a.to(dtype), -a.to(dtype)) == pytest.approx(1.0)
    x = np.random.default_rng(0).standard_normal((3, 4))
    for layout in ODD_LAYOUTS:
        assert relative_error(odd_layout(x, layout), x) == 0.0
        assert relative_error(odd_layout(x, layout), 2 * x) == pytest.approx(1 / 3)


@pytest.mark.parametrize("layout", ODD_LAYOUTS)
def test_numerical_gradient_of_odd_numpy_layouts(layout):
    """Oracle: the same gradient of the plain C-ordered array (exactly equal)."""
    x = np.random.default_rng(1).standard_normal((2, 3))
    got = numerical_gradient(np.sin, odd_layout(x, layout), odd_layout(np.cos(x), layout))
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, numerical_gradient(np.sin, x, np.cos(x)))


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: relative_error(None, np.ones(2)), "analytic"),
        (lambda: relative_error(np.ones(2), [1.0, 1.0]), "numerical"),
        (lambda: numerical_gradient(np.tanh, None), "x"),
        (lambda: numerical_gradient(np.tanh, [1.0, 2.0]), "x"),
        (lambda: gradient_check(np.tanh, np.ones(2), [1.0, 1.0]), "df"),
    ],
)
def test_none_or_list_is_a_type_error_naming_the_parameter(call, name):
    with pytest.raises(TypeError, match=rf"^{name} must be a numpy array or a torch tensor"):
        call()


def test_relative_error_and_bad_input():
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert np.isclose(relative_error(np.ones(2), -np.ones(2)), 1.0)
    with pytest.raises(ValueError, match=r"analytic gradient has shape \(2,\); expected \(3,\)"):
        relative_error(np.ones(2), np.ones(3))
    with pytest.raises(ValueError, match="df has shape"):
        gradient_check(np.tanh, np.ones(3), np.ones(4))
    with pytest.raises(TypeError, match="floating dtype"):
        gradient_check(np.tanh, np.arange(3))
    with pytest.raises(ValueError, match="eps=0"):
        gradient_check(np.tanh, np.ones(3), eps=0.0)
