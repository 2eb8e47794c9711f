"""Lesson 02's checks pass right answers and name the mistakes learners make.

The reference solutions themselves are run from the notebook by tests/test_solutions.py;
here each exercise also gets a local right answer and several plausible wrong ones.
"""

from __future__ import annotations

import math

import pytest

from course_lib.checks.lesson02 import check_output_size, check_same_padding, check_seven_by_seven

# Exercise 2.1 -------------------------------------------------------------------------


def test_output_size_right_answer_passes():
    assert check_output_size(lambda n, f, p, s: (n + 2 * p - f) // s + 1).passed
    assert check_output_size(lambda n, f, p, s: math.floor((n + 2 * p - f) / s) + 1).passed


@pytest.mark.parametrize(
    ("wrong", "feedback"),
    [
        (lambda n, f, p, s: (n + 2 * p - f) / s + 1, "take the floor"),
        (lambda n, f, p, s: math.ceil((n + 2 * p - f) / s) + 1, "rounding up"),
        (lambda n, f, p, s: round((n + 2 * p - f) / s) + 1, "rounding up or to the nearest"),
        (lambda n, f, p, s: (n + 2 * p - f + 1) // s, "goes outside the floor"),
        (lambda n, f, p, s: (n + 2 * p - f) // s, "forgot the + 1"),
        (lambda n, f, p, s: (n + p - f) // s + 1, "both* sides"),
        (lambda n, f, p, s: n + 2 * p - f + 1, "ignored the stride"),
    ],
    ids=["no-floor", "ceil", "round", "plus-one-inside-floor", "no-plus-one", "one-side-padding", "no-stride"],
)
def test_output_size_mistakes_get_their_feedback(wrong, feedback):
    result = check_output_size(wrong)
    assert result.status == "failed"
    assert feedback in result.message, result.message


def test_output_size_stub_is_not_attempted():
    def stub(n, f, p, s):
        raise NotImplementedError

    assert check_output_size(stub).status == "not attempted"


# Exercise 2.3 -------------------------------------------------------------------------


def _same_padding(f):
    if f % 2 == 0:
        raise ValueError(f"f={f} is even")
    return (f - 1) // 2


def test_same_padding_right_answer_passes():
    assert check_same_padding(_same_padding).passed


@pytest.mark.parametrize(
    ("wrong", "feedback"),
    [
        (lambda f: (f - 1) / 2, "torch refuses float padding"),
        (lambda f: f - 1, "both sides together"),
        (lambda f: f // 2, "an even kernel has no 'same' padding"),
        (lambda f: f, "adds too much"),
    ],
    ids=["true-division", "f-minus-1", "f-floordiv-2", "f"],
)
def test_same_padding_mistakes_get_their_feedback(wrong, feedback):
    result = check_same_padding(wrong)
    assert result.status == "failed"
    assert feedback in result.message, result.message


def test_same_padding_that_refuses_odd_kernels_fails():
    def too_strict(f):
        raise ValueError("no")

    result = check_same_padding(too_strict)
    assert result.status == "failed" and "odd kernel" in result.message


def test_same_padding_other_errors_are_reported_not_swallowed():
    def stub(f):
        raise NotImplementedError

    def broken(f):
        return [0][f]

    assert check_same_padding(stub).status == "not attempted"
    result = check_same_padding(broken)
    assert result.status == "failed" and "IndexError" in result.message


# Exercise 2.2 -------------------------------------------------------------------------


def test_seven_by_seven_right_answer_passes():
    assert check_seven_by_seven((5, 3, 2)).passed
    assert check_seven_by_seven([5, 3, 2]).passed
    assert check_seven_by_seven(...).status == "not attempted"


@pytest.mark.parametrize(
    ("wrong", "feedback"),
    [
        ((5, 3, 7 / 3), "Keep the whole part"),
        ((5, 3, 3), "rounding 4/3 up"),
        ((4, 2, 1), "forgot the + 1"),
        ((5, 3, 0), "still runs"),
        ((5, 1, 0), "divides the steps"),
    ],
)
def test_seven_by_seven_mistakes_get_their_feedback(wrong, feedback):
    result = check_seven_by_seven(wrong)
    assert result.status == "failed"
    assert feedback in result.message, result.message
