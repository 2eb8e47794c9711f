"""Checks for lesson 00's warm-up exercises (the mechanism on something small).

* Exercise 0.1 :func:`check_invert`: the photographic negative of a grey image with
  values in [0, 1] is ``1 - image``.
* Exercise 0.2 :func:`check_count_values`: how many numbers a 1000x1000 colour
  photo holds (lesson 01 starts from this number).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_lib.checks import Case, CheckResult, Mistake, check_function, check_value

__all__ = ["check_count_values", "check_invert"]

_RNG = np.random.default_rng(0)
_INVERT_CASES = [
    Case(
        "black, grey and white pixels",
        (np.array([[0.0, 0.5, 1.0]]),),
        expected=np.array([[1.0, 0.5, 0.0]]),
    ),
    Case(
        "a 2x3 image",
        (np.array([[0.1, 0.2, 0.3], [0.7, 0.8, 0.9]]),),
        expected=np.array([[0.9, 0.8, 0.7], [0.3, 0.2, 0.1]]),
    ),
]
_random_image = _RNG.random((4, 5))
_INVERT_CASES.append(Case("a random 4x5 image", (_random_image,), expected=1.0 - _random_image))

_INVERT_MISTAKES = [
    Mistake(
        "you negated the values (-image): brightness must stay between 0 and 1, so "
        "black (0) has to become white (1). Subtract from 1 instead.",
        lambda image: -image,
    ),
    Mistake(
        "you subtracted from 255: that is the rule for 8-bit images with values 0..255. "
        "The course's images are floats between 0 and 1.",
        lambda image: 255.0 - image,
    ),
    Mistake(
        "you took 1 / image: a negative is 1 - image, not the reciprocal.",
        lambda image: _reciprocal(image),
    ),
    Mistake(
        "you returned the image unchanged.",
        lambda image: image,
    ),
]


def _reciprocal(image: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):  # 1/0 = inf, quietly
        return 1.0 / np.asarray(image, dtype=np.float64)


def check_invert(fn: Any) -> CheckResult:
    """Exercise 0.1: ``fn(image)`` returns ``1 - image`` for a (H, W) image in [0, 1]."""
    return check_function("Exercise 0.1", fn, _INVERT_CASES, mistakes=_INVERT_MISTAKES)


_COUNT_MISTAKES = [
    Mistake(
        "that is one number per pixel: a colour pixel holds three (red, green, blue).",
        lambda: 1_000_000,
    ),
    Mistake("you added 1000 + 1000 + 1000 instead of multiplying 1000 * 1000 * 3.", lambda: 3000),
    Mistake(
        "three colour channels, not four: the photos have no transparency (alpha) channel.",
        lambda: 4_000_000,
    ),
]


def check_count_values(value: Any) -> CheckResult:
    """Exercise 0.2: a 1000x1000 colour (RGB) photo holds 1000 * 1000 * 3 numbers."""
    return check_value(
        "Exercise 0.2", value, 3_000_000, mistakes=_COUNT_MISTAKES, label="number of values"
    )
