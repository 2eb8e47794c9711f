"""Lesson 02's checks pass right answers and name the mistakes learners make.

The reference solutions themselves are run from the notebook by tests/test_solutions.py;
here each exercise also gets a local right answer and several plausible wrong ones.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from course_lib.checks.lesson02 import check_output_size, check_same_padding, check_seven_by_seven

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "02_padding_stride_output_size.ipynb"

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


def test_output_size_floats_equal_to_the_size_pass_with_a_note():
    """np.floor returns a float: np.float64(4.0) is the right size, not a missing floor."""
    result = check_output_size(lambda n, f, p, s: np.floor((n + 2 * p - f) / s) + 1)
    assert result.passed, str(result)
    assert "int(...)" in result.message
    assert check_output_size(lambda n, f, p, s: torch.tensor((n + 2 * p - f) // s + 1)).passed


def test_the_setup_cell_provides_what_the_hints_recommend():
    """The floor hint says `//` or math.floor; np.floor is as natural: both run after setup."""
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    setup = "".join(next(c["source"] for c in cells if c["cell_type"] == "code"))
    namespace: dict = {}
    exec("\n".join(line for line in setup.splitlines() if not line.startswith("%")), namespace)
    for code in (
        "check_output_size(lambda n, f, p, s: math.floor((n + 2 * p - f) / s) + 1)",
        "check_output_size(lambda n, f, p, s: int(np.floor((n + 2 * p - f) / s)) + 1)",
    ):
        assert eval(code, namespace).passed, code


@pytest.mark.parametrize(
    ("wrong", "feedback"),
    [
        (lambda n, f, p, s: (n + 2 * s - f) // p + 1, "you divided by p"),
        (lambda n, f, p, s: (n + 2 * f - p) // s + 1, "kernel size and the padding are swapped"),
        (lambda n, f, p, s: (n + 2 * p - s) // f + 1, "kernel size and the stride are swapped"),
    ],
    ids=["p-and-s", "f-and-p", "f-and-s"],
)
def test_output_size_swapped_arguments_get_their_feedback(wrong, feedback):
    result = check_output_size(wrong)
    assert result.status == "failed" and feedback in result.message, result.message


def test_output_size_division_by_the_padding_is_reported_as_the_learners_error():
    def output_size(n, f, s, p):  # the parameters in the wrong order
        return (n + 2 * p - f) // s + 1

    result = check_output_size(output_size)
    line = output_size.__code__.co_firstlineno + 1
    assert f"your function raised ZeroDivisionError at line {line}" in result.message
    assert "Check the order of your parameters: (n, f, p, s)" in result.message


def test_same_padding_that_returns_none_for_an_even_kernel_is_told_to_raise():
    def prints_instead(f):
        if f % 2 == 0:
            return None
        return (f - 1) // 2

    result = check_same_padding(prints_instead)
    assert "returned None; this case expects it to raise ValueError" in result.message
    assert "forget `return`" not in result.message


def test_same_padding_with_the_wrong_exception_says_which_was_expected():
    def wrong_type(f):
        if f % 2 == 0:
            raise TypeError("even")
        return (f - 1) // 2

    result = check_same_padding(wrong_type)
    assert "raised TypeError" in result.message
    assert "this case expects ValueError, not TypeError" in result.message


def test_same_padding_accepts_numpy_and_torch_ints_but_not_floats():
    def numpy_int(f):
        return np.int64(_same_padding(f))

    assert check_same_padding(numpy_int).passed
    result = check_same_padding(lambda f: float(_same_padding(f)))
    assert result.status == "failed" and "torch accepts only a whole number" in result.message


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
