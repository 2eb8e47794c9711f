"""Checks for lesson 06 (overfitting and dropout).

* Exercise 6.1: :func:`check_dropout_forward`, inverted dropout
  ``dropout_forward(x, keep_mask, p_drop, training=True)``: ``x * keep_mask / p_keep``
  in training, ``x`` itself at inference.
* Exercise 6.2: :func:`check_dropout_backward`, its gradient
  ``dropout_backward(dout, keep_mask, p_drop) = dout * keep_mask / p_keep``.
* Exercise 6.3: :func:`check_classic_dropout`, the older variant
  ``classic_dropout_forward(x, keep_mask, p_drop, training=True)``: ``x * keep_mask``
  in training, ``x * p_keep`` at inference.
* Exercise 6.4 is interactive (the lesson's widget), unchecked.
* Exercise 6.5: :func:`check_thinned_count`, how many thinned networks dropout on 20
  inputs and 12 hidden units can sample (``2**32``).

Everywhere ``p_drop`` is the probability of *dropping* a unit (torch's ``p``) and
``p_keep = 1 - p_drop``; ``keep_mask`` is a boolean array like ``x``, True where the
unit is kept. The masks of the cases are drawn by :func:`course_lib.ops.dropout`, and
the expected answers of Exercises 6.1 and 6.2 are that function's outputs
(:func:`course_lib.ops.dropout` and :func:`course_lib.ops.dropout_backward`); the
worked example d = (1, 2, 3, 4, 5), p_drop = 0.2, fourth unit dropped, gives
(1.25, 2.5, 3.75, 0, 6.25). :func:`inverted_dropout`, :func:`inverted_dropout_backward`
and :func:`classic_dropout` are the solutions, for the lesson's later cells.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from course_lib import ops
from course_lib.checks import Case, CheckResult, Mistake, check_function, check_value
from course_lib.validate import check_array, check_bool, check_probability

__all__ = [
    "THINNED_INPUTS",
    "check_classic_dropout",
    "check_dropout_backward",
    "check_dropout_forward",
    "check_thinned_count",
    "classic_dropout",
    "inverted_dropout",
    "inverted_dropout_backward",
]

# Exercise 6.5's network: dropout on its 20 inputs and on its 12 hidden units.
THINNED_INPUTS = (20, 12)


# --------------------------------------------------------------------------- solutions


def _arrays(name: str, x: Any, keep_mask: Any) -> tuple[Any, Any]:
    """``x`` (float) and ``keep_mask`` (bool, same shape and kind) checked together."""
    check_array(name, x, floating=True)
    check_array("keep_mask", keep_mask)
    if isinstance(x, torch.Tensor) != isinstance(keep_mask, torch.Tensor):
        raise TypeError(
            f"{name} is a {type(x).__name__} but keep_mask a {type(keep_mask).__name__}; "
            "expected two numpy arrays or two torch tensors"
        )
    is_bool = (keep_mask.dtype == torch.bool if isinstance(keep_mask, torch.Tensor)
               else keep_mask.dtype == np.bool_)  # fmt: skip
    if not is_bool:
        raise TypeError(f"keep_mask has dtype {keep_mask.dtype}; expected bool (True = kept)")
    if tuple(keep_mask.shape) != tuple(x.shape):
        raise ValueError(
            f"keep_mask has shape {tuple(keep_mask.shape)}; expected {tuple(x.shape)}, the "
            f"shape of {name}"
        )
    return x, keep_mask


def inverted_dropout(x, keep_mask, p_drop: float, training: bool = True):
    """Inverted dropout with a given mask: ``x * keep_mask / (1 - p_drop)``, or ``x``.

    x: numpy array or torch tensor (floats), any shape; keep_mask: bool, same shape
    (True = kept); p_drop in [0, 1). At inference (``training=False``) returns ``x``.
    """
    x, keep_mask = _arrays("x", x, keep_mask)
    p_drop = check_probability("p_drop", p_drop, allow_one=False)
    if not check_bool("training", training):
        return x
    return x * keep_mask / (1.0 - p_drop)  # survivors scaled by 1 / p_keep


def inverted_dropout_backward(dout, keep_mask, p_drop: float):
    """Gradient of :func:`inverted_dropout` in training: ``dout * keep_mask / (1 - p_drop)``."""
    dout, keep_mask = _arrays("dout", dout, keep_mask)
    p_drop = check_probability("p_drop", p_drop, allow_one=False)
    return dout * keep_mask / (1.0 - p_drop)


def classic_dropout(x, keep_mask, p_drop: float, training: bool = True):
    """The older dropout: ``x * keep_mask`` in training, ``x * (1 - p_drop)`` at inference."""
    x, keep_mask = _arrays("x", x, keep_mask)
    p_drop = check_probability("p_drop", p_drop, allow_one=False)
    if not check_bool("training", training):
        return x * (1.0 - p_drop)  # every unit on, scaled down to its expected value
    return x * keep_mask


# --------------------------------------------------------------------------- the cases


def _values(shape: tuple[int, ...], offset: float) -> np.ndarray:
    """Non-integer, signed values (like activations before and after a ReLU)."""
    n = int(np.prod(shape))
    return (np.sin(1.3 * np.arange(n) + offset) * 2.5 + 0.4).reshape(shape)


_WORKED_X = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
_WORKED_MASK = np.array([True, True, True, False, True])


def _drawn(shape: tuple[int, ...], p_drop: float, seed: int, offset: float):
    """(x, keep_mask, inverted output) with the mask drawn by the library's dropout."""
    x = _values(shape, offset)
    out, keep = ops.dropout(x, p_drop, generator=seed)
    return x, keep, out


