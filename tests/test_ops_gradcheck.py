"""course_lib.ops.gradcheck: the numerical gradient itself, checked against torch autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch

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
