"""Checks for lesson 04 (activation functions).

* Exercise 4.1: :func:`check_sigmoid_derivative`, ``sigma'(x) = sigma(x) (1 - sigma(x))``.
* Exercise 4.2: :func:`check_sigmoid_derivative_max`, the largest slope of the sigmoid.
* Exercise 4.3: :func:`check_leaky_relu`, ``max(slope * x, x)`` for ``0 <= slope < 1``.
* Exercise 4.4: :func:`check_leaky_relu_derivative`, 1 for ``x > 0``, ``slope`` for
  ``x < 0``; at exactly 0 the course, like PyTorch's autograd, takes the left-hand
  value ``slope`` (and 0 for plain ReLU).

The expected answers come from :mod:`course_lib.ops`; the mistakes are the slips
learners really make, each with its own feedback.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import torch

from course_lib import ops
from course_lib.checks import Case, CheckResult, Mistake, check_function, check_value, same_value
from course_lib.ops import sigmoid, sigmoid_grad
from course_lib.validate import is_number

__all__ = [
    "check_leaky_relu",
    "check_leaky_relu_derivative",
    "check_sigmoid_derivative",
    "check_sigmoid_derivative_max",
]


def _sig(x: np.ndarray) -> np.ndarray:
    return sigmoid(np.asarray(x, dtype=np.float64))


def _inputs() -> list[tuple[str, np.ndarray]]:
    return [
        ("x = -3, -1, 0, 1, 3", np.array([-3.0, -1.0, 0.0, 1.0, 3.0])),
        ("saturated inputs +-8, +-15", np.array([-15.0, -8.0, 0.5, 8.0, 15.0])),
        ("a 2x3 array", np.array([[-2.0, -0.25, 0.0], [0.25, 2.0, 4.0]])),
    ]


def _float32_precision(got: Any, expected: Any, *args: Any) -> bool:
    """A float64 answer that is right only to float32's precision (computed in float32)."""
    if isinstance(got, torch.Tensor):
        if got.dtype != torch.float64:
            return False
        got = got.detach().cpu().numpy()
    if not (isinstance(got, np.ndarray) and got.dtype == np.float64):
        return False
    return same_value(got.astype(np.float32), expected) is None


SIGMOID_DERIVATIVE_MISTAKES = [
    Mistake(
        "sign slip: the derivative is sigma(x) * (1 - sigma(x)), with a minus; "
        "sigma(x) * (1 + sigma(x)) is larger than sigma(x) itself.",
        lambda x: _sig(x) * (1 + _sig(x)),
    ),
    Mistake(
        "you applied z * (1 - z) to the raw input x. In the formula z is sigma(x): "
        "compute z = sigma(x) first, then z * (1 - z).",
        lambda x: x * (1 - x),
    ),
    Mistake(
        "you returned sigma(x), the function itself, not its slope sigma(x) * (1 - sigma(x)).",
        lambda x: _sig(x),
    ),
    Mistake(
        "you returned 1 - sigma(x): multiply it by sigma(x) as well.",
        lambda x: 1 - _sig(x),
    ),
    Mistake(
        "your values were computed in float32 and handed back as float64. For x = 8 or 15, "
        "z = sigma(x) is within 1e-3 of 1, and 1 - z subtracts two nearly equal numbers: "
        "float32 keeps about 7 digits of z, so 1 - z keeps only a few (one, at x = 15): "
        "cancellation. "
        "Compute in float64 (a numpy array of floats already is), or return the float32 "
        "result itself: the check then allows float32's rounding.",
        matches=_float32_precision,
    ),
]


def check_sigmoid_derivative(fn) -> CheckResult:
    """Exercise 4.1: ``fn(x)`` returns sigma'(x) elementwise, same shape as ``x``."""
    cases = [Case(label, (x,), expected=sigmoid_grad(x)) for label, x in _inputs()]
    return check_function("Exercise 4.1", fn, cases, mistakes=SIGMOID_DERIVATIVE_MISTAKES)


def _grid_missed_zero(got: Any, expected: Any) -> bool:
    """Just below the peak: the maximum over a grid that never evaluates x = 0."""
    return is_number(got) and 0.2 < float(got) < float(expected)


