"""Lesson 01's checks: reference answers pass, known mistakes get their specific feedback.

The reference cross-correlation here is written with explicit loops so that the test
does not lean on the library function the check itself uses; torch's conv2d (which
is a cross-correlation) is a second reference.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_lib.checks.lesson01 import check_cross_correlation, check_flip, check_sobel_horizontal


def loops(image, kernel):
    kh, kw = kernel.shape
    out = np.zeros((image.shape[0] - kh + 1, image.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(image[i : i + kh, j : j + kw] * kernel)
    return out


def torch_conv(image, kernel):
    x = torch.as_tensor(image, dtype=torch.float64)[None, None]
    w = torch.as_tensor(kernel, dtype=torch.float64)[None, None]
    return torch.nn.functional.conv2d(x, w)[0, 0]


@pytest.mark.parametrize("fn", [loops, torch_conv])
def test_cross_correlation_references_pass(fn):
    assert check_cross_correlation(fn).passed


def test_cross_correlation_stub_not_attempted():
    def stub(image, kernel):
        raise NotImplementedError("Exercise 1.1")

    assert check_cross_correlation(stub).status == "not attempted"


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (lambda im, k: loops(im, k[::-1, ::-1]), "true convolution"),
        (lambda im, k: loops(im, k) / k.size, "averaged"),
        (lambda im, k: loops(im, k)[:-1, :-1], "n - f + 1 positions"),
        (lambda im, k: loops(im, k.T) if k.shape[0] == k.shape[1] else loops(im, k), "transposed"),
        (
            lambda im, k: np.pad(loops(im, k), ((0, k.shape[0] - 1), (0, k.shape[1] - 1))),
            "as large as the input",
        ),
        (
            lambda im, k: loops(np.pad(im, ((k.shape[0] // 2,) * 2, (k.shape[1] // 2,) * 2)), k),
            "'same' mode",
        ),
    ],
    ids=["flipped", "mean", "off-by-one", "transposed-kernel", "zero-tail", "same-padding"],
)
def test_cross_correlation_mistakes_get_feedback(wrong, words):
    result = check_cross_correlation(wrong)
    assert result.status == "failed"
    assert words in result.message, result.message


def test_cross_correlation_swapped_loops_fail_on_non_square():
    def swapped(image, kernel):
        return (
            loops(image.T, kernel.T).T
            if image.shape[0] == image.shape[1]
            else loops(image.T, kernel)
        )

    result = check_cross_correlation(swapped)
    assert result.status == "failed"


def test_sobel_reference_passes_as_any_array():
    ref = [[1, 2, 1], [0, 0, 0], [-1, -2, -1]]
    assert check_sobel_horizontal(np.array(ref)).passed  # whole numbers: an int array is right
    assert check_sobel_horizontal(np.array(ref, dtype=np.float32)).passed
    assert check_sobel_horizontal(torch.tensor(ref, dtype=torch.float32)).passed
    assert check_sobel_horizontal(torch.tensor(ref)).passed
    assert check_sobel_horizontal(...).status == "not attempted"


def test_sobel_as_a_nested_list_is_refused_with_a_hint():
    result = check_sobel_horizontal([[1, 2, 1], [0, 0, 0], [-1, -2, -1]])
    assert result.status == "failed" and "np.array(your_list)" in result.message


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        ([[1, 0, -1], [2, 0, -2], [1, 0, -1]], "vertical Sobel kernel (its columns"),
        ([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], "sign is flipped"),
        ([[1, 1, 1], [0, 0, 0], [-1, -1, -1]], "Prewitt"),
        ([[3, 10, 3], [0, 0, 0], [-3, -10, -3]], "Scharr"),
        ([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], "sign flipped: transpose"),
        ([[0.25, 0.5, 0.25], [0, 0, 0], [-0.25, -0.5, -0.25]], "divided by 4"),
        ([[1 / 8, 2 / 8, 1 / 8], [0, 0, 0], [-1 / 8, -2 / 8, -1 / 8]], "divided the kernel by 8"),
    ],
)
def test_sobel_mistakes_get_feedback(wrong, words):
    result = check_sobel_horizontal(np.array(wrong))
    assert result.status == "failed" and words in result.message, result.message


def test_sobel_wrong_shape_is_reported():
    result = check_sobel_horizontal(np.array([[1, 2, 1], [-1, -2, -1]]))
    assert result.status == "failed" and "shape" in result.message


def test_flip_references_pass():
    assert check_flip(lambda k: k[::-1, ::-1]).passed
    assert check_flip(np.flip).passed
    assert check_flip(lambda k: np.rot90(k, 2)).passed


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (lambda k: k[::-1], "only upside down"),
        (lambda k: k[:, ::-1], "only left to right"),
        (lambda k: k.T, "transposed"),
        (np.rot90, "90 degrees"),
        (lambda k: k.copy(), "unchanged"),
    ],
)
def test_flip_mistakes_get_feedback(wrong, words):
    result = check_flip(wrong)
    assert result.status == "failed" and words in result.message, result.message


def _windows(image, kernel, combine):
    kh, kw = kernel.shape
    out = np.zeros((image.shape[0] - kh + 1, image.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = combine(image[i : i + kh, j : j + kw], kernel)
    return out


def test_cross_correlation_with_matmul_is_not_called_a_transposed_kernel():
    result = check_cross_correlation(lambda im, k: _windows(im, k, lambda w, k: np.sum(w @ k)))
    assert result.status == "failed"
    assert "with @" in result.message and "transposed" not in result.message, result.message


def test_cross_correlation_into_an_integer_array_fails_on_the_photo():
    def into_ints(image, kernel):
        kh, kw = kernel.shape
        out = np.zeros((image.shape[0] - kh + 1, image.shape[1] - kw + 1), dtype=int)
        for i in range(out.shape[0]):
            for j in range(out.shape[1]):
                out[i, j] = np.sum(image[i : i + kh, j : j + kw] * kernel)
        return out

    result = check_cross_correlation(into_ints)
    assert result.status == "failed" and "photo" in result.case
    assert "holds integers (dtype int64)" in result.message
    assert result.figure() is not None  # the photo crop's answer is drawn
    assert "data:image/png;base64," in result._repr_html_()


def test_cross_correlation_in_float32_passes():
    def torch_float32(image, kernel):
        x = torch.as_tensor(image, dtype=torch.float32)[None, None]  # (1, 1, H, W)
        w = torch.as_tensor(kernel, dtype=torch.float32)[None, None]  # (1, 1, KH, KW)
        return torch.nn.functional.conv2d(x, w)[0, 0]

    assert check_cross_correlation(torch_float32).passed


def test_flip_into_an_integer_array_fails_with_the_dtype_hint():
    def into_ints(kernel):
        out = np.zeros(kernel.shape, dtype=int)
        out[:] = kernel[::-1, ::-1]
        return out

    result = check_flip(into_ints)
    assert result.status == "failed" and "holds integers" in result.message
