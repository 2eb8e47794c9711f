"""Lesson 03's checks: right answers pass; the mistakes learners make fail with their own feedback.

The notebook's reference solutions run in tests/test_solutions.py; here torch stands in
as an independent correct answer where it applies (``nn.Conv2d`` parameter counts,
``F.max_pool2d``, ``F.conv2d`` with a 1x1 kernel).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.checks.lesson03 import check_conv_1x1, check_conv_layer_params, check_max_pool


def _stub(*args, **kwargs):
    raise NotImplementedError


@pytest.mark.parametrize("check", [check_conv_layer_params, check_max_pool, check_conv_1x1])
def test_untouched_stub_is_not_attempted(check):
    result = check(_stub)
    assert result.status == "not attempted" and not result.passed


# ---- Exercise 3.1: parameters of a conv layer ------------------------------------------


def test_conv_params_accepts_torch_count():
    """Oracle: torch's nn.Conv2d holds exactly the weights and biases of the layer."""

    def by_torch(input_shape, f, n_filters):
        layer = nn.Conv2d(input_shape[2], n_filters, f, device="meta")
        return sum(p.numel() for p in layer.parameters())

    assert check_conv_layer_params(by_torch).passed


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda shape, f, k: f * f * shape[2] * k, "not the biases"),
        (lambda shape, f, k: (f * f + 1) * k, "f*f*C weights"),
        (
            lambda shape, f, k: (f * f * shape[2] + 1) * k * (shape[0] - f + 1) * (shape[1] - f + 1),
            "parameter sharing",
        ),
        (lambda shape, f, k: (f * f * shape[2] + 1) * k * shape[0] * shape[1], "does not depend"),
        (lambda shape, f, k: 2 * f * f * shape[2] * k, "one bias per filter"),
        (lambda shape, f, k: f * f * shape[2] * k + 1, "not one per layer"),
        (lambda shape, f, k: (f * f + 1) * shape[2] * k, "not one per input channel"),
        (lambda shape, f, k: (f * f * shape[0] + 1) * k, "input_shape[0]"),
        (lambda shape, f, k: (shape[0] * shape[1] * shape[2] + 1) * k, "fully connected"),
        (lambda shape, f, k: shape[0] * shape[1] * shape[2] * k, "fully connected"),
    ],
    ids=[
        "no-bias", "no-channels", "per-position", "times-HW", "bias-per-weight", "bias-per-layer",
        "bias-per-channel", "channels-first", "HWC-weights", "HWC-weights-no-bias",
    ],
)
def test_conv_params_mistakes_get_their_hint(wrong, hint):
    result = check_conv_layer_params(wrong)
    assert not result.passed
    assert hint in result.message, result.message


def test_conv_params_unrecognised_wrong_answer_fails_without_hint():
    result = check_conv_layer_params(lambda shape, f, k: 281)
    assert not result.passed and "hint" not in result.message


# ---- Exercise 3.2: max pooling by hand -------------------------------------------------


def test_max_pool_accepts_torch_answer():
    """Oracle: torch's F.max_pool2d (floor mode, no padding) on a (1, 1, H, W) tensor."""

    def by_torch(x, f, s):
        t = torch.as_tensor(x, dtype=torch.float64)[None, None]  # (1, 1, H, W)
        return F.max_pool2d(t, f, stride=s)[0, 0].numpy()

    assert check_max_pool(by_torch).passed


def _pool(x, f, s, reduce, ceil=False):
    h, w = x.shape
    rounding = np.ceil if ceil else np.floor
    oh, ow = int(rounding((h - f) / s)) + 1, int(rounding((w - f) / s)) + 1
    return np.array(
        [[reduce(x[i * s : i * s + f, j * s : j * s + f]) for j in range(ow)] for i in range(oh)]
    )


