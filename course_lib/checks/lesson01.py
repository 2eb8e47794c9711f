"""Checks for lesson 01's exercises: convolution and edge detection.

* Exercise 1.1 :func:`check_cross_correlation`: a 2-D cross-correlation in valid
  mode, ``out[i, j] = sum_{u,v} image[i+u, j+v] * kernel[u, v]``, output
  (H-KH+1, W-KW+1).
* Exercise 1.2 :func:`check_sobel_horizontal`: the horizontal Sobel kernel, positive
  where the top is brighter than the bottom.
* Exercise 1.3 :func:`check_flip`: the kernel flip that turns cross-correlation into
  true convolution (both axes: a 180-degree rotation).

The expected answers are computed with the library (:func:`course_lib.filters.filter_image`,
which calls :func:`course_lib.ops.conv2d`), never typed in by hand, except the
6x6 example's, which the lesson works out on paper. Each function check has a case whose
answer has fractions (a crop of the lesson's photo, a kernel of fractions), so an output
created with an integer dtype fails, and a non-square one, so swapped axes fail.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from course_lib.checks import Case, CheckResult, Mistake, check_function, check_value
from course_lib.data import load_photo
from course_lib.filters import filter_image, kernel

__all__ = ["check_cross_correlation", "check_flip", "check_sobel_horizontal"]

_RNG = np.random.default_rng(1)

# ---------------------------------------------------------------- Exercise 1.1
_EDGE_6x6 = np.array([[10.0, 10, 10, 0, 0, 0]] * 6)  # bright left half, dark right half
_img_5x7 = _RNG.integers(0, 10, size=(5, 7)).astype(np.float64)
_ker_asym = np.array([[1.0, 2, 0], [0, -1, 3], [-2, 0, 1]])
_img_4x6 = _RNG.integers(-5, 6, size=(4, 6)).astype(np.float64)
_ker_2x3 = np.array([[1.0, 0, -2], [3, 1, 0]])
_img_3x3 = np.arange(9.0).reshape(3, 3)


@cache
def _photo_crop() -> np.ndarray:
    """A 12x15 crop of the lesson's grey photo (values in [0, 1], not whole numbers)."""
    return load_photo("china", grey=True)[200:212, 300:315].copy()


_CC_CASES = [
    Case(
        "the 6x6 edge example with the vertical edge kernel",
        (_EDGE_6x6, kernel("vertical_edge")),
        expected=np.array([[0.0, 30, 30, 0]] * 4),
    ),
    Case(
        "a 5x7 image and a lopsided 3x3 kernel",
        (_img_5x7, _ker_asym),
        expected=filter_image(_img_5x7, _ker_asym),
    ),
    Case(
        "a 4x6 image and a 2x3 kernel",
        (_img_4x6, _ker_2x3),
        expected=filter_image(_img_4x6, _ker_2x3),
    ),
    Case(
        "a 3x3 image and a 3x3 kernel (one output number)",
        (_img_3x3, _ker_asym),
        expected=filter_image(_img_3x3, _ker_asym),
    ),
]


def _cc_cases() -> list[Case]:
    """The cases above plus a 12x15 photo crop with the horizontal Sobel kernel, whose
    answer (10x13) has fractions and is shown as a picture when it is wrong."""
    crop = _photo_crop()
    photo = Case(
        "a 12x15 crop of the photo with the horizontal Sobel kernel",
        (crop, kernel("sobel_horizontal")),
        expected=filter_image(crop, kernel("sobel_horizontal")),
    )
    return [*_CC_CASES, photo]


