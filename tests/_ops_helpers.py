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
    return torch.from_numpy(np.array(a, copy=True))


def assert_same_kind(out, like) -> None:
    """The op returned the kind, dtype and device of its input."""
    if isinstance(like, torch.Tensor):
        assert isinstance(out, torch.Tensor), type(out)
        assert out.device == like.device and out.dtype == like.dtype
    else:
        assert isinstance(out, np.ndarray), type(out)
        assert out.dtype == like.dtype


def close(actual, expected, rtol=1e-5, atol=1e-8) -> None:
    torch.testing.assert_close(to_torch(actual), to_torch(expected), rtol=rtol, atol=atol)


# (kind, device) pairs every op test runs on; the CUDA one is skipped without a GPU
BACKENDS = [
    pytest.param("numpy", "cpu", id="numpy"),
    pytest.param("torch", "cpu", id="torch-cpu"),
    pytest.param("torch", "cuda", id="torch-cuda", marks=pytest.mark.gpu),
]
