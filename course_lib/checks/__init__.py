"""Self-checking exercises: the mechanism every lesson uses.

A learner's function (or value) is run on several cases. The result is a
:class:`CheckResult` that the notebook displays:

* ``passed``: one short line saying so;
* ``failed``: which case (its label and its inputs), what was expected, what came back,
  where an array differs (first differing index, largest error, and for an image a small
  picture expected / yours / difference), and, where the wrong answer matches a mistake
  learners really make (a :class:`Mistake`), what that mistake is;
* ``not attempted``: the exercise stub is untouched (it raises
  ``NotImplementedError`` or the value is still ``...``). Nothing is raised, so a
  notebook with untouched exercises still runs top to bottom.

What counts as a right answer (:func:`same_value`):

* a number: a Python, numpy or 0-d torch value (a one-element array too). Where the
  answer is a whole number (a size, a count), a float equal to it passes: ``4.0`` for
  4, ``np.float64(4.0)``, ``torch.tensor(62006)``; the pass message then notes that
  ``int(...)`` or ``//`` gives an int, which ``np.zeros`` and torch need. An exercise
  that really needs an ``int`` (a padding handed to torch) says so with its own
  ``compare``.
* an array: a numpy array or a torch tensor (any device, any float dtype, with or
  without a gradient), of the right shape, equal within a tolerance suited to its dtype:
  ``rtol = max(rtol, 32 eps)`` and ``atol = max(atol, 32 eps) * max(1, max|expected|)``,
  with ``eps`` the dtype's machine epsilon (float64 ``2.2e-16``, float32 ``1.2e-7``,
  float16 ``9.8e-4``, bfloat16 ``7.8e-3``). A float32 answer thus passes within float32
  rounding; an answer with only float32's precision handed back as float64 does not,
  and gets a hint. A list is not an array: it is refused with a hint. An integer array
  passes where the answer happens to be whole numbers, and gets its own hint where it
  is not (it has cut the fractions off).
* a tuple or list: item by item, by these rules (a 1-D array of numbers is accepted for
  a tuple of numbers).

Lesson-specific checks live in ``course_lib/checks/lessonNN.py`` and are thin lists of
:class:`Case` and :class:`Mistake` handed to :func:`check_function` or
:func:`check_value`. ``tests/test_checks_generic.py`` walks every ``check_*`` of every
lesson with the same generic wrong answers (integer dtype, list, transposed, off by one)
and right answers written differently (float32, torch), and asserts that every array
check has a case whose answer is not whole numbers and a non-square one.
"""

from __future__ import annotations

import base64
import copy
import functools
import html
import inspect
import io
import linecache
import math
import sysconfig
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from matplotlib.figure import Figure

from course_lib.progress import EXERCISE_ID
from course_lib.progress import record as record_progress
from course_lib.validate import check_int, check_number, is_integer, is_number

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

# A dtype-aware tolerance allows this many machine epsilons (relative, and absolute on the
# answer's scale): a float32 cross-correlation of a photo crop, a float32 sigmoid slope at
# x = 15 (where 1 - z cancels) and float16 answers all stay well inside it.
_EPS_ALLOWED = 32
_FLOAT64_EPS = float(np.finfo(np.float64).eps)
_PICTURE_MIN_SIDE = 5  # a 2-D answer at least this large on both sides is shown as a picture

_HINT_LIST = (
    "this is a {kind}; the exercise asks for an array: np.array(your_{kind}) makes one "
    "(or build the answer in an array from the start, e.g. np.zeros((h, w)), then fill it)."
)
_HINT_INTEGER_DTYPE = (
    "your array holds integers (dtype {dtype}), so every value was cut to a whole number "
    "(the right answer here has fractions). Create the output as floats: np.zeros(shape) "
    "is float by default, or use dtype=float / .astype(float), rather than dtype=int or "
    "np.zeros_like(...) of an integer array."
)
_HINT_FLOAT32_PRECISION = (
    "your values are right to about 7 digits, float32's precision, but come back as "
    "float64: somewhere they were computed in float32 (np.float32, torch.float32, or "
    "torch.tensor(...) of a Python list). Compute in float64 all the way, or return the "
    "float32 result itself: the check then allows float32's rounding."
)
_HINT_TRANSPOSED = (
    "your answer is the right one with rows and columns swapped (the transpose): the "
    "first index counts rows (down, along H), the second columns (across, along W)."
)
_HINT_ONE_SHORT = (
    "your array is {what} than expected along {axes}: an off-by-one in the number of "
    "positions? A window of size f fits n - f + 1 times in n cells (range(n - f + 1))."
)
_HINT_NAME_ERROR = (
    "a name your code uses is not defined: run the notebook's setup cell first, and "
    "import what you use (import numpy as np, import math)."
)
_HINT_ZERO_DIVISION = (
    "in this case {zeros}: dividing by it fails. Check which parameter you divide by, and "
    "that your parameters are in the order the exercise gives ({order})."
)