SIGMOID_MAX_MISTAKES = [
    Mistake(
        "0.235 is not the maximum (it is sigma'(x) at x = 0.5). The slope peaks at x = 0, "
        "where sigma(0) = 0.5, so sigma'(0) = 0.5 * (1 - 0.5) = 0.25.",
        lambda: 0.235,
    ),
    Mistake(
        "your number is a little below the peak: a grid maximum whose grid never "
        "evaluates x = 0 exactly (np.linspace(-10, 10, 200) steps over it, from -0.05 to "
        "0.05). The slope peaks at x = 0: include 0 in the grid (np.linspace(-10, 10, "
        "2001) does), or compute sigma'(0) = 0.5 * (1 - 0.5).",
        matches=_grid_missed_zero,
    ),
    Mistake(
        "0.5 is sigma(0), the function's value at 0; the question asks for its slope "
        "sigma(0) * (1 - sigma(0)).",
        lambda: 0.5,
    ),
    Mistake(
        "1 is the largest slope of tanh (and ReLU's slope for x > 0), not the sigmoid's.",
        lambda: 1.0,
    ),
]


def check_sigmoid_derivative_max(value) -> CheckResult:
    """Exercise 4.2: the largest value of sigma'(x) over all x (0.25, at x = 0).

    Accepted to a relative tolerance of 1e-4, so a maximum read off a fine grid passes.
    """
    expected = float(np.max(sigmoid_grad(np.array([0.0]))))
    return check_value(
        "Exercise 4.2",
        value,
        expected,
        mistakes=SIGMOID_MAX_MISTAKES,
        compare=partial(same_value, rtol=1e-4, atol=1e-9),
        label="the largest slope",
    )


def _leaky_cases(fn_name: str) -> list[Case]:
    reference = getattr(ops, fn_name)
    x = np.array([-4.0, -0.5, 0.0, 0.5, 4.0])
    grid = np.array([[-3.0, -1.0, 2.0], [0.0, -0.1, 1.5]])
    settings = [
        ("x = -4, -0.5, 0, 0.5, 4 with slope 0.01", x, 0.01),
        ("the same x with slope 0.2", x, 0.2),
        ("a 2x3 array with slope 0.1", grid, 0.1),
    ]
    return [
        Case(label, (arr,), {"slope": slope}, expected=reference(arr, slope=slope))
        for label, arr, slope in settings
    ]


LEAKY_RELU_MISTAKES = [
    Mistake(
        "negative inputs came out as 0: that is plain ReLU. Leaky ReLU keeps slope * x "
        "for x < 0.",
        lambda x, slope: np.maximum(x, 0.0),
    ),
    Mistake(
        "the slope belongs on the negative side: x for x > 0, slope * x for x < 0.",
        lambda x, slope: np.where(x > 0, slope * x, x),
    ),
    Mistake(
        "you used 0.01 whatever the slope argument says; use the slope you are given.",
        lambda x, slope: np.maximum(0.01 * x, x),
    ),
    Mistake(
        "you returned slope * x everywhere; positive inputs pass through unchanged.",
        lambda x, slope: slope * x,
    ),
]


def check_leaky_relu(fn) -> CheckResult:
    """Exercise 4.3: ``fn(x, slope=0.01)`` is leaky ReLU elementwise, same shape as ``x``."""
    return check_function(
        "Exercise 4.3", fn, _leaky_cases("leaky_relu"), mistakes=LEAKY_RELU_MISTAKES
    )


LEAKY_RELU_DERIVATIVE_MISTAKES = [
    Mistake(
        "your derivative is 0 for negative inputs: that is ReLU's. Leaky ReLU's slope "
        "there is `slope`, which is the whole point: the unit keeps learning.",
        lambda x, slope: np.where(x > 0, 1.0, 0.0),
    ),
    Mistake(
        "the slopes are swapped: 1 for x > 0, `slope` for x < 0.",
        lambda x, slope: np.where(x > 0, slope, 1.0),
    ),
    Mistake(
        "at exactly x = 0 the function has a kink and no derivative; the course, like "
        "PyTorch, uses the left-hand value there: `slope` (0 for plain ReLU). "
        "Use x > 0, not x >= 0.",
        lambda x, slope: np.where(x >= 0, 1.0, slope),
    ),
    Mistake(
        "you returned the function, leaky_relu(x), instead of its derivative.",
        lambda x, slope: np.where(x > 0, x, slope * x),
    ),
    Mistake(
        "you used 0.01 whatever the slope argument says; use the slope you are given.",
        lambda x, slope: np.where(x > 0, 1.0, 0.01),
    ),
]


def check_leaky_relu_derivative(fn) -> CheckResult:
    """Exercise 4.4: ``fn(x, slope=0.01)`` is leaky ReLU's derivative (``slope`` at 0)."""
    return check_function(
        "Exercise 4.4",
        fn,
        _leaky_cases("leaky_relu_grad"),
        mistakes=LEAKY_RELU_DERIVATIVE_MISTAKES,
    )
