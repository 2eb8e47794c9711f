"""Shared helpers for the ops tests: draw inputs, convert between numpy and torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

KINDS = ("numpy", "torch")


def as_kind(a: np.ndarray, kind: str, device: str = "cpu"):
    """``a`` as a numpy array or as a torch tensor on ``device``."""
    if kind == "numpy":
        return a
    return torch.from_numpy(np.ascontiguousarray(a)).to(device)


def to_torch(a) -> torch.Tensor:
    """Anything array-like as a CPU torch tensor (for comparisons)."""
    if isinstance(a, torch.Tensor):
        return a.detach().cpu()
    a = np.array(a, copy=True)
    return torch.from_numpy(a.astype(a.dtype.newbyteorder("=")))  # torch needs native order


ODD_LAYOUTS = ("big-endian", "negative strides", "read-only", "fortran")


def odd_layout(a: np.ndarray, layout: str) -> np.ndarray:
    """``a``'s values in one of the layouts numpy allows besides C order (``ODD_LAYOUTS``):
    big-endian bytes, negative strides on every axis, read-only, or Fortran order."""
    a = np.asarray(a)
    if layout == "big-endian":
        return a.astype(a.dtype.newbyteorder(">"))
    if layout == "negative strides":
        out = np.flip(np.flip(a).copy())  # a view with every stride negated
        assert a.ndim == 0 or all(s <= 0 for s in out.strides)
        return out
    if layout == "read-only":
        out = a.copy()
        out.flags.writeable = False
        return out
    if layout == "fortran":
        return np.asfortranarray(a)
    raise ValueError(f"layout={layout!r} is not one of {ODD_LAYOUTS}")


def assert_same_kind(out, like) -> None:
    """The op returned the kind, dtype and device of its input."""
    if isinstance(like, torch.Tensor):
        assert isinstance(out, torch.Tensor), type(out)
        assert out.device == like.device and out.dtype == like.dtype
    else:
        assert isinstance(out, np.ndarray), type(out)
        assert out.dtype == like.dtype


# (rtol, atol) per dtype: torch.testing.assert_close's own defaults, except float64's atol,
# tightened from 1e-7 to 1e-9 so that a value near zero cannot hide an error of 1e-8. A
# float64 op that rounds correctly is off by about 1e-15; an op that forgets batch norm's
# eps=1e-5 is off by about 1e-6 relative (tests/test_mutations.py), which 1e-7 catches.
TOLERANCES = {
    torch.float64: (1e-7, 1e-9),
    torch.complex128: (1e-7, 1e-9),
    torch.float32: (1.3e-6, 1e-5),
    torch.complex64: (1.3e-6, 1e-5),
    torch.float16: (1e-3, 1e-5),
    torch.bfloat16: (1.6e-2, 1e-5),
}


def tol(dtype) -> tuple[float, float]:
    """(rtol, atol) for comparing values of ``dtype`` (a torch or numpy dtype, or an array).

    Integer and bool dtypes get (0, 0): exact equality.
    """
    if isinstance(dtype, (torch.Tensor, np.ndarray)):
        dtype = dtype.dtype
    if not isinstance(dtype, torch.dtype):
        dtype = torch.from_numpy(np.empty(0, dtype=np.dtype(dtype).newbyteorder("="))).dtype
    return TOLERANCES.get(dtype, (0.0, 0.0))


def close(actual, expected, rtol=None, atol=None, *, equal_nan=False) -> None:
    """``torch.testing.assert_close`` with the tolerances of :func:`tol` for the dtypes.

    The looser tolerance of the two dtypes is used (assert_close still fails when the
    dtypes differ); explicit ``rtol``/``atol`` override it (both or neither, as torch).
    """
    a, e = to_torch(actual), to_torch(expected)
    if rtol is None and atol is None:
        (ra, aa), (re, ae) = tol(a.dtype), tol(e.dtype)
        rtol, atol = max(ra, re), max(aa, ae)
    torch.testing.assert_close(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan)


# (kind, device) pairs every op test runs on; the CUDA one is skipped without a GPU
BACKENDS = [
    pytest.param("numpy", "cpu", id="numpy"),
    pytest.param("torch", "cpu", id="torch-cpu"),
    pytest.param("torch", "cuda", id="torch-cuda", marks=pytest.mark.gpu),
]
