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


def test_in_place_change_of_input_is_reported_by_the_parameter_name():
    def relu_in_place(values):
        values[values < 0] = 0
        return values

    result = check_function("Ex", relu_in_place, CASES, mistakes=MISTAKES)
    assert result.status == "failed" and "changed its input `values` in place" in result.message
    assert "argument 1" not in result.message and "hint" not in result.message


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
        # numbers as Python, numpy or 0-d torch values; a float equal to a whole number
        (np.float64(4.0), 4, True),
        (4.5, 4, False),
        (torch.tensor(62006), 62006, True),
        (torch.tensor(0.25), 0.25, True),
        (np.array(0.25), 0.25, True),
        (np.float32(0.1), 0.1, True),  # float32 rounding of 0.1 is within float32's tolerance
        (0.1 + 1e-5, 0.1, False),  # ... but not a float64's
        (torch.tensor([3]), 3, True),
        (np.ones(2), 3.0, False),
        # arrays of any float dtype, compared within their dtype's rounding
        (np.float32(1 / 3) * np.ones((2, 2), np.float32), np.full((2, 2), 1 / 3), True),
        (torch.full((2, 2), 1 / 3, dtype=torch.float16), np.full((2, 2), 1 / 3), True),
        (torch.full((2, 2), 1 / 3, dtype=torch.bfloat16), np.full((2, 2), 1 / 3), True),
        (np.full((2, 2), 1 / 3 + 1e-5, np.float32), np.full((2, 2), 1 / 3), False),
        (np.full((2, 2), 1 / 3 + 1e-5), np.full((2, 2), 1 / 3), False),
        (torch.ones(2, requires_grad=True), np.ones(2), True),
        # a whole-number answer may come as an integer array; a fractional one may not
        (np.array([1, 2]), np.array([1.0, 2.0]), True),
        (np.array([0, 2]), np.array([0.5, 2.0]), False),
        # lists are not arrays
        ([1.0, 2.0], np.array([1.0, 2.0]), False),
        # sequences item by item; a 1-D array for a tuple of numbers
        ([(2, 3), (4,)], [(2, 3), (4,)], True),
        ([(2, 3), (5,)], [(2, 3), (4,)], False),
        (np.array([5, 3, 2]), (5, 3, 2), True),
        (torch.Size([5, 3]), (5, 3), True),
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


def test_a_list_where_an_array_is_asked_is_refused_with_a_hint():
    cases = [Case("2x2", (np.eye(2),), expected=np.eye(2))]
    result = check_function("Ex", lambda x: [[1.0, 0.0], [0.0, 1.0]], cases)
    assert result.status == "failed"
    assert "a list, not an array" in result.message and "np.array(your_list)" in result.message
    assert "a tuple, not an array" in check_value("Ex", (1.0, 2.0), np.array([1.0, 2.0])).message


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


def test_same_value_refuses_bad_tolerances_by_name():
    with pytest.raises(TypeError, match="rtol"):
        same_value(1.0, 1.0, rtol="tight")
    with pytest.raises(ValueError, match="atol"):
        same_value(1.0, 1.0, atol=-1.0)
    assert same_value(np.ones(3), None) is not None and same_value(np.ones(3), "max") is not None


def test_the_mechanism_refuses_malformed_checks_by_name():
    with pytest.raises(TypeError, match="cases"):
        check_function("Ex", abs, None)
    with pytest.raises(TypeError, match="cases"):
        check_function("Ex", abs, ["not a case"])
    with pytest.raises(TypeError, match="mistakes"):
        check_function("Ex", abs, CASES, mistakes=[lambda x: x])
    with pytest.raises(TypeError, match="compare"):
        check_value("Ex", 1, 1, compare="exact")


# ---- what a failing answer is told ------------------------------------------------------


def test_a_float_equal_to_a_whole_number_passes_with_a_note():
    cases = [Case("6x6, 3x3", (6, 3), expected=4), Case("7x7, 3x3", (7, 3), expected=5)]
    result = check_function("Ex", lambda n, f: np.float64(n - f + 1), cases)
    assert result.passed, str(result)
    assert "int(...)" in result.message
    assert "int(...)" not in check_function("Ex", lambda n, f: n - f + 1, cases).message


