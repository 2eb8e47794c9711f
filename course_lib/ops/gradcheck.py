"""Numerical gradient checking: is a hand-written backward pass right?

Centred differences approximate each partial derivative of a scalar loss
``L(x) = sum(f(x) * df)``:

    dL/dx[i] ~ (L(x + eps e_i) - L(x - eps e_i)) / (2 eps),

with an error of order eps^2. ``df`` plays the role of the upstream gradient, so the
numerical result is what a layer's backward must return for ``dout = df``. The
comparison uses a relative error, ``||a - n|| / (||a|| + ||n||)``, which does not
depend on the scale of the gradient; in float64 a correct backward gives about 1e-9
or less, a wrong one 1e-2 or more. (The technique as in cs231n's gradient_check.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._backend import is_torch_array, namespace

__all__ = ["GradientCheck", "gradient_check", "numerical_gradient", "relative_error"]


def _to_numpy(a) -> np.ndarray:
    if is_torch_array(a):
        return a.detach().cpu().numpy()
    return np.asarray(a)


def relative_error(analytic, numerical) -> float:
    """``||a - n|| / max(||a|| + ||n||, tiny)``: 0 when equal, up to 1 when unrelated."""
    a = _to_numpy(analytic).astype(np.float64)
    n = _to_numpy(numerical).astype(np.float64)
    if a.shape != n.shape:
        raise ValueError(
            f"analytic gradient has shape {a.shape}; expected {n.shape}, the shape of x"
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
    xp = namespace(x, df, names=("x", "df"))
    if not (isinstance(eps, float) and eps > 0):
        raise ValueError(f"eps={eps!r} must be a positive float")
    if not xp.isdtype(x.dtype, "real floating"):
        raise TypeError(f"x has dtype {x.dtype}; expected a floating dtype (float64 is best)")

    def loss(z) -> float:
        out = f(z)
        if df is None:
            return float(xp.sum(out)) if hasattr(out, "shape") else float(out)
        if tuple(out.shape) != tuple(df.shape):
            raise ValueError(
                f"df has shape {tuple(df.shape)}; expected {tuple(out.shape)}, the shape of f(x)"
            )
        return float(xp.sum(out * df))

    z = x.clone() if is_torch_array(x) else np.array(x, copy=True)
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
        import torch

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
