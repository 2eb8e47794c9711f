"""Data plumbing for the training loop: turn what a learner passes into batches.

``fit``, ``evaluate`` and ``predict`` accept a ``TensorDataset``, a pair
``(inputs, targets)`` of tensors or numpy arrays (batched by indexing: the fast path),
any ``Dataset`` or a ``DataLoader``. This module checks that data once, up front,
and yields ``(x, y)`` batches on the device, so the loop itself stays short.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

from course_lib.device import resolve_device
from course_lib.validate import check_array, check_bool, check_dtype, check_generator, check_int

__all__ = ["DataLike", "as_tensors", "batches", "check_targets", "count_correct", "match_dtype"]

DataLike = Dataset | DataLoader | tuple | list


def as_tensors(data: DataLike, name: str) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(x, y) tensors if ``data`` is a TensorDataset or a pair of arrays, else None."""
    if isinstance(data, TensorDataset):
        if len(data.tensors) != 2:
            raise ValueError(f"{name} must hold (inputs, targets); got {len(data.tensors)} tensors")
        return data.tensors[0], data.tensors[1]
    if isinstance(data, tuple | list):
        if len(data) != 2:
            raise ValueError(f"{name} must be a pair (inputs, targets); got {len(data)} items")
        pair = []
        for part, a in zip(("inputs", "targets"), data, strict=True):
            if isinstance(a, torch.Tensor):
                pair.append(a)
                continue
            if a is None or isinstance(a, str | bytes | dict):
                raise TypeError(
                    f"{name} {part} is a {type(a).__name__}; expected a tensor or an array"
                )
            arr = np.asarray(a)
            if arr.dtype == object:
                raise TypeError(f"{name} {part} are not numbers (numpy made an object array)")
            if arr.ndim == 0:  # before ascontiguousarray, which makes it 1-d
                raise ValueError(
                    f"{name} {part} is a single number ({arr.item()!r}); expected an array "
                    "with a leading example axis"
                )
            # native byte order and C layout: torch cannot wrap the others
            pair.append(torch.from_numpy(np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("="))))
        x, y = pair
        if x.ndim == 0 or y.ndim == 0:
            raise ValueError(f"{name}: inputs and targets need a leading example axis")
        if x.shape[0] != y.shape[0]:
            raise ValueError(
                f"{name}: inputs have {x.shape[0]} examples but targets have {y.shape[0]}"
            )
        return x, y
    if isinstance(data, Dataset | DataLoader):
        return None
    raise TypeError(
        f"{name} is a {type(data).__name__}; expected a TensorDataset, a Dataset, a DataLoader "
        "or a pair (inputs, targets)"
    )


def _tensor_pair(param: str, tensors) -> tuple[torch.Tensor, torch.Tensor]:
    """``tensors`` as an (inputs, targets) pair of torch tensors, as :func:`as_tensors` gives."""
    if not (
        isinstance(tensors, tuple | list)
        and len(tensors) == 2
        and all(isinstance(t, torch.Tensor) for t in tensors)
    ):
        kinds = (
            f"a {type(tensors).__name__} of {len(tensors)}: "
            f"{', '.join(type(t).__name__ for t in tensors)}"
            if isinstance(tensors, tuple | list)
            else f"a {type(tensors).__name__}"
        )
        raise TypeError(
            f"{param} must be a pair (inputs, targets) of torch tensors, as as_tensors gives; "
            f"got {kinds}"
        )
    return tensors[0], tensors[1]


def _int_or_none(name: str, value) -> int | None:
    return None if value is None else check_int(name, value, what="an int (a label) or None")


