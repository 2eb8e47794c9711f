"""Checks for lesson 10 (1x1 convolutions, Inception and GoogLeNet).

* Exercise 10.1: :func:`check_conv_multiplications`, the multiplications of one
  same-padded, stride-1 conv layer, ``H * W * K * f * f * C``.
* Exercise 10.2: :func:`check_bottleneck_multiplications`, the 5x5 branch on
  28x28x192 -> 28x28x32 behind a 16-channel 1x1 bottleneck (12,443,648).
* Exercise 10.3: :func:`check_module_multiplications`, a whole inception module with
  dimension reduction (GoogLeNet's 3a) on 28x28x192.

The expected answers come from :func:`course_lib.shapes.conv_mults`; the mistakes are
the slips learners make with these counts (forgetting the input channels, counting the
additions too, shrinking the output as if there were no padding), each with its own
feedback.
"""

from __future__ import annotations

from typing import Any

from course_lib.checks import Case, CheckResult, Mistake, check_function, check_value
from course_lib.shapes import conv_mults
from course_lib.validate import is_number

__all__ = [
    "check_bottleneck_multiplications",
    "check_conv_multiplications",
    "check_module_multiplications",
]


def _mults(in_shape: tuple[int, int, int], n_filters: int, f: int) -> int:
    """The course's counter, in the exercise's (H, W, C) order."""
    h, w, c = in_shape
    return conv_mults((c, h, w), n_filters, f, p="same")


# --------------------------------------------------------------------------------------
# Exercise 10.1: multiplications of one conv layer
# --------------------------------------------------------------------------------------
_LAYERS = (
    ("28x28x192 input, 32 filters of 5x5 (the naive 5x5 branch)", (28, 28, 192), 32, 5),
    ("28x28x192 input, 16 filters of 1x1 (the bottleneck)", (28, 28, 192), 16, 1),
    ("28x28x16 input, 32 filters of 5x5 (after the bottleneck)", (28, 28, 16), 32, 5),
    ("a 14x10x3 input (not square), 7 filters of 3x3", (14, 10, 3), 7, 3),
    ("6x6x32 input, 5 filters of 1x1", (6, 6, 32), 5, 1),
)
MULTIPLICATION_CASES = tuple(
    Case(label, (shape, k, f), expected=_mults(shape, k, f)) for label, shape, k, f in _LAYERS
)


def _counts_additions(got: Any, expected: Any, in_shape, n_filters, f) -> bool:
    """Multiplications and additions together: 2x, or f*f*C - 1 additions per dot product."""
    if not is_number(got):
        return False
    h, w, c = in_shape
    return float(got) in (2.0 * expected, float(h * w * n_filters * (2 * f * f * c - 1)))


MULTIPLICATION_MISTAKES = (
    Mistake(
        "you left out the input channels: each output value is a dot product of an "
        "f x f x C window with one filter, so it takes f * f * C multiplications, not f * f.",
        lambda shape, k, f: shape[0] * shape[1] * k * f * f,
    ),
    Mistake(
        "you counted the additions as well. The exercise counts multiplications only: "
        "f * f * C per output value (the additions that sum them, and the bias, are left out).",
        matches=_counts_additions,
    ),
    Mistake(
        "your output is smaller than the input: with 'same' padding (p = (f - 1) / 2) and "
        "stride 1 the output keeps the input's H x W, so count H * W positions, not "
        "(H - f + 1) * (W - f + 1).",
        lambda shape, k, f: (shape[0] - f + 1) * (shape[1] - f + 1) * k * f * f * shape[2],
    ),
    Mistake(
        "you counted one filter's work: there are n_filters filters, each run at every "
        "position, so multiply by n_filters (the output depth) too.",
        lambda shape, k, f: shape[0] * shape[1] * f * f * shape[2],
    ),
    Mistake(
        "the window is f x f, so f * f weights per input channel, not f.",
        lambda shape, k, f: shape[0] * shape[1] * k * f * shape[2],
    ),
    Mistake(
        "this is the number of weights (parameters), which does not depend on H and W. "
        "Multiplications are counted at every output position: H * W * n_filters * f * f * C.",
        lambda shape, k, f: f * f * shape[2] * k,
    ),
    Mistake(
        "this is the number of parameters (weights and biases); multiplications are counted "
        "at every output position: H * W * n_filters * f * f * C.",
        lambda shape, k, f: (f * f * shape[2] + 1) * k,
    ),
)


def check_conv_multiplications(fn: Any) -> CheckResult:
    """Exercise 10.1: ``fn((H, W, C), n_filters, f)`` is the multiplications of a layer of
    ``n_filters`` f x f filters, same padding, stride 1 (biases and additions not counted)."""
    return check_function(
        "Exercise 10.1", fn, MULTIPLICATION_CASES, mistakes=MULTIPLICATION_MISTAKES
    )


