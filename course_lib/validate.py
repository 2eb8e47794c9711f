"""One rule for checking arguments, used by every public function of the course.

- A value of the wrong *type* raises ``TypeError``; a value of the right type but
  outside what is allowed raises ``ValueError``.
- The message names the parameter, shows the value and says what was expected:
  ``"stride=0 must be a positive int"``.
- numpy and torch scalars count as numbers wherever a Python number does
  (``np.int64(8)``, ``np.float32(0.5)``, ``torch.tensor(3)``); ``True``/``False`` never do.

This module imports only the standard library, numpy and torch, so anything in the library may use it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

__all__ = [
    "as_float_array",
    "check_array",
    "check_bool",
    "check_choice",
    "check_dtype",
    "check_generator",
    "check_int",
    "check_number",
    "check_pair",
    "check_path",
    "check_probability",
    "check_seed",
    "check_shape",
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
    if what is None:
        if minimum is None and maximum is None:
            what = "an int"
        elif minimum == 1 and maximum is None:
            what = "a positive int"
        elif minimum == 0 and maximum is None:
            what = "a non-negative int"
        elif maximum is None:
            what = f"an int >= {minimum}"
        elif minimum is None:
            what = f"an int <= {maximum}"
        else:
            what = f"an int in [{minimum}, {maximum}]"
    if not is_integer(value):
        kind = "a bool" if isinstance(value, bool | np.bool_) else type(value).__name__
        raise TypeError(f"{name}={_describe(value)} must be {what}, not {kind}")
    v = int(value)
    if (minimum is not None and v < minimum) or (maximum is not None and v > maximum):
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


def check_generator(name: str, value) -> torch.Generator | None:
    """A source of randomness for torch draws, as ``None`` or a ``torch.Generator``.

    Accepts ``None`` (torch's global generator), an int seed (a fresh CPU generator
    seeded with it), a ``torch.Generator`` on any device (returned as it is) and a
    ``numpy.random.Generator`` (a CPU generator seeded from one draw of it, so the numpy
    generator's state decides the numbers). Anything else, a bool included, raises
    ``TypeError``; a seed outside [0, 2**64) raises ``ValueError``. Draw on the returned
    generator's device and move the numbers to the data's, so that the CPU generator
    ``course_lib.device.set_seed`` returns serves tensors on every device.
    """
    if value is None or isinstance(value, torch.Generator):
        return value
    if isinstance(value, np.random.Generator):
        seed = int(value.integers(0, 2**63 - 1))
        return torch.Generator().manual_seed(seed)
    if is_integer(value):
        seed = check_int(name, value, minimum=0, maximum=2**64 - 1, what="an int seed >= 0")
        return torch.Generator().manual_seed(seed)
    kind = "a bool" if isinstance(value, bool | np.bool_) else type(value).__name__
    raise TypeError(
        f"{name}={_describe(value)} must be None, an int seed, a torch.Generator or a "
        f"numpy.random.Generator, not {kind}"
    )


def check_shape(
    name: str,
    value,
    *,
    length: int | Sequence[int] | None = None,
    minimum: int = 1,
    layout: str = "",
) -> tuple[int, ...]:
    """A shape such as ``(C, H, W)`` as a tuple of Python ints, each >= ``minimum``.

    Accepts a tuple, list or ``torch.Size`` of ints (numpy and 0-d torch ints too).
    Anything else raises ``TypeError``; a wrong number of entries (``length``: one or
    several allowed lengths; ``layout`` words it, e.g. ``"(C, H, W)"``) or an entry
    below ``minimum`` raises ``ValueError``.
    """
    if not isinstance(value, tuple | list):
        raise TypeError(
            f"{name}={_describe(value)} must be a tuple of sizes such as "
            f"{layout or '(1, 32, 32)'}, not {type(value).__name__}"
        )
    if length is not None:
        allowed = (int(length),) if is_integer(length) else tuple(length)
        if len(value) not in allowed:
            raise ValueError(
                f"{name}={tuple(value)!r} has {len(value)} entries; expected "
                f"{layout or ' or '.join(map(str, allowed)) + ' entries'}"
            )
    out = []
    for i, v in enumerate(value):
        if not is_integer(v):
            kind = "a bool" if isinstance(v, bool | np.bool_) else type(v).__name__
            raise TypeError(f"{name}[{i}]={_describe(v)} must be an int size, not {kind}")
        if int(v) < minimum:
            raise ValueError(
                f"{name}={tuple(int(e) if is_integer(e) else e for e in value)!r} has "
                f"{name}[{i}]={int(v)}; every size must be >= {minimum}"
            )
        out.append(int(v))
    return tuple(out)


def as_float_array(
    name: str, x, *, ndim: int | Sequence[int] | None = None, layout: str = ""
) -> np.ndarray:
    """``x`` as a new, writable, C-ordered float64 numpy array (torch tensors on any device,
    numpy arrays of any byte order or strides, nested lists of numbers).

    ``None``, strings, dicts and other objects, and arrays that do not hold real numbers
    (bool and complex ones included), raise ``TypeError``; a wrong number of dimensions
    raises ``ValueError`` worded with ``layout`` (e.g. ``"(H, W)"``).
    """
    if isinstance(x, torch.Tensor):
        if x.dtype == torch.bool or x.is_complex():
            raise TypeError(f"{name} has dtype {x.dtype}; expected real numbers")
        arr = x.detach().to("cpu", torch.float64).numpy()
    elif isinstance(x, np.ndarray | list | tuple):
        if isinstance(x, np.ndarray) and not (
            np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)
        ):
            raise TypeError(f"{name} has dtype {x.dtype}; expected real numbers")
        try:
            arr = np.asarray(x)
            if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
                raise TypeError(f"dtype {arr.dtype}")
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} is not an array of real numbers ({exc})") from None
    else:
        raise TypeError(
            f"{name} must be a numpy array or a torch tensor, not {type(x).__name__}"
        )
    if ndim is not None:
        allowed = (int(ndim),) if is_integer(ndim) else tuple(ndim)
        if arr.ndim not in allowed:
            raise ValueError(
                f"{name} has {arr.ndim} dimensions (shape {tuple(arr.shape)}); expected "
                f"{layout or ' or '.join(map(str, allowed)) + ' dimensions'}"
            )
    return np.array(arr, dtype=np.float64, order="C", copy=True)


def check_dtype(name: str, value, *, floating: bool = False, allow_none: bool = False):
    """A ``torch.dtype`` (``floating=True``: a floating one such as ``torch.float32``).

    ``None`` passes through when ``allow_none`` (torch's "the default dtype"). Anything
    else raises ``TypeError``; a non-floating dtype where ``floating=True`` raises
    ``ValueError``.
    """
    if value is None and allow_none:
        return None
    if not isinstance(value, torch.dtype):
        expected = "a torch.dtype such as torch.float32" + (" or None" if allow_none else "")
        raise TypeError(f"{name}={_describe(value)} must be {expected}, not {type(value).__name__}")
    if floating and not value.is_floating_point:
        raise ValueError(f"{name}={value} must be a floating dtype such as torch.float32")
    return value


MAX_SEED = 2**32 - 1  # numpy's np.random.seed and scikit-learn's random_state stop here


def check_seed(name: str, value) -> int:
    """An int seed in [0, 2**32 - 1] (numpy's and scikit-learn's range), as a Python int."""
    return check_int(name, value, minimum=0, maximum=MAX_SEED, what="an int seed in [0, 2**32 - 1]")


def check_path(name: str, value, *, allow_none: bool = False) -> Path | None:
    """A file or folder name (a ``str`` or ``os.PathLike`` such as ``pathlib.Path``) as a Path.

    ``None`` passes through when ``allow_none``. Other types raise ``TypeError``; an
    empty string raises ``ValueError``. Whether the path exists is not checked here.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, str | os.PathLike) and isinstance(os.fspath(value), str):
        if os.fspath(value) == "":
            raise ValueError(f"{name}='' must name a file or folder, not be empty")
        return Path(value)
    expected = "a path (a str or pathlib.Path)" + (" or None" if allow_none else "")
    kind = "a bool" if isinstance(value, bool | np.bool_) else type(value).__name__
    raise TypeError(f"{name}={_describe(value)} must be {expected}, not {kind}")