@dataclass(frozen=True)
class Case:
    """One input for a learner's function and the answer it must give.

    ``raises``: the exception type the function must raise on this input instead of
    returning (a subclass counts too); ``expected`` is then ignored. The label names the
    input in the learner's terms ("a 5x7 image and a lopsided 3x3 kernel").
    """

    label: str
    args: tuple = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    expected: Any = None
    raises: type[BaseException] | None = None


@dataclass(frozen=True)
class Mistake:
    """A wrong answer learners really give, and what to tell them when they give it.

    ``produce`` is called with a case's arguments (or with nothing, for a value
    exercise) and returns the wrong answer that mistake leads to, or raises the
    exception it leads to (``volume @ weights`` with mismatched sizes). Alternatively
    (or as well) ``matches(got, expected, *args, **kwargs) -> bool`` recognises a family
    of wrong answers that no single value describes ("a grid maximum that missed x = 0").
    """

    feedback: str
    produce: Callable[..., Any] | None = None
    matches: Callable[..., bool] | None = None


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one exercise check; displays itself in a notebook.

    ``arrays`` holds ``(expected, got)`` when a failing answer is an image, drawn by
    :meth:`figure` and embedded as a PNG in the HTML display. :attr:`cases` is the
    check's answer key (the cases it runs), for the tests; it is not part of the
    outcome's value.
    """

    exercise: str
    status: str
    message: str
    case: str | None = None
    arrays: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False, compare=False)

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    @property
    def cases(self) -> tuple[Case, ...]:
        """The cases the check runs, with their expected answers (empty if not recorded)."""
        return getattr(self, "_cases", ())

    def _with_cases(self, cases: Sequence[Case]) -> CheckResult:
        object.__setattr__(self, "_cases", tuple(cases))  # frozen: set once, on creation
        return self

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        mark = {PASSED: "PASSED", FAILED: "NOT YET", NOT_ATTEMPTED: "NOT ATTEMPTED"}
        return f"[{mark.get(self.status, self.status)}] {self.exercise}: {self.message}"

    __repr__ = __str__

    def figure(self) -> Figure | None:
        """Expected / yours / difference side by side, for a failing image answer; else None."""
        if self.arrays is None:
            return None
        expected, got = self.arrays
        same_shape = expected.shape == got.shape
        panels = [("expected", expected), ("yours", got)]
        if same_shape:
            panels.append(("yours - expected", got - expected))
        fig = Figure(figsize=(2.2 * len(panels), 2.4), dpi=72)
        finite = np.concatenate([a[np.isfinite(a)].ravel() for a in (expected, got)])
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        for i, (title, a) in enumerate(panels):
            ax = fig.add_subplot(1, len(panels), i + 1)
            if title.startswith("yours -"):
                diff = np.abs(a[np.isfinite(a)])
                span = float(diff.max()) if diff.size and diff.max() > 0 else 1.0
                ax.imshow(a, cmap="RdBu_r", vmin=-span, vmax=span, interpolation="nearest")
                title = f"{title}\n(red +, blue -, up to {span:.3g})"
            else:
                ax.imshow(a, cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
                title = f"{title} {a.shape[0]}x{a.shape[1]}"
            ax.set_title(title, fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
        fig.tight_layout()
        return fig

    def _repr_html_(self) -> str:
        colour = {PASSED: "#1b7f3b", FAILED: "#b3261e"}.get(self.status, "#6b6b6b")
        icon = {PASSED: "&#10004;", FAILED: "&#10008;"}.get(self.status, "&#9998;")
        body = html.escape(self.message).replace("\n", "<br>")
        picture = ""
        fig = self.figure()
        if fig is not None:
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png")
            data = base64.b64encode(buffer.getvalue()).decode("ascii")
            picture = (
                f'<br><img alt="expected, yours and their difference" '
                f'src="data:image/png;base64,{data}">'
            )
        return (
            f'<div class="course-check course-check-{self.status.replace(" ", "-")}" '
            f'style="border-left:4px solid {colour};padding:4px 10px;margin:4px 0">'
            f'<b style="color:{colour}">{icon} {html.escape(str(self.exercise))}</b>: '
            f"{body}{picture}</div>"
        )


# ----------------------------------------------------------------------------- values


class _Array(NamedTuple):
    """An answer's values as float64 (bool stays bool) plus what its dtype was."""

    values: np.ndarray
    kind: str  # numpy's dtype kind: "f" float, "i"/"u" integer, "b" bool, "c" complex, ...
    dtype: str
    eps: float  # machine epsilon of a float dtype; float64's for everything else


def _shown(arr: _Array) -> np.ndarray:
    """The values to print: integers as integers, not as the float64 they are compared in."""
    return arr.values.astype(np.int64) if arr.kind in "iub" else arr.values


def _is_array(value: Any) -> bool:
    return isinstance(value, np.ndarray | torch.Tensor) and value.ndim > 0


