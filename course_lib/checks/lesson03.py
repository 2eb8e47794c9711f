"""Exercise checks for lesson 03: volumes, layers, pooling and 1x1 convolutions.

* Exercise 3.1 - :func:`check_conv_layer_params`: parameters of one conv layer.
* Exercise 3.2 - :func:`check_max_pool`: 2-D max pooling with window ``f`` and stride ``s``.
* Exercise 3.3 - :func:`check_conv_1x1`: a 1x1 convolution mixing the channels of a volume.

Each check runs the learner's function on several cases and recognises the mistakes
learners really make (see the ``Mistake`` lists), each with its own hint. The array
checks have cases whose answers have fractions (a photo crop, random normal volumes) and
non-square ones; the pooling cases include windows that differ from the stride.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from course_lib.checks import Case, CheckResult, Mistake, check_function
from course_lib.data import load_photo

__all__ = ["check_conv_1x1", "check_conv_layer_params", "check_max_pool"]


# --------------------------------------------------------------------------------------
# Exercise 3.1: parameters of a conv layer
# --------------------------------------------------------------------------------------
def _params(input_shape: tuple[int, int, int], f: int, n_filters: int) -> int:
    channels = input_shape[2]
    return (f * f * channels + 1) * n_filters


PARAM_CASES = (
    Case("6x6x3 input, 10 filters of 3x3", ((6, 6, 3), 3, 10), expected=280),
    Case("39x39x3 input, 10 filters of 3x3", ((39, 39, 3), 3, 10), expected=280),
    Case("37x37x10 input, 20 filters of 5x5", ((37, 37, 10), 5, 20), expected=5020),
    Case("32x32x3 input, 6 filters of 5x5", ((32, 32, 3), 5, 6), expected=456),
    Case("6x6x32 input, 5 filters of 1x1", ((6, 6, 32), 1, 5), expected=165),
    Case("a 12x8x4 input (not square), 7 filters of 3x3", ((12, 8, 4), 3, 7), expected=259),
)

PARAM_MISTAKES = (
    Mistake(
        "you counted the weights but not the biases: every filter has one bias too, "
        "so add n_filters.",
        lambda shape, f, k: f * f * shape[2] * k,
    ),
    Mistake(
        "a filter is as deep as its input: it has f*f*C weights (C = input channels), "
        "not f*f.",
        lambda shape, f, k: (f * f + 1) * k,
    ),
    Mistake(
        "a filter is as deep as its input (f*f*C weights), and it has a bias as well.",
        lambda shape, f, k: f * f * k,
    ),
    Mistake(
        "the same filter is reused at every output position (parameter sharing): do not "
        "multiply by the number of positions; the count does not depend on H and W.",
        lambda shape, f, k: (f * f * shape[2] + 1) * k * (shape[0] - f + 1) * (shape[1] - f + 1),
    ),
    Mistake(
        "the count does not depend on the input's height and width: only on f, the "
        "input channels and the number of filters.",
        lambda shape, f, k: (f * f * shape[2] + 1) * k * shape[0] * shape[1],
    ),
    Mistake(
        "there is one bias per filter, not one per weight.",
        lambda shape, f, k: 2 * f * f * shape[2] * k,
    ),
    Mistake(
        "one bias per filter, not one per layer: add n_filters biases, not 1.",
        lambda shape, f, k: f * f * shape[2] * k + 1,
    ),
    Mistake(
        "one bias per filter, not one per input channel: a filter's f*f*C products are "
        "summed into one number, and one bias is added to that, (f*f*C + 1) per filter.",
        lambda shape, f, k: (f * f + 1) * shape[2] * k,
    ),
    Mistake(
        "you read the channels from input_shape[0], which is the height here: the "
        "course's shapes are (H, W, C), so C is input_shape[2] (or input_shape[-1]). "
        "(torch's tensors are (C, H, W): that is a different convention.)",
        lambda shape, f, k: (f * f * shape[0] + 1) * k,
    ),
    Mistake(
        "you gave every filter one weight per input value (H*W*C), as a fully connected "
        "layer would. A conv filter sees only an f x f x C window, reused at every "
        "position: f*f*C weights, whatever H and W are.",
        lambda shape, f, k: (shape[0] * shape[1] * shape[2] + 1) * k,
    ),
    Mistake(
        "you gave every filter one weight per input value (H*W*C), as a fully connected "
        "layer would, and left out the biases. A conv filter sees only an f x f x C "
        "window: f*f*C weights and one bias.",
        lambda shape, f, k: shape[0] * shape[1] * shape[2] * k,
    ),
)


def check_conv_layer_params(fn: Any) -> CheckResult:
    """Exercise 3.1: ``fn(input_shape, f, n_filters) -> int``, input_shape = (H, W, C)."""
    return check_function(
        "Exercise 3.1 (conv layer parameters)", fn, PARAM_CASES, mistakes=PARAM_MISTAKES
    )


# --------------------------------------------------------------------------------------
# Exercise 3.2: max pooling by hand
# --------------------------------------------------------------------------------------
def _pool(x: np.ndarray, f: int, s: int, reduce, *, ceil: bool = False,
          short: bool = False) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    h, w = x.shape
    if ceil:  # keeps a last, partial window (the mistake)
        oh, ow = -(-(h - f) // s) + 1, -(-(w - f) // s) + 1
    elif short:  # window starts range(0, n - f, s): the last start, n - f, is missed
        oh, ow = len(range(0, h - f, s)), len(range(0, w - f, s))
    else:
        oh, ow = (h - f) // s + 1, (w - f) // s + 1
    out = np.empty((oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[i, j] = reduce(x[i * s : i * s + f, j * s : j * s + f])
    return out


def _grid(seed: int, shape: tuple[int, int]) -> np.ndarray:
    return np.random.default_rng(seed).integers(-9, 10, size=shape).astype(np.float64)


@cache
def _photo_crop() -> np.ndarray:
    """A 12x15 crop of lesson 01's grey photo: values in [0, 1], not whole numbers."""
    return load_photo("china", grey=True)[120:132, 410:425].copy()


