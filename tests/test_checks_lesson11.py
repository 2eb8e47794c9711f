"""Lesson 11's checks: the answer keys agree with torch, right answers written differently
pass, and the mistakes learners make fail with their own feedback.

The reference solutions themselves are run from the notebook by tests/test_solutions.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_lib import ops
from course_lib.checks.lesson11 import (
    _fc_cases,
    _unpool_cases,
    check_fc_as_conv,
    check_max_unpool,
)

F64 = {"rtol": 1e-12, "atol": 1e-12}


def _stub(*args, **kwargs):
    raise NotImplementedError("Exercise")


# ---- Exercise 11.1: a fully connected weight as a convolution kernel --------------------


@pytest.mark.parametrize("case", _fc_cases(), ids=lambda c: c.label)
def test_the_fc_answer_key_computes_what_torch_linear_computes(case):
    """Oracle: torch's nn.Linear on the flattened map vs F.conv2d with the expected kernel."""
    weight, in_shape = case.args
    x = torch.randn(4, *in_shape, dtype=torch.float64)
    linear = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=False).double()
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(weight))
        want = linear(torch.nn.Flatten()(x))
    got = F.conv2d(x, torch.from_numpy(case.expected))[:, :, 0, 0]
    torch.testing.assert_close(got, want, **F64)


def _fc_solution(weight, in_shape):
    c, h, w = in_shape
    return weight.reshape(weight.shape[0], c, h, w)


def _fc_by_loops(weight, in_shape):
    """Right, written differently: fill the kernel element by element from the flat index."""
    c, h, w = in_shape
    kernel = np.empty((weight.shape[0], c, h, w))
    for ci in range(c):
        for i in range(h):
            for j in range(w):
                kernel[:, ci, i, j] = weight[:, ci * h * w + i * w + j]
    return kernel


def _fc_torch(weight, in_shape):
    """Right, written differently: torch's view on a float32 tensor."""
    return torch.from_numpy(weight).float().view(weight.shape[0], *in_shape)


@pytest.mark.parametrize("answer", [_fc_solution, _fc_by_loops, _fc_torch])
def test_right_fc_answers_pass_and_report_identical_outputs(answer):
    result = check_fc_as_conv(answer)
    assert result.passed, result
    assert "Identical outputs" in result.message


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (lambda w, s: w.reshape(len(w), s[1], s[2], s[0]).transpose(0, 3, 1, 2), "channels-last"),
        (lambda w, s: w.reshape(len(w), s[0], s[2], s[1]).transpose(0, 1, 3, 2),
         "rows and columns are swapped"),
        (lambda w, s: w.T.reshape(len(w), *s), "do not transpose it first"),
        (lambda w, s: w if s[1:] == (1, 1) else w.reshape(len(w), *s), "always has four axes"),
        (lambda w, s: w, "as it came in"),
        (lambda w, s: w.reshape(len(w), s[1], s[2], s[0]), "(h, w, C) last"),
        (lambda w, s: w.reshape(s[0], -1, s[1], s[2]), "layout of ConvTranspose2d"),
    ],
    ids=["channels last", "rows and columns", "transposed first", "1x1 left 2-D", "unchanged",
         "kernel axes in image order", "input channels first"],
)  # fmt: skip
def test_fc_mistakes_fail_with_their_hint(answer, words):
    result = check_fc_as_conv(answer)
    assert result.status == "failed", result
    assert words in result.message, result.message


def test_fc_stub_is_not_attempted():
    assert check_fc_as_conv(_stub).status == "not attempted"


# ---- Exercise 11.2: max unpooling ------------------------------------------------------------


@pytest.mark.parametrize("case", _unpool_cases(), ids=lambda c: c.label)
def test_the_unpool_answer_key_is_torch_max_unpool2d(case):
    """Oracle: F.max_unpool2d fed with F.max_pool2d's indices (equal to the course's)."""
    pooled, indices, size = case.args
    want = F.max_unpool2d(torch.from_numpy(pooled), torch.from_numpy(indices), 3, stride=2,
                          output_size=size)  # fmt: skip
    torch.testing.assert_close(torch.from_numpy(case.expected), want, **F64)
    assert np.count_nonzero(case.expected) <= pooled.size


def _unpool_solution(pooled, indices, output_size):
    n, c = pooled.shape[:2]
    h, w = output_size
    out = np.zeros((n, c, h * w))
    np.put_along_axis(out, indices.reshape(n, c, -1), pooled.reshape(n, c, -1), axis=2)
    return out.reshape(n, c, h, w)


