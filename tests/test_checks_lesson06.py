"""Lesson 06's checks: right answers pass, written several ways; the mistakes learners make
fail with their own feedback.

The reference solutions themselves are run from the notebook by tests/test_solutions.py;
here torch (``torch.nn.functional.dropout``'s arithmetic and autograd) stands in as an
independent correct answer.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_lib import ops
from course_lib.checks.lesson06 import (
    THINNED_INPUTS,
    check_classic_dropout,
    check_dropout_backward,
    check_dropout_forward,
    check_thinned_count,
    classic_dropout,
    inverted_dropout,
    inverted_dropout_backward,
)


def _stub(*args, **kwargs):
    raise NotImplementedError("Exercise 6.x")


# ---- the reference solutions ------------------------------------------------------------


def test_worked_example():
    d = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    mask = np.array([True, True, True, False, True])
    np.testing.assert_allclose(inverted_dropout(d, mask, 0.2), [1.25, 2.5, 3.75, 0.0, 6.25],
                               rtol=1e-15)  # fmt: skip
    np.testing.assert_array_equal(inverted_dropout(d, mask, 0.2, training=False), d)
    np.testing.assert_allclose(classic_dropout(d, mask, 0.2), [1, 2, 3, 0, 5])
    np.testing.assert_allclose(classic_dropout(d, mask, 0.2, training=False),
                               [0.8, 1.6, 2.4, 3.2, 4.0], rtol=1e-15)  # fmt: skip
    out, keep = ops.dropout(d, 0.2, generator=2)  # the library, with a seed that drops unit 4
    assert keep.tolist() == mask.tolist()
    np.testing.assert_allclose(out, inverted_dropout(d, mask, 0.2), rtol=1e-15)


def test_references_agree_with_torch_autograd():
    """Oracle: torch's own arithmetic for a given mask, and autograd for the gradient."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 6, dtype=torch.float64, generator=g, requires_grad=True)
    mask = torch.rand(4, 6, generator=g) >= 0.3
    up = torch.randn(4, 6, dtype=torch.float64, generator=g)
    ref = torch.where(mask, x / 0.7, torch.zeros((), dtype=torch.float64))
    (ref * up).sum().backward()
    torch.testing.assert_close(inverted_dropout(x.detach(), mask, 0.3), ref.detach(),
                               rtol=1e-14, atol=1e-15)  # fmt: skip
    torch.testing.assert_close(inverted_dropout_backward(up, mask, 0.3), x.grad,
                               rtol=1e-14, atol=1e-15)  # fmt: skip
    xn, mn = x.detach().numpy(), mask.numpy()
    check = ops.gradient_check(lambda v: inverted_dropout(v, mn, 0.3), xn, up.numpy(),
                               analytic=inverted_dropout_backward(up.numpy(), mn, 0.3))  # fmt: skip
    assert check.passed


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda: inverted_dropout([1.0, 2.0], np.array([True, False]), 0.2), TypeError, "x must"),
        (lambda: inverted_dropout(np.ones(3), np.ones(3), 0.2), TypeError, "keep_mask has dtype"),
        (lambda: inverted_dropout(np.ones(3), np.ones(2, bool), 0.2), ValueError,
         "keep_mask has shape"),
        (lambda: inverted_dropout(np.ones(3), torch.ones(3, dtype=torch.bool), 0.2), TypeError,
         "two numpy arrays"),
        (lambda: inverted_dropout(np.ones(3), np.ones(3, bool), 1.0), ValueError, "p_drop=1.0"),
        (lambda: classic_dropout(np.ones(3), np.ones(3, bool), 0.2, training=1), TypeError,
         "training=1"),
        (lambda: inverted_dropout_backward(np.arange(3), np.ones(3, bool), 0.2), TypeError,
         "dout has dtype"),
    ],
)  # fmt: skip
def test_references_check_their_arguments(call, error, words):
    with pytest.raises(error, match=words):
        call()