def _array(value: Any) -> _Array | None:
    """numpy arrays and torch tensors (any device or dtype, bfloat16 too); else None."""
    if isinstance(value, torch.Tensor):
        t = value.detach()
        dtype = str(t.dtype).removeprefix("torch.")
        try:
            if t.dtype == torch.bool:
                return _Array(t.cpu().numpy(), "b", dtype, _FLOAT64_EPS)
            if t.is_complex():
                return _Array(t.cpu().numpy(), "c", dtype, _FLOAT64_EPS)
            values = t.to("cpu", torch.float64).numpy()
        except (RuntimeError, NotImplementedError):  # a meta tensor holds no values
            return None
        if t.is_floating_point():
            return _Array(values, "f", dtype, float(torch.finfo(t.dtype).eps))
        return _Array(values, "i", dtype, _FLOAT64_EPS)
    if isinstance(value, np.ndarray):
        kind = value.dtype.kind
        if kind == "f":
            return _Array(value.astype(np.float64), kind, value.dtype.name,
                          float(np.finfo(value.dtype).eps))
        if kind in "iu":
            return _Array(value.astype(np.float64), kind, value.dtype.name, _FLOAT64_EPS)
        return _Array(value, kind, value.dtype.name, _FLOAT64_EPS)
    return None


def _as_numpy(value: Any) -> np.ndarray | None:
    """An array for numpy, torch and (nested) lists or tuples of numbers; else None.

    For display only: comparisons go through :func:`_array`, which refuses lists.
    """
    arr = _array(value)
    if arr is not None:
        return arr.values
    if isinstance(value, list | tuple) and value and not _holds_bool(value):
        try:
            out = np.asarray(value)
        except (ValueError, TypeError):  # ragged
            return None
        if np.issubdtype(out.dtype, np.number):
            return out
    return None


def _holds_bool(value: Any) -> bool:
    if isinstance(value, list | tuple):
        return any(_holds_bool(v) for v in value)
    return isinstance(value, bool | np.bool_)


def _scalar(value: Any) -> tuple[float, float, bool] | None:
    """(value, eps of its dtype, is an integer type) for a number; None for anything else.

    Python, numpy and 0-d torch numbers count, and one-element arrays; bools do not.
    """
    if isinstance(value, np.ndarray | torch.Tensor) and value.ndim > 0:
        if math.prod(value.shape) != 1:
            return None
        value = value.reshape(())
    if not is_number(value):
        return None
    if isinstance(value, torch.Tensor):
        eps = float(torch.finfo(value.dtype).eps) if value.is_floating_point() else _FLOAT64_EPS
        return float(value.item()), eps, not value.is_floating_point()
    if isinstance(value, np.ndarray):
        value = value[()]
    if isinstance(value, np.floating):
        return float(value), float(np.finfo(value.dtype).eps), False
    return float(value), _FLOAT64_EPS, is_integer(value)


def _distinct(a: float, b: float) -> tuple[str, str]:
    """Both numbers with the fewest significant digits (at least 6) that tell them apart."""
    for digits in range(6, 18):
        sa, sb = f"{a:.{digits}g}", f"{b:.{digits}g}"
        if sa != sb:
            return sa, sb
    return repr(a), repr(b)


def _number_text(value: Any) -> str:
    """A number as the learner wrote it: ``4``, ``4.0``, ``np.float64(4.0)``, ``tensor(3)``."""
    if isinstance(value, torch.Tensor):
        return f"tensor({value.item()!r}, dtype={str(value.dtype).removeprefix('torch.')})"
    return repr(value)


def describe(value: Any, *, max_items: int = 36) -> str:
    """A short, readable rendering of a value for feedback messages.

    Arrays show their shape and dtype, and their values when they have at most
    ``max_items`` of them; numbers show their type where it is not a plain Python one.
    """
    max_items = check_int("max_items", max_items, minimum=1)
    arr = _array(value)
    kind = type(value).__name__
    if arr is None and isinstance(value, list | tuple):
        plain = _as_numpy(value)
        if plain is not None and plain.ndim > 1:  # a nested list: say it is one
            return f"{kind} of shape {'x'.join(map(str, plain.shape))}: {_short(value)}"
    if arr is not None and arr.values.ndim > 0:
        shape = "x".join(str(s) for s in arr.values.shape)
        where = "torch tensor" if isinstance(value, torch.Tensor) else "array"
        head = f"{where} of shape {shape}, {arr.dtype}"
        if arr.values.size == 0:
            return f"{head} (empty)"
        if arr.values.size <= max_items:
            body = np.array2string(_shown(arr), precision=4, suppress_small=True, separator=", ")
            return f"{head}:\n{body}"
        if arr.kind in "fiub":
            return f"{head} (min {np.nanmin(arr.values):.4g}, max {np.nanmax(arr.values):.4g})"
        return head
    if isinstance(value, torch.Tensor | np.generic | np.ndarray) or isinstance(value, float):
        return _number_text(value)
    return _short(value)


