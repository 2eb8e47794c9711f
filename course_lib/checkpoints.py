"""Checkpoints: a model's (and optimizer's) state dict plus plain metadata, on disk.

Files hold only tensors, numbers, strings, lists and dicts, and are read with
``torch.load(..., weights_only=True)``, so loading a checkpoint never runs code.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from course_lib.device import resolve_device

__all__ = ["load_checkpoint", "save_checkpoint"]



_PLAIN = (int, float, bool, str, type(None))


def _check_plain(value, where: str) -> None:
    """Refuse metadata that ``torch.load(weights_only=True)`` could not read back."""
    if type(value) in _PLAIN or isinstance(value, torch.Tensor):
        return
    if type(value) in (list, tuple):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
        return
    if type(value) in (dict, OrderedDict):
        for k, item in value.items():
            if type(k) not in (str, int):
                raise TypeError(
                    f"metadata {where!r} has a key {k!r} of type {type(k).__name__}; "
                    "expected str or int keys"
                )
            _check_plain(item, f"{where}[{k!r}]")
        return
    raise TypeError(
        f"metadata {where!r} is a {type(value).__module__}.{type(value).__name__}, which "
        "torch.load(weights_only=True) cannot read back; expected tensors, int, float, bool, "
        "str, None or lists/tuples/dicts of those; convert it first, e.g. "
        "history=h.as_dict(), array.tolist() or torch.as_tensor(array)"
    )


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    **metadata,
) -> Path:
    """Save the model's (and optimizer's) state dict plus plain ``metadata`` to ``path``.

    Only tensors, numbers, strings, lists and dicts are stored, so the file loads with
    ``torch.load(..., weights_only=True)``; e.g. ``history=h.as_dict()``.
    """
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path={path!r} must be a str or a path")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model is a {type(model).__name__}; expected a torch.nn.Module")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer is a {type(optimizer).__name__}; expected a torch.optim.Optimizer")
    for key, value in metadata.items():
        _check_plain(value, key)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "metadata": metadata,
    }
    torch.save(state, path)
    return path


def load_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    device: torch.device | str | None = None,
) -> dict:
    """Load a :func:`save_checkpoint` file into ``model`` (and ``optimizer``) in place.

    Reads with ``weights_only=True`` (no arbitrary code runs); returns the metadata.
    """
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path={path!r} must be a str or a path")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model is a {type(model).__name__}; expected a torch.nn.Module")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer is a {type(optimizer).__name__}; expected a torch.optim.Optimizer")
    device = resolve_device(device)
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path={str(path)!r} is not a file; expected a save_checkpoint file")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except (EOFError, pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, ValueError) as err:
        raise ValueError(
            f"{path} is not a course checkpoint: torch.load(weights_only=True) could not read "
            f"it ({type(err).__name__}); expected a file written by save_checkpoint"
        ) from None
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
        raise ValueError(f"{path} is not a course checkpoint (no 'model' state dict)")
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as err:
        first = str(err).splitlines()[1:3]
        raise ValueError(
            f"{path} holds a state dict that does not fit this model: "
            f"{' '.join(s.strip() for s in first)}; build the same architecture first"
        ) from None
    model.to(device)
    if optimizer is not None:
        if state.get("optimizer") is None:
            raise ValueError(f"{path} holds no optimizer state")
        try:
            optimizer.load_state_dict(state["optimizer"])
        except (ValueError, KeyError) as err:
            raise ValueError(f"{path}: the optimizer state does not fit this optimizer ({err})") from None
    return state.get("metadata") or {}
