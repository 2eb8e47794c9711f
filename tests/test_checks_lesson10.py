"""Lesson 10's checks: right answers pass (also written differently); the slips learners
make fail with their own feedback.

The reference solutions themselves are run from the notebook by tests/test_solutions.py;
here torch, counting the layers it really runs, stands in as an independent right answer.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from course_lib.checks.lesson10 import (
    check_bottleneck_multiplications,
    check_conv_multiplications,
    check_module_multiplications,
)
from course_lib.models import InceptionModule
from course_lib.shapes import summary


def _stub(*args, **kwargs):
    raise NotImplementedError("Exercise 10.1")


# ---- Exercise 10.1: multiplications of one conv layer ----------------------------------


def test_conv_multiplications_solution_passes():
    def solution(in_shape, n_filters, f):
        h, w, c = in_shape
        return h * w * n_filters * f * f * c

    assert check_conv_multiplications(solution).passed


def test_conv_multiplications_by_torch_passes():
    """Oracle: build the layer in torch (on the meta device) and count what it runs."""

    def by_torch(in_shape, n_filters, f):
        h, w, c = in_shape
        with torch.device("meta"):
            layer = nn.Conv2d(c, n_filters, f, padding=(f - 1) // 2)
        return summary(layer, (c, h, w)).total_mults

    assert check_conv_multiplications(by_torch).passed


def test_conv_multiplications_written_differently_passes():
    """Output values times the cost of one: numpy ints, in another order."""

    def per_output(in_shape, n_filters, f):
        outputs = np.prod(in_shape[:2]) * n_filters  # H x W x K values
        return outputs * (f**2 * in_shape[-1])  # each a dot product of f*f*C numbers

    assert check_conv_multiplications(per_output).passed


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (lambda s, k, f: s[0] * s[1] * k * f * f, "left out the input channels"),
        (lambda s, k, f: 2 * s[0] * s[1] * k * f * f * s[2], "counted the additions"),
        (lambda s, k, f: s[0] * s[1] * k * (2 * f * f * s[2] - 1), "counted the additions"),
        (lambda s, k, f: (s[0] - f + 1) * (s[1] - f + 1) * k * f * f * s[2], "'same' padding"),
        (lambda s, k, f: s[0] * s[1] * f * f * s[2], "one filter's work"),
        (lambda s, k, f: s[0] * s[1] * k * f * s[2], "not f."),
        (lambda s, k, f: (f * f * s[2] + 1) * k, "number of parameters"),
    ],
)
def test_conv_multiplications_mistakes_get_their_feedback(wrong, words):
    result = check_conv_multiplications(wrong)
    assert result.status == "failed"
    assert words in result.message, result.message


def test_conv_multiplications_unknown_error_fails_without_a_hint():
    result = check_conv_multiplications(lambda s, k, f: s[0] * s[1] * k * f * f * s[2] + 7)
    assert result.status == "failed" and "hint" not in result.message


def test_conv_multiplications_stub_is_not_attempted():
    assert check_conv_multiplications(_stub).status == "not attempted"


# ---- Exercise 10.2: the bottleneck branch ---------------------------------------------


def test_bottleneck_accepts_the_sum_and_torch_counts():
    assert check_bottleneck_multiplications(28 * 28 * 16 * 192 + 28 * 28 * 32 * 25 * 16).passed
    with torch.device("meta"):
        branch = nn.Sequential(nn.Conv2d(192, 16, 1), nn.Conv2d(16, 32, 5, padding=2))
    counted = summary(branch, (192, 28, 28)).total_mults
    for value in (counted, np.int64(counted), torch.tensor(counted), float(counted)):
        assert check_bottleneck_multiplications(value).passed, value


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (10_035_200, "only the 5x5 conv"),
        (2_408_448, "only the 1x1 conv"),
        (120_422_400, "the naive branch"),
        (2_408_448 + 120_422_400, "still reads all 192 channels"),
        (28 * 28 * 16 + 28 * 28 * 32 * 25, "left out the input channels"),
        (2 * 12_443_648, "counted the additions"),
        (12.4e6, "rounded figure"),
    ],
)
def test_bottleneck_mistakes_get_their_feedback(wrong, words):
    result = check_bottleneck_multiplications(wrong)
    assert result.status == "failed"
    assert words in result.message, result.message


def test_bottleneck_off_by_one_gets_no_rounding_hint():
    result = check_bottleneck_multiplications(12_443_649)
    assert result.status == "failed" and "rounded" not in result.message


def test_bottleneck_placeholder_is_not_attempted():
    assert check_bottleneck_multiplications(...).status == "not attempted"


# ---- Exercise 10.3: a whole module ------------------------------------------------------


def _module_3a(**kwargs) -> InceptionModule:
    with torch.device("meta"):
        return InceptionModule(192, c1=64, c3=128, c5=32, pool_proj=32, **kwargs)


def test_module_accepts_the_count_of_the_torch_module():
    counted = summary(_module_3a(c3_reduce=96, c5_reduce=16), (192, 28, 28)).total_mults
    assert check_module_multiplications(counted).passed
    assert check_module_multiplications(torch.tensor(counted)).passed


def test_module_accepts_a_branch_by_branch_sum():
    hw = 28 * 28
    branches = [
        hw * 64 * 192,  # 1x1
        hw * 96 * 192 + hw * 128 * 9 * 96,  # 1x1 reduce, 3x3
        hw * 16 * 192 + hw * 32 * 25 * 16,  # 1x1 reduce, 5x5
        hw * 32 * 192,  # pool projection
    ]
    assert check_module_multiplications(sum(branches)).passed


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (-28 * 28 * 32 * 192, "pool branch's 1x1 projection"),
        (-28 * 28 * (96 + 16) * 192, "two 1x1 reductions"),
        (-28 * 28 * 64 * 192, "the 1x1 branch"),
        (28 * 28 * 128 * 9 * (192 - 96), "your 3x3 conv reads 192"),
    ],
)
def test_module_mistakes_get_their_feedback(change, words):
    result = check_module_multiplications(128_049_152 + change)
    assert result.status == "failed"
    assert words in result.message, result.message


def test_module_naive_and_doubled_get_their_feedback():
    naive = summary(_module_3a(), (192, 28, 28)).total_mults
    assert "naive module" in check_module_multiplications(naive).message
    assert "additions" in check_module_multiplications(2 * 128_049_152).message


def test_module_placeholder_is_not_attempted():
    assert check_module_multiplications(...).status == "not attempted"