# ---- Exercise 6.1: inverted dropout, forward --------------------------------------------


def _by_torch(x, keep_mask, p_drop, training=True):
    """A right answer written differently: torch.where on tensors, returned as numpy."""
    if not training:
        return torch.as_tensor(x).numpy().copy()
    t, m = torch.as_tensor(x), torch.as_tensor(keep_mask)
    return torch.where(m, t / (1 - p_drop), torch.zeros((), dtype=t.dtype)).numpy()


def _in_float32(x, keep_mask, p_drop, training=True):
    x = x.astype(np.float32)
    return x * keep_mask / np.float32(1 - p_drop) if training else x


@pytest.mark.parametrize("right", [inverted_dropout, _by_torch, _in_float32])
def test_forward_accepts_right_answers(right):
    assert check_dropout_forward(right).passed, check_dropout_forward(right)


def _fwd(train, infer=lambda x, m, p: x):
    """A learner's forward from its training and inference halves."""
    return lambda x, m, p, training=True: train(x, m, p) if training else infer(x, m, p)


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (_fwd(lambda x, m, p: x * m / p), "divided the kept units by p_drop"),
        (_fwd(lambda x, m, p: x * m * (1 - p)), "multiplied the kept units by p_keep"),
        (_fwd(lambda x, m, p: x * m), "did not rescale"),
        (_fwd(lambda x, m, p: x * ~m / (1 - p)), "True for the units that are KEPT"),
        (lambda x, m, p, training=True: x * m / (1 - p), "dropout is switched off"),
        (_fwd(lambda x, m, p: x * m / (1 - p), lambda x, m, p: x * (1 - p)), "older variant's"),
        (_fwd(lambda x, m, p: x * m / (1 - p), lambda x, m, p: x / (1 - p)), "training only"),
        (lambda x, m, p, training=True: x, "returned x unchanged in training"),
    ],
)
def test_forward_mistakes_get_their_feedback(wrong, words):
    with np.errstate(divide="ignore", invalid="ignore"):
        result = check_dropout_forward(wrong)
    assert result.status == "failed"
    assert words in result.message, result.message


def _own_mask(x, p_drop):
    """A mask the learner drew instead of using keep_mask (a fixed seed: repeatable)."""
    return np.random.default_rng(0).random(np.shape(x)) >= p_drop


def test_own_masks_get_their_feedback():
    def forward(x, keep_mask, p_drop, training=True):
        return x * _own_mask(x, p_drop) / (1 - p_drop) if training else x

    def backward(dout, keep_mask, p_drop):
        return dout * _own_mask(dout, p_drop) / (1 - p_drop)

    def classic(x, keep_mask, p_drop, training=True):
        return x * _own_mask(x, p_drop) if training else x * (1 - p_drop)

    for check, fn in ((check_dropout_forward, forward), (check_dropout_backward, backward),
                      (check_classic_dropout, classic)):  # fmt: skip
        result = check(fn)
        assert result.status == "failed" and "a mask of your own" in result.message, result


def test_forward_with_the_arguments_swapped_fails():
    result = check_dropout_forward(lambda x, m, p, training=True: m * x / (1 - p) + 0 * p + 1e-3)
    assert result.status == "failed" and "hint" not in result.message  # no mistake matches


def test_forward_stub_is_not_attempted_and_input_changes_are_reported():
    assert check_dropout_forward(_stub).status == "not attempted"

    def in_place(x, keep_mask, p_drop, training=True):
        if training:
            x *= keep_mask / (1 - p_drop)
        return x

    result = check_dropout_forward(in_place)
    assert result.status == "failed" and "in place" in result.message


def test_forward_cases_come_from_the_library():
    cases = check_dropout_forward(_stub).cases
    assert cases[0].expected.tolist() == [1.25, 2.5, 3.75, 0.0, 6.25]
    for case in cases[1:4]:
        x, keep, p = case.args
        np.testing.assert_allclose(case.expected, x * keep / (1 - p), rtol=1e-15)
        assert 0 < keep.sum() < keep.size  # some dropped, some kept
    assert any(c.kwargs.get("training") is False for c in cases)


