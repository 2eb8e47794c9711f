"""Lesson 09's checks: right answers pass, written in several ways; the mistakes learners
make fail with their own feedback.

The reference solutions themselves are run from the notebook by tests/test_solutions.py;
here ``torch.nn`` layers with copied weights stand in as an independent correct answer.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.checks.lesson09 import (
    BLOCK_CASES,
    bottleneck_weights,
    check_bottleneck_weights,
    check_residual_block,
    residual_block,
)
from course_lib.models import Bottleneck, ResidualBlock


def _stub(*args, **kwargs):
    raise NotImplementedError("Exercise 9.1")


# ---- Exercise 9.1: a residual block ----------------------------------------------------


def solution(x, w1, b1, w2, b2, w_s=None, b_s=None, stride=1):
    a1 = F.relu(F.conv2d(x, w1, b1, stride=stride, padding=1))
    z2 = F.conv2d(a1, w2, b2, padding=1)
    shortcut = x if w_s is None else F.conv2d(x, w_s, b_s, stride=stride)
    return F.relu(z2 + shortcut)


def with_nn_layers(x, w1, b1, w2, b2, w_s=None, b_s=None, stride=1):
    """Right, written differently: nn.Conv2d layers with the weights copied in, numpy out."""
    c_out, c_in = w1.shape[:2]
    conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1).double()
    conv2 = nn.Conv2d(c_out, c_out, 3, padding="same").double()
    with torch.no_grad():
        conv1.weight.copy_(w1), conv1.bias.copy_(b1)
        conv2.weight.copy_(w2), conv2.bias.copy_(b2)
        main = conv2(torch.relu(conv1(x)))
        if w_s is not None:
            skip = torch.einsum("oc,nchw->nohw", w_s[:, :, 0, 0], x[:, :, ::stride, ::stride])
            skip = skip + b_s[None, :, None, None]
        else:
            skip = x
        return torch.clamp(skip + main, min=0).numpy()


def in_float32(x, w1, b1, w2, b2, w_s=None, b_s=None, stride=1):
    args = [t.float() if t is not None else None for t in (x, w1, b1, w2, b2, w_s, b_s)]
    return solution(*args, stride=stride)


def test_the_reference_is_the_library_block():
    case = BLOCK_CASES[1]
    assert check_residual_block(residual_block).passed
    out = residual_block(*case.args, **case.kwargs)
    torch.testing.assert_close(out, torch.from_numpy(case.expected), rtol=1e-12, atol=1e-12)
    assert tuple(out.shape) == (2, 5, 3, 4)


def test_the_cases_cover_identity_projection_and_stride_two():
    kinds = {("w_s" in c.kwargs, c.kwargs.get("stride", 1)) for c in BLOCK_CASES}
    assert kinds == {(False, 1), (True, 2), (True, 1)}
    assert all(c.expected.shape[0] != c.expected.shape[1] for c in BLOCK_CASES)


@pytest.mark.parametrize("right", [solution, with_nn_layers, in_float32])
def test_right_answers_pass(right):
    result = check_residual_block(right)
    assert result.passed, result.message


def test_the_library_block_itself_with_batch_norm_off_passes():
    def library(x, w1, b1, w2, b2, w_s=None, b_s=None, stride=1):
        block = ResidualBlock(x.shape[1], w1.shape[0], stride=stride, batch_norm=False).double()
        weights = [w1, b1, w2, b2] + ([w_s, b_s] if w_s is not None else [])
        with torch.no_grad():
            for p, w in zip(block.parameters(), weights, strict=True):
                p.copy_(w)
            return block(x)

    assert check_residual_block(library).passed


def _variant(**change):
    def wrong(x, w1, b1, w2, b2, w_s=None, b_s=None, stride=1):
        s1, s2 = (1, stride) if change.get("stride_second") else (stride, 1)
        a1 = F.relu(F.conv2d(x, w1, b1, stride=s1, padding=1))
        z2 = F.conv2d(a1, w2, b2, stride=s2, padding=1)
        if w_s is None:
            shortcut = x
        else:
            shortcut = F.conv2d(x, w_s, None if change.get("no_bias") else b_s,
                                stride=1 if change.get("no_stride") else stride)
        if change.get("after"):
            return torch.relu(z2) + shortcut
        if change.get("no_relu"):
            return z2 + shortcut
        return F.relu(z2 + shortcut)

    return wrong


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (_variant(after=True), "added before the second activation"),
        (_variant(no_relu=True), "ends with an activation"),
        (_variant(stride_second=True), "stride belongs to the first"),
        (_variant(no_stride=True), "with the block's stride"),
        (_variant(no_bias=True), "its own bias"),
    ],
)
def test_block_mistakes_get_their_feedback(wrong, words):
    result = check_residual_block(wrong)
    assert result.status == "failed"
    assert words in result.message, result.message


def test_a_forgotten_stride_is_told_apart_from_an_ignored_projection():
    def no_stride(x, w1, b1, w2, b2, w_s=None, b_s=None, stride=1):
        a1 = F.relu(F.conv2d(x, w1, b1, padding=1))
        z2 = F.conv2d(a1, w2, b2, padding=1)
        shortcut = x if w_s is None else F.conv2d(x, w_s, b_s, stride=stride)
        return F.relu(z2 + shortcut)

    result = check_residual_block(no_stride)
    assert result.status == "failed" and "the first 3x3 conv carries" in result.message
    assert "whenever w_s is given" not in result.message


def test_ignoring_the_projection_is_named_whichever_order_the_sum_is_written():
    def ignores(x, w1, b1, w2, b2, w_s=None, b_s=None, stride=1):
        a1 = F.relu(F.conv2d(x, w1, b1, stride=stride, padding=1))
        return F.relu(x + F.conv2d(a1, w2, b2, padding=1))

    result = check_residual_block(ignores)
    assert result.status == "failed" and "RuntimeError" in result.message
    assert "whenever w_s is given" in result.message, result.message


def test_a_skip_from_the_middle_and_a_missing_skip_are_named():
    def from_middle(x, w1, b1, w2, b2, w_s=None, b_s=None, stride=1):
        a1 = F.relu(F.conv2d(x, w1, b1, stride=stride, padding=1))
        return F.relu(F.conv2d(a1, w2, b2, padding=1) + a1)

    def plain(x, w1, b1, w2, b2, w_s=None, b_s=None, stride=1):
        a1 = F.relu(F.conv2d(x, w1, b1, stride=stride, padding=1))
        return F.relu(F.conv2d(a1, w2, b2, padding=1))

    assert "not at the first conv's output" in check_residual_block(from_middle).message
    assert "that is the plain block" in check_residual_block(plain).message


def test_untouched_stub_is_not_attempted_and_a_missing_padding_is_reported():
    assert check_residual_block(_stub).status == "not attempted"

    def no_padding(x, w1, b1, w2, b2, w_s=None, b_s=None, stride=1):
        a1 = F.relu(F.conv2d(x, w1, b1, stride=stride))
        return F.relu(F.conv2d(a1, w2, b2) + x)

    result = check_residual_block(no_padding)
    assert result.status == "failed" and "your function raised RuntimeError" in result.message


# ---- Exercise 9.3: the weights of a bottleneck ---------------------------------------


def test_bottleneck_reference_agrees_with_the_library_block():
    def conv_weights(module):
        return sum(m.weight.numel() for m in module.modules() if isinstance(m, nn.Conv2d))

    for reduced in (16, 64, 512):
        assert bottleneck_weights(4 * reduced, reduced) == conv_weights(Bottleneck(4 * reduced,
                                                                                   reduced))
    assert bottleneck_weights(256, 64) == 69_632


@pytest.mark.parametrize(
    "right",
    [
        lambda c, r: c * r + 9 * r * r + r * c,
        lambda c, r: math.prod((1, 1, c, r)) * 2 + math.prod((3, 3, r, r)),
        lambda c, r: float(2 * c * r + 9 * r**2),  # a float equal to the count passes
        lambda c, r: sum(p.numel() for p in (nn.Conv2d(c, r, 1, bias=False),
                                             nn.Conv2d(r, r, 3, bias=False),
                                             nn.Conv2d(r, c, 1, bias=False)) for p in p.parameters()),
    ],
)
def test_bottleneck_right_answers_pass(right):
    result = check_bottleneck_weights(right)
    assert result.passed, result.message


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (lambda c, r: 9 * r * r, "count both 1x1 convs"),
        (lambda c, r: c * r + 9 * r * r, "you counted one 1x1 conv"),
        (lambda c, r: 2 * c * r + 9 * c * r, "works on the narrowed maps"),
        (lambda c, r: 2 * c * r + 9 * r * r + 2 * r + c, "no biases here"),
        (lambda c, r: 18 * c * r + 9 * r * r, "not 3 x 3 x C_in"),
        (lambda c, r: 18 * c * c, "basic block of two 3x3 convs"),
        (lambda c, r: 2 * c * r + 9 * r, "9 r^2, not 9 r"),
    ],
)
def test_bottleneck_mistakes_get_their_feedback(wrong, words):
    result = check_bottleneck_weights(wrong)
    assert result.status == "failed"
    assert words in result.message, result.message