def test_numbers_that_differ_print_differently():
    result = check_value("Ex", 4.0000001, 4)
    assert "got 4.0000001, expected 4" in result.message
    result = check_value("Ex", 0.25 * (1 + 1e-5), 0.25)
    got, expected = result.message.split("got ")[1].split(".\n")[0].split(", expected ")
    assert got != expected


def test_array_feedback_gives_the_first_index_and_the_largest_error():
    expected = np.arange(12.0).reshape(3, 4) / 7
    got = expected.copy()
    got[0, 2] += 0.01
    got[2, 1] += 0.5
    result = check_value("Ex", got, expected)
    assert "values differ at 2 of 12 positions" in result.message
    assert "the first at index (0, 2)" in result.message
    assert "the largest error, 0.5, at index (2, 1)" in result.message


def test_small_arrays_print_with_enough_digits_to_differ():
    expected = np.array([0.25, 0.5])
    result = check_value("Ex", expected + 1e-6, expected)
    got_text = result.message.split("got (array")[1]
    expected_text = result.message.split("expected (array")[1].split("got (array")[0]
    assert got_text.split(":")[1].strip() != expected_text.split(":")[1].strip()


def test_failing_case_names_its_inputs():
    cases = [Case("a 5x5 image, f=3", (np.zeros((5, 5)), 3), expected=np.ones((3, 3)))]
    result = check_function("Ex", lambda image, f: np.zeros((3, 3)), cases)
    assert "inputs: image: array 5x5; f=3" in result.message


def test_an_image_answer_comes_with_a_picture_in_html_only():
    expected = np.linspace(0, 1, 42).reshape(6, 7)
    result = check_value("Ex", expected[::-1], expected)
    fig = result.figure()
    assert len(fig.axes) == 3
    assert [ax.get_title().split(" ")[0] for ax in fig.axes] == ["expected", "yours", "yours"]
    assert "data:image/png;base64," in result._repr_html_()
    assert "base64" not in str(result) and "base64" not in repr(result)
    wrong_shape = check_value("Ex", np.zeros((5, 6)), expected)
    assert len(wrong_shape.figure().axes) == 2  # no difference of different shapes
    small = check_value("Ex", np.zeros((4, 4)), np.ones((4, 4)))
    assert small.figure() is None and "<img" not in small._repr_html_()
    assert check_value("Ex", expected, expected).figure() is None


def test_an_integer_array_that_cut_fractions_gets_its_own_hint():
    expected = np.array([[0.5, 1.25], [2.0, -0.75]])
    result = check_value("Ex", expected.astype(int), expected)
    assert result.status == "failed" and "holds integers (dtype int64)" in result.message


def test_float32_precision_returned_as_float64_gets_a_hint():
    x = np.array([0.5, 8.0, 15.0])
    expected = 1 / (1 + np.exp(x))  # 1 - sigmoid(x): small where sigmoid(x) is near 1
    z32 = 1 / (1 + np.exp(-x.astype(np.float32)))
    got = (1 - z32).astype(np.float64)  # float32's cancellation, handed back as float64
    result = check_value("Ex", got, expected)
    assert result.status == "failed" and "float32's precision" in result.message
    assert check_value("Ex", got.astype(np.float32), expected).passed


def test_a_transposed_answer_and_a_one_short_answer_get_generic_hints():
    expected = np.arange(6.0).reshape(2, 3) / 4
    assert "rows and columns swapped" in check_value("Ex", expected.T, expected).message
    one_short = check_value("Ex", np.zeros((4, 4)), np.zeros((5, 5)))
    assert "one smaller than expected along rows and columns" in one_short.message


# ---- exceptions -------------------------------------------------------------------------


def test_learner_exception_is_reported_with_its_line_and_source():
    def broken(x):
        y = x + 1
        return y.no_such_thing  # the line the report names

    line = broken.__code__.co_firstlineno + 2
    result = check_function("Ex", broken, CASES)
    assert f"your function raised AttributeError at line {line}:" in result.message
    assert "return y.no_such_thing" in result.message