# ---- Exercise 6.2: inverted dropout, backward -------------------------------------------


def _backward_by_autograd(dout, keep_mask, p_drop):
    x = torch.zeros(dout.shape, dtype=torch.float64, requires_grad=True)
    y = x * torch.as_tensor(keep_mask) / (1 - p_drop)
    (g,) = torch.autograd.grad(y, x, torch.as_tensor(dout))
    return g.numpy()


@pytest.mark.parametrize("right", [inverted_dropout_backward, _backward_by_autograd])
def test_backward_accepts_right_answers(right):
    assert check_dropout_backward(right).passed, check_dropout_backward(right)


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (lambda d, m, p: d * m / p, "you divided by p_drop"),
        (lambda d, m, p: d * m, "forgot the 1 / p_keep"),
        (lambda d, m, p: m / (1 - p), "local derivative"),
        (lambda d, m, p: d * m * (1 - p), "you multiplied by p_keep"),
        (lambda d, m, p: d, "passed dout through unchanged"),
        (lambda d, m, p: d * ~m / (1 - p), "flows through those"),
    ],
)
def test_backward_mistakes_get_their_feedback(wrong, words):
    result = check_dropout_backward(wrong)
    assert result.status == "failed"
    assert words in result.message, result.message


# ---- Exercise 6.3: the older variant ----------------------------------------------------


def _classic_where(x, keep_mask, p_drop, training=True):
    return np.where(keep_mask, x, 0.0) if training else (1 - p_drop) * x


@pytest.mark.parametrize("right", [classic_dropout, _classic_where])
def test_classic_accepts_right_answers(right):
    assert check_classic_dropout(right).passed, check_classic_dropout(right)


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (inverted_dropout, "that is inverted dropout"),
        (lambda x, m, p, training=True: x * m if training else x * p, "multiplied by p_drop"),
        (lambda x, m, p, training=True: x * m if training else x, "returned x unchanged"),
        (lambda x, m, p, training=True: x * m if training else x * m * (1 - p), "ignore keep_mask"),
        (lambda x, m, p, training=True: x * m * (1 - p) if training else x * (1 - p),
         "happens at inference, not in training"),
        (lambda x, m, p, training=True: x * m, "applied the mask at inference"),
    ],
)  # fmt: skip
def test_classic_mistakes_get_their_feedback(wrong, words):
    result = check_classic_dropout(wrong)
    assert result.status == "failed"
    assert words in result.message, result.message


def test_inverted_is_classic_divided_by_p_keep_on_every_case():
    for case in check_classic_dropout(_stub).cases:
        x, keep, p = case.args
        if case.kwargs.get("training", True):
            np.testing.assert_allclose(inverted_dropout(x, keep, p) * (1 - p), case.expected,
                                       rtol=1e-14, atol=1e-15)  # fmt: skip


# ---- Exercise 6.5: counting thinned networks --------------------------------------------


def test_thinned_count_accepts_the_number_written_several_ways():
    a, b = THINNED_INPUTS
    for value in (2 ** (a + b), 2**a * 2**b, np.int64(2**32), torch.tensor(2**32), 4294967296.0):
        assert check_thinned_count(value).passed, value


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (2**20 + 2**12, "counts multiply"),
        (64, "not 2 * 32"),
        (32**2, "counts pairs"),
        (2**32 - 1, "drops every unit"),
        (2**20, "only the inputs' masks"),
        (2**12, "only the hidden layer's masks"),
    ],
)
def test_thinned_count_mistakes_get_their_feedback(wrong, words):
    result = check_thinned_count(wrong)
    assert result.status == "failed"
    assert words in result.message, result.message


def test_thinned_count_placeholder_is_not_attempted():
    assert check_thinned_count(...).status == "not attempted"