def _forward_cases() -> list[Case]:
    worked = "the worked example d = (1, 2, 3, 4, 5), p_drop = 0.2, fourth unit dropped"
    cases = [Case(worked, (_WORKED_X, _WORKED_MASK, 0.2),
                  expected=np.array([1.25, 2.5, 3.75, 0.0, 6.25]))]  # fmt: skip
    for label, shape, p, seed in (
        ("a 3x4 array with p_drop = 0.5", (3, 4), 0.5, 1),
        ("a 2x5 array with p_drop = 0.3", (2, 5), 0.3, 2),
        ("a batch of shape 2x3x4 with p_drop = 0.6", (2, 3, 4), 0.6, 3),
    ):
        x, keep, out = _drawn(shape, p, seed, offset=len(cases))
        cases.append(Case(label, (x, keep, p), expected=out))
    x, keep, _ = _drawn((2, 5), 0.3, 4, offset=7.0)
    cases.append(Case("inference (training=False), a 2x5 array with p_drop = 0.3",
                      (x, keep, 0.3), {"training": False}, expected=x.copy()))  # fmt: skip
    x = _values((3, 2), 9.0)
    keep = np.ones(x.shape, dtype=bool)
    cases.append(Case("training with p_drop = 0 (every unit kept), a 3x2 array",
                      (x, keep, 0.0), {"training": True},
                      expected=ops.dropout(x, 0.0, generator=5)[0]))  # fmt: skip
    return cases


def _backward_cases() -> list[Case]:
    dout = np.array([0.5, -1.0, 2.0, 3.0, 0.25])
    worked = "upstream gradient (0.5, -1, 2, 3, 0.25), p_drop = 0.2, fourth unit dropped"
    cases = [Case(worked, (dout, _WORKED_MASK, 0.2),
                  expected=ops.dropout_backward(dout, _WORKED_MASK, 0.2))]  # fmt: skip
    for label, shape, p, seed in (
        ("a 3x4 gradient with p_drop = 0.5", (3, 4), 0.5, 11),
        ("a 2x5 gradient with p_drop = 0.3", (2, 5), 0.3, 12),
        ("a gradient of shape 2x3x4 with p_drop = 0.6", (2, 3, 4), 0.6, 13),
    ):
        d = _values(shape, 20.0 + len(cases))
        _, keep = ops.dropout(np.zeros(shape), p, generator=seed)
        cases.append(Case(label, (d, keep, p), expected=ops.dropout_backward(d, keep, p)))
    return cases