def _short(value: Any, limit: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _pair_text(got: np.ndarray, expected: np.ndarray) -> tuple[str, str]:
    """Small arrays printed with enough digits that different ones print differently."""
    for precision in (4, 6, 8, 10, 12, 16):
        texts = tuple(
            np.array2string(a, precision=precision, suppress_small=False, separator=", ")
            for a in (got, expected)
        )
        if texts[0] != texts[1]:
            return texts
    return texts


def same_value(got: Any, expected: Any, *, rtol: float = 1e-6, atol: float = 1e-9) -> str | None:
    """Compare an answer with the expected one; ``None`` if equal, else why not.

    The rules are in the module docstring: numbers of any kind, arrays of any float
    dtype with a dtype-aware tolerance (never ``==`` on floats), lists refused where an
    array is asked, sequences item by item, strings and bools exactly.
    """
    rtol = check_number("rtol", rtol, minimum=0.0)
    atol = check_number("atol", atol, minimum=0.0)
    return _why(got, expected, rtol, atol, "")


def _why(got: Any, expected: Any, rtol: float, atol: float, where: str) -> str | None:
    at = f"at {where}: " if where else ""
    if _is_array(expected):
        why = _why_array(got, expected, rtol, atol)
        return None if why is None else at + why
    if isinstance(expected, tuple | list):
        return _why_sequence(got, expected, rtol, atol, where)
    if isinstance(expected, bool | np.bool_):
        if isinstance(got, bool | np.bool_) and bool(got) == bool(expected):
            return None
        return f"{at}got {describe(got)}, expected {expected!r}"
    if isinstance(expected, str):
        if isinstance(got, str) and got == expected:
            return None
        return f"{at}got {describe(got)}, expected {expected!r}"
    exp = _scalar(expected)
    if exp is not None:
        return _why_number(got, exp, rtol, atol, at)
    return None if _equal(got, expected) else f"{at}got {describe(got)}, expected {describe(expected)}"


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError, RuntimeError):  # an array compared with something else
        return False


def _why_number(got: Any, exp: tuple, rtol: float, atol: float, at: str) -> str | None:
    value, exp_eps, exp_int = exp
    g = _scalar(got)
    if g is None:
        arr = _array(got)
        if arr is not None and arr.values.ndim > 0:
            return f"{at}expected one number, got {describe(got, max_items=6)}"
        return f"{at}expected a number, got {describe(got)}"
    got_value, got_eps, _ = g
    if exp_int:  # a size or a count: equal, whatever the number's type
        if got_value == value:
            return None
        a, b = _distinct(got_value, value) if not float(got_value).is_integer() else (
            _number_text(got), str(int(value)))
        return f"{at}got {a}, expected {b}"
    if got_value == value:
        return None
    eps = max(exp_eps, got_eps)
    r, a = max(rtol, _EPS_ALLOWED * eps), max(atol, _EPS_ALLOWED * eps) * max(1.0, abs(value))
    if math.isfinite(got_value) and abs(got_value - value) <= a + r * abs(value):
        return None
    if math.isnan(got_value) and math.isnan(value):
        return None
    ga, eb = _distinct(got_value, value)
    return f"{at}got {ga}, expected {eb}"


def _why_sequence(got: Any, expected: Sequence, rtol: float, atol: float, where: str
                  ) -> str | None:
    at = f"at {where}: " if where else ""
    items = got
    if _is_array(got) and got.ndim == 1 and all(_scalar(e) is not None for e in expected):
        items = [got[i] for i in range(got.shape[0])]  # a 1-D array for a tuple of numbers
    if not isinstance(items, list | tuple):
        return f"{at}expected a {type(expected).__name__} of {len(expected)} items, got {describe(got)}"
    if len(items) != len(expected):
        return (
            f"{at}expected {len(expected)} items, got {len(items)}: {describe(got)}"
        )
    for i, (g, e) in enumerate(zip(items, expected, strict=True)):
        why = _why(g, e, rtol, atol, f"{where}[{i}]")
        if why:
            return why
    return None


def _tolerances(got: _Array, expected: _Array, rtol: float, atol: float) -> tuple[float, float]:
    eps = max(got.eps, expected.eps)
    finite = np.abs(expected.values[np.isfinite(expected.values)]) if expected.kind in "fiu" else []
    scale = max(1.0, float(np.max(finite)) if len(finite) else 1.0)
    return max(rtol, _EPS_ALLOWED * eps), max(atol, _EPS_ALLOWED * eps) * scale


def _why_array(got: Any, expected: Any, rtol: float, atol: float) -> str | None:
    exp = _array(expected)
    if isinstance(got, list | tuple):
        return f"a {type(got).__name__}, not an array"
    g = _array(got)
    if g is None:
        return f"expected an array, got {describe(got)}"
    if g.values.shape != exp.values.shape:
        return f"shape is {tuple(g.values.shape)}, expected {tuple(exp.values.shape)}"
    if g.kind not in "fiub":
        return f"the array holds {g.dtype}, expected real numbers"
    if exp.kind == "b" or g.kind == "b":
        equal = g.values.astype(np.float64) == exp.values.astype(np.float64)
    else:
        r, a = _tolerances(g, exp, rtol, atol)
        equal = np.isclose(g.values, exp.values, rtol=r, atol=a, equal_nan=True)
    if equal.all():
        return None
    gv, ev = g.values.astype(np.float64), exp.values.astype(np.float64)
    bad = ~equal
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    error = np.where(bad, np.abs(gv - ev), 0.0)
    error = np.where(np.isnan(error), np.inf, error)
    worst = tuple(int(i) for i in np.unravel_index(np.argmax(error), error.shape))
    ga, eb = _distinct(float(gv[first]), float(ev[first]))
    text = (
        f"values differ at {int(bad.sum())} of {bad.size} positions; the first at index "
        f"{first}: got {ga}, expected {eb}"
    )
    if worst != first:
        gw, ew = _distinct(float(gv[worst]), float(ev[worst]))
        text += f"; the largest error, {float(error[worst]):.4g}, at index {worst} (got {gw}, expected {ew})"
    return text