POOL_CASES = (
    Case(
        "4x4, f=2, s=2",
        (np.array([[1.0, 3, 2, 1], [2, 9, 1, 1], [1, 3, 2, 3], [5, 6, 1, 2]]), 2, 2),
        expected=np.array([[9.0, 2], [6, 3]]),
    ),
    Case("random 6x6, f=2, s=2", (_grid(1, (6, 6)), 2, 2)),
    Case("random 5x5, f=3, s=1", (_grid(2, (5, 5)), 3, 1)),
    Case("random 5x7, f=3, s=2", (_grid(3, (5, 7)), 3, 2)),
    Case("random 5x5, f=2, s=2 (one row and column left over)", (_grid(4, (5, 5)), 2, 2)),
)


def _pool_cases() -> tuple[Case, ...]:
    """The cases above plus a 12x15 photo crop pooled with f=3, s=2 (a 5x7 answer with
    fractions, shown as a picture when it is wrong); the answers come from :func:`_pool`."""
    cases = (*POOL_CASES, Case("a 12x15 photo crop, f=3, s=2", (_photo_crop(), 3, 2)))
    return tuple(
        Case(c.label, c.args, expected=_pool(c.args[0], c.args[1], c.args[2], np.max))
        for c in cases
    )

POOL_MISTAKES = (
    Mistake(
        "that is average pooling: max pooling keeps the largest value of each window.",
        lambda x, f, s: _pool(x, f, s, np.mean),
    ),
    Mistake(
        "the window moves by the stride s, not by one cell: with s=f the windows do not "
        "overlap.",
        lambda x, f, s: _pool(x, f, 1, np.max),
    ),
    Mistake(
        "the window moves by the stride s, not by f.",
        lambda x, f, s: _pool(x, f, f, np.max),
    ),
    Mistake(
        "a window that does not fit inside the input is dropped: the output size is "
        "floor((n - f) / s) + 1, a floor, not a ceiling.",
        lambda x, f, s: _pool(x, f, s, np.max, ceil=True),
    ),
    Mistake(
        "that is the sum of each window; max pooling keeps the largest value.",
        lambda x, f, s: _pool(x, f, s, np.sum),
    ),
    Mistake(
        "your output misses the last window: range(0, n - f, s) stops before n - f, the "
        "last start that still fits. Use range(0, n - f + 1, s), or count the windows as "
        "(n - f) // s + 1 (Exercise 1.1 has the same +1).",
        lambda x, f, s: _pool(x, f, s, np.max, short=True),
    ),
)


