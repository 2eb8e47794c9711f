"""Lesson 04's checks: right answers pass; the mistakes learners make fail with their own feedback.

The reference solutions themselves are run from the notebook by tests/test_solutions.py;
here torch stands in as an independent correct answer.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_lib.checks.lesson04 import (
    check_leaky_relu,
    check_leaky_relu_derivative,
    check_sigmoid_derivative,
    check_sigmoid_derivative_max,
)


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def _stub(*args, **kwargs):
    raise NotImplementedError


# ---- Exercise 4.1: sigmoid derivative ------------------------------------------------


def test_sigmoid_derivative_accepts_torch_autograd_answer():
    """Oracle: torch autograd's derivative of torch.sigmoid, as a correct learner answer."""

    def by_autograd(x):
        t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        (g,) = torch.autograd.grad(torch.sigmoid(t).sum(), t)
        return g.numpy()

    assert check_sigmoid_derivative(by_autograd).passed


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (lambda x: _sig(x) * (1 + _sig(x)), "sign slip"),
        (lambda x: x * (1 - x), "raw input"),
        (lambda x: _sig(x), "the function itself"),
        (lambda x: 1 - _sig(x), "multiply it by sigma(x)"),
    ],
)
def test_sigmoid_derivative_mistakes_get_their_feedback(wrong, words):
    result = check_sigmoid_derivative(wrong)
    assert result.status == "failed"
    assert words in result.message, result.message


def test_sigmoid_derivative_in_torch_float32_passes():
    """The issue's case: a torch float32 answer used to be refused."""

    def in_float32(x):
        z = torch.sigmoid(torch.as_tensor(x, dtype=torch.float32))
        return z * (1 - z)

    assert check_sigmoid_derivative(in_float32).passed


def test_sigmoid_derivative_float32_handed_back_as_float64_gets_the_cancellation_hint():
    def upcast(x):
        z = torch.sigmoid(torch.as_tensor(x, dtype=torch.float32))
        return (z * (1 - z)).double().numpy()

    result = check_sigmoid_derivative(upcast)
    assert result.status == "failed" and "1 - z subtracts two nearly equal" in result.message


def test_sigmoid_derivative_unknown_error_fails_without_a_hint():
    result = check_sigmoid_derivative(lambda x: _sig(x) * (1 - _sig(x)) + 1e-3)
    assert result.status == "failed" and "hint" not in result.message


def test_sigmoid_derivative_stub_is_not_attempted():
    assert check_sigmoid_derivative(_stub).status == "not attempted"


# ---- Exercise 4.2: maximum of the sigmoid derivative ---------------------------------


def test_sigmoid_max_accepts_exact_and_grid_answers():
    assert check_sigmoid_derivative_max(0.25).passed
    grid = np.linspace(-5, 5, 1000)  # misses 0 by 0.005: still close enough
    assert check_sigmoid_derivative_max(float(np.max(_sig(grid) * (1 - _sig(grid))))).passed


def test_sigmoid_max_accepts_numpy_and_torch_numbers():
    for value in (np.float64(0.25), np.float32(0.25), torch.tensor(0.25), np.array(0.25)):
        assert check_sigmoid_derivative_max(value).passed, value


def test_sigmoid_max_from_a_grid_that_misses_zero_gets_a_hint():
    grid = np.linspace(-10, 10, 200)  # steps from -0.05 to 0.05
    value = float(np.max(_sig(grid) * (1 - _sig(grid))))
    result = check_sigmoid_derivative_max(value)
    assert result.status == "failed" and "never evaluates x = 0" in result.message


@pytest.mark.parametrize(
    ("wrong", "words"),
    [(0.235, "sigma'(x) at x = 0.5"), (0.5, "function's value"), (1.0, "tanh")],
)
def test_sigmoid_max_mistakes_get_their_feedback(wrong, words):
    result = check_sigmoid_derivative_max(wrong)
    assert result.status == "failed"
    assert words in result.message, result.message


def test_sigmoid_max_placeholder_is_not_attempted():
    assert check_sigmoid_derivative_max(...).status == "not attempted"


# ---- Exercise 4.3: leaky ReLU --------------------------------------------------------


def test_leaky_relu_accepts_torch_answer():
    """Oracle: torch.nn.functional.leaky_relu."""

    def by_torch(x, slope=0.01):
        return torch.nn.functional.leaky_relu(torch.from_numpy(x), slope).numpy()

    assert check_leaky_relu(by_torch).passed


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (lambda x, slope=0.01: np.maximum(x, 0.0), "plain ReLU"),
        (lambda x, slope=0.01: np.where(x > 0, slope * x, x), "negative side"),
        (lambda x, slope=0.01: np.maximum(0.01 * x, x), "you used 0.01"),
        (lambda x, slope=0.01: slope * x, "slope * x everywhere"),
    ],
)
def test_leaky_relu_mistakes_get_their_feedback(wrong, words):
    result = check_leaky_relu(wrong)
    assert result.status == "failed"
    assert words in result.message, result.message


# ---- Exercise 4.4: leaky ReLU derivative ---------------------------------------------


def test_leaky_relu_derivative_accepts_torch_autograd_answer():
    """Oracle: torch autograd through leaky_relu, which also takes `slope` at exactly 0."""

    def by_autograd(x, slope=0.01):
        t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        (g,) = torch.autograd.grad(torch.nn.functional.leaky_relu(t, slope).sum(), t)
        return g.numpy()

    assert check_leaky_relu_derivative(by_autograd).passed


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (lambda x, slope=0.01: np.where(x > 0, 1.0, 0.0), "that is ReLU's"),
        (lambda x, slope=0.01: np.where(x > 0, slope, 1.0), "swapped"),
        (lambda x, slope=0.01: np.where(x >= 0, 1.0, slope), "left-hand value"),
        (lambda x, slope=0.01: np.where(x > 0, x, slope * x), "instead of its derivative"),
        (lambda x, slope=0.01: np.where(x > 0, 1.0, 0.01), "you used 0.01"),
    ],
)
def test_leaky_relu_derivative_mistakes_get_their_feedback(wrong, words):
    result = check_leaky_relu_derivative(wrong)
    assert result.status == "failed"
    assert words in result.message, result.message


def test_leaky_relu_derivative_changing_input_in_place_is_reported():
    def in_place(x, slope=0.01):
        x[x > 0] = 1.0
        x[x <= 0] = slope
        return x

    result = check_leaky_relu_derivative(in_place)
    assert result.status == "failed" and "in place" in result.message