# ----------------------------------------------------------------------------- outcomes


class _Raised(NamedTuple):
    """What an exception looks like to the comparison of a learner's run with a mistake's."""

    exc: BaseException

    def same_as(self, other: Any) -> bool:
        if not isinstance(other, _Raised) or type(other.exc) is not type(self.exc):
            return False
        # Division by zero reads differently for / and // and % (and between Python
        # versions); the type says it all. Other errors must give the same message.
        return isinstance(self.exc, ZeroDivisionError) or str(other.exc) == str(self.exc)


def _outcome(produce: Callable[..., Any], args: tuple, kwargs: Mapping) -> Any:
    try:
        return produce(*copy.deepcopy(args), **copy.deepcopy(dict(kwargs)))
    except Exception as exc:  # what the mistake leads to, or: it does not apply here
        return _Raised(exc)


def _agrees(got: Any, wrong: Any) -> bool:
    if isinstance(got, _Raised) or isinstance(wrong, _Raised):
        return isinstance(got, _Raised) and got.same_as(wrong)
    if got is None or wrong is None:
        return got is None and wrong is None
    try:
        return _why(got, wrong, 1e-6, 1e-9, "") is None and _same_kind(got, wrong)
    except Exception:  # a produce that returned something odd
        return False


def _same_kind(got: Any, wrong: Any) -> bool:
    """A list does not "match" a mistake's array: it gets the list hint instead."""
    return not (isinstance(got, list | tuple) and _is_array(wrong))


def _mistake_applies(mistake: Mistake, got: Any, expected: Any, args: tuple, kwargs: Mapping,
                     produced: Any) -> bool:
    if mistake.produce is not None and _agrees(got, produced):
        return True
    if mistake.matches is not None and not isinstance(got, _Raised):
        try:
            return bool(mistake.matches(got, expected, *copy.deepcopy(args),
                                        **copy.deepcopy(dict(kwargs))))
        except Exception:  # a predicate that does not apply to this answer
            return False
    return False


def _best_mistake(mistakes: Sequence[Mistake], runs: list[tuple[Case, Any]], failing: int
                  ) -> str | None:
    """The feedback of the mistake that explains the failing case and, of those, agrees
    with the learner's answers on the most cases (ties: the first listed)."""
    best, best_score = None, -1
    for mistake in mistakes:
        produced = [
            _outcome(mistake.produce, c.args, c.kwargs) if mistake.produce else None
            for c, _ in runs
        ]
        case, got = runs[failing]
        if not _mistake_applies(mistake, got, case.expected, case.args, case.kwargs,
                                produced[failing]):
            continue
        score = sum(
            _mistake_applies(mistake, g, c.expected, c.args, c.kwargs, p)
            for (c, g), p in zip(runs, produced, strict=True)
        )
        if score > best_score:
            best, best_score = mistake.feedback, score
    return best


# ----------------------------------------------------------------------------- generic hints


def _type_hint(got: Any, expected: Any) -> str | None:
    """Hints about the kind of answer, before any lesson-specific mistake."""
    if _is_array(expected) and isinstance(got, list | tuple):
        return _HINT_LIST.format(kind=type(got).__name__)
    exp, g = _array(expected), _array(got)
    if (
        _is_array(expected) and g is not None and exp.kind == "f" and g.kind in "iu"
        and g.values.shape == exp.values.shape
        and not np.all(np.mod(exp.values[np.isfinite(exp.values)], 1.0) == 0)
    ):
        return _HINT_INTEGER_DTYPE.format(dtype=g.dtype)
    return None


def _value_hint(got: Any, expected: Any, rtol: float, atol: float) -> str | None:
    """Hints about an answer of the right kind that is still wrong, after the lesson's."""
    exp, g = _array(expected), _array(got)
    if not (_is_array(expected) and g is not None and g.kind in "fiu"):
        return None
    gv, ev = g.values, exp.values
    if gv.shape == ev.shape and g.kind == "f" and g.eps <= _FLOAT64_EPS:
        as_float32 = g._replace(eps=float(np.finfo(np.float32).eps))
        r, a = _tolerances(as_float32, exp, rtol, atol)
        if np.allclose(gv, ev, rtol=r, atol=a, equal_nan=True):
            return _HINT_FLOAT32_PRECISION
    if ev.ndim >= 2 and ev.shape[0] != ev.shape[1]:
        swapped = np.swapaxes(ev, 0, 1)
        if gv.shape == swapped.shape and _why_array(got, swapped, rtol, atol) is None:
            return _HINT_TRANSPOSED
    if gv.ndim == ev.ndim and gv.shape != ev.shape:
        diff = [g_ - e_ for g_, e_ in zip(gv.shape, ev.shape, strict=True)]
        if set(diff) in ({-1}, {-1, 0}, {1}, {1, 0}):
            names = ("rows", "columns", "channels") if gv.ndim > 1 else ("its length",)
            axes = " and ".join(names[i] if i < len(names) else f"axis {i}"
                                for i, d in enumerate(diff) if d)
            return _HINT_ONE_SHORT.format(
                what="one smaller" if -1 in diff else "one larger", axes=axes
            )
    return None


