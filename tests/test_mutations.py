"""The op tests can fail: plausible wrong ops are caught by the same comparisons.

Each mutant below is a small function with one bug a learner (or a refactoring) really
makes. It runs through the comparison the op tests run, on the same cases (their
hypothesis strategies, as many examples) and with the same shared helper
(``_ops_helpers.close``, whose tolerance depends only on the dtype), and the test asserts
that the comparison fails, while the real op, and the same small function without the
bug, pass it. Hypothesis draws derandomized examples here, so the outcome is fixed.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch.nn.functional as F
from _ops_helpers import close, to_torch
from hypothesis import given, settings
from hypothesis import strategies as st
from test_ops_conv import assert_conv2d_matches_torch, conv_case
from test_ops_norm import bn_case
from test_ops_pool import pool_case

from course_lib.ops import batch_norm, conv2d, max_pool2d

# as many examples as the op tests (their HYP), but always the same ones
SAME_CASES = settings(
    max_examples=30, deadline=None, derandomize=True, database=None, report_multiple_bugs=False
)
# what assert_close says when values or shapes differ (not some other assertion)
COMPARISON_FAILED = r"not close|do not match"


def run_op_test(compare, cases) -> None:
    """Run ``compare(case)`` for the op test's cases, as the op test does; the first
    failing case's AssertionError propagates."""

    @SAME_CASES
    @given(case=cases)
    def op_test(case):
        compare(case)

    op_test()


def assert_caught(compare, cases, *, right, wrong) -> None:
    """``right`` passes ``compare`` on every case; ``wrong`` fails it on some case."""
    run_op_test(lambda case: compare(right, case), cases)
    with pytest.raises(AssertionError, match=COMPARISON_FAILED):
        run_op_test(lambda case: compare(wrong, case), cases)


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


# ------------------------------------------------------------------ batch norm without eps


def _batch_norm(x, gamma, beta, running_mean, running_var, *, training, momentum, eps):
    """Batch norm written out in numpy, the way lesson 05 teaches it."""
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    shape = (1, -1) + (1,) * (x.ndim - 2)  # per-channel values broadcast over x
    if training:
        mean, var = x.mean(axis=axes), x.var(axis=axes)
        m = x.size // x.shape[1]
        new_rm = (1 - momentum) * running_mean + momentum * mean
        new_rv = (1 - momentum) * running_var + momentum * var * m / (m - 1)
    else:
        mean, var = running_mean, running_var
        new_rm, new_rv = running_mean, running_var
    x_hat = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    return gamma.reshape(shape) * x_hat + beta.reshape(shape), new_rm, new_rv


def batch_norm_right(x, gamma, beta, rm, rv, *, training, momentum):
    return _batch_norm(x, gamma, beta, rm, rv, training=training, momentum=momentum, eps=1e-5)


def batch_norm_without_eps(x, gamma, beta, rm, rv, *, training, momentum):
    """The mutant: x_hat = (x - mean) / sqrt(var), eps forgotten."""
    return _batch_norm(x, gamma, beta, rm, rv, training=training, momentum=momentum, eps=0.0)


def compare_batch_norm(op, case) -> None:
    """tests/test_ops_norm.py's forward comparison: output and running stats vs F.batch_norm."""
    (x, (gamma, beta, rm, rv, _), momentum), training = case
    out, new_rm, new_rv = op(x, gamma, beta, rm, rv, training=training, momentum=momentum)
    trm, trv = to_torch(rm), to_torch(rv)
    ref = F.batch_norm(
        to_torch(x), trm, trv, to_torch(gamma), to_torch(beta), training=training, momentum=momentum
    )
    close(out, ref)
    close(new_rm, trm)
    close(new_rv, trv)


BN_CASES = st.tuples(bn_case(), st.booleans())


def test_batch_norm_that_forgets_eps_is_caught():
    run_op_test(lambda case: compare_batch_norm(batch_norm, case), BN_CASES)  # the real op
    assert_caught(
        compare_batch_norm, BN_CASES, right=batch_norm_right, wrong=batch_norm_without_eps
    )