# --------------------------------------------------------------------------------------
# Exercise 10.2: the bottleneck version of the 5x5 branch
# --------------------------------------------------------------------------------------
_REDUCE = _mults((28, 28, 192), 16, 1)  # 2,408,448
_AFTER = _mults((28, 28, 16), 32, 5)  # 10,035,200
_NAIVE = _mults((28, 28, 192), 32, 5)  # 120,422,400

BOTTLENECK_MISTAKES = (
    Mistake(
        "that is only the 5x5 conv on the 16 channels; add the 1x1 conv that made them "
        "(28 * 28 * 16 * 1 * 1 * 192).",
        lambda: _AFTER,
    ),
    Mistake(
        "that is only the 1x1 conv; add the 5x5 conv that follows it "
        "(28 * 28 * 32 * 5 * 5 * 16).",
        lambda: _REDUCE,
    ),
    Mistake(
        "that is the naive branch, 32 filters of 5x5 straight on the 192 channels; the "
        "bottleneck version first shrinks the depth to 16 with a 1x1 conv.",
        lambda: _NAIVE,
    ),
    Mistake(
        "your 5x5 conv still reads all 192 channels; after the bottleneck its input is "
        "28x28x16, so each filter is 5x5x16.",
        lambda: _REDUCE + _NAIVE,
    ),
    Mistake(
        "you left out the input channels: the 1x1 filters are 1x1x192 and the 5x5 filters "
        "5x5x16, so multiply by 192 and by 16.",
        lambda: 28 * 28 * 16 + 28 * 28 * 32 * 5 * 5,
    ),
    Mistake(
        "you counted the additions as well (twice the multiplications); count the "
        "multiplications only.",
        lambda: 2 * (_REDUCE + _AFTER),
    ),
    Mistake(
        "that is a rounded figure; the exercise wants the exact count (add the two "
        "products exactly).",
        matches=lambda got, expected: is_number(got) and float(got) % 10_000 == 0
        and 0 < abs(float(got) - expected) <= 0.02 * expected,
    ),
)


def check_bottleneck_multiplications(value: Any) -> CheckResult:
    """Exercise 10.2: 1x1 conv 16 then 5x5 conv 32 on 28x28x192, same padding (12,443,648)."""
    return check_value(
        "Exercise 10.2",
        value,
        _REDUCE + _AFTER,
        mistakes=BOTTLENECK_MISTAKES,
        label="the multiplications of the bottleneck branch",
    )


# --------------------------------------------------------------------------------------
# Exercise 10.3: a whole module with dimension reduction (GoogLeNet's 3a)
# --------------------------------------------------------------------------------------
IN = (28, 28, 192)
_ONE = _mults(IN, 64, 1)
_R3, _THREE = _mults(IN, 96, 1), _mults((28, 28, 96), 128, 3)
_R5, _FIVE = _REDUCE, _AFTER
_POOL = _mults(IN, 32, 1)
_MODULE = _ONE + _R3 + _THREE + _R5 + _FIVE + _POOL  # 128,049,152
_NAIVE_MODULE = _ONE + _mults(IN, 128, 3) + _NAIVE + _POOL

MODULE_MISTAKES = (
    Mistake(
        "you left out the pool branch's 1x1 projection (32 filters of 1x1x192 after the "
        "max pool); the pool itself multiplies nothing, but its projection does.",
        lambda: _MODULE - _POOL,
    ),
    Mistake(
        "you left out the two 1x1 reductions in front of the 3x3 and 5x5 convs "
        "(96 and 16 filters of 1x1x192); they cost multiplications too.",
        lambda: _MODULE - _R3 - _R5,
    ),
    Mistake(
        "you left out the 1x1 branch (64 filters of 1x1x192).",
        lambda: _MODULE - _ONE,
    ),
    Mistake(
        "that is the naive module with the same output depths: its 3x3 and 5x5 convs read "
        "all 192 channels. With dimension reduction they read 96 and 16.",
        lambda: _NAIVE_MODULE,
    ),
    Mistake(
        "your 3x3 conv reads 192 channels; after its 1x1 reduction its input is 28x28x96.",
        lambda: _MODULE - _THREE + _mults(IN, 128, 3),
    ),
    Mistake(
        "you counted the additions as well (twice the multiplications); count the "
        "multiplications only.",
        lambda: 2 * _MODULE,
    ),
)


def check_module_multiplications(value: Any) -> CheckResult:
    """Exercise 10.3: GoogLeNet's module 3a on 28x28x192: 1x1 64; 1x1 96 -> 3x3 128;
    1x1 16 -> 5x5 32; 3x3 max pool -> 1x1 32 (128,049,152 multiplications)."""
    return check_value(
        "Exercise 10.3",
        value,
        _MODULE,
        mistakes=MODULE_MISTAKES,
        label="the multiplications of the whole module",
    )