def _classic_cases() -> list[Case]:
    cases = []
    for label, shape, p, seed in (
        ("a 3x4 array with p_drop = 0.5", (3, 4), 0.5, 21),
        ("a 2x5 array with p_drop = 0.3", (2, 5), 0.3, 22),
    ):
        x, keep, _ = _drawn(shape, p, seed, offset=30.0 + len(cases))
        cases.append(Case(label, (x, keep, p), expected=x * keep))
    worked = "the worked example d = (1, 2, 3, 4, 5), p_drop = 0.2, fourth unit dropped"
    cases.append(Case(worked, (_WORKED_X, _WORKED_MASK, 0.2), expected=_WORKED_X * _WORKED_MASK))
    for label, shape, p, seed in (
        ("inference (training=False), a 2x5 array with p_drop = 0.3", (2, 5), 0.3, 23),
        ("inference (training=False), a 3x4 array with p_drop = 0.6", (3, 4), 0.6, 24),
    ):
        x, keep, _ = _drawn(shape, p, seed, offset=40.0 + len(cases))
        cases.append(Case(label, (x, keep, p), {"training": False}, expected=x * (1.0 - p)))
    return cases


def _quiet(f):
    """A mistake's answer computed without numpy's divide-by-zero warnings (p_drop = 0)."""

    def produce(*args, **kwargs):
        with np.errstate(divide="ignore", invalid="ignore"):
            return f(*args, **kwargs)

    return produce


def _numpy(value: Any) -> np.ndarray | None:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().double().numpy()
    if isinstance(value, np.ndarray) and value.dtype.kind in "fiu":
        return value.astype(np.float64)
    return None


def _own_mask(scale: Callable[[float], float]):
    """Recognise an answer that masked by a mask of its own: every value is either 0 or
    the input times ``scale(p_drop)``, but the zeros are not where keep_mask is False."""

    def matches(got: Any, expected: Any, x: Any, m: Any, p: float, training: bool = True) -> bool:
        g = _numpy(got)
        if not training or g is None or g.shape != np.shape(x):
            return False
        dropped = g == 0
        kept = np.isclose(g, np.asarray(x) * scale(p), rtol=1e-6, atol=1e-12)
        return bool(np.all(kept | dropped) and np.any(dropped != ~np.asarray(m)))

    return matches


_OWN_MASK = (
    "your zeros are not where keep_mask is False: did you draw a mask of your own "
    "(np.random...)? Use the keep_mask you are given; it is True for the units to keep. "
    "(That is also what lets your function run inside a network with the library's masks.)"
)


# --------------------------------------------------------------------------- Exercise 6.1


def _forward(train, infer=lambda x, m, p: x):
    """A forward ``(x, keep_mask, p_drop, training=True)`` from its two halves."""

    def fn(x, m, p, training=True):
        return train(x, m, p) if training else infer(x, m, p)

    return _quiet(fn)


