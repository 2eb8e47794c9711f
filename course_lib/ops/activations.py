"""Activation functions and their derivatives (lesson 04).

Each ``f(x)`` has a ``f_grad(x)`` returning the elementwise derivative f'(x); a
backward pass multiplies it by the upstream gradient: ``dx = dout * f_grad(x)``.

* sigmoid: s(x) = 1 / (1 + e^-x), s'(x) = s(x)(1 - s(x)), at most 0.25 (at x = 0);
* tanh: tanh'(x) = 1 - tanh(x)^2, at most 1;
* relu: max(0, x), derivative 1 for x > 0 and 0 otherwise (0 at x = 0, as torch);
* leaky relu: x for x > 0, slope * x otherwise; derivative 1 or slope (slope at 0);
* softplus: log(1 + e^x), a smooth relu whose derivative is the sigmoid.

numpy arrays and torch tensors; the output keeps kind, dtype and device. The sigmoid
and softplus are written so that no exponential overflows.
"""

from __future__ import annotations

from ._backend import namespace

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


def _xp(x):
    xp = namespace(x, names=("x",))
    if not xp.isdtype(x.dtype, "real floating"):
        raise TypeError(f"x has dtype {x.dtype}; expected a floating dtype")
    return xp


def _check_slope(slope):
    if isinstance(slope, bool) or not isinstance(slope, (int, float)):
        raise TypeError(f"slope={slope!r} must be a number")


def relu(x):
    """max(0, x), elementwise."""
    xp = _xp(x)
    return xp.where(x > 0, x, xp.zeros_like(x))


def relu_grad(x):
    """Derivative of relu: 1 where x > 0, else 0."""
    xp = _xp(x)
    return xp.astype(x > 0, x.dtype)


def leaky_relu(x, slope: float = 0.01):
    """x where x > 0, slope * x elsewhere."""
    xp = _xp(x)
    _check_slope(slope)
    return xp.where(x > 0, x, slope * x)


def leaky_relu_grad(x, slope: float = 0.01):
    """Derivative of leaky_relu: 1 where x > 0, slope elsewhere."""
    xp = _xp(x)
    _check_slope(slope)
    return xp.where(x > 0, xp.ones_like(x), xp.full_like(x, slope))


def sigmoid(x):
    """1 / (1 + exp(-x)), computed from exp(-|x|) so it never overflows."""
    xp = _xp(x)
    e = xp.exp(-xp.abs(x))  # in (0, 1]
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_grad(x):
    """s(x) * (1 - s(x)); largest, 0.25, at x = 0."""
    s = sigmoid(x)
    return s * (1 - s)


def tanh(x):
    """Hyperbolic tangent, a rescaled sigmoid: tanh(x) = 2 s(2x) - 1."""
    return _xp(x).tanh(x)


def tanh_grad(x):
    """1 - tanh(x)^2."""
    t = tanh(x)
    return 1 - t * t


def softplus(x):
    """log(1 + exp(x)) = max(x, 0) + log(1 + exp(-|x|)), stable for large |x|."""
    xp = _xp(x)
    return xp.maximum(x, xp.zeros_like(x)) + xp.log1p(xp.exp(-xp.abs(x)))


def softplus_grad(x):
    """The derivative of softplus is the sigmoid."""
    return sigmoid(x)