def test_exception_inside_a_library_call_points_at_the_learners_line():
    def calls_numpy(x):
        return np.reshape(x, (7, 7))

    line = calls_numpy.__code__.co_firstlineno + 1
    result = check_function("Ex", calls_numpy, CASES)
    assert f"raised ValueError at line {line}" in result.message


def test_a_function_with_the_wrong_parameters_is_told_how_it_is_called():
    result = check_function("Ex", lambda x, y: x, CASES)
    assert "cannot be called with the 1 inputs" in result.message


def test_name_error_and_zero_division_get_hints():
    def uses_math(x):
        return math.floor(x)  # noqa: F821 - math is deliberately not imported here

    result = check_function("Ex", uses_math, [Case("one", (2.5,), expected=2)])
    assert "NameError" in result.message and "import math" in result.message
    result = check_function("Ex", lambda n, p: n // p, [Case("no padding", (6, 0), expected=6)])
    assert "ZeroDivisionError" in result.message and "p = 0" in result.message
    assert "(n, p)" in result.message


def _even_raises(f):
    if f % 2 == 0:
        raise ValueError("even")
    return (f - 1) // 2


RAISING_CASES = [
    Case("f = 3", (3,), expected=1),
    Case("f = 4, even", (4,), raises=ValueError),
]


def test_a_case_that_expects_an_exception():
    assert check_function("Ex", _even_raises, RAISING_CASES).passed

    def wrong_type(f):
        if f % 2 == 0:
            raise TypeError("even")
        return (f - 1) // 2

    result = check_function("Ex", wrong_type, RAISING_CASES)
    assert "raised TypeError" in result.message
    assert "this case expects ValueError, not TypeError" in result.message
    result = check_function("Ex", lambda f: None if f % 2 == 0 else (f - 1) // 2, RAISING_CASES)
    assert "returned None; this case expects it to raise ValueError" in result.message
    assert "forget `return`" not in result.message
    result = check_function("Ex", lambda f: f // 2, RAISING_CASES)
    assert "returned 2; this case expects it to raise ValueError" in result.message


# ---- mistakes ---------------------------------------------------------------------------


def test_the_mistake_that_agrees_on_most_cases_gives_the_hint():
    cases = [
        Case("zero", (np.zeros(3),), expected=np.ones(3)),
        Case("twos", (np.full(3, 2.0),), expected=np.full(3, 3.0)),
    ]
    mistakes = [
        Mistake("you returned zeros", lambda x: np.zeros_like(x)),
        Mistake("you returned the input", lambda x: x.copy()),
    ]
    # on the first case the input is zeros: both mistakes explain it; only one the second
    result = check_function("Ex", lambda x: x.copy(), cases, mistakes=mistakes)
    assert "you returned the input" in result.message
    result = check_function("Ex", lambda x: np.zeros_like(x), cases, mistakes=mistakes)
    assert "you returned zeros" in result.message


def test_a_mistake_can_be_an_exception_or_a_family_of_answers():
    cases = [Case("2x3 by 2", (np.ones((2, 3)), np.ones(2)), expected=np.full(3, 2.0))]
    mistakes = [Mistake("use m.T @ v, or v @ m", lambda m, v: m @ v)]
    result = check_function("Ex", lambda m, v: m @ v, cases, mistakes=mistakes)
    assert "raised ValueError" in result.message and "use m.T @ v" in result.message
    near = Mistake("close, but not the peak", matches=lambda got, expected: 0.2 < got < expected)
    result = check_value("Ex", 0.249, 0.25, mistakes=[near])
    assert "close, but not the peak" in result.message
    assert "close, but" not in check_value("Ex", 0.1, 0.25, mistakes=[near]).message


def test_results_carry_their_answer_key():
    result = check_function("Ex", relu_stub, CASES)
    assert result.status == "not attempted" and result.cases == tuple(CASES)
    assert check_value("Ex", ..., 3).cases[0].expected == 3
