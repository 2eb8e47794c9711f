"""Numerical gradient checking: is a hand-written backward pass right?

Centred differences approximate each partial derivative of a scalar loss
``L(x) = sum(f(x) * df)``:

    dL/dx[i] ~ (L(x + eps e_i) - L(x - eps e_i)) / (2 eps),

with an error of order eps^2. ``df`` plays the role of the upstream gradient, so the
numerical result is what a layer's backward must return for ``dout = df``. (The
technique as in cs231n's ``gradient_check.py``.)

The comparison, :func:`relative_error`, is ``||a - n|| / (||a|| + ||n||)`` over the
whole array (Euclidean norms), which does not depend on the scale of the gradient; in
float64 a correct backward gives about 1e-9 or less, a wrong one 1e-2 or more. It is
*not* cs231n's ``rel_error``, the largest elementwise ratio
``max |a - n| / max(1e-8, |a| + |n|)``: that one lets a single entry whose true
gradient is nearly 0 (where centred differences keep an absolute error of about 1e-10)
fail a correct backward, while the norm weighs every entry by the size of the whole
gradient.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from course_lib.validate import as_float_array, check_number

from ._backend import array_arg, contiguous, is_torch_array, namespace

__all__ = ["GradientCheck", "gradient_check", "numerical_gradient", "relative_error"]


def relative_error(analytic, numerical) -> float:
    """``||a - n|| / max(||a|| + ||n||, tiny)``: 0 when equal, up to 1 when unrelated.

    Norms over the whole arrays, computed in float64 (any float dtype goes in, bfloat16
    tensors included); see the module docstring for how this differs from cs231n's
    elementwise ``rel_error``.
    """
    a = as_float_array("analytic", array_arg("analytic", analytic))
    n = as_float_array("numerical", array_arg("numerical", numerical))
    if a.shape != n.shape:
        raise ValueError(
            f"analytic gradient has shape {a.shape}; expected {n.shape}, the shape of the "
            "numerical gradient (and of x)"
        )
    scale = float(np.linalg.norm(a) + np.linalg.norm(n))
    return float(np.linalg.norm(a - n) / max(scale, np.finfo(np.float64).tiny))


@dataclass(frozen=True)
class GradientCheck:
    """The numerical gradient of ``sum(f(x) * df)`` and, if given, its error against ``analytic``."""

    numerical: Any
    analytic: Any = None
    error: float | None = None

    def relative_error(self, analytic) -> float:
        """Relative error of ``analytic`` against the numerical gradient."""
        return relative_error(analytic, self.numerical)

    @property
    def passed(self) -> bool:
        """Whether an analytic gradient was given and agrees to a relative error < 1e-6."""
        return self.error is not None and self.error < 1e-6


def numerical_gradient(f: Callable, x, df=None, *, eps: float = 1e-6):
    """Centred-difference gradient of ``sum(f(x) * df)`` with respect to ``x``.

    f: function of one array returning an array (or a scalar); x: numpy array or torch
    tensor (float64 recommended); df: upstream gradient shaped like f(x), default all
    ones. Returns an array of x's kind and shape. Evaluates f 2 * x.size times.
    """
    if not callable(f):
        raise TypeError(f"f must be a function of one array, not {type(f).__name__}")
    x = array_arg("x", x, floating=True)
    df = None if df is None else contiguous(array_arg("df", df))  # C order: one summation order
    xp = namespace(x, df, names=("x", "df"))
    eps = check_number("eps", eps, positive=True)

    def loss(z) -> float:
        out = f(z)
        if df is None:
            return float(xp.sum(out)) if hasattr(out, "shape") else float(out)
        if tuple(out.shape) != tuple(df.shape):
            raise ValueError(
                f"df has shape {tuple(df.shape)}; expected {tuple(out.shape)}, the shape of f(x)"
            )
        return float(xp.sum(out * df))

    z = x.clone() if is_torch_array(x) else np.array(x, copy=True, order="C")
    grad = np.zeros(tuple(x.shape), dtype=np.float64)
    for idx in np.ndindex(*x.shape):
        original = float(z[idx])
        z[idx] = original + eps
        plus = loss(z)
        z[idx] = original - eps
        minus = loss(z)
        z[idx] = original
        grad[idx] = (plus - minus) / (2 * eps)
    if is_torch_array(x):
        return torch.from_numpy(grad).to(dtype=x.dtype, device=x.device)
    return grad.astype(x.dtype, copy=False)


def gradient_check(f: Callable, x, df=None, *, eps: float = 1e-6, analytic=None) -> GradientCheck:
    """Numerical gradient of ``sum(f(x) * df)`` and its relative error against ``analytic``.

    Pass the analytic gradient (from your backward function, with ``dout = df``) as
    ``analytic=``, or later to ``result.relative_error(...)``. In float64 a correct
    backward gives a relative error below 1e-6 (``result.passed``).

    >>> import numpy as np
    >>> x = np.linspace(-2.0, 2.0, 5)
    >>> gradient_check(np.tanh, x, analytic=1 - np.tanh(x) ** 2).passed
    True
    """
    numerical = numerical_gradient(f, x, df, eps=eps)
    error = None if analytic is None else relative_error(analytic, numerical)
    return GradientCheck(numerical=numerical, analytic=analytic, error=error)
