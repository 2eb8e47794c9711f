"""Where and how the course computes: device choice, seeding, thread limits.

The bottom of the library: every function that takes ``device=`` turns it into a
``torch.device`` with :func:`resolve_device`, so ``device="gpu"`` or ``device="cuda"``
on a machine without CUDA gets the same clear ``ValueError`` everywhere.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from course_lib.validate import check_bool, check_int, check_seed

__all__ = [
    "DEVICE_ENV",
    "get_device",
    "resolve_device",
    "set_seed",
    "torch_threads",
]

DEVICE_ENV = "COURSE_DEVICE"
_KNOWN_DEVICES = ("cpu", "cuda", "mps", "meta")
# cuBLAS needs a fixed workspace for deterministic matrix products on CUDA
_CUBLAS_ENV = "CUBLAS_WORKSPACE_CONFIG"
_MAX_THREADS = 1024


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def _checked(choice: str, where: str) -> torch.device:
    kind = choice.split(":")[0]
    if kind not in _KNOWN_DEVICES:
        raise ValueError(
            f"{where}={choice!r} is not a device the course knows; expected one of "
            f"{', '.join(_KNOWN_DEVICES[:3])}, e.g. 'cpu' or 'cuda:0'"
        )
    try:
        dev = torch.device(choice)
    except RuntimeError:
        raise ValueError(
            f"{where}={choice!r} is not a valid device string; expected e.g. 'cpu' or 'cuda:0'"
        ) from None
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"{where}={choice!r} was asked for, but torch sees no CUDA GPU")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"{where}={choice!r} was asked for, but torch sees "
                f"{torch.cuda.device_count()} CUDA device(s)"
            )
    if kind == "mps" and not _mps_available():
        raise ValueError(f"{where}={choice!r} was asked for, but Apple MPS is not available")
    return dev


def get_device(prefer: str | None = None) -> torch.device:
    """The device the course computes on: CUDA if present, then Apple MPS, else CPU.

    ``prefer`` (or the ``COURSE_DEVICE`` environment variable, e.g. ``COURSE_DEVICE=cpu``)
    forces a choice; asking for a device that is not available raises ``ValueError``
    rather than failing later inside a kernel.
    """
    if prefer is not None:
        if not isinstance(prefer, str):
            raise TypeError(f"prefer={prefer!r} must be a device name such as 'cpu', or None")
        return _checked(prefer.strip().lower(), "prefer")
    env = os.environ.get(DEVICE_ENV, "").strip().lower()
    if env:
        return _checked(env, f"${DEVICE_ENV}")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve_device(device: torch.device | str | None = None) -> torch.device:
    """``device=`` as every course function takes it: None (the course's default,
    :func:`get_device`), a name such as ``"cpu"`` or ``"cuda:0"``, or a ``torch.device``.

    A device that is unknown or not present raises ``ValueError``; anything else
    ``TypeError``. torch's ``meta`` device (shapes without data) is accepted, so that
    tests can catch a tensor left on the CPU next to a device tensor.
    """
    if device is None:
        return get_device()
    if isinstance(device, torch.device):
        return _checked(str(device), "device")
    if isinstance(device, str):
        return _checked(device.strip().lower(), "device")
    raise TypeError(
        f"device={device!r} must be None, a string such as 'cpu' or 'cuda', or a torch.device"
    )


def set_seed(seed: int = 0, *, deterministic: bool = True) -> torch.Generator:
    """Seed Python, numpy and torch (all devices) and return a fresh CPU ``torch.Generator``.

    With ``deterministic=True`` torch is asked for deterministic kernels where it has
    them (and cuBLAS for a fixed workspace), so a notebook run twice prints the same
    numbers. Course functions that draw random numbers accept this CPU generator for
    tensors on any device.
    """
    seed = check_seed("seed", seed)  # numpy's range, [0, 2**32 - 1]
    deterministic = check_bool("deterministic", deterministic)
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 -- learners' own np.random calls repeat too
    torch.manual_seed(seed)  # also seeds every CUDA device
    if deterministic:
        # must be set before the first cuBLAS call to take effect; harmless on CPU
        os.environ.setdefault(_CUBLAS_ENV, ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        if torch.backends.cudnn.is_available():
            torch.backends.cudnn.benchmark = False
    return torch.Generator().manual_seed(seed)


@contextmanager
def torch_threads(num_threads: int | None) -> Iterator[None]:
    """Run the block with ``num_threads`` intra-op torch threads, then restore the old one.

    ``None`` leaves torch's setting alone; otherwise an int in [1, 1024] (more threads
    than that is a mistake, not a machine).
    """
    if num_threads is None:
        yield
        return
    num_threads = check_int("num_threads", num_threads, minimum=1, maximum=_MAX_THREADS)
    old = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(old)
