"""Argument checks shared by the model constructors."""

from __future__ import annotations

import numpy as np


def check_positive_int(name: str, value: object) -> int:
    """``value`` as an int if it is a positive int (numpy ints too), else raise naming ``name``."""
    if not isinstance(value, int | np.integer) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name}={value!r} must be a positive int")
    return int(value)


def check_choice(name: str, value: object, choices: tuple) -> object:
    """Return ``value`` if it is one of ``choices``, else raise naming ``name``."""
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not one of {choices}")
    return value