def _error_hint(exc: BaseException, inputs: list[tuple[str, Any]]) -> str | None:
    if isinstance(exc, NameError):
        return _HINT_NAME_ERROR
    if isinstance(exc, ZeroDivisionError):
        zeros = [n for n, v in inputs if _scalar(v) is not None and _scalar(v)[0] == 0]
        if zeros:
            order = ", ".join(n for n, _ in inputs)
            return _HINT_ZERO_DIVISION.format(
                zeros=" and ".join(f"{n} = 0" for n in zeros), order=order
            )
    return None


# ----------------------------------------------------------------------------- reporting


def _not_attempted(exercise: str, cases: tuple[Case, ...]) -> CheckResult:
    return CheckResult(
        exercise,
        NOT_ATTEMPTED,
        "not attempted yet: replace the placeholder with your answer and run this cell again.",
    )._with_cases(cases)


def _learner_code(fn: Any) -> set:
    own = {getattr(inspect.unwrap(fn), "__code__", None), getattr(fn, "__code__", None)}
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            own.add(getattr(cell.cell_contents, "__code__", None))
        except ValueError:  # an empty cell
            pass
    own.discard(None)
    return own


def _raised_by(exc: BaseException, fn: Any) -> bool:
    """Whether ``exc`` was raised in the learner's function itself (not deeper, e.g. in
    torch). A check may wrap that function; the wrapped one counts as the learner's."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    own = _learner_code(fn)
    return tb is None or not own or tb.tb_frame.f_code in own


_LIBRARY_DIRS = tuple(
    {str(Path(p).resolve()) for k in ("stdlib", "platstdlib", "purelib", "platlib")
     if (p := sysconfig.get_paths().get(k))}
    | {str(Path(__file__).resolve().parents[1])}  # course_lib itself
)


def _is_library(filename: str) -> bool:
    if filename.startswith("<frozen"):
        return True
    try:
        path = str(Path(filename).resolve())
    except (OSError, ValueError):
        return False
    return path.startswith(_LIBRARY_DIRS)


def _where(exc: BaseException) -> tuple[int, str] | None:
    """(line, source) of the deepest frame of the learner's own code in the traceback.

    The first frame is :func:`check_function` calling the learner's function; library
    code (numpy, torch, course_lib, the standard library) is skipped.
    """
    tb, found = exc.__traceback__, None
    tb = tb.tb_next if tb is not None else None  # skip the check's own frame
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if not _is_library(filename):
            found = (tb.tb_lineno, linecache.getline(filename, tb.tb_lineno).strip())
        tb = tb.tb_next
    return found


def _inputs(fn: Any, args: tuple, kwargs: Mapping) -> list[tuple[str, Any]]:
    """The case's inputs (positional ones, then keywords) under the names of the learner's
    own parameters where their signature gives them."""
    try:
        params = inspect.signature(fn).parameters.values()
        positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY,
                                                           p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):  # a builtin without a signature
        positional = []
    named = [
        (positional[i] if i < len(positional) else f"argument {i + 1}", a)
        for i, a in enumerate(args)
    ]
    return named + list(kwargs.items())


def _inputs_text(inputs: list[tuple[str, Any]]) -> str:
    parts = []
    for name, value in inputs:
        arr = _array(value)
        if arr is not None and arr.values.ndim > 0:
            shape = "x".join(map(str, arr.values.shape))
            text = f"{name}: array {shape}"
            if arr.values.size <= 16 and arr.kind in "fiub":
                flat = np.array2string(_shown(arr), precision=4, separator=", ",
                                       max_line_width=10_000).replace("\n", "")
                text += f" {' '.join(flat.split())}"
            parts.append(text)
        else:
            text = " ".join(repr(value).split())  # on one line
            parts.append(f"{name}={text if len(text) <= 120 else text[:117] + '...'}")
    return "inputs: " + "; ".join(parts)


def _picture(got: Any, expected: Any) -> tuple[np.ndarray, np.ndarray] | None:
    exp, g = _array(expected), _array(got)
    if exp is None or g is None or exp.kind not in "fiu" or g.kind not in "fiu":
        return None
    if exp.values.ndim != 2 or g.values.ndim != 2:
        return None
    if min(exp.values.shape) < _PICTURE_MIN_SIDE:
        return None
    return exp.values.astype(np.float64), g.values.astype(np.float64)


def _answer_lines(got: Any, expected: Any) -> str:
    if not (_is_array(expected) or isinstance(expected, tuple | list)):
        return ""
    exp_arr, got_arr = _array(expected), _array(got)
    if (
        exp_arr is not None and got_arr is not None and exp_arr.values.shape == got_arr.values.shape
        and exp_arr.values.size <= 36 and exp_arr.kind in "fiub" and got_arr.kind in "fiu"
    ):
        g_text, e_text = _pair_text(_shown(got_arr), _shown(exp_arr))
        shape = "x".join(map(str, exp_arr.values.shape))
        return (f"\nexpected (array of shape {shape}, {exp_arr.dtype}):\n{e_text}"
                f"\ngot (array of shape {shape}, {got_arr.dtype}):\n{g_text}")
    return f"\nexpected {describe(expected)}\ngot {describe(got)}"


def _floats_for_ints(got: Any, expected: Any) -> bool:
    """Whether a passing answer gave a float where a whole number was expected."""
    if isinstance(expected, tuple | list):
        items = got if isinstance(got, list | tuple) else []
        return any(_floats_for_ints(g, e) for g, e in zip(items, expected, strict=False))
    exp, g = _scalar(expected), _scalar(got)
    return exp is not None and g is not None and exp[2] and not g[2]


_IN_PLACE = "in place"
_FLOAT_NOTE = (
    " (Your answers come back as floats, e.g. 4.0, where the answer is a whole number: "
    "int(...) or // gives an int, which np.zeros and torch need for sizes.)"
)


def _check_cases(cases: Any) -> tuple[Case, ...]:
    if isinstance(cases, str | bytes) or not isinstance(cases, Sequence):
        raise TypeError(f"cases={_short(cases, 60)} must be a sequence of Case, not "
                        f"{type(cases).__name__}")
    for c in cases:
        if not isinstance(c, Case):
            raise TypeError(f"cases must hold Case objects, not {type(c).__name__} ({_short(c, 60)})")
    return tuple(cases)


def _check_mistakes(mistakes: Any) -> tuple[Mistake, ...]:
    if isinstance(mistakes, str | bytes) or not isinstance(mistakes, Sequence):
        raise TypeError(f"mistakes={_short(mistakes, 60)} must be a sequence of Mistake, not "
                        f"{type(mistakes).__name__}")
    for m in mistakes:
        if not isinstance(m, Mistake):
            raise TypeError(f"mistakes must hold Mistake objects, not {type(m).__name__}")
    return tuple(mistakes)


def _check_compare(compare: Any) -> Callable[[Any, Any], str | None]:
    if not callable(compare):
        raise TypeError(f"compare={_short(compare, 60)} must be a function (got, expected) -> "
                        f"str | None, not {type(compare).__name__}")
    return compare


def _run(fn: Any, case: Case) -> tuple[Any, tuple, dict]:
    args, kwargs = copy.deepcopy(case.args), copy.deepcopy(dict(case.kwargs))
    try:
        return fn(*args, **kwargs), args, kwargs
    except Exception as exc:  # the learner's code failed: reported, never raised
        return _Raised(exc), args, kwargs


def _changed(before: Any, after: Any) -> bool:
    b, a = _array(before), _array(after)
    if b is None or a is None:
        return False
    if b.values.shape != a.values.shape:
        return True
    return not np.array_equal(b.values, a.values, equal_nan=b.kind in "fc")


def _exception_text(exc: BaseException) -> str:
    where = _where(exc)
    text = f"your function raised {type(exc).__name__}"
    if where is not None:
        text += f" at line {where[0]}"
    text += f": {exc}"
    if where is not None and where[1]:
        text += f"\n    {where[1]}"
    return text


def _recorded(check: Callable[..., CheckResult]) -> Callable[..., CheckResult]:
    """A check whose verdict is also appended to the learner's progress record."""

    @functools.wraps(check)
    def recorded(exercise: str, *args: Any, **kwargs: Any) -> CheckResult:
        result = check(exercise, *args, **kwargs)
        is_exercise = isinstance(exercise, str) and EXERCISE_ID.match(exercise)
        note = record_progress(exercise, result.status) if is_exercise else None
        if note:
            result = replace(result, message=f"{result.message}\n({note})")._with_cases(result.cases)
        return result

    return recorded


