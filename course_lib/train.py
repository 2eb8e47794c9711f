"""Training utilities: device choice, seeding (and, later, the training loop).

Every function that touches tensors takes ``device=``; its default comes from
:func:`get_device`, so a notebook runs unchanged on a laptop CPU, a CUDA GPU or
an Apple-silicon Mac.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

DEVICE_ENV = "COURSE_DEVICE"
_KNOWN_DEVICES = ("cpu", "cuda", "mps")


def get_device(prefer: str | None = None) -> torch.device:
    """The device the course computes on: CUDA if present, then Apple MPS, else CPU.

    ``prefer`` (or the ``COURSE_DEVICE`` environment variable, e.g. ``COURSE_DEVICE=cpu``)
    forces a choice; asking for a device that is not available raises ``ValueError``
    rather than failing later inside a kernel.
    """
    choice = prefer if prefer is not None else os.environ.get(DEVICE_ENV, "").strip().lower()
    if choice:
        kind = choice.split(":")[0]
        if kind not in _KNOWN_DEVICES:
            raise ValueError(
                f"device={choice!r} is not a device the course knows; expected one of "
                f"{', '.join(_KNOWN_DEVICES)} (set through prefer= or ${DEVICE_ENV})"
            )
        if kind == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device={choice!r} was asked for, but torch sees no CUDA GPU")
        if kind == "mps" and not _mps_available():
            raise ValueError(f"device={choice!r} was asked for, but Apple MPS is not available")
        return torch.device(choice)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def set_seed(seed: int = 0, *, deterministic: bool = True) -> torch.Generator:
    """Seed Python, numpy and torch (all devices) and return a fresh ``torch.Generator``.

    With ``deterministic=True`` torch is asked for deterministic kernels where it has
    them, so a notebook run twice prints the same numbers.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed={seed!r} must be a non-negative int")
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 -- learners' own np.random calls repeat too
    torch.manual_seed(seed)  # also seeds every CUDA device
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        if torch.backends.cudnn.is_available():
            torch.backends.cudnn.benchmark = False
    return torch.Generator().manual_seed(seed)