def match_dtype(
    tensors: tuple[torch.Tensor, torch.Tensor] | None, dtype: torch.dtype, name: str, *, cast: bool
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Inputs in the model's floating ``dtype``: cast when ``cast`` (numpy data, where float64
    is numpy's default), else a ``TypeError`` that says how to convert."""
    if tensors is None:
        return None
    x, y = _tensor_pair("tensors", tensors)
    dtype = check_dtype("dtype", dtype)
    cast = check_bool("cast", cast)
    if x.dtype == dtype:
        return tensors
    if cast and (x.is_floating_point() or x.dtype in (torch.uint8, torch.int64, torch.int32)):
        return x.to(dtype), y
    if not x.is_floating_point():
        raise TypeError(
            f"{name} inputs have dtype {x.dtype}; expected floating inputs of dtype {dtype}, "
            f"e.g. x.to({dtype})"
        )
    raise TypeError(
        f"{name} inputs have dtype {x.dtype} but the model's parameters are {dtype}; "
        f"expected inputs of dtype {dtype}, e.g. x.to({dtype}) (or convert the model)"
    )


def check_targets(logits: torch.Tensor, y: torch.Tensor, ignore_index, name: str) -> None:
    """Class-label targets for cross-entropy: integer labels in [0, number of outputs)."""
    _check_tensor("logits", logits)
    _check_tensor("y", y)
    ignore_index = _int_or_none("ignore_index", ignore_index)
    if logits.ndim < 2:
        return
    if y.is_floating_point():
        if tuple(y.shape[1:]) == tuple(logits.shape[1:]):
            return  # class probabilities, shaped like the logits
        raise TypeError(
            f"{name} targets have dtype {y.dtype}; expected integer class labels for "
            "cross-entropy, e.g. y.long() (or class probabilities shaped like the outputs)"
        )
    labels = y if ignore_index is None else y[y != ignore_index]
    if labels.numel() == 0:
        return
    lo, hi = torch.aminmax(labels)  # one sync for both
    lo, hi, classes = int(lo), int(hi), logits.shape[1]
    if lo < 0 or hi >= classes:
        raise ValueError(
            f"{name} targets hold labels in [{lo}, {hi}] but the model gives {classes} "
            f"outputs per example; expected labels in [0, {classes}) (does the model's "
            "num_classes match the data?)"
        )


def batches(
    data: DataLike,
    tensors: tuple[torch.Tensor, torch.Tensor] | None,
    *,
    batch_size: int,
    shuffle: bool,
    generator: torch.Generator | None,
    device: torch.device,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield (x, y) batches on ``device``; ``generator`` (on the CPU) orders a shuffle.

    ``tensors`` is what :func:`as_tensors` made of ``data``: a pair (batched by
    indexing), or None for a ``Dataset`` or ``DataLoader`` (batched by a DataLoader).
    The arguments are checked when it is called, before the first batch is asked for.
    """
    if tensors is not None:
        tensors = _tensor_pair("tensors", tensors)
    elif not isinstance(data, Dataset | DataLoader):
        raise TypeError(
            f"tensors is None, so data must be a Dataset or a DataLoader, not a "
            f"{type(data).__name__} (for a pair of arrays pass tensors=as_tensors(data, name))"
        )
    batch_size = check_int("batch_size", batch_size, minimum=1)
    shuffle = check_bool("shuffle", shuffle)
    generator = check_generator("generator", generator)
    device = resolve_device(device)
    return _batches(data, tensors, batch_size, shuffle, generator, device)


def _batches(data, tensors, batch_size, shuffle, generator, device):
    if tensors is not None:
        x, y = tensors
        n = x.shape[0]
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            yield (
                x[idx.to(x.device)].to(device, non_blocking=True),
                y[idx.to(y.device)].to(device, non_blocking=True),
            )
        return
    loader = (
        data
        if isinstance(data, DataLoader)
        else DataLoader(data, batch_size=batch_size, shuffle=shuffle, generator=generator)
    )
    for xb, yb in loader:
        yield xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)


def count_correct(logits: torch.Tensor, y: torch.Tensor, ignore_index: int | None):
    """(number correct, number counted) as tensors on the device, or None for non-label targets.

    logits (N, C) or (N, C, H, W); y (N,) or (N, H, W) labels.
    """
    _check_tensor("logits", logits)
    _check_tensor("y", y)
    ignore_index = _int_or_none("ignore_index", ignore_index)
    if y.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8) or logits.ndim < 2:
        return None
    if tuple(y.shape) != (logits.shape[0], *logits.shape[2:]):
        raise ValueError(
            f"logits have shape {tuple(logits.shape)} and y {tuple(y.shape)}; expected y of "
            f"shape {(logits.shape[0], *logits.shape[2:])}, one label per output (N, C, ...)"
        )
    pred = logits.max(1).indices  # (N,) or (N, H, W); several times faster than argmax(1) on CPU
    if ignore_index is None:
        return (pred == y).sum(), torch.tensor(y.numel(), device=y.device)
    valid = y != ignore_index
    return ((pred == y) & valid).sum(), valid.sum()


def _check_tensor(name: str, value) -> None:
    if not isinstance(value, torch.Tensor):
        hint = " (convert it with torch.from_numpy)" if isinstance(value, np.ndarray) else ""
        raise TypeError(f"{name} must be a torch tensor, not {type(value).__name__}{hint}")
    check_array(name, value)
