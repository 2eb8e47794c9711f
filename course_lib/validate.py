"""One rule for checking arguments, used by every public function of the course.

- A value of the wrong *type* raises ``TypeError``; a value of the right type but
  outside what is allowed raises ``ValueError``.
- The message names the parameter, shows the value and says what was expected:
  ``"stride=0 must be a positive int"``.
- numpy and torch scalars count as numbers wherever a Python number does
  (``np.int64(8)``, ``np.float32(0.5)``, ``torch.tensor(3)``); ``True``/``False`` never do.

This module imports only numpy and torch, so anything in the library may use it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

__all__ = [
    "check_array",
    "check_bool",
    "check_choice",
    "check_int",
    "check_number",
    "check_pair",
    "check_probability",
    "is_integer",
    "is_number",
]


def _zero_d(value) -> bool:
    return isinstance(value, torch.Tensor | np.ndarray) and value.ndim == 0


def is_integer(value) -> bool:
    """A Python, numpy or 0-d torch integer (not a bool)."""
    if isinstance(value, bool | np.bool_):
        return False
    if isinstance(value, int | np.integer):
        return True
    if _zero_d(value):
        if isinstance(value, torch.Tensor):
            return not value.is_floating_point() and not value.is_complex() and (
                value.dtype != torch.bool
            )
        return np.issubdtype(value.dtype, np.integer)
    return False


def is_number(value) -> bool:
    """A real Python, numpy or 0-d torch number (integer or floating; not a bool)."""
    if is_integer(value):
        return True
    if isinstance(value, float | np.floating):
        return True
    if _zero_d(value):
        if isinstance(value, torch.Tensor):
            return value.is_floating_point()
        return np.issubdtype(value.dtype, np.floating)
    return False


def _describe(value) -> str:
    return f"{value!r}" if not isinstance(value, torch.Tensor | np.ndarray) else (
        f"{type(value).__name__} of shape {tuple(value.shape)}"
        if value.ndim
        else repr(value.item())
    )


def check_int(
    name: str,
    value,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    what: str | None = None,
) -> int:
    """``value`` as a Python int within [minimum, maximum]; ``what`` words the expectation."""
    if not is_integer(value):
        kind = "a bool" if isinstance(value, bool | np.bool_) else type(value).__name__
        raise TypeError(f"{name}={_describe(value)} must be {what or 'an int'}, not {kind}")
    v = int(value)
    if (minimum is not None and v < minimum) or (maximum is not None and v > maximum):
        if what is None:
            if minimum == 1 and maximum is None:
                what = "a positive int"
            elif minimum == 0 and maximum is None:
                what = "a non-negative int"
            elif maximum is None:
                what = f"an int >= {minimum}"
            elif minimum is None:
                what = f"an int <= {maximum}"
            else:
                what = f"an int in [{minimum}, {maximum}]"
        raise ValueError(f"{name}={v} must be {what}")
    return v


def check_number(
    name: str,
    value,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    positive: bool = False,
    below: float | None = None,
    allow_inf: bool = False,
    what: str | None = None,
) -> float:
    """``value`` as a finite Python float (NaN is always refused).

    ``minimum``/``maximum`` are inclusive bounds; ``positive=True`` asks for > 0 and
    ``below`` for a strict upper bound.
    """
    if not is_number(value):
        kind = "a bool" if isinstance(value, bool | np.bool_) else type(value).__name__
        raise TypeError(f"{name}={_describe(value)} must be {what or 'a number'}, not {kind}")
    v = float(value)
    bad = (
        math.isnan(v)
        or (math.isinf(v) and not allow_inf)
        or (minimum is not None and v < minimum)
        or (maximum is not None and v > maximum)
        or (positive and not v > 0)
        or (below is not None and not v < below)
    )
    if bad:
        if what is None:
            parts = []
            if positive:
                parts.append("> 0")
            if minimum is not None:
                parts.append(f">= {minimum}")
            if maximum is not None:
                parts.append(f"<= {maximum}")
            if below is not None:
                parts.append(f"< {below}")
            what = "a finite number" + (" " + " and ".join(parts) if parts else "")
        raise ValueError(f"{name}={v!r} must be {what}")
    return v


def check_probability(name: str, value, *, allow_one: bool = True) -> float:
    """A probability in [0, 1] (or [0, 1) with ``allow_one=False``)."""
    if allow_one:
        return check_number(name, value, minimum=0.0, maximum=1.0, what="a probability in [0, 1]")
    return check_number(name, value, minimum=0.0, below=1.0, what="a probability in [0, 1)")


def check_bool(name: str, value) -> bool:
    """``True`` or ``False`` (numpy's bool too), nothing else."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name}={value!r} must be True or False, not {type(value).__name__}")
    return bool(value)


def check_choice(name: str, value, choices: Sequence):
    """``value`` if it is one of ``choices``; else ``TypeError`` (wrong type) or ``ValueError``."""
    kinds = {type(c) for c in choices}
    if kinds and not any(isinstance(value, k) for k in kinds):
        raise TypeError(
            f"{name}={value!r} must be one of {tuple(choices)}, not {type(value).__name__}"
        )
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not one of {tuple(choices)}")
    return value


def check_pair(name: str, value, *, minimum: int = 0, what: str | None = None) -> tuple[int, int]:
    """An int or an (h, w) pair of ints, each >= ``minimum``, as a tuple of two ints."""
    if isinstance(value, tuple | list):
        if len(value) != 2:
            raise ValueError(f"{name}={value!r} must be an int or an (h, w) pair")
        pair = tuple(value)
    else:
        pair = (value, value)
    out = []
    for v in pair:
        if not is_integer(v):
            raise TypeError(f"{name}={value!r} must be an int or an (h, w) pair of ints")
        if int(v) < minimum:
            expectation = what or ("positive (> 0)" if minimum == 1 else f">= {minimum}")
            raise ValueError(f"{name}={value!r} must be {expectation}")
        out.append(int(v))
    return out[0], out[1]


def check_array(
    name: str,
    x,
    *,
    ndim: int | Sequence[int] | None = None,
    layout: str = "",
    floating: bool = False,
    allow_empty: bool = True,
):
    """``x`` if it is a numpy array or a torch tensor with the right number of dimensions.

    ``None``, lists and other objects raise ``TypeError``; a wrong number of dimensions,
    an integer array where ``floating=True``, or an empty array where
    ``allow_empty=False``, raise ``ValueError`` (dtype problems: ``TypeError``).
    """
    if not isinstance(x, np.ndarray | torch.Tensor):
        hint = " (convert it with np.asarray(...) or torch.tensor(...))" if isinstance(
            x, list | tuple
        ) else ""
        raise TypeError(
            f"{name} must be a numpy array or a torch tensor, not {type(x).__name__}{hint}"
        )
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in allowed:
            raise ValueError(
                f"{name} has {x.ndim} dimensions (shape {tuple(x.shape)}); expected "
                f"{layout or ' or '.join(map(str, allowed)) + ' dimensions'}"
            )
    if floating:
        is_float = (
            x.is_floating_point()
            if isinstance(x, torch.Tensor)
            else np.issubdtype(x.dtype, np.floating)
        )
        if not is_float:
            raise TypeError(
                f"{name} has dtype {x.dtype}; expected a floating dtype such as float32 "
                "(convert with .astype(np.float32) or .float())"
            )
    if not allow_empty and math.prod(x.shape) == 0:
        raise ValueError(f"{name} has shape {tuple(x.shape)}, which is empty; expected data")
    return x