def _valid(image: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return filter_image(np.asarray(image, float), np.asarray(weights, float))


def _same_size_zero_tail(image: np.ndarray, weights: np.ndarray) -> np.ndarray:
    out = np.zeros(np.shape(image))
    valid = _valid(image, weights)
    out[: valid.shape[0], : valid.shape[1]] = valid
    return out


def _zero_padded_same(image: np.ndarray, weights: np.ndarray) -> np.ndarray:
    kh, kw = np.shape(weights)
    padded = np.pad(np.asarray(image, float), ((kh // 2, (kh - 1) // 2), (kw // 2, (kw - 1) // 2)))
    return _valid(padded, weights)


def _matmul_windows(image: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``np.sum(window @ kernel)`` at every position (raises, as numpy does, when the
    kernel is not square)."""
    image, weights = np.asarray(image, float), np.asarray(weights, float)
    kh, kw = weights.shape
    out = np.zeros((image.shape[0] - kh + 1, image.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(image[i : i + kh, j : j + kw] @ weights)
    return out


_CC_MISTAKES = [
    Mistake(
        "you multiplied the window and the kernel with @ (or np.dot): that is matrix "
        "multiplication, rows times columns. Cross-correlation multiplies matching entries "
        "and adds them up: np.sum(window * kernel), with the elementwise *.",
        _matmul_windows,
    ),
    Mistake(
        "you flipped the kernel (or indexed it backwards, kernel[-u, -v]): that is the true "
        "convolution of maths books. Deep learning's 'convolution' is cross-correlation: "
        "multiply image[i+u, j+v] by kernel[u, v], no flip.",
        lambda image, weights: _valid(image, np.asarray(weights)[::-1, ::-1]),
    ),
    Mistake(
        "your output is as large as the input, with zeros where the kernel no longer fits: "
        "a valid cross-correlation has only n - f + 1 positions along each axis.",
        _same_size_zero_tail,
    ),
    Mistake(
        "you zero-padded the image so the output keeps the input's size ('same' mode); this "
        "exercise wants 'valid' mode: no padding, output (n - f + 1) x (n - f + 1).",
        _zero_padded_same,
    ),
    Mistake(
        "your output is one row and one column short: the last window starts at n - f, so "
        "there are n - f + 1 positions (range(n - f + 1), not range(n - f)).",
        lambda image, weights: _valid(image, weights)[:-1, :-1],
    ),
    Mistake(
        "you used the kernel transposed (rows as columns): multiply image[i+u, j+v] by "
        "kernel[u, v], with u counting rows and v counting columns in both.",
        lambda image, weights: _valid(image, np.asarray(weights).T),
    ),
    Mistake(
        "you averaged the products (divided by the kernel's size): cross-correlation sums them.",
        lambda image, weights: _valid(image, weights) / np.size(weights),
    ),
]


def check_cross_correlation(fn: Any) -> CheckResult:
    """Exercise 1.1: ``fn(image, kernel)`` is the valid 2-D cross-correlation.

    image: (H, W); kernel: (KH, KW); the answer: (H-KH+1, W-KW+1). Cases include a
    non-square image and a non-square kernel, so swapped rows and columns show up, and
    a photo crop whose answer has fractions.
    """
    return check_function("Exercise 1.1", fn, _cc_cases(), mistakes=_CC_MISTAKES)


# ---------------------------------------------------------------- Exercise 1.2
_SOBEL_MISTAKES = [
    Mistake(
        "that is the vertical Sobel kernel (its columns change from + to -): it responds to "
        "vertical edges, where brightness changes from left to right. Transpose it: the "
        "horizontal kernel's rows go from + (top) to - (bottom).",
        lambda: kernel("sobel_vertical"),
    ),
    Mistake(
        "the sign is flipped: your kernel is positive where the bottom is brighter. The "
        "exercise asks for positive responses where the top is brighter, so +1, +2, +1 go on top.",
        lambda: -kernel("sobel_horizontal"),
    ),
    Mistake(
        "that is the vertical Sobel kernel with its sign flipped: transpose it, and put the "
        "positive row on top.",
        lambda: -kernel("sobel_vertical"),
    ),
    Mistake(
        "that is the plain (Prewitt) horizontal edge kernel: Sobel gives the middle column "
        "twice the weight, 1, 2, 1.",
        lambda: kernel("horizontal_edge"),
    ),
    Mistake(
        "that is the Scharr kernel (3, 10, 3): Sobel's weights are 1, 2, 1.",
        lambda: kernel("scharr_horizontal"),
    ),
    Mistake(
        "you normalised the kernel (divided by 4, the sum of its positive weights). That "
        "only rescales the response; the exercise asks for Sobel's own weights, 1, 2, 1 "
        "on top and -1, -2, -1 below.",
        lambda: kernel("sobel_horizontal") / 4,
    ),
    Mistake(
        "you divided the kernel by 8 (the sum of its absolute weights). That only "
        "rescales the response; the exercise asks for Sobel's own weights, 1, 2, 1 on top "
        "and -1, -2, -1 below.",
        lambda: kernel("sobel_horizontal") / 8,
    ),
]


def check_sobel_horizontal(value: Any) -> CheckResult:
    """Exercise 1.2: the (3, 3) horizontal Sobel kernel, positive for bright-above-dark.

    Accepts a numpy array or a torch tensor of any dtype (the weights are whole numbers,
    so an integer array is right); a nested list is refused with a hint, as the exercise
    asks for an array.
    """
    return check_value(
        "Exercise 1.2",
        value,
        kernel("sobel_horizontal"),
        mistakes=_SOBEL_MISTAKES,
        label="your kernel",
    )


# ---------------------------------------------------------------- Exercise 1.3
_FLIP_CASES = [
    Case(
        "the 3x3 kernel 1..9",
        (np.arange(1.0, 10.0).reshape(3, 3),),
        expected=np.arange(1.0, 10.0).reshape(3, 3)[::-1, ::-1],
    ),
    Case(
        "a 2x3 kernel",
        (np.array([[1.0, 2, 3], [4, 5, 6]]),),
        expected=np.array([[6.0, 5, 4], [3, 2, 1]]),
    ),
    Case(
        "the vertical Sobel kernel", (kernel("sobel_vertical"),), expected=-kernel("sobel_vertical")
    ),
    Case(
        "a 2x4 kernel of fractions",
        (np.array([[0.25, -1.5, 0.125, 2.0], [-0.75, 0.5, 1.25, -0.0625]]),),
        expected=np.array([[-0.0625, 1.25, 0.5, -0.75], [2.0, 0.125, -1.5, 0.25]]),
    ),
]
_FLIP_MISTAKES = [
    Mistake(
        "you flipped only upside down (the rows): true convolution flips both axes, i.e. "
        "turns the kernel by 180 degrees: kernel[::-1, ::-1].",
        lambda k: np.asarray(k)[::-1, :],
    ),
    Mistake(
        "you flipped only left to right (the columns): flip upside down as well.",
        lambda k: np.asarray(k)[:, ::-1],
    ),
    Mistake(
        "you transposed the kernel: that mirrors it along its diagonal, which is not the "
        "180-degree turn convolution needs.",
        lambda k: np.asarray(k).T,
    ),
    Mistake(
        "you turned the kernel by 90 degrees (np.rot90 once): the flip is a 180-degree turn.",
        lambda k: np.rot90(k),
    ),
    Mistake(
        "you turned the kernel by 90 degrees clockwise: the flip is a 180-degree turn.",
        lambda k: np.rot90(k, -1),
    ),
    Mistake("you returned the kernel unchanged.", lambda k: np.asarray(k)),
]


def check_flip(fn: Any) -> CheckResult:
    """Exercise 1.3: ``fn(kernel)`` returns the kernel rotated by 180 degrees.

    kernel: (KH, KW); the answer has the same shape, ``kernel[::-1, ::-1]``.
    """
    return check_function("Exercise 1.3", fn, _FLIP_CASES, mistakes=_FLIP_MISTAKES)