FORWARD_MISTAKES = [
    Mistake(
        "you divided the kept units by p_drop. They are divided by p_keep = 1 - p_drop (0.8 "
        "when p_drop = 0.2, so they grow by 1.25x); dividing by p_drop = 0.2 makes them 5x "
        "larger. The two conventions trip everyone: torch's p is p_drop.",
        _forward(lambda x, m, p: x * m / p),
    ),
    Mistake(
        "you multiplied the kept units by p_keep. Inverted dropout *divides* them by p_keep "
        "in training, so that the expected output equals x; multiplying by p_keep is what "
        "the older variant does at inference, to all units.",
        _forward(lambda x, m, p: x * m * (1 - p)),
    ),
    Mistake(
        "you dropped the units but did not rescale the survivors: the expected output is then "
        "p_keep * x, not x. Divide the kept values by p_keep = 1 - p_drop.",
        _forward(lambda x, m, p: x * m),
    ),
    Mistake(
        "keep_mask is True for the units that are KEPT: you zeroed the kept ones and kept the "
        "dropped ones (x * ~keep_mask). Multiply by keep_mask itself.",
        _forward(lambda x, m, p: x * ~m / (1 - p)),
    ),
    Mistake(
        "at inference (training=False) dropout is switched off and inverted dropout is the "
        "identity: return x unchanged, without the mask and without any scaling.",
        _quiet(lambda x, m, p, training=True: x * m / (1 - p)),
    ),
    Mistake(
        "at inference you multiplied by p_keep: that is the older variant's rule (Exercise "
        "6.3), for a network that did not rescale in training. Inverted dropout already "
        "rescaled in training, so at inference it returns x unchanged.",
        _forward(lambda x, m, p: x * m / (1 - p), lambda x, m, p: x * (1 - p)),
    ),
    Mistake(
        "at inference you divided by p_keep: the 1 / p_keep belongs to training only; at "
        "inference every unit is on and x is returned unchanged.",
        _forward(lambda x, m, p: x * m / (1 - p), lambda x, m, p: x / (1 - p)),
    ),
    Mistake(
        "you returned x unchanged in training too: in training the dropped units (keep_mask "
        "False) must become 0 and the kept ones be divided by p_keep.",
        _forward(lambda x, m, p: x),
    ),
    Mistake(_OWN_MASK, matches=_own_mask(lambda p: 1 / (1 - p))),
]


def check_dropout_forward(fn) -> CheckResult:
    """Exercise 6.1: ``fn(x, keep_mask, p_drop, training=True)`` is inverted dropout."""
    return check_function("Exercise 6.1", fn, _forward_cases(), mistakes=FORWARD_MISTAKES)


# --------------------------------------------------------------------------- Exercise 6.2


BACKWARD_MISTAKES = [
    Mistake(
        "you divided by p_drop: the forward pass divided the kept units by p_keep = "
        "1 - p_drop, so the gradient is divided by p_keep too.",
        _quiet(lambda d, m, p: d * m / p),
    ),
    Mistake(
        "you masked the gradient but forgot the 1 / p_keep: the forward pass multiplied each "
        "kept unit by 1 / p_keep, so its gradient gets the same factor (the chain rule).",
        lambda d, m, p: d * m,
    ),
    Mistake(
        "you returned the local derivative keep_mask / p_keep alone; the chain rule multiplies "
        "it by the upstream gradient dout.",
        lambda d, m, p: m / (1 - p) + 0.0 * d,
    ),
    Mistake(
        "you multiplied by p_keep; the forward pass divided by it, so the gradient is "
        "dout * keep_mask / p_keep.",
        lambda d, m, p: d * m * (1 - p),
    ),
    Mistake(
        "you passed dout through unchanged: a dropped unit did not affect the output, so its "
        "gradient is 0, and a kept one was scaled by 1 / p_keep.",
        lambda d, m, p: d,
    ),
    Mistake(
        "keep_mask is True for the kept units: the gradient flows through those "
        "(dout * ~keep_mask sends it to the dropped ones).",
        _quiet(lambda d, m, p: d * ~m / (1 - p)),
    ),
    Mistake(_OWN_MASK.replace("are not where", "(no gradient) are not where"),
            matches=_own_mask(lambda p: 1 / (1 - p))),
]


def check_dropout_backward(fn) -> CheckResult:
    """Exercise 6.2: ``fn(dout, keep_mask, p_drop)`` is inverted dropout's gradient."""
    return check_function("Exercise 6.2", fn, _backward_cases(), mistakes=BACKWARD_MISTAKES)


