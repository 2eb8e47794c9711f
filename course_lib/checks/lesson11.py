"""Checks for lesson 11 (from classification to dense prediction).

* Exercise 11.1: :func:`check_fc_as_conv`, the weight of a fully connected layer
  rewritten as a convolution's: ``Linear(C*h*w, out)`` reading a flattened (C, h, w)
  map becomes a ``Conv2d(C, out, (h, w))`` (VGG-16's fc6: a 7x7 conv on 512 channels;
  fc7 and the classifier: 1x1 convs). The answer key is the reshape that
  :func:`course_lib.models.fc_to_conv` does; a passing answer is also run as a
  convolution on test maps and its outputs compared with the fully connected layer's.
* Exercise 11.2: :func:`check_max_unpool`, max unpooling with the positions max pooling
  remembered (torch's flat indices ``row * W + col`` within each plane). The answer key
  is :func:`course_lib.ops.max_unpool2d`, which the tests check against
  ``torch.nn.functional.max_unpool2d``.

The mistakes are the slips learners make, each with its own feedback.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from course_lib import ops
from course_lib.checks import Case, CheckResult, Mistake, check_function

__all__ = ["check_fc_as_conv", "check_max_unpool"]


# --------------------------------------------------------------------------- Exercise 11.1


def _fc_cases() -> list[Case]:
    rng = np.random.default_rng(11)
    settings = [
        ("fc6 of a small VGG: Linear(2*7*7, 5) reading a 2x7x7 map, a 7x7 conv", 5, (2, 7, 7)),
        ("Linear(3*2*4, 4) reading a non-square 3x2x4 map", 4, (3, 2, 4)),
        ("fc7: Linear(6, 5) reading a 6x1x1 map, a 1x1 conv", 5, (6, 1, 1)),
    ]
    cases = []
    for label, out, (c, h, w) in settings:
        weight = rng.standard_normal((out, c * h * w))
        cases.append(Case(label, (weight, (c, h, w)), expected=weight.reshape(out, c, h, w)))
    return cases


def _channels_last(weight, in_shape):
    c, h, w = in_shape
    return weight.reshape(len(weight), h, w, c).transpose(0, 3, 1, 2)


def _rows_columns_swapped(weight, in_shape):
    c, h, w = in_shape
    return weight.reshape(len(weight), c, w, h).transpose(0, 1, 3, 2)


def _transposed_first(weight, in_shape):
    c, h, w = in_shape
    return weight.T.reshape(len(weight), c, h, w)


FC_AS_CONV_MISTAKES = [
    Mistake(
        "you read the flattened vector as channels-last (h, w, C), as TensorFlow/Keras lay "
        "out images. torch's Flatten reads an (C, h, w) map in C order: the index of "
        "x[c, i, j] is c*h*w + i*w + j, so weight.reshape(out, C, h, w) is all it takes.",
        _channels_last,
    ),
    Mistake(
        "rows and columns are swapped: Flatten runs along each row first (index "
        "c*h*w + i*w + j, row i, column j), so the kernel is weight.reshape(out, C, h, w), "
        "not (out, C, w, h) transposed back.",
        _rows_columns_swapped,
    ),
    Mistake(
        "nn.Linear stores its weight as (out_features, in_features) and computes "
        "x @ weight.T: the rows are already the output units. Reshape weight itself; do not "
        "transpose it first.",
        _transposed_first,
    ),
    Mistake(
        "a convolution's weight always has four axes (out, C, kh, kw), even for a 1x1 "
        "kernel: fc7 becomes weight.reshape(out, C, 1, 1), not the (out, C) matrix as it is.",
        lambda weight, in_shape: weight.reshape(len(weight), in_shape[0], -1).squeeze(-1),
    ),
    Mistake(
        "this is the fully connected weight as it came in, (out, C*h*w): reshape it into "
        "the convolution's four axes (out, C, h, w).",
        lambda weight, in_shape: weight,
    ),
    Mistake(
        "a Conv2d weight is laid out (out, C, kh, kw): output channels, then input channels, "
        "then the kernel's rows and columns. (h, w, C) last is how TensorFlow/Keras store "
        "images, not torch's kernels.",
        lambda weight, in_shape: weight.reshape(len(weight), in_shape[1], in_shape[2], in_shape[0]),
    ),
    Mistake(
        "the output channels come first in a Conv2d weight, (out, C, kh, kw); (C_in, C_out, "
        "kh, kw) is the layout of ConvTranspose2d. Reshape to (weight.shape[0], C, h, w).",
        lambda weight, in_shape: weight.reshape(in_shape[0], len(weight), *in_shape[1:]),
    ),
]


def _conv_gap(fn, case: Case) -> float | None:
    """Largest |conv2d(x, your weight) - x_flat @ weight.T| on test maps, or None."""
    weight, in_shape = case.args
    try:
        got = np.asarray(fn(weight.copy(), tuple(in_shape)), dtype=np.float64)
    except Exception:  # the check has reported it already
        return None
    if got.shape != case.expected.shape:
        return None
    x = np.random.default_rng(5).standard_normal((3, *in_shape))  # (N, C, h, w)
    conv = ops.conv2d(x, got)[:, :, 0, 0]  # (N, out, 1, 1) -> (N, out)
    return float(np.max(np.abs(conv - x.reshape(3, -1) @ weight.T)))


def check_fc_as_conv(fn) -> CheckResult:
    """Exercise 11.1: ``fn(weight, in_shape)`` turns an nn.Linear weight (out, C*h*w)
    that reads a flattened ``in_shape`` = (C, h, w) map into the weight (out, C, h, w) of
    the convolution computing the same numbers (the bias stays as it is).

    After the weights are compared, a passing answer is run: conv2d with it on test maps
    against the fully connected layer, and the largest difference reported.
    """
    cases = _fc_cases()
    result = check_function("Exercise 11.1", fn, cases, mistakes=FC_AS_CONV_MISTAKES)
    if not result.passed:
        return result
    gap = max((g for g in (_conv_gap(fn, c) for c in cases) if g is not None), default=None)
    if gap is None:
        return result
    note = (f" Identical outputs: as convolutions your weights give the fully connected "
            f"layers' numbers on test maps to within {gap:.1e}.")  # fmt: skip
    changed = dataclasses.replace(result, message=result.message + note)
    return changed._with_cases(result.cases)


# --------------------------------------------------------------------------- Exercise 11.2


def _unpool_cases() -> list[Case]:
    rng = np.random.default_rng(12)
    settings = [
        ("a 2x2 pool (stride 2) of a 2x3x4x6 map", (2, 3, 4, 6), 2, 2),
        ("a 3x3 pool with stride 2 (overlapping windows) of a 2x3x7x9 map", (2, 3, 7, 9), 3, 2),
        ("a 2x2 pool of a 2x2x5x7 map (the last row and column are never pooled)",
         (2, 2, 5, 7), 2, 2),
    ]  # fmt: skip
    cases = []
    for label, shape, k, s in settings:
        x = rng.standard_normal(shape)
        pooled, indices = ops.max_pool2d(x, k, stride=s, return_indices=True)
        size = shape[2:]
        expected = ops.max_unpool2d(pooled, indices, k, stride=s, output_size=size)
        cases.append(Case(label, (pooled, indices, size), expected=expected))
    return cases


def _scatter(pooled, rows, cols, output_size):
    n, c = pooled.shape[:2]
    out = np.zeros((n, c, *output_size))
    nn_, cc = np.meshgrid(np.arange(n), np.arange(c), indexing="ij")
    out[nn_[..., None, None], cc[..., None, None], rows, cols] = pooled
    return out


def _no_plane_offsets(pooled, indices, output_size):
    out = np.zeros(pooled.shape[0] * pooled.shape[1] * output_size[0] * output_size[1])
    out[indices.ravel()] = pooled.ravel()
    return out.reshape(*pooled.shape[:2], *output_size)


def _row_column_swapped(pooled, indices, output_size):
    h, w = output_size
    return _scatter(pooled, indices % w, indices // w, output_size)


def _column_major(pooled, indices, output_size):
    h, w = output_size
    return _scatter(pooled, indices % h, indices // h, output_size)


def _nearest(pooled, indices, output_size):
    h, w = output_size
    s = h // pooled.shape[2]
    out = np.zeros((*pooled.shape[:2], h, w))
    up = ops.upsample_nearest(pooled, s)
    out[..., : up.shape[2], : up.shape[3]] = up[..., :h, :w]
    return out


def _nails(pooled, indices, output_size):
    h, w = output_size
    s = h // pooled.shape[2]
    out = np.zeros((*pooled.shape[:2], h, w))
    up = ops.bed_of_nails(pooled, s)
    out[..., : up.shape[2], : up.shape[3]] = up[..., :h, :w]
    return out


UNPOOL_MISTAKES = [
    Mistake(
        "every value landed in the first plane: the indices count positions within ONE "
        "H x W plane (row * W + col), the same numbers in every (image, channel) plane. "
        "Turn each into a row and a column (divmod(index, W)) and write into out[n, c, "
        "row, col], or add n*C*H*W + c*H*W before indexing the flattened output.",
        _no_plane_offsets,
    ),
    Mistake(
        "the positions came out of the map: a flat index is row * W + col, so "
        "row = index // W and col = index % W, with W the output's width (output_size[1]). "
        "Dividing by the height, or swapping row and column, sends them off the map.",
        _row_column_swapped,
    ),
    Mistake(
        "you read the flat index column by column (index = col * H + row, numpy's "
        "order='F'); torch counts row by row: index = row * W + col, so row = index // W "
        "and col = index % W.",
        _column_major,
    ),
    Mistake(
        "you copied each value over its whole window (nearest-neighbour upsampling). "
        "Max unpooling puts each value back only at the one position its maximum came "
        "from, given by indices, and leaves zeros everywhere else.",
        _nearest,
    ),
    Mistake(
        "you put each value at the top-left corner of its window (bed of nails). Max "
        "unpooling puts it where the maximum was: the position stored in indices.",
        _nails,
    ),
]


def check_max_unpool(fn) -> CheckResult:
    """Exercise 11.2: ``fn(pooled, indices, output_size)`` -> (N, C, H, W) zeros with each
    pooled value written back at its remembered position.

    pooled, indices: (N, C, h, w), from ``ops.max_pool2d(x, k, stride=s,
    return_indices=True)`` (flat indices ``row * W + col`` in each plane); output_size:
    (H, W) of the map before pooling.
    """
    return check_function("Exercise 11.2", fn, _unpool_cases(), mistakes=UNPOOL_MISTAKES)
