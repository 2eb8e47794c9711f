"""Activation functions and their derivatives (lesson 04).

Each ``f(x)`` has a ``f_grad(x)`` returning the elementwise derivative f'(x); a
backward pass multiplies it by the upstream gradient: ``dx = dout * f_grad(x)``.

* sigmoid: s(x) = 1 / (1 + e^-x), s'(x) = s(x)(1 - s(x)), at most 0.25 (at x = 0);
* tanh: tanh'(x) = 1 - tanh(x)^2, at most 1;
* relu: max(0, x), derivative 1 for x > 0 and 0 otherwise (0 at x = 0, as torch);
* leaky relu: x for x > 0, slope * x otherwise; derivative 1 or slope (slope at 0);
* softplus: log(1 + e^x), a smooth relu whose derivative is the sigmoid.

numpy arrays and torch tensors of any shape, 0-d included (a numpy scalar counts as a
0-d array); the output keeps kind, shape, dtype and device, and is a numpy array for
numpy input. NaN stays NaN in every forward function, as in torch; each derivative
matches torch's autograd at NaN and at +-inf too. The sigmoid and softplus are written
so that no exponential overflows.
"""

from __future__ import annotations

import numpy as np

from course_lib.validate import check_number

from ._backend import array_arg, namespace

__all__ = [
    "leaky_relu",
    "leaky_relu_grad",
    "relu",
    "relu_grad",
    "sigmoid",
    "sigmoid_grad",
    "softplus",
    "softplus_grad",
    "tanh",
    "tanh_grad",
]


def _input(x):
    """(x, xp): the checked input (a numpy scalar as a 0-d array) and its namespace."""
    if isinstance(x, np.generic):
        x = np.asarray(x)
    x = array_arg("x", x, floating=True)
    return x, namespace(x, names=("x",))


def _result(out):
    """numpy's elementwise functions turn a 0-d array into a scalar; keep it an array."""
    return np.asarray(out) if isinstance(out, np.generic) else out


def relu(x):
    """max(0, x), elementwise; NaN stays NaN (as ``torch.relu``)."""
    x, xp = _input(x)
    return _result(xp.where(x < 0, xp.zeros_like(x), x))


def relu_grad(x):
    """Derivative of relu: 1 where x > 0, else 0; 1 at NaN, which relu passes through
    unchanged (torch's autograd says the same)."""
    x, xp = _input(x)
    return _result(xp.astype(xp.logical_not(x <= 0), x.dtype))


def leaky_relu(x, slope: float = 0.01):
    """x where x > 0, slope * x elsewhere (NaN stays NaN)."""
    x, xp = _input(x)
    slope = check_number("slope", slope)
    return _result(xp.where(x > 0, x, slope * x))


def leaky_relu_grad(x, slope: float = 0.01):
    """Derivative of leaky_relu: 1 where x > 0, slope elsewhere (at NaN too, as torch)."""
    x, xp = _input(x)
    slope = check_number("slope", slope)
    return _result(xp.where(x > 0, xp.ones_like(x), xp.full_like(x, slope)))


def sigmoid(x):
    """1 / (1 + exp(-x)), computed from exp(-|x|) so it never overflows."""
    x, xp = _input(x)
    e = xp.exp(-xp.abs(x))  # in (0, 1]
    return _result(xp.where(x >= 0, 1 / (1 + e), e / (1 + e)))


def sigmoid_grad(x):
    """s(x) * (1 - s(x)); largest, 0.25, at x = 0."""
    s = sigmoid(x)
    return _result(s * (1 - s))


def tanh(x):
    """Hyperbolic tangent, a rescaled sigmoid: tanh(x) = 2 s(2x) - 1."""
    x, xp = _input(x)
    return _result(xp.tanh(x))


def tanh_grad(x):
    """1 - tanh(x)^2."""
    t = tanh(x)
    return _result(1 - t * t)


def softplus(x):
    """log(1 + exp(x)) = max(x, 0) + log(1 + exp(-|x|)), stable for large |x|."""
    x, xp = _input(x)
    # maximum keeps NaN (where(x > 0, ...) would not)
    return _result(xp.maximum(x, xp.zeros_like(x)) + xp.log1p(xp.exp(-xp.abs(x))))


def softplus_grad(x):
    """The derivative of softplus is the sigmoid."""
    return sigmoid(x)
