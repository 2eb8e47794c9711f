"""The exercise-check mechanism: pass, specific failure, not attempted, never raising."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_lib.checks import Case, CheckResult, Mistake, check_function, check_value, same_value

CASES = [
    Case("small vector", (np.array([1.0, -2.0, 3.0]),), expected=np.array([1.0, 0.0, 3.0])),
    Case("all negative", (np.array([-1.0, -5.0]),), expected=np.array([0.0, 0.0])),
]
MISTAKES = [Mistake("you returned the absolute value, not max(0, x)", lambda x: np.abs(x))]


def relu_right(x):
    return np.maximum(x, 0.0)


def relu_stub(x):
    raise NotImplementedError("Exercise 0.1")


def test_correct_answer_passes_briefly():
    result = check_function("Exercise 0.1", relu_right, CASES, mistakes=MISTAKES)
    assert result.passed and bool(result)
    assert "correct on all 2 cases" in str(result)


def test_torch_answers_are_accepted():
    result = check_function("Ex", lambda x: torch.relu(torch.as_tensor(x)), CASES)
    assert result.passed, str(result)


def test_untouched_stub_is_not_attempted_and_does_not_raise():
    for stub in (relu_stub, lambda x: NotImplemented, None, ...):
        result = check_function("Exercise 0.1", stub, CASES)
        assert result.status == "not attempted", (stub, result)
        assert not result.passed
        assert "not attempted" in str(result)
    assert check_value("Ex", ..., 3).status == "not attempted"


def test_known_mistake_gets_its_specific_feedback_and_names_the_case():
    result = check_function("Exercise 0.1", np.abs, CASES, mistakes=MISTAKES)
    assert result.status == "failed"
    assert result.case == "small vector"
    assert "absolute value" in result.message
    assert "expected" in result.message and "got" in result.message


def test_shape_mistake_reports_shapes():
    result = check_function("Ex", lambda x: relu_right(x)[:-1], CASES)
    assert result.status == "failed"
    assert "shape is (2,), expected (3,)" in result.message


def test_exception_in_learner_code_is_reported_not_raised():
    result = check_function("Ex", lambda x: x.undefined_attribute, CASES)
    assert result.status == "failed"
    assert "AttributeError" in result.message and "small vector" in result.message


def test_forgotten_return_is_named():
    result = check_function("Ex", lambda x: None, CASES)
    assert "forget `return`" in result.message


def test_in_place_change_of_input_is_reported():
    def relu_in_place(x):
        x[x < 0] = 0
        return x

    result = check_function("Ex", relu_in_place, CASES)
    assert result.status == "failed" and "in place" in result.message


def test_later_case_failure_is_found():
    def only_first(x):
        return np.array([1.0, 0.0, 3.0])

    result = check_function("Ex", only_first, CASES)
    assert result.case == "all negative"


@pytest.mark.parametrize(
    ("got", "expected", "ok"),
    [
        (3, 3, True),
        (3.0, 3, True),
        (2, 3, False),
        (0.1 + 0.2, 0.3, True),
        (0.31, 0.3, False),
        ((4, 4), (4, 4), True),
        ((4, 5), (4, 4), False),
        (np.ones((2, 2)), np.ones((2, 2)), True),
        (torch.ones(2, 2), np.ones((2, 2)), True),
        (np.ones((2, 3)), np.ones((3, 2)), False),
        ("max", "max", True),
        (True, 1, False),
    ],
)
def test_same_value(got, expected, ok):
    assert (same_value(got, expected) is None) is ok


def test_value_exercise_with_mistake_hint():
    result = check_value(
        "Exercise 1.2", 4, 3, mistakes=[Mistake("you forgot the +1", lambda: 4)], label="size"
    )
    assert result.status == "failed" and "forgot the +1" in result.message
    assert check_value("Exercise 1.2", 3, 3).passed


def test_result_renders_as_html():
    html = CheckResult("Ex <1>", "failed", "a < b")._repr_html_()
    assert "Ex &lt;1&gt;" in html and "a &lt; b" in html


def test_nested_lists_are_accepted_as_arrays():
    cases = [Case("2x2", (np.eye(2),), expected=np.eye(2))]
    result = check_function("Ex", lambda x: [[1.0, 0.0], [0.0, 1.0]], cases)
    assert result.passed, str(result)


def test_boolean_arrays_are_compared_not_raised():
    result = check_value("Ex", np.array([True, False]), np.array([True, True]))
    assert result.status == "failed" and "values differ" in result.message
    assert check_value("Ex", np.array([True, False]), np.array([True, False])).passed


def _library_without_a_kernel(x):
    raise NotImplementedError("no kernel for this dtype")  # as torch does on some devices


def test_not_implemented_from_deeper_down_is_a_failure_not_a_stub():
    def calls_something_missing(x):
        return _library_without_a_kernel(x)

    result = check_function("Ex", calls_something_missing, CASES)
    assert result.status == "failed" and "not implemented" in result.message