def _pool_range(x, f, s):
    """The loops a learner writes with range(0, n - f, s): the last window is missed."""
    rows, cols = range(0, x.shape[0] - f, s), range(0, x.shape[1] - f, s)
    return np.array([[x[i : i + f, j : j + f].max() for j in cols] for i in rows])


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda x, f, s: _pool(x, f, s, np.mean), "average pooling"),
        (lambda x, f, s: _pool(x, f, 1, np.max), "not by one cell"),
        (lambda x, f, s: _pool(x, f, f, np.max), "not by f"),
        (lambda x, f, s: _pool(x, f, s, np.max, ceil=True), "floor"),
        (lambda x, f, s: _pool(x, f, s, np.sum), "sum of each window"),
        (lambda x, f, s: _pool_range(x, f, s), "range(0, n - f, s)"),
    ],
    ids=["average", "stride-1", "stride-f", "ceil", "sum", "range-misses-last"],
)
def test_max_pool_mistakes_get_their_hint(wrong, hint):
    result = check_max_pool(wrong)
    assert not result.passed
    assert hint in result.message, result.message


def test_max_pool_that_changes_its_input_is_reported():
    def in_place(x, f, s):
        out = _pool(x, f, s, np.max)
        x[:] = 0
        return out

    result = check_max_pool(in_place)
    assert not result.passed and "in place" in result.message


# ---- Exercise 3.3: a 1x1 convolution ---------------------------------------------------


def test_conv_1x1_accepts_torch_answer():
    """Oracle: torch's F.conv2d with weights of shape (K, C, 1, 1)."""

    def by_torch(volume, weights, bias):
        x = torch.as_tensor(volume).permute(2, 0, 1)[None]  # (H, W, C) -> (1, C, H, W)
        w = torch.as_tensor(weights)[:, :, None, None]  # (K, C) -> (K, C, 1, 1)
        out = F.conv2d(x, w, torch.as_tensor(bias))  # (1, K, H, W)
        return out[0].permute(1, 2, 0).numpy()  # (H, W, K)

    assert check_conv_1x1(by_torch).passed


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda v, w, b: v @ w.T, "left out the bias"),
        (lambda v, w, b: v[:, :, None, :] * w[None, None] + b[None, None, :, None], "summed"),
        (lambda v, w, b: (v @ w.T) / v.shape[2] + b, "do not average"),
        (lambda v, w, b: np.maximum(v @ w.T + b, 0), "leave the ReLU out"),
    ],
    ids=["no-bias", "not-summed", "mean", "relu"],
)
def test_conv_1x1_mistakes_get_their_hint(wrong, hint):
    result = check_conv_1x1(wrong)
    assert not result.passed
    assert hint in result.message, result.message


def test_conv_1x1_matmul_the_wrong_way_is_the_learners_error_with_a_hint():
    def conv_1x1(volume, weights, bias):
        return volume @ weights + bias  # (H, W, C) @ (K, C): wrong orientation

    result = check_conv_1x1(conv_1x1)
    line = conv_1x1.__code__.co_firstlineno + 1
    assert not result.passed
    assert f"your function raised ValueError at line {line}" in result.message
    assert "volume @ weights.T" in result.message


def test_max_pool_into_an_integer_array_fails_on_the_photo():
    def into_ints(x, f, s):
        out = np.zeros(((x.shape[0] - f) // s + 1, (x.shape[1] - f) // s + 1), dtype=int)
        for i in range(out.shape[0]):
            for j in range(out.shape[1]):
                out[i, j] = x[i * s : i * s + f, j * s : j * s + f].max()
        return out

    result = check_max_pool(into_ints)
    assert not result.passed and "photo" in result.case and "holds integers" in result.message


def test_float32_answers_pass():
    def pool32(x, f, s):
        return F.max_pool2d(torch.as_tensor(x, dtype=torch.float32)[None, None], f, stride=s)[0, 0]

    def conv32(volume, weights, bias):
        v, w = torch.as_tensor(volume, dtype=torch.float32), torch.as_tensor(weights).float()
        return v @ w.T + torch.as_tensor(bias).float()  # (H, W, C) @ (C, K) -> (H, W, K)

    assert check_max_pool(pool32).passed
    assert check_conv_1x1(conv32).passed