@_recorded
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
    in place is reported, since later cells would see the damage. An exception raised
    by ``fn`` is reported as the learner's, with its line; a case with ``raises`` must
    raise that exception. The hint is the one of the :class:`Mistake` that explains the
    failing case and agrees with the learner's answers on the most cases. The verdict
    is added to the learner's progress record (:mod:`course_lib.progress`).
    """
    cases = _check_cases(cases)
    mistakes = _check_mistakes(mistakes)
    compare = _check_compare(compare)
    if fn is None or fn is Ellipsis or fn is NotImplemented:
        return _not_attempted(exercise, cases)
    if not callable(fn):
        return CheckResult(exercise, FAILED,
                           f"expected a function, got {describe(fn)}")._with_cases(cases)
    runs: list[tuple[Case, Any]] = []
    first_failure: tuple[int, str, Any] | None = None  # (index, message, picture)
    for index, case in enumerate(cases):
        got, args, kwargs = _run(fn, case)
        if isinstance(got, _Raised) and isinstance(got.exc, NotImplementedError):
            if _raised_by(got.exc, fn):  # the untouched stub itself
                return _not_attempted(exercise, cases)
        if got is NotImplemented:
            return _not_attempted(exercise, cases)
        runs.append((case, got))
        if first_failure is None:
            report = _judge(fn, case, got, args, kwargs, compare)
            if report is not None:
                first_failure = (index, *report)
    if first_failure is None:
        note = any(_floats_for_ints(g, c.expected) for c, g in runs if c.raises is None)
        cases_text = f" on all {len(cases)} cases" if len(cases) > 1 else ""
        message = f"correct{cases_text}." + (_FLOAT_NOTE if note else "")
        return CheckResult(exercise, PASSED, message)._with_cases(cases)
    index, message, picture = first_failure
    case, got = runs[index]
    hints = []
    inputs = _inputs(fn, case.args, case.kwargs)
    if isinstance(got, _Raised):
        hint = _best_mistake(mistakes, runs, index) or _error_hint(got.exc, inputs)
        hints.append(hint)
    elif _IN_PLACE in message:
        pass  # the value may well be right: the damage to the input is the whole story
    elif case.raises is None:
        hints.append(_type_hint(got, case.expected))
        if hints[-1] is None:
            hints.append(_best_mistake(mistakes, runs, index)
                         or _value_hint(got, case.expected, 1e-6, 1e-9))
    else:
        hints.append(_best_mistake(mistakes, runs, index))
    text = f"case '{case.label}': {message}"
    if inputs:  # a function of no arguments (a network builder) has none to show
        text += f"\n{_inputs_text(inputs)}"
    if not isinstance(got, _Raised) and case.raises is None and _IN_PLACE not in message:
        text += _answer_lines(got, case.expected)
    for hint in hints:
        if hint:
            text += f"\nhint: {hint}"
    return CheckResult(exercise, FAILED, text, case.label, arrays=picture)._with_cases(cases)


def _judge(fn: Any, case: Case, got: Any, args: tuple, kwargs: dict, compare: Callable
           ) -> tuple[str, Any] | None:
    """(message, picture) if the learner's outcome on this case is wrong; else None."""
    inputs = _inputs(fn, case.args, case.kwargs)
    names = [n for n, _ in inputs]
    if isinstance(got, _Raised):
        exc = got.exc
        if case.raises is not None and isinstance(exc, case.raises):
            return None
        if isinstance(exc, NotImplementedError):
            return (f"something your function called is not implemented "
                    f"(NotImplementedError: {exc})", None)
        if isinstance(exc, TypeError) and exc.__traceback__.tb_next is None and not _fits(fn, case):
            return (f"your function cannot be called with the {len(names)} inputs "
                    f"({', '.join(names)}): TypeError: {exc}", None)
        text = _exception_text(exc)
        if case.raises is not None:
            text += f"\nthis case expects {case.raises.__name__}, not {type(exc).__name__}."
        return text, None
    if case.raises is not None:
        if got is None:
            return (f"your function returned None; this case expects it to raise "
                    f"{case.raises.__name__}: use `raise {case.raises.__name__}(...)`, not "
                    "`return` or print.", None)
        return (f"your function returned {describe(got)}; this case expects it to raise "
                f"{case.raises.__name__}.", None)
    if got is None and case.expected is not None:
        return "your function returned None: did you forget `return`?", None
    after = list(args) + [kwargs[k] for k in case.kwargs]
    for (name, before), new in zip(inputs, after, strict=True):
        if _changed(before, new):
            return (f"your function changed its input `{name}` {_IN_PLACE}; work on a copy "
                    "instead (x.copy() for numpy, x.clone() for torch, or build a new array).", None)
    why = compare(got, case.expected)
    if why is None:
        return None
    return f"{why}.", _picture(got, case.expected)


