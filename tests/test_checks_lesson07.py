"""Lesson 07's checks: the answer key agrees with torch, right answers written differently
pass, and the mistakes learners make fail with their own feedback.

The reference solutions themselves are run from the notebook by tests/test_solutions.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_lib import ops
from course_lib.checks.lesson07 import (
    _batch_norm_cases,
    _fold_cases,
    check_batch_norm_forward,
    check_fold_batch_norm,
    check_torch_momentum,
)

COL = (1, -1, 1, 1)


def _stub(*args, **kwargs):
    raise NotImplementedError


# ---- Exercise 7.1: batch norm forward --------------------------------------------------


@pytest.mark.parametrize("case", _batch_norm_cases(), ids=lambda c: c.label)
def test_the_answer_key_is_torch_batch_norm2d(case):
    """Oracle: torch.nn.BatchNorm2d in float64, one step, on every case of the check."""
    x, gamma, beta, rm, rv = case.args
    layer = torch.nn.BatchNorm2d(x.shape[1], eps=case.kwargs["eps"],
                                 momentum=case.kwargs["momentum"]).double()  # fmt: skip
    with torch.no_grad():
        for buffer, value in ((layer.weight, gamma), (layer.bias, beta),
                              (layer.running_mean, rm), (layer.running_var, rv)):  # fmt: skip
            buffer.copy_(torch.from_numpy(value))
    layer.train(case.kwargs["training"])
    with torch.no_grad():
        out = layer(torch.from_numpy(x))
    expected_out, expected_rm, expected_rv = case.expected
    tol = {"rtol": 1e-12, "atol": 1e-12}
    torch.testing.assert_close(out, torch.from_numpy(expected_out), **tol)
    torch.testing.assert_close(layer.running_mean, torch.from_numpy(expected_rm), **tol)
    torch.testing.assert_close(layer.running_var, torch.from_numpy(expected_rv), **tol)


def _numpy_solution(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5,
                    *, keras=False, run_biased=False, norm_unbiased=False, axes=(0, 2, 3),
                    eval_batch=False, eps_outside=False):  # fmt: skip
    m = x.size // x.shape[1]
    if training or eval_batch:
        mean = x.mean(axis=axes, keepdims=True)
        var = x.var(axis=axes, ddof=1 if norm_unbiased else 0, keepdims=True)
    else:
        mean, var = running_mean.reshape(COL), running_var.reshape(COL)
    denom = np.sqrt(var) + eps if eps_outside else np.sqrt(var + eps)
    out = gamma.reshape(COL) * (x - mean) / denom + beta.reshape(COL)
    if not training:
        return out, running_mean.copy(), running_var.copy()
    batch_var = x.var(axis=(0, 2, 3)) * (1.0 if run_biased else m / (m - 1))
    new = momentum if not keras else 1 - momentum
    mean = x.mean(axis=(0, 2, 3))
    return out, (1 - new) * running_mean + new * mean, (1 - new) * running_var + new * batch_var


def test_batch_norm_forward_accepts_a_numpy_solution():
    assert check_batch_norm_forward(_numpy_solution).passed


def test_batch_norm_forward_accepts_torch_functional_batch_norm():
    """Written differently: torch's own functional batch norm on tensors (it updates the
    running statistics it is given in place, here copies)."""

    def by_torch(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
        rm, rv = torch.tensor(running_mean), torch.tensor(running_var)
        out = torch.nn.functional.batch_norm(torch.tensor(x), rm, rv, torch.tensor(gamma),
                                             torch.tensor(beta), training, momentum, eps)  # fmt: skip
        return out, rm, rv

    assert check_batch_norm_forward(by_torch).passed


def test_batch_norm_forward_accepts_the_course_op_and_float32():
    def by_ops(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
        return ops.batch_norm(x, gamma, beta, running_mean, running_var, training=training,
                              momentum=momentum, eps=eps)  # fmt: skip

    def in_float32(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
        f = [torch.tensor(a, dtype=torch.float32) for a in (x, gamma, beta, running_mean, running_var)]
        return ops.batch_norm(*f, training=training, momentum=momentum, eps=eps)

    assert check_batch_norm_forward(by_ops).passed
    assert check_batch_norm_forward(in_float32).passed


@pytest.mark.parametrize(
    ("switches", "words"),
    [
        ({"run_biased": True}, "torch stores the unbiased one in running_var"),
        ({"norm_unbiased": True}, "you normalised with the unbiased variance"),
        ({"keras": True}, "Keras's (and cs231n's) convention"),
        ({"axes": (0,)}, "separately for every pixel position"),
        ({"axes": (2, 3)}, "that is instance norm"),
        ({"axes": (1, 2, 3)}, "that is layer norm"),
        ({"eval_batch": True}, "not with the batch's own statistics"),
        ({"eps_outside": True}, "eps belongs inside the square root"),
    ],
)
def test_batch_norm_forward_mistakes_get_their_feedback(switches, words):
    def wrong(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
        return _numpy_solution(x, gamma, beta, running_mean, running_var, training, momentum,
                               eps, **switches)  # fmt: skip

    result = check_batch_norm_forward(wrong)
    assert result.status == "failed"
    assert words in result.message, result.message


def test_batch_norm_forward_other_mistakes():
    def swapped(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
        return _numpy_solution(x, beta, gamma, running_mean, running_var, training, momentum, eps)

    def keepdims(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
        out, rm, rv = _numpy_solution(x, gamma, beta, running_mean, running_var, training,
                                      momentum, eps)  # fmt: skip
        return out, rm.reshape(COL), rv.reshape(COL)

    def updates_in_eval(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
        out, _, _ = _numpy_solution(x, gamma, beta, running_mean, running_var, training,
                                    momentum, eps)  # fmt: skip
        _, rm, rv = _numpy_solution(x, gamma, beta, running_mean, running_var, True, momentum, eps)
        return out, rm, rv

    def bessel_over_n(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
        out, rm, _ = _numpy_solution(x, gamma, beta, running_mean, running_var, training,
                                     momentum, eps)  # fmt: skip
        if not training:
            return out, rm, running_var.copy()
        n = x.shape[0]
        return out, rm, (1 - momentum) * running_var + momentum * x.var(axis=(0, 2, 3)) * n / (n - 1)

    def in_place(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
        out, rm, rv = _numpy_solution(x, gamma, beta, running_mean, running_var, training,
                                      momentum, eps)  # fmt: skip
        running_mean[:] = rm
        return out, running_mean, rv

    for fn, words in ((swapped, "gamma and beta are swapped"),
                      (keepdims, "have shape (1, C, 1, 1)"),
                      (updates_in_eval, "the running statistics stay as they are"),
                      (bessel_over_n, "counting examples only"),
                      (in_place, "changed its input `running_mean` in place")):  # fmt: skip
        result = check_batch_norm_forward(fn)
        assert result.status == "failed" and words in result.message, (fn.__name__, result.message)


def test_batch_norm_forward_stub_is_not_attempted():
    assert check_batch_norm_forward(_stub).status == "not attempted"


def test_batch_norm_cases_cover_small_batches_and_both_modes():
    cases = _batch_norm_cases()
    assert {c.kwargs["training"] for c in cases} == {True, False}
    sizes = [c.args[0].size // c.args[0].shape[1] for c in cases if c.kwargs["training"]]
    assert min(sizes) == 2  # m / (m - 1) = 2: the variance estimators differ by a factor of 2
    assert len({c.kwargs["momentum"] for c in cases}) > 1 and len({c.kwargs["eps"] for c in cases}) > 1


# ---- Exercise 7.2: Keras's momentum ------------------------------------------------------


@pytest.mark.parametrize("value", [0.01, 1 - 0.99, np.float64(0.01), np.float32(0.01),
                                   torch.tensor(0.01)])  # fmt: skip
def test_torch_momentum_accepts_the_answer_in_any_form(value):
    assert check_torch_momentum(value).passed, check_torch_momentum(value)


@pytest.mark.parametrize(
    ("value", "words"),
    [(0.99, "Keras's number"), (0.1, "torch's default"), (0.9, "cs231n's default"),
     (1 / 0.99, "not a weight at all")],
)
def test_torch_momentum_mistakes_get_their_feedback(value, words):
    result = check_torch_momentum(value)
    assert result.status == "failed" and words in result.message, result.message


def test_torch_momentum_placeholder_is_not_attempted():
    assert check_torch_momentum(...).status == "not attempted"


# ---- Exercise 7.3: folding ---------------------------------------------------------------


def _fold(weight, bias, gamma, beta, running_mean, running_var, eps=1e-5):
    s = gamma / np.sqrt(running_var + eps)
    b = np.zeros_like(gamma) if bias is None else bias
    return weight * s[:, None, None, None], s * (b - running_mean) + beta


@pytest.mark.parametrize("case", _fold_cases(), ids=lambda c: c.label)
def test_the_fold_answer_key_gives_torchs_outputs(case):
    """Oracle: conv2d then F.batch_norm (inference) against conv2d with the folded key."""
    weight, bias, gamma, beta, mean, var = (None if a is None else torch.from_numpy(a)
                                            for a in case.args)  # fmt: skip
    x = torch.randn(2, weight.shape[1], 7, 6, dtype=torch.float64,
                    generator=torch.Generator().manual_seed(0))  # fmt: skip
    conv = torch.nn.functional.conv2d(x, weight, bias, padding=1)
    expected = torch.nn.functional.batch_norm(conv, mean, var, gamma, beta, training=False,
                                              eps=case.kwargs["eps"])  # fmt: skip
    w, b = (torch.from_numpy(a) for a in case.expected)
    torch.testing.assert_close(torch.nn.functional.conv2d(x, w, b, padding=1), expected,
                               rtol=1e-12, atol=1e-12)  # fmt: skip


def test_fold_accepts_numpy_and_torch_answers_and_reports_equal_outputs():
    result = check_fold_batch_norm(_fold)
    assert result.passed and "Equal outputs" in result.message, result.message

    def by_torch(weight, bias, gamma, beta, running_mean, running_var, eps=1e-5):
        t = torch.from_numpy
        s = t(gamma) * torch.rsqrt(t(running_var) + eps)
        b = torch.zeros(len(gamma), dtype=torch.float64) if bias is None else t(bias)
        return t(weight) * s.view(-1, 1, 1, 1), (b - t(running_mean)) * s + t(beta)

    assert check_fold_batch_norm(by_torch).passed


def test_fold_mistakes_get_their_feedback():
    def inv_var(w, b, g, be, m, v, eps=1e-5):
        return _fold(w, b, g, be, m, np.sqrt(v + eps) ** 2 * (v + eps) - eps, eps)

    def no_eps(w, b, g, be, m, v, eps=1e-5):
        return _fold(w, b, g, be, m, v, 0.0)

    def last_axis(w, b, g, be, m, v, eps=1e-5):
        s = g / np.sqrt(v + eps)
        b = np.zeros_like(g) if b is None else b
        return w * s, s * (b - m) + be

    def mean_unscaled(w, b, g, be, m, v, eps=1e-5):
        s = g / np.sqrt(v + eps)
        b = np.zeros_like(g) if b is None else b
        return w * s[:, None, None, None], s * b + be - m

    def no_conv_bias(w, b, g, be, m, v, eps=1e-5):
        s = g / np.sqrt(v + eps)
        return w * s[:, None, None, None], be - s * m

    def none_bias(w, b, g, be, m, v, eps=1e-5):
        s = g / np.sqrt(v + eps)
        return w * s[:, None, None, None], (b - m) * s + be

    def weights_unscaled(w, b, g, be, m, v, eps=1e-5):
        return w.copy(), _fold(w, b, g, be, m, v, eps)[1]

    for fn, words in ((inv_var, "you divided by the variance"),
                      (no_eps, "eps is missing"),
                      (last_axis, "along the LAST axis"),
                      (mean_unscaled, "the running mean must be scaled too"),
                      (no_conv_bias, "you dropped the convolution's own bias"),
                      (none_bias, "bias=None means the convolution has no bias"),
                      (weights_unscaled, "the weights must be scaled too")):  # fmt: skip
        result = check_fold_batch_norm(fn)
        assert result.status == "failed" and words in result.message, (fn.__name__, result.message)


def test_fold_failure_reports_how_far_the_outputs_are():
    def mean_unscaled(w, b, g, be, m, v, eps=1e-5):
        s = g / np.sqrt(v + eps)
        b = np.zeros_like(g) if b is None else b
        return w * s[:, None, None, None], s * b + be - m

    message = check_fold_batch_norm(mean_unscaled).message
    assert "run as a convolution on a test batch" in message and "differ from conv" in message
    # a failure only in the bias=None case says nothing about case 1's (right) outputs
    def none_bias(w, b, g, be, m, v, eps=1e-5):
        s = g / np.sqrt(v + eps)
        return w * s[:, None, None, None], (b - m) * s + be

    assert "run as a convolution" not in check_fold_batch_norm(none_bias).message


def test_fold_stub_is_not_attempted_and_a_crash_is_reported():
    assert check_fold_batch_norm(_stub).status == "not attempted"

    def crashes(*args, **kwargs):
        raise RuntimeError("boom")

    result = check_fold_batch_norm(crashes)
    assert result.status == "failed" and "boom" in result.message
