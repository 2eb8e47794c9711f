"""Self-checking exercises: the mechanism every lesson uses.

A learner's function (or value) is run on several cases. The result is a
:class:`CheckResult` that the notebook displays:

* ``passed``: one short line saying so;
* ``failed``: which case, what was expected, what came back, and, where the wrong
  answer matches a mistake learners really make (a :class:`Mistake`), what that
  mistake is;
* ``not attempted``: the exercise stub is untouched (it raises
  ``NotImplementedError`` or the value is still ``...``). Nothing is raised, so a
  notebook with untouched exercises still runs top to bottom.

Lesson-specific checks live in ``course_lib/checks/lessonNN.py`` and are thin
lists of :class:`Case` and :class:`Mistake` handed to :func:`check_function` or
:func:`check_value`.
"""

from __future__ import annotations

import copy
import html
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "Case",
    "CheckResult",
    "Mistake",
    "check_function",
    "check_value",
    "describe",
    "same_value",
]

PASSED, FAILED, NOT_ATTEMPTED = "passed", "failed", "not attempted"


@dataclass(frozen=True)
class Case:
    """One input for a learner's function and the answer it must give."""

    label: str
    args: tuple = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    expected: Any = None


@dataclass(frozen=True)
class Mistake:
    """A wrong answer learners really give, and what to tell them when they give it.

    ``produce`` is called with a case's arguments (or with nothing, for a value
    exercise) and returns the wrong answer that mistake leads to.
    """

    feedback: str
    produce: Callable[..., Any]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one exercise check; displays itself in a notebook."""

    exercise: str
    status: str
    message: str
    case: str | None = None

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        mark = {PASSED: "PASSED", FAILED: "NOT YET", NOT_ATTEMPTED: "NOT ATTEMPTED"}[self.status]
        return f"[{mark}] {self.exercise}: {self.message}"

    __repr__ = __str__

    def _repr_html_(self) -> str:
        colour = {PASSED: "#1b7f3b", FAILED: "#b3261e", NOT_ATTEMPTED: "#6b6b6b"}[self.status]
        icon = {PASSED: "&#10004;", FAILED: "&#10008;", NOT_ATTEMPTED: "&#9998;"}[self.status]
        body = html.escape(self.message).replace("\n", "<br>")
        return (
            f'<div class="course-check course-check-{self.status.replace(" ", "-")}" '
            f'style="border-left:4px solid {colour};padding:4px 10px;margin:4px 0">'
            f'<b style="color:{colour}">{icon} {html.escape(self.exercise)}</b>: {body}</div>'
        )


def describe(value: Any, *, max_items: int = 36) -> str:
    """A short, readable rendering of a value for feedback messages."""
    arr = _as_numpy(value)
    if arr is not None and arr.ndim > 0:
        shape = "x".join(str(s) for s in arr.shape)
        if arr.size <= max_items:
            body = np.array2string(arr, precision=4, suppress_small=True, separator=", ")
            return f"array of shape {shape}:\n{body}"
        return f"array of shape {shape} (min {arr.min():.4g}, max {arr.max():.4g})"
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value)


def _as_numpy(value: Any) -> np.ndarray | None:
    """An array for numpy, torch and (nested) lists or tuples of numbers; else None."""
    if isinstance(value, np.ndarray):
        return value
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    if isinstance(value, (list, tuple)) and value:
        try:
            arr = np.asarray(value)
        except ValueError:  # ragged
            return None
        if np.issubdtype(arr.dtype, np.number) and not _holds_bool(value):
            return arr
    return None


def _holds_bool(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return any(_holds_bool(v) for v in value)
    return isinstance(value, (bool, np.bool_))


def same_value(got: Any, expected: Any, *, rtol: float = 1e-6, atol: float = 1e-8) -> str | None:
    """Compare an answer with the expected one; ``None`` if equal, else why not.

    Arrays (numpy or torch) are compared by shape first, then with a tolerance:
    floating-point answers are never compared with ``==``. Integers and strings
    must match exactly; tuples and lists element by element.
    """
    exp_arr = _as_numpy(expected)
    if exp_arr is not None and exp_arr.ndim > 0:
        got_arr = _as_numpy(got)
        if got_arr is None:
            return f"expected an array, got {type(got).__name__}"
        if got_arr.shape != exp_arr.shape:
            return f"shape is {got_arr.shape}, expected {exp_arr.shape}"
        if not np.issubdtype(got_arr.dtype, np.number) and got_arr.dtype != bool:
            return f"array holds {got_arr.dtype}, expected numbers"
        got_arr, exp_arr = got_arr.astype(np.float64), exp_arr.astype(np.float64)  # bools too
        if not np.allclose(got_arr, exp_arr, rtol=rtol, atol=atol, equal_nan=True):
            worst = np.unravel_index(np.argmax(np.abs(got_arr - exp_arr)), exp_arr.shape)
            return (
                f"values differ; e.g. at index {tuple(int(i) for i in worst)}: "
                f"got {got_arr[worst]:.6g}, expected {exp_arr[worst]:.6g}"
            )
        return None
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"expected a sequence of {len(expected)} items, got {describe(got)}"
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            why = same_value(g, e, rtol=rtol, atol=atol)
            if why:
                return f"item {i}: {why}"
        return None
    if isinstance(expected, bool) or isinstance(expected, str):
        return None if got == expected else f"got {got!r}, expected {expected!r}"
    if isinstance(expected, (int, np.integer)):
        if isinstance(got, bool) or not isinstance(got, (int, np.integer, float, np.floating)):
            return f"expected a whole number, got {describe(got)}"
        if float(got) != float(expected):
            return f"got {describe(got)}, expected {expected}"
        return None
    if isinstance(expected, (float, np.floating)):
        if not isinstance(got, (int, float, np.number)) or isinstance(got, bool):
            got_arr = _as_numpy(got)
            if got_arr is None or got_arr.size != 1:
                return f"expected a number, got {describe(got)}"
            got = float(got_arr.reshape(()))
        if not np.isclose(float(got), float(expected), rtol=rtol, atol=atol):
            return f"got {float(got):.6g}, expected {float(expected):.6g}"
        return None
    return None if got == expected else f"got {describe(got)}, expected {describe(expected)}"


def _not_attempted(exercise: str) -> CheckResult:
    return CheckResult(
        exercise,
        NOT_ATTEMPTED,
        "not attempted yet: replace the placeholder with your answer and run this cell again.",
    )


def _match_mistake(got: Any, mistakes: Sequence[Mistake], args: tuple, kwargs: Mapping) -> str | None:
    for mistake in mistakes:
        try:
            wrong = mistake.produce(*copy.deepcopy(args), **copy.deepcopy(dict(kwargs)))
        except Exception:  # a mistake that does not apply to this case
            continue
        if same_value(got, wrong) is None:
            return mistake.feedback
    return None


def _raised_by(exc: BaseException, fn: Any) -> bool:
    """Whether ``exc`` was raised in the learner's function itself (not deeper, e.g. in
    torch). A check may wrap that function; the wrapped one counts as the learner's."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    own = {getattr(inspect.unwrap(fn), "__code__", None), getattr(fn, "__code__", None)}
    for cell in getattr(fn, "__closure__", None) or ():
        own.add(getattr(cell.cell_contents, "__code__", None))
    own.discard(None)
    return tb is None or not own or tb.tb_frame.f_code in own


