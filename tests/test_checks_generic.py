"""Every exercise check, discovered, against the mechanism's generic right and wrong answers.

The test finds every public ``check_*`` in every ``course_lib/checks/lessonNN.py`` (a new
lesson is picked up without being listed), reads its answer key (``CheckResult.cases``,
which a check returns even for an untouched stub) and builds answers from it:

* right answers written differently must pass: the answers as torch tensors, as numpy
  scalars, as float32 (exactly rounded, and a few units in the last place off), and a
  float equal to a whole-number answer (sizes, counts);
* generic wrong answers must fail: an integer array where the answer has fractions (with
  the integer-dtype hint), a list where an array is asked (with the list hint), the
  transpose, off by one in the values and one row short in the shape, an error larger
  than float32's rounding, ``None``, and an exception (reported as the learner's).

It also asserts the properties every array check needs so that those wrong answers can
fail: a case whose answer is not whole numbers and a non-square one; and for strided
operations, listed in :data:`STRIDED`, a case whose window differs from its stride. Each
check must be classified as strided or not, so a new lesson cannot skip that decision.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import course_lib.checks
from course_lib.checks import Case, CheckResult, same_value


def _discover() -> dict[str, Callable[[Any], CheckResult]]:
    found = {}
    for info in pkgutil.iter_modules(course_lib.checks.__path__):
        if not re.fullmatch(r"lesson\d\d", info.name):
            continue
        module = importlib.import_module(f"course_lib.checks.{info.name}")
        for name, obj in vars(module).items():
            if name.startswith("check_") and callable(obj) and obj.__module__ == module.__name__:
                found[f"{info.name}.{name}"] = obj
    return found


CHECKS = _discover()


def _has_pool_with_window_ne_stride(layers: Any) -> bool:
    return any(layer[0] == "pool" and layer[1] != layer[2] for layer in layers)


# Strided operations: each needs a case whose window (kernel) differs from its stride.
STRIDED: dict[str, Callable[[Case], bool]] = {
    "lesson02.check_output_size": lambda c: c.args[1] != c.args[3],  # (n, f, p, s)
    "lesson03.check_max_pool": lambda c: c.args[1] != c.args[2],  # (x, f, s)
    "lesson05.check_layer_shapes": lambda c: _has_pool_with_window_ne_stride(c.args[1]),
    "lesson05.check_layer_cost": lambda c: _has_pool_with_window_ne_stride([c.args[1]]),
    # --- lesson 08 (its entries go below this line) ---
    # --- lesson 09 (its entries go below this line) ---
    "lesson09.check_residual_block": lambda c: c.kwargs.get("stride", 1) > 1,  # 3x3 convs, stride 2
    # --- lesson 10 (its entries go below this line) ---
    # --- lesson 11 (its entries go below this line) ---
    # --- lesson 12 (its entries go below this line) ---
    # --- lesson 13 (its entries go below this line) ---
    "lesson13.check_occlusion": lambda c: c.args[2] != c.args[3],  # (score, image, patch, stride)
    # --- lesson 14 (its entries go below this line) ---
}
NOT_STRIDED = {
    "lesson00.check_invert",
    "lesson00.check_count_values",
    "lesson01.check_cross_correlation",  # valid mode, stride 1 only
    "lesson01.check_sobel_horizontal",
    "lesson01.check_flip",
    "lesson02.check_seven_by_seven",  # a value: strides 1, 2, 3 with a 3x3 kernel, fixed
    "lesson02.check_same_padding",  # stride 1 by definition
    "lesson03.check_conv_layer_params",
    "lesson03.check_conv_1x1",
    "lesson04.check_sigmoid_derivative",
    "lesson04.check_sigmoid_derivative_max",
    "lesson04.check_leaky_relu",
    "lesson04.check_leaky_relu_derivative",
    "lesson05.check_lenet_params",
    "lesson06.check_dropout_forward",  # elementwise
    "lesson06.check_dropout_backward",
    "lesson06.check_classic_dropout",
    "lesson06.check_thinned_count",  # a value
    "lesson05.check_lenet_sequential",  # a network: judged by what it computes
    "lesson05.check_training_loop",  # plain SGD steps over given batches
    "lesson05.check_lenet_28",
    "lesson07.check_batch_norm_forward",  # statistics over whole axes, no window
    "lesson07.check_torch_momentum",
    "lesson07.check_fold_batch_norm",  # the convolution's stride does not enter the folding
    # --- lesson 08 (its entries go below this line) ---
    "lesson08.check_random_flip",  # a mirror of whole images: no window
    "lesson08.check_crop_count",  # a value
    "lesson08.check_top_params",  # a value
    # --- lesson 09 (its entries go below this line) ---
    "lesson09.check_bottleneck_weights",  # a count of weights
    # --- lesson 10 (its entries go below this line) ---
    "lesson10.check_conv_multiplications",  # same padding, stride 1 by definition
    "lesson10.check_bottleneck_multiplications",  # a value
    "lesson10.check_module_multiplications",  # a value
    # --- lesson 11 (its entries go below this line) ---
    "lesson11.check_fc_as_conv",  # a reshape of the weight: no window slides
    "lesson11.check_max_unpool",  # positions come from the indices; window and stride do not enter
    # --- lesson 12 (its entries go below this line) ---
    "lesson12.check_score_map_sizes",  # FCN pools are 2x2 with stride 2: window = stride
    "lesson12.check_fcn_scores",  # four numbers from a count matrix, no window
    # --- lesson 13 (its entries go below this line) ---
    "lesson13.check_conv2_receptive_field",  # a value
    "lesson13.check_ascent_step",  # elementwise step, then one norm over the whole array
    # --- lesson 14 (its entries go below this line) ---
    "lesson14.check_box_iou",  # two boxes, no window
    "lesson14.check_greedy_nms",  # boxes and scores: no window or stride
    "lesson14.check_pool5_field",  # a value (the strides are fixed in the question)
    "lesson14.check_average_precision",  # a ranked list
}
# Checks that deliberately refuse a float equal to the whole-number answer, and why.
FLOATS_REFUSED = {"lesson02.check_same_padding": "a padding goes to torch, which refuses floats"}


def _stub(*args: Any, **kwargs: Any) -> Any:
    raise NotImplementedError


def _answer_key(check: Callable) -> tuple[bool, tuple[Case, ...]]:
    """(is a function check, its cases), read from the untouched-stub result."""
    result = check(_stub)
    if result.status == "not attempted":
        return True, result.cases
    result = check(...)
    assert result.status == "not attempted", result
    return False, result.cases


KEYS = {name: _answer_key(check) for name, check in CHECKS.items()}


def _same_input(a: Any, b: Any) -> bool:
    if isinstance(a, torch.nn.Module) or isinstance(b, torch.nn.Module):  # a (copied) network
        if not (isinstance(a, torch.nn.Module) and isinstance(b, torch.nn.Module)):
            return False
        sa, sb = a.state_dict(), b.state_dict()
        return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    return same_value(a, b) is None


def _same_inputs(case: Case, args: tuple, kwargs: dict) -> bool:
    if len(args) != len(case.args) or set(kwargs) != set(case.kwargs):
        return False
    pairs = [*zip(args, case.args, strict=True), *((kwargs[k], case.kwargs[k]) for k in kwargs)]
    return all(_same_input(a, b) for a, b in pairs)


def _answer(check: Callable, name: str, transform: Callable[[Any], Any]) -> CheckResult:
    """Run ``check`` on its own answer key, each answer passed through ``transform``."""
    is_function, cases = KEYS[name]
    if not is_function:
        return check(transform(cases[0].expected))

    def oracle(*args: Any, **kwargs: Any) -> Any:
        for case in cases:
            if _same_inputs(case, args, kwargs):
                if case.raises is not None:
                    raise case.raises("the case expects this exception")
                return transform(case.expected)
        raise AssertionError(f"no case has the inputs {args}, {kwargs}")

    return check(oracle)


# ----------------------------------------------------------------------------- transforms


def _map(value: Any, *, array=None, integer=None, real=None) -> Any:
    """Apply ``array`` to float arrays, ``integer``/``real`` to whole/real numbers, inside
    tuples and lists too; anything a function is not given for stays as it is."""
    if isinstance(value, np.ndarray) and value.ndim > 0:
        return array(value) if array and value.dtype.kind == "f" else value
    if isinstance(value, tuple | list):
        return type(value)(_map(v, array=array, integer=integer, real=real) for v in value)
    if isinstance(value, bool | np.bool_ | str) or value is None:
        return value
    if isinstance(value, int | np.integer):
        return integer(value) if integer else value
    if isinstance(value, float | np.floating):
        return real(value) if real else value
    return value


def _ulps(a: np.ndarray, n: int) -> np.ndarray:
    out = a.astype(np.float32)
    for _ in range(n):
        out = np.nextafter(out, np.float32(np.inf))
    return out


def _one_wrong(value: Any, by: float) -> Any:
    """The answer with one number (the first) changed by ``by``."""
    if isinstance(value, np.ndarray) and value.ndim > 0:
        out = value.astype(np.float64)
        out.flat[0] += by
        return out
    if isinstance(value, tuple | list):
        return type(value)([_one_wrong(value[0], by), *value[1:]]) if value else value
    if isinstance(value, int | np.integer):
        return int(value) + int(by)
    return float(value) + by


def _float_scale(value: np.ndarray) -> float:
    return max(1.0, float(np.max(np.abs(value))))


RIGHT_ANSWERS: dict[str, Callable[[Any], Any]] = {
    "as given": lambda v: v,
    "torch float64 tensors and 0-d torch numbers": lambda v: _map(
        v, array=lambda a: torch.from_numpy(np.ascontiguousarray(a)), integer=torch.tensor,
        real=lambda x: torch.tensor(float(x)),
    ),
    "numpy scalars": lambda v: _map(v, integer=np.int64, real=np.float64),
    "float32 arrays": lambda v: _map(v, array=lambda a: a.astype(np.float32), real=np.float32),
    "torch float32 tensors": lambda v: _map(
        v, array=lambda a: torch.from_numpy(a.astype(np.float32))
    ),
    "float32, 4 units in the last place off": lambda v: _map(v, array=lambda a: _ulps(a, 4)),
    "floats equal to whole-number answers": lambda v: _map(v, integer=float),
}

WRONG_ANSWERS: dict[str, Callable[[Any], Any]] = {
    "off by +1": lambda v: _one_wrong(v, 1),
    "off by -1": lambda v: _one_wrong(v, -1),
    "None": lambda v: None,
}
WRONG_ARRAYS: dict[str, tuple[Callable[[Any], Any], str | None]] = {
    # name: (transform, words the feedback must contain)
    "integer dtype": (lambda v: _map(v, array=lambda a: np.trunc(a).astype(np.int64)),
                      "holds integers"),
    "a list instead of an array": (lambda v: _map(v, array=lambda a: a.tolist()),
                                   "not an array"),
    "transposed": (lambda v: _map(v, array=lambda a: np.swapaxes(a, 0, 1).copy()
                                  if a.ndim >= 2 else a), None),
    "one row short": (lambda v: _map(v, array=lambda a: a[:-1].copy()), None),
    "float32 with an error larger than its rounding": (
        lambda v: _map(v, array=lambda a: (a + 1e-4 * _float_scale(a)).astype(np.float32)),
        None,
    ),
}


def _array_answers(cases: tuple[Case, ...]) -> list[np.ndarray]:
    return [
        c.expected for c in cases
        if isinstance(c.expected, np.ndarray) and c.expected.ndim > 0
        and c.expected.dtype.kind == "f"
    ]  # fmt: skip


def _whole(a: np.ndarray) -> bool:
    return bool(np.all(np.mod(a, 1.0) == 0))


# ----------------------------------------------------------------------------- the tests


def test_checks_are_discovered_and_classified():
    assert len(CHECKS) >= 18, sorted(CHECKS)
    unclassified = set(CHECKS) - set(STRIDED) - NOT_STRIDED
    assert not unclassified, f"say whether these are strided (STRIDED or NOT_STRIDED): {unclassified}"
    assert not (set(STRIDED) & NOT_STRIDED)
    assert set(STRIDED) | NOT_STRIDED <= set(CHECKS), "a listed check no longer exists"


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_array_checks_have_fractional_and_non_square_cases(name):
    is_function, cases = KEYS[name]
    assert cases, f"{name} exposes no cases"
    arrays = _array_answers(cases)
    if not (is_function and arrays):
        return  # a number, a shape, or a single typed-in value (1.2's kernel)
    assert any(not _whole(a) for a in arrays), (
        f"{name}: every answer is whole numbers, so an integer output array would pass"
    )
    assert any(a.ndim >= 2 and a.shape[0] != a.shape[1] for a in arrays), (
        f"{name}: no non-square answer, so swapped rows and columns could pass"
    )


@pytest.mark.parametrize("name", sorted(STRIDED))
def test_strided_checks_have_a_window_that_differs_from_the_stride(name):
    cases = KEYS[name][1]
    assert any(STRIDED[name](c) for c in cases), f"{name}: every case has window == stride"


@pytest.mark.parametrize("variant", sorted(RIGHT_ANSWERS))
@pytest.mark.parametrize("name", sorted(CHECKS))
def test_right_answers_written_differently_pass(name, variant):
    result = _answer(CHECKS[name], name, RIGHT_ANSWERS[variant])
    if variant.startswith("floats equal") and name in FLOATS_REFUSED:
        assert result.status == "failed", f"{name} should refuse floats: {FLOATS_REFUSED[name]}"
        return
    assert result.passed, f"{name}, {variant}: {result}"


@pytest.mark.parametrize("variant", sorted(WRONG_ANSWERS))
@pytest.mark.parametrize("name", sorted(CHECKS))
def test_generic_wrong_answers_fail(name, variant):
    result = _answer(CHECKS[name], name, WRONG_ANSWERS[variant])
    assert result.status == "failed", f"{name}, {variant}: {result}"


@pytest.mark.parametrize("variant", sorted(WRONG_ARRAYS))
@pytest.mark.parametrize("name", sorted(CHECKS))
def test_generic_wrong_arrays_fail_with_their_hint(name, variant):
    is_function, cases = KEYS[name]
    arrays = _array_answers(cases)
    if not arrays:
        return  # no array answers to get wrong this way
    transform, words = WRONG_ARRAYS[variant]
    result = _answer(CHECKS[name], name, transform)
    if variant == "integer dtype" and all(_whole(a) for a in arrays):
        # a typed-in kernel of whole numbers (1.2) is right as an integer array
        assert not is_function and result.passed, f"{name}: {result}"
        return
    assert result.status == "failed", f"{name}, {variant}: {result}"
    if words:
        assert words in result.message, f"{name}, {variant}: {result}"


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_an_exception_in_the_learners_code_is_reported_as_theirs(name):
    is_function, _ = KEYS[name]
    if not is_function:
        return

    def crashes(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    result = CHECKS[name](crashes)
    assert result.status == "failed" and "your function raised RuntimeError at line" in result.message
    assert "boom" in result.message