def _fits(fn: Any, case: Case) -> bool:
    try:
        inspect.signature(fn).bind(*case.args, **case.kwargs)
    except TypeError:
        return False
    except ValueError:  # no signature to read
        return True
    return True


@_recorded
def check_value(
    exercise: str,
    value: Any,
    expected: Any,
    *,
    mistakes: Sequence[Mistake] = (),
    compare: Callable[[Any, Any], str | None] = same_value,
    label: str = "your answer",
) -> CheckResult:
    """Check a single value (a number, a kernel, a shape); ``...`` means not attempted.

    The verdict is added to the learner's progress record (:mod:`course_lib.progress`).
    """
    mistakes = _check_mistakes(mistakes)
    compare = _check_compare(compare)
    cases = (Case(str(label), (), expected=expected),)
    if value is Ellipsis or value is NotImplemented:
        return _not_attempted(exercise, cases)
    why = compare(value, expected)
    if why is None:
        note = _FLOAT_NOTE if _floats_for_ints(value, expected) else ""
        return CheckResult(exercise, PASSED, "correct." + note)._with_cases(cases)
    message = f"{label}: {why}."
    message += _answer_lines(value, expected)
    hint = _type_hint(value, expected) or _best_mistake(mistakes, [(cases[0], value)], 0)
    hint = hint or _value_hint(value, expected, 1e-6, 1e-9)
    if hint:
        message += f"\nhint: {hint}"
    result = CheckResult(exercise, FAILED, message, str(label), arrays=_picture(value, expected))
    return result._with_cases(cases)