def check_max_pool(fn: Any) -> CheckResult:
    """Exercise 3.2: ``fn(x, f, s) -> array`` pools a 2-D array with window f, stride s."""
    return check_function("Exercise 3.2 (max pooling)", fn, _pool_cases(), mistakes=POOL_MISTAKES)


# --------------------------------------------------------------------------------------
# Exercise 3.3: a 1x1 convolution
# --------------------------------------------------------------------------------------
def _conv_1x1(volume: np.ndarray, weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
    return np.einsum("hwc,kc->hwk", volume, weights) + bias  # (H, W, K)


def _volume_case(label: str, seed: int, h: int, w: int, c: int, k: int) -> Case:
    rng = np.random.default_rng(seed)
    volume = rng.normal(size=(h, w, c))
    weights = rng.normal(size=(k, c))
    bias = rng.normal(size=k)
    return Case(label, (volume, weights, bias), expected=_conv_1x1(volume, weights, bias))


CONV_1X1_CASES = (
    Case(
        "2x2x3 volume, one filter",
        (
            np.arange(12.0).reshape(2, 2, 3),
            np.array([[1.0, -1.0, 2.0]]),
            np.array([0.5]),
        ),
        expected=_conv_1x1(
            np.arange(12.0).reshape(2, 2, 3), np.array([[1.0, -1.0, 2.0]]), np.array([0.5])
        ),
    ),
    _volume_case("6x6x32 volume, 5 filters", 5, 6, 6, 32, 5),
    _volume_case("4x3x2 volume, 4 filters", 6, 4, 3, 2, 4),
)

CONV_1X1_MISTAKES = (
    Mistake(
        "you left out the bias: add bias[k] to output channel k.",
        lambda v, w, b: np.einsum("hwc,kc->hwk", v, w),
    ),
    Mistake(
        "the per-channel products must be summed over the input channels: each filter "
        "gives one number per position.",
        lambda v, w, b: v[:, :, None, :] * w[None, None, :, :] + b[None, None, :, None],
    ),
    Mistake(
        "sum the per-channel products; do not average them.",
        lambda v, w, b: np.einsum("hwc,kc->hwk", v, w) / v.shape[2] + b,
    ),
    Mistake(
        "this exercise asks for the linear part only (weights and bias); leave the ReLU out.",
        lambda v, w, b: np.maximum(_conv_1x1(v, w, b), 0.0),
    ),
    Mistake(
        "volume @ weights multiplies (H, W, C) by (K, C): numpy pairs the volume's last "
        "axis (C) with the weights' first (K), and those sizes differ. Each row of "
        "weights is one filter, so transpose it: volume @ weights.T is "
        "(H, W, C) @ (C, K) -> (H, W, K).",
        lambda v, w, b: v @ w + b,
    ),
)


def check_conv_1x1(fn: Any) -> CheckResult:
    """Exercise 3.3: ``fn(volume (H,W,C), weights (K,C), bias (K,)) -> (H,W,K)``."""
    return check_function(
        "Exercise 3.3 (1x1 convolution)", fn, CONV_1X1_CASES, mistakes=CONV_1X1_MISTAKES
    )