def check_function(
    exercise: str,
    fn: Any,
    cases: Sequence[Case],
    *,
    mistakes: Sequence[Mistake] = (),
    compare: Callable[[Any, Any], str | None] = same_value,
) -> CheckResult:
    """Run a learner's ``fn`` on every case and report the first that goes wrong.

    Each case gets deep copies of its arguments; a function that changes its input
    in place is reported, since later cells would see the damage.
    """
    if fn is None or fn is Ellipsis:
        return _not_attempted(exercise)
    if not callable(fn):
        return CheckResult(exercise, FAILED, f"expected a function, got {describe(fn)}")
    for case in cases:
        args, kwargs = copy.deepcopy(case.args), copy.deepcopy(dict(case.kwargs))
        try:
            got = fn(*args, **kwargs)
        except NotImplementedError as exc:
            if _raised_by(exc, fn):  # the untouched stub itself
                return _not_attempted(exercise)
            return CheckResult(
                exercise,
                FAILED,
                f"on case '{case.label}' something your function called is not implemented "
                f"(NotImplementedError: {exc})",
                case.label,
            )
        except Exception as exc:  # the learner's code failed: say where and how
            return CheckResult(
                exercise,
                FAILED,
                f"on case '{case.label}' your function raised {type(exc).__name__}: {exc}",
                case.label,
            )
        if got is NotImplemented:
            return _not_attempted(exercise)
        if got is None and case.expected is not None:
            return CheckResult(
                exercise,
                FAILED,
                f"on case '{case.label}' your function returned None: did you forget `return`?",
                case.label,
            )
        for i, (before, after) in enumerate(zip(case.args, args, strict=True)):
            if _as_numpy(before) is not None and same_value(after, before) is not None:
                return CheckResult(
                    exercise,
                    FAILED,
                    f"on case '{case.label}' your function changed its argument {i + 1} in "
                    "place; work on a copy instead.",
                    case.label,
                )
        why = compare(got, case.expected)
        if why is not None:
            hint = _match_mistake(got, mistakes, case.args, case.kwargs)
            message = f"case '{case.label}': {why}.\nexpected {describe(case.expected)}\ngot {describe(got)}"
            if hint:
                message += f"\nhint: {hint}"
            return CheckResult(exercise, FAILED, message, case.label)
    return CheckResult(exercise, PASSED, f"correct on all {len(cases)} cases.")


def check_value(
    exercise: str,
    value: Any,
    expected: Any,
    *,
    mistakes: Sequence[Mistake] = (),
    compare: Callable[[Any, Any], str | None] = same_value,
    label: str = "your answer",
) -> CheckResult:
    """Check a single value (a number, a kernel, a shape); ``...`` means not attempted."""
    if value is Ellipsis or value is NotImplemented:
        return _not_attempted(exercise)
    why = compare(value, expected)
    if why is None:
        return CheckResult(exercise, PASSED, "correct.")
    message = f"{label}: {why}.\nexpected {describe(expected)}\ngot {describe(value)}"
    hint = _match_mistake(value, mistakes, (), {})
    if hint:
        message += f"\nhint: {hint}"
    return CheckResult(exercise, FAILED, message, label)