def _unpool_loops(pooled, indices, output_size):
    """Right, written differently: loops and divmod."""
    out = np.zeros((*pooled.shape[:2], *output_size))
    for idx in np.ndindex(pooled.shape):
        r, col = divmod(int(indices[idx]), output_size[1])
        out[idx[0], idx[1], r, col] = pooled[idx]
    return out


def _unpool_offsets(pooled, indices, output_size):
    """Right, written differently: add each plane's offset and write into a flat torch tensor."""
    n, c = pooled.shape[:2]
    plane = output_size[0] * output_size[1]
    offsets = (np.arange(n * c) * plane).reshape(n, c, 1, 1)
    out = torch.zeros(n * c * plane, dtype=torch.float32)
    out[torch.from_numpy((indices + offsets).ravel())] = torch.from_numpy(pooled.ravel()).float()
    return out.reshape(n, c, *output_size)


@pytest.mark.parametrize("answer", [_unpool_solution, _unpool_loops, _unpool_offsets])
def test_right_unpool_answers_pass(answer):
    result = check_max_unpool(answer)
    assert result.passed, result


def _unpool_no_offsets(pooled, indices, output_size):
    out = np.zeros(pooled.size // pooled.shape[2] // pooled.shape[3] * int(np.prod(output_size)))
    out[indices.ravel()] = pooled.ravel()
    return out.reshape(*pooled.shape[:2], *output_size)


def _unpool_swapped(pooled, indices, output_size):
    out = np.zeros((*pooled.shape[:2], *output_size))
    for idx in np.ndindex(pooled.shape):
        col, r = divmod(int(indices[idx]), output_size[0])  # divides by the height
        out[idx[0], idx[1], r, col] = pooled[idx]
    return out


def _unpool_nearest(pooled, indices, output_size):
    s = output_size[0] // pooled.shape[2]
    out = np.zeros((*pooled.shape[:2], *output_size))
    up = pooled.repeat(s, axis=2).repeat(s, axis=3)
    out[..., : up.shape[2], : up.shape[3]] = up[..., : output_size[0], : output_size[1]]
    return out


def _unpool_nails(pooled, indices, output_size):
    s = output_size[0] // pooled.shape[2]
    out = np.zeros((*pooled.shape[:2], *output_size))
    out[..., : s * pooled.shape[2] : s, : s * pooled.shape[3] : s] = pooled
    return out


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (_unpool_no_offsets, "every value landed in the first plane"),
        (_unpool_swapped, "column by column"),
        (lambda p, i, s: _scatter_rows(p, i % s[1], i // s[1], s), "positions came out of the map"),
        (_unpool_nearest, "nearest-neighbour upsampling"),
        (_unpool_nails, "bed of nails"),
    ],
)
def test_unpool_mistakes_fail_with_their_hint(answer, words):
    result = check_max_unpool(answer)
    assert result.status == "failed", result
    assert words in result.message, result.message


def test_unpool_integer_output_gets_the_integer_hint():
    result = check_max_unpool(lambda p, i, s: _unpool_solution(p, i, s).astype(np.int64))
    assert result.status == "failed" and "holds integers" in result.message


def test_unpool_in_place_damage_is_reported():
    def damaging(pooled, indices, output_size):
        out = _unpool_solution(pooled, indices, output_size)
        pooled *= 0
        return out

    result = check_max_unpool(damaging)
    assert result.status == "failed" and "changed its input" in result.message


def test_unpool_stub_is_not_attempted():
    assert check_max_unpool(_stub).status == "not attempted"


def test_the_cases_cover_overlap_and_leftover_rows():
    labels = [c.label for c in _unpool_cases()]
    assert any("overlapping" in label for label in labels)
    assert any("never pooled" in label for label in labels)
    # the leftover last row and column of the odd-sized case stay zero
    odd = _unpool_cases()[2]
    assert np.all(odd.expected[..., -1, :] == 0) and np.all(odd.expected[..., :, -1] == 0)
    x = np.random.default_rng(0).standard_normal((1, 1, 4, 4))
    pooled, idx = ops.max_pool2d(x, 2, return_indices=True)
    at_maxima = x == ops.upsample_nearest(pooled, 2)  # each window's maximum, and only it
    np.testing.assert_array_equal(_unpool_solution(pooled, idx, (4, 4)) != 0, at_maxima)


def _scatter_rows(pooled, rows, cols, output_size):
    out = np.zeros((*pooled.shape[:2], *output_size))
    for idx in np.ndindex(pooled.shape):
        out[idx[0], idx[1], rows[idx], cols[idx]] = pooled[idx]
    return out