def test_the_old_tolerance_let_the_missing_eps_through():
    """Why the tolerance is tight: on a typical batch (variance about 9, a fresh layer's
    gamma = 1 and beta = 0) forgetting eps changes every output by about 5e-7 relative,
    inside the old rtol=1e-5, outside 1e-7."""
    x = np.random.default_rng(0).standard_normal((8, 3, 4, 4)) * 3 + 1
    gamma, beta, rm, rv = np.ones(3), np.zeros(3), np.zeros(3), np.ones(3)
    out, _, _ = batch_norm_without_eps(x, gamma, beta, rm, rv, training=True, momentum=0.1)
    ref = F.batch_norm(to_torch(x), None, None, training=True)
    close(out, ref, rtol=1e-5, atol=1e-8)  # the comparison before tol(): passes
    with pytest.raises(AssertionError, match=COMPARISON_FAILED):
        close(out, ref)


# ------------------------------------------------------------ conv2d: one-sided padding


def _conv2d_padded(x, w, b=None, *, stride=1, padding=0, one_sided):
    """Pad in numpy, then convolve the padded image without further padding."""
    ph, pw = _pair(padding)
    if one_sided:  # the mutant: all 2p rows/columns at the top and left (output size is right)
        widths = ((0, 0), (0, 0), (2 * ph, 0), (2 * pw, 0))
    else:
        widths = ((0, 0), (0, 0), (ph, ph), (pw, pw))
    return conv2d(np.pad(x, widths), w, b, stride=stride, padding=0)


def conv2d_right_padding(x, w, b=None, *, stride=1, padding=0):
    return _conv2d_padded(x, w, b, stride=stride, padding=padding, one_sided=False)


def conv2d_one_sided_padding(x, w, b=None, *, stride=1, padding=0):
    return _conv2d_padded(x, w, b, stride=stride, padding=padding, one_sided=True)


def test_conv2d_with_one_sided_padding_is_caught():
    run_op_test(lambda case: assert_conv2d_matches_torch(conv2d, case), conv_case())
    assert_caught(
        assert_conv2d_matches_torch,
        conv_case(),
        right=conv2d_right_padding,
        wrong=conv2d_one_sided_padding,
    )


# ----------------------------------------------------- conv2d: a true convolution (flipped)


def conv2d_flipped_kernel(x, w, b=None, *, stride=1, padding=0):
    """The mutant: the textbook convolution, kernel rotated by 180 degrees; deep-learning
    "convolution" is cross-correlation and does not flip."""
    return conv2d(x, np.flip(w, axis=(2, 3)), b, stride=stride, padding=padding)


def test_conv2d_with_a_flipped_kernel_is_caught():
    assert_caught(
        assert_conv2d_matches_torch, conv_case(), right=conv2d, wrong=conv2d_flipped_kernel
    )


# --------------------------------------------------------- pooling: off-by-one window loop


def _max_pool2d_loops(x, kernel_size, *, stride=None, padding=0, off_by_one):
    """Max pooling with explicit loops over window positions (padding with -inf, as torch)."""
    kh, kw = _pair(kernel_size)
    sh, sw = _pair((kh, kw) if stride is None else stride)
    ph, pw = _pair(padding)
    xpad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf)
    hp, wp = xpad.shape[2:]
    last = 0 if off_by_one else 1  # the mutant: range(0, n - f, s) drops the last window
    rows, cols = range(0, hp - kh + last, sh), range(0, wp - kw + last, sw)
    out = np.empty((*x.shape[:2], len(rows), len(cols)))
    for a, i in enumerate(rows):
        for c, j in enumerate(cols):
            out[:, :, a, c] = xpad[:, :, i : i + kh, j : j + kw].max(axis=(2, 3))
    return out


def max_pool2d_right_loops(x, kernel_size, *, stride=None, padding=0):
    return _max_pool2d_loops(x, kernel_size, stride=stride, padding=padding, off_by_one=False)


def max_pool2d_off_by_one(x, kernel_size, *, stride=None, padding=0):
    return _max_pool2d_loops(x, kernel_size, stride=stride, padding=padding, off_by_one=True)


def compare_max_pool2d(op, case) -> None:
    """tests/test_ops_pool.py's forward comparison: the pooled values vs F.max_pool2d."""
    x, k, s, p = case
    close(op(x, k, stride=s, padding=p), F.max_pool2d(to_torch(x), k, stride=s, padding=p))


def test_pooling_with_an_off_by_one_window_loop_is_caught():
    run_op_test(lambda case: compare_max_pool2d(max_pool2d, case), pool_case())
    assert_caught(
        compare_max_pool2d, pool_case(), right=max_pool2d_right_loops, wrong=max_pool2d_off_by_one
    )
