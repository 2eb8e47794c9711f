"""Checks for lesson 02: padding, stride and output size.

Expected answers come from :mod:`course_lib.shapes`; the mistakes are the ones
learners make with the formula ``floor((n + 2p - f)/s) + 1``.

An output size is a whole number: ``4``, ``4.0``, ``np.float64(4.0)`` and
``torch.tensor(4)`` all pass Exercise 2.1 (the pass message says that ``int(...)`` or
``//`` gives an int). A padding is handed to torch, which refuses floats, so Exercise
2.3 asks for an int.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from course_lib.checks import Case, CheckResult, Mistake, check_function, check_value, same_value
from course_lib.shapes import conv_output_size, same_padding

__all__ = ["check_output_size", "check_same_padding", "check_seven_by_seven"]


# Exercise 2.1 (output size) ----------------------------------------------------------

_SIZE_SETTINGS = [  # (label, n, f, p, s)
    ("6x6 input, 3x3 kernel", 6, 3, 0, 1),
    ("32x32 input, 5x5 kernel, padding 2", 32, 5, 2, 1),
    ("6x6 input, 3x3 kernel, padding 1", 6, 3, 1, 1),
    ("7x7 input, 3x3 kernel, stride 2", 7, 3, 0, 2),
    ("39x39 input, 3x3 kernel", 39, 3, 0, 1),
    ("37x37 input, 5x5 kernel, stride 2", 37, 5, 0, 2),
    ("7x7 input, 3x3 kernel, stride 3", 7, 3, 0, 3),
    ("8x8 input, 3x3 kernel, stride 3", 8, 3, 0, 3),
    ("10x10 input, 4x4 kernel, padding 1, stride 3", 10, 4, 1, 3),
]

_SIZE_MISTAKES = [
    Mistake(
        "the window only fits a whole number of times: take the floor of (n + 2p - f)/s "
        "(use // or math.floor), not the exact fraction.",
        lambda n, f, p, s: (n + 2 * p - f) / s + 1,
    ),
    Mistake(
        "rounding up or to the nearest counts a window that would hang off the edge; "
        "the floor drops it.",
        lambda n, f, p, s: math.ceil((n + 2 * p - f) / s) + 1,
    ),
    Mistake(
        "rounding up or to the nearest counts a window that would hang off the edge; "
        "the floor drops it.",
        lambda n, f, p, s: round((n + 2 * p - f) / s) + 1,
    ),
    Mistake(
        "the + 1 goes outside the floor: floor((n + 2p - f)/s) + 1, not floor((n + 2p - f + 1)/s).",
        lambda n, f, p, s: (n + 2 * p - f + 1) // s,
    ),
    Mistake(
        "you forgot the + 1: (n + 2p - f)/s counts the steps between window positions, "
        "the first position comes on top.",
        lambda n, f, p, s: (n + 2 * p - f) // s,
    ),
    Mistake(
        "padding adds p cells on *both* sides, so the padded input is n + 2p, not n + p.",
        lambda n, f, p, s: (n + p - f) // s + 1,
    ),
    Mistake(
        "you ignored the stride: with stride s the window jumps s cells, so divide "
        "(n + 2p - f) by s before adding 1.",
        lambda n, f, p, s: n + 2 * p - f + 1,
    ),
    Mistake(
        "you divided by p, the padding (0 here), where the stride s belongs: "
        "floor((n + 2p - f)/s) + 1. Check the order of your parameters: (n, f, p, s).",
        lambda n, f, p, s: (n + 2 * s - f) // p + 1,
    ),
    Mistake(
        "you divided by p, the padding (0 here), where the stride s belongs: "
        "floor((n + 2p - f)/s) + 1. Check the order of your parameters: (n, f, p, s).",
        lambda n, f, p, s: (n + 2 * p - f) // p + 1,
    ),
    Mistake(
        "the kernel size and the padding are swapped: the padded input is n + 2p and the "
        "window takes f cells of it, (n + 2p - f). Check the order of your parameters: "
        "(n, f, p, s).",
        lambda n, f, p, s: (n + 2 * f - p) // s + 1,
    ),
    Mistake(
        "the kernel size and the stride are swapped: the window takes f cells and moves by "
        "s, floor((n + 2p - f)/s) + 1. Check the order of your parameters: (n, f, p, s).",
        lambda n, f, p, s: (n + 2 * p - s) // f + 1,
    ),
]


def check_output_size(fn: Any) -> CheckResult:
    """Exercise 2.1: ``fn(n, f, p, s)`` returns the output side of an n x n convolution.

    A float equal to the size (``4.0``) passes, with a note that ``//`` keeps it an int.
    """
    cases = [
        Case(label, (n, f, p, s), expected=conv_output_size(n, f, p, s))
        for label, n, f, p, s in _SIZE_SETTINGS
    ]
    return check_function("Exercise 2.1 (output size)", fn, cases, mistakes=_SIZE_MISTAKES)


# Exercise 2.3 (same padding) ---------------------------------------------------------


def _is_float(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return value.is_floating_point()
    return isinstance(value, float | np.floating)


def _int_padding(got: Any, expected: Any) -> str | None:
    """A padding is handed to torch, which refuses a float (even 1.0): demand an int."""
    if _is_float(got):
        return (
            f"got the float {got!r}; torch accepts only a whole number (an int) of padding "
            "cells: use // or int(...)"
        )
    return same_value(got, expected)


_PAD_MISTAKES = [
    Mistake(
        "(f - 1)/2 with / gives a float; torch refuses float padding: use // (or int()).",
        lambda f: (f - 1) / 2,
    ),
    Mistake(
        "f - 1 is the padding for both sides together; each side gets half of it, (f - 1)/2.",
        lambda f: f - 1,
    ),
    Mistake(
        "f // 2 works for odd f, but for an even f the output grows by one cell "
        "(n + 2*(f//2) - f + 1 = n + 1): an even kernel has no 'same' padding, raise ValueError.",
        lambda f: f // 2,
    ),
    Mistake(
        "padding f adds too much: the output grows by f + 1 cells; each side needs (f - 1)/2.",
        lambda f: f,
    ),
]


def check_same_padding(fn: Any) -> CheckResult:
    """Exercise 2.3: ``fn(f)`` returns the padding that keeps n x n at n x n (stride 1).

    For an even ``f`` no equal padding on both sides does that, and ``fn`` must raise
    ``ValueError``.
    """
    odd = [Case(f"f = {f}, an odd kernel", (f,), expected=same_padding(f)) for f in (3, 5, 1, 7, 11)]
    even = [
        Case(f"f = {f}, an even kernel: no equal padding on both sides keeps the size",
             (f,), raises=ValueError)
        for f in (4, 2)
    ]
    return check_function(
        "Exercise 2.3 (same padding)", fn, odd + even, mistakes=_PAD_MISTAKES, compare=_int_padding
    )


# Exercise 2.2 (7x7) ------------------------------------------------------------------


def check_seven_by_seven(answer: Any) -> CheckResult:
    """Exercise 2.2: the output sides of a 7x7 input and a 3x3 kernel at stride 1, 2, 3."""
    expected = tuple(conv_output_size(7, 3, 0, s) for s in (1, 2, 3))
    mistakes = [
        Mistake(
            "at stride 3 the windows start at 0 and 3; a third start (6) would hang off the "
            "edge. Keep the whole part: floor(4/3) + 1 = 2.",
            lambda: tuple((7 - 3) / s + 1 for s in (1, 2, 3)),
        ),
        Mistake(
            "rounding 4/3 up counts a window that does not fit; the floor drops it.",
            lambda: tuple(math.ceil((7 - 3) / s) + 1 for s in (1, 2, 3)),
        ),
        Mistake("you forgot the + 1 for the first window position.", lambda: tuple((7 - 3) // s for s in (1, 2, 3))),
        Mistake(
            "stride 3 does not fit 7x7 exactly, but the convolution still runs: it takes "
            "the floor and leaves the last column unread.",
            lambda: (5, 3, 0),
        ),
        Mistake("the stride divides the steps, not the input size: floor((n - f)/s) + 1.",
                lambda: tuple(7 // s - 3 + 1 for s in (1, 2, 3))),
    ]
    if isinstance(answer, list):
        answer = tuple(answer)
    return check_value(
        "Exercise 2.2 (7x7 at strides 1, 2, 3)",
        answer,
        expected,
        mistakes=mistakes,
        label="(stride 1, stride 2, stride 3)",
    )