# --------------------------------------------------------------------------- Exercise 6.3


CLASSIC_MISTAKES = [
    Mistake(
        "that is inverted dropout (Exercise 6.1). The older variant does NOT rescale in "
        "training (x * keep_mask) and instead multiplies every unit by p_keep at inference.",
        _forward(lambda x, m, p: x * m / (1 - p)),
    ),
    Mistake(
        "at inference you multiplied by p_drop; the expected value of a unit in training is "
        "p_keep * x (it survives with probability p_keep), so multiply by p_keep = 1 - p_drop.",
        _forward(lambda x, m, p: x * m, lambda x, m, p: x * p),
    ),
    Mistake(
        "at inference you returned x unchanged: in training a unit was on only a fraction "
        "p_keep of the time, so the next layer learnt to expect p_keep * x on average. "
        "Multiply by p_keep at inference.",
        _forward(lambda x, m, p: x * m),
    ),
    Mistake(
        "at inference no unit is dropped: ignore keep_mask and multiply every unit by p_keep.",
        _forward(lambda x, m, p: x * m, lambda x, m, p: x * m * (1 - p)),
    ),
    Mistake(
        "in training the older variant only drops units (x * keep_mask); the scaling by "
        "p_keep happens at inference, not in training.",
        _forward(lambda x, m, p: x * m * (1 - p), lambda x, m, p: x * (1 - p)),
    ),
    Mistake(
        "you applied the mask at inference too (training=False): at inference every unit is "
        "on and scaled by p_keep.",
        _quiet(lambda x, m, p, training=True: x * m),
    ),
    Mistake(_OWN_MASK, matches=_own_mask(lambda p: 1.0)),
]


def check_classic_dropout(fn) -> CheckResult:
    """Exercise 6.3: ``fn(x, keep_mask, p_drop, training=True)`` is the older dropout."""
    return check_function("Exercise 6.3", fn, _classic_cases(), mistakes=CLASSIC_MISTAKES)


# --------------------------------------------------------------------------- Exercise 6.5


def _thinned_mistakes() -> list[Mistake]:
    a, b = THINNED_INPUTS
    return [
        Mistake(
            f"you added the two layers' counts, 2^{a} + 2^{b}. Every mask of the inputs can be "
            f"combined with every mask of the hidden units, so the counts multiply: "
            f"2^{a} * 2^{b} = 2^{a + b}.",
            lambda: 2**a + 2**b,
        ),
        Mistake(
            f"each of the {a + b} units is kept or dropped, two choices per unit: that is "
            f"2 * 2 * ... * 2 = 2^{a + b} combinations, not 2 * {a + b}.",
            lambda: 2 * (a + b),
        ),
        Mistake(
            f"{a + b}^2 counts pairs of units; each unit has two states, so there are 2^{a + b} "
            "masks.",
            lambda: (a + b) ** 2,
        ),
        Mistake(
            "the mask that drops every unit is a (useless) thinned network too: training can "
            "sample it, however unlikely. Count all 2^n masks.",
            lambda: 2 ** (a + b) - 1,
        ),
        Mistake(
            f"that counts only the inputs' masks; the {b} hidden units are dropped too, "
            "independently, which multiplies the count.",
            lambda: 2**a,
        ),
        Mistake(
            f"that counts only the hidden layer's masks; the {a} inputs are dropped too.",
            lambda: 2**b,
        ),
    ]


def check_thinned_count(value) -> CheckResult:
    """Exercise 6.5: thinned networks of a net with dropout on 20 inputs and 12 hidden units."""
    a, b = THINNED_INPUTS
    return check_value(
        "Exercise 6.5", value, 2 ** (a + b), mistakes=_thinned_mistakes(),
        label="the number of thinned networks",
    )  # fmt: skip
