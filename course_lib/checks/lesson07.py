"""Checks for lesson 07 (batch normalization).

* Exercise 7.1: :func:`check_batch_norm_forward`, batch norm's forward pass for an
  (N, C, H, W) batch in training mode (the batch's per-channel mean and biased variance
  over N x H x W, and the running statistics updated with torch's momentum convention
  and the unbiased variance) and in inference mode (the running statistics, left
  unchanged). The answer key is :func:`course_lib.ops.batch_norm`, which the tests check
  against ``torch.nn.BatchNorm2d``.
* Exercise 7.2: :func:`check_torch_momentum`, the torch ``momentum`` that gives the same
  running averages as Keras's ``BatchNormalization(momentum=0.99)``: 0.01.
* Exercise 7.3: :func:`check_fold_batch_norm`, folding an inference-mode batch norm into
  the convolution before it. The answer key is
  :func:`course_lib.experiments.batch_norm.fold_batch_norm`; a passing answer is also
  run as a convolution on a test batch and its outputs compared with conv -> batch norm.

The mistakes are the slips learners make, each with its own feedback: the wrong
variance estimator, Keras's momentum convention, statistics over the wrong axes,
inference mode with batch statistics, and for the folding the scale on the wrong axis
or the running mean left unscaled.
"""

from __future__ import annotations

import copy
import dataclasses
from functools import partial
from typing import Any

import numpy as np
import torch

from course_lib import ops
from course_lib.checks import Case, CheckResult, Mistake, check_function, check_value, same_value
from course_lib.experiments.batch_norm import fold_batch_norm

__all__ = [
    "check_batch_norm_forward",
    "check_fold_batch_norm",
    "check_torch_momentum",
]


def _batch(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """A float64 (N, C, H, W) batch, channels with different means and spreads."""
    rng = np.random.default_rng(seed)
    c = shape[1]
    scale = np.linspace(0.7, 2.5, c).reshape(1, c, 1, 1)
    shift = np.linspace(-1.5, 2.0, c).reshape(1, c, 1, 1)
    return rng.standard_normal(shape) * scale + shift


# --------------------------------------------------------------------------- Exercise 7.1


def _bn_variant(
    x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5, *,
    axes=(0, 2, 3), norm_ddof=0, run_ddof=1, keras=False, eval_batch=False,
    eval_update=False, train_running=False, eps_outside=False, swap=False, affine=True,
    m_is_n=False, out_only=False,
):  # fmt: skip
    """Batch norm in numpy, with switches for the mistakes learners make (the running
    statistics always over N, H, W: the wrong-axes mistakes are judged on ``out`` alone)."""
    x = np.asarray(x, dtype=np.float64)
    if swap:
        gamma, beta = beta, gamma
    shape = [1] * x.ndim
    shape[1] = x.shape[1]

    def col(v):  # (C,) -> (1, C, 1, 1)
        return np.asarray(v).reshape(shape)

    batch_mean = x.mean(axis=axes, keepdims=True)
    batch_var = x.var(axis=axes, ddof=norm_ddof, keepdims=True)
    use_batch = (training and not train_running) or (not training and eval_batch)
    mean, var = (batch_mean, batch_var) if use_batch else (col(running_mean), col(running_var))
    xhat = (x - mean) / (np.sqrt(var) + eps) if eps_outside else (x - mean) / np.sqrt(var + eps)
    out = col(gamma) * xhat + col(beta) if affine else xhat
    if out_only:
        return (out,)
    if not (training or eval_update):
        return out, running_mean, running_var
    batch_mean = x.mean(axis=(0, 2, 3))  # (C,)
    run_var = x.var(axis=(0, 2, 3), ddof=run_ddof)  # (C,)
    if m_is_n:  # the Bessel factor N / (N - 1) instead of m / (m - 1)
        run_var = x.var(axis=(0, 2, 3)) * x.shape[0] / (x.shape[0] - 1)
    w_new, w_old = (1 - momentum, momentum) if keras else (momentum, 1 - momentum)
    return (out, w_old * running_mean + w_new * batch_mean, w_old * running_var + w_new * run_var)


def _bn_both(**switches):
    """A mistake in the output and the running statistics together."""
    return partial(_bn_variant, **switches)


def _out_of(**switches):
    """A mistake in the output alone: matches an answer whose ``out`` is the one these
    switches give, whatever its running statistics."""

    def matches(got: Any, expected: Any, *args: Any, **kwargs: Any) -> bool:
        if not isinstance(got, tuple | list) or len(got) != 3:
            return False
        try:
            wrong = _bn_variant(*args, **kwargs, **switches, out_only=True)[0]
        except Exception:  # the mistake cannot happen on this case
            return False
        return not np.allclose(wrong, expected[0]) and same_value(got[0], wrong) is None

    return matches


def _running_of(**switches):
    """A mistake in the running statistics alone (the output may be right or not)."""

    def matches(got: Any, expected: Any, *args: Any, **kwargs: Any) -> bool:
        if not isinstance(got, tuple | list) or len(got) != 3:
            return False
        try:
            wrong = _bn_variant(*args, **kwargs, **switches)[1:]
        except Exception:  # the mistake cannot happen on this case
            return False
        if all(np.allclose(w, e) for w, e in zip(wrong, expected[1:], strict=True)):
            return False  # the mistake makes no difference here
        return same_value(tuple(got[1:]), tuple(wrong)) is None

    return matches


def _running_keepdims(got: Any, expected: Any, *args: Any, **kwargs: Any) -> bool:
    """Running statistics returned as (1, C, 1, 1) instead of (C,)."""
    if not isinstance(got, tuple | list) or len(got) != 3:
        return False
    c = expected[1].shape[0]
    return any(
        isinstance(g, np.ndarray | torch.Tensor) and tuple(g.shape) == (1, c, 1, 1)
        for g in got[1:]
    )


BATCH_NORM_MISTAKES = [
    Mistake(
        "your running variance uses the biased batch variance (dividing by m, the "
        "m = N*H*W values of a channel). torch stores the unbiased one in running_var: "
        "divide by m - 1, e.g. x.var(axis=(0, 2, 3), ddof=1) or the biased variance times "
        "m / (m - 1). (cs231n's assignment and some other code keep the biased one: a "
        "difference of convention that matters for small batches.)",
        matches=_running_of(run_ddof=0),
    ),
    Mistake(
        "your unbiased variance uses N / (N - 1), counting examples only; a channel has "
        "m = N*H*W values, so the factor is m / (m - 1) (or x.var(axis=(0, 2, 3), ddof=1)).",
        matches=_running_of(m_is_n=True),
    ),
    Mistake(
        "you normalised with the unbiased variance (dividing by m - 1). The normalisation "
        "uses the batch's own, biased variance (divide by m = N*H*W); only the running "
        "estimate stores the unbiased one. (numpy's x.var() is biased; torch's x.var() is "
        "unbiased unless you pass unbiased=False or correction=0.)",
        matches=_out_of(norm_ddof=1),
    ),
    Mistake(
        "your running statistics follow Keras's (and cs231n's) convention, "
        "new = momentum * old + (1 - momentum) * batch, where momentum = 0.99 keeps 99% of "
        "the old estimate. In torch (and here) momentum is the weight of the NEW batch: "
        "new = (1 - momentum) * old + momentum * batch, with momentum = 0.1 by default.",
        matches=_running_of(keras=True),
    ),
    Mistake(
        "you took the statistics over the batch axis only, separately for every pixel "
        "position (a mean over axis 0). For a convolution's output, batch norm shares one "
        "mean and variance per channel over N, H and W: axis=(0, 2, 3).",
        matches=_out_of(axes=(0,)),
    ),
    Mistake(
        "you took the statistics per example, over H and W (axis=(2, 3)): that is instance "
        "norm. Batch norm averages each channel over the whole batch too: axis=(0, 2, 3).",
        matches=_out_of(axes=(2, 3)),
    ),
    Mistake(
        "you took the statistics per example over C, H and W (axis=(1, 2, 3)): that is "
        "layer norm. Batch norm keeps the channels apart and averages over N, H and W: "
        "axis=(0, 2, 3).",
        matches=_out_of(axes=(1, 2, 3)),
    ),
    Mistake(
        "eps belongs inside the square root: (x - mean) / sqrt(var + eps), not "
        "(x - mean) / (sqrt(var) + eps).",
        matches=_out_of(eps_outside=True),
    ),
    Mistake(
        "in inference mode (training=False) normalise with running_mean and running_var, "
        "not with the batch's own statistics: at inference the output of one image must "
        "not depend on the others in its batch.",
        matches=_out_of(eval_batch=True),
    ),
    Mistake(
        "in inference mode the running statistics stay as they are: return running_mean "
        "and running_var unchanged. Only training updates them.",
        matches=_running_of(eval_update=True),
    ),
    Mistake(
        "in inference mode the running statistics stay as they are, and the output uses "
        "them: you normalised with the batch's statistics and updated the running ones, as "
        "in training.",
        _bn_both(eval_batch=True, eval_update=True),
    ),
    Mistake(
        "in training, normalise with the batch's own mean and variance; the running "
        "statistics are only updated (and used at inference).",
        matches=_out_of(train_running=True),
    ),
    Mistake(
        "gamma and beta are swapped: the output is gamma * xhat + beta (gamma scales, "
        "beta shifts).",
        matches=_out_of(swap=True),
    ),
    Mistake(
        "you returned the normalised xhat without gamma and beta: the output is "
        "gamma * xhat + beta, one gamma and one beta per channel.",
        matches=_out_of(affine=False),
    ),
    Mistake(
        "your running statistics have shape (1, C, 1, 1): return them as (C,) arrays, one "
        "number per channel (a mean with keepdims=False, or .reshape(-1)).",
        matches=_running_keepdims,
    ),
]


def _bn_case(label, x, gamma, beta, rm, rv, *, training, momentum=0.1, eps=1e-5) -> Case:
    arrays = [np.asarray(a, dtype=np.float64) for a in (gamma, beta, rm, rv)]
    out = ops.batch_norm(x, *arrays, training=training, momentum=momentum, eps=eps)
    kwargs = {"training": training, "momentum": momentum, "eps": eps}
    return Case(label, (x, *arrays), kwargs, expected=tuple(np.array(o) for o in out))


def _batch_norm_cases() -> list[Case]:
    return [
        _bn_case("training: a 3x2x2x5 batch, momentum 0.1", _batch(1, (3, 2, 2, 5)),
                 [1.5, 0.5], [0.2, -1.0], [0.0, 0.5], [1.0, 2.0], training=True),
        _bn_case("training: a 4x3x3x2 batch, momentum 0.3, eps 1e-3", _batch(2, (4, 3, 3, 2)),
                 [0.8, 1.2, 2.0], [0.0, 0.5, -0.3], [0.1, -0.2, 0.4], [0.9, 1.1, 1.6],
                 training=True, momentum=0.3, eps=1e-3),
        _bn_case("training: 2 examples of 1x1, so m = 2 values per channel",
                 _batch(3, (2, 3, 1, 1)), [1.0, 0.5, 2.0], [0.3, 0.0, -0.5],
                 [0.0, 0.0, 0.0], [1.0, 1.0, 1.0], training=True),
        _bn_case("inference: a 2x3x2x3 batch and given running statistics",
                 _batch(4, (2, 3, 2, 3)), [1.2, 0.7, 1.5], [-0.4, 0.1, 0.6],
                 [-1.4, 0.3, 1.9], [0.6, 1.4, 5.5], training=False),
    ]  # fmt: skip


def check_batch_norm_forward(fn) -> CheckResult:
    """Exercise 7.1: ``fn(x, gamma, beta, running_mean, running_var, training, momentum=0.1,
    eps=1e-5)`` returns ``(out, new_running_mean, new_running_var)`` as
    :func:`course_lib.ops.batch_norm` does; x (N, C, H, W), the rest (C,)."""
    return check_function("Exercise 7.1", fn, _batch_norm_cases(), mistakes=BATCH_NORM_MISTAKES)


# --------------------------------------------------------------------------- Exercise 7.2

TORCH_MOMENTUM_MISTAKES = [
    Mistake(
        "0.99 is Keras's number, the weight Keras gives the OLD estimate. torch's momentum "
        "is the weight of the new batch: new = (1 - momentum) * old + momentum * batch, so "
        "the same average needs 1 - 0.99.",
        lambda: 0.99,
    ),
    Mistake(
        "0.1 is torch's default, a different average: it forgets the old estimate ten "
        "times faster than Keras's 0.99. Match Keras's weight on the new batch, 1 - 0.99.",
        lambda: 0.1,
    ),
    Mistake(
        "0.9 is cs231n's default (also the weight of the OLD estimate), not Keras's 0.99; "
        "and torch's momentum weights the new batch. Keras's 0.99 keeps 99% of the old "
        "estimate and adds 1% of the batch.",
        lambda: 0.9,
    ),
    Mistake(
        "1 / 0.99 is not a weight at all (it is above 1). The two conventions are "
        "complements: torch's momentum = 1 - Keras's momentum.",
        lambda: 1 / 0.99,
    ),
]


def check_torch_momentum(value) -> CheckResult:
    """Exercise 7.2: the torch momentum matching Keras's ``momentum=0.99`` (0.01)."""
    return check_value(
        "Exercise 7.2",
        value,
        1.0 - 0.99,
        mistakes=TORCH_MOMENTUM_MISTAKES,
        compare=partial(same_value, rtol=1e-9, atol=1e-12),
        label="torch's momentum",
    )


# --------------------------------------------------------------------------- Exercise 7.3


def _fold_variant(
    weight, bias, gamma, beta, running_mean, running_var, eps=1e-5, *, inv_var=False,
    no_eps=False, last_axis=False, input_axis=False, mean_unscaled=False, drop_bias=False,
    bias_unscaled=False, weight_unscaled=False, none_bias=False,
):  # fmt: skip
    """Folding in numpy, with switches for the mistakes learners make."""
    if none_bias:
        shift = bias - running_mean  # fails for bias=None, as an unguarded answer does
    b = np.zeros_like(gamma) if bias is None else bias
    denom = running_var if no_eps else running_var + eps
    scale = gamma / denom if inv_var else gamma / np.sqrt(denom)
    if last_axis:
        w = weight * scale  # broadcasts along the kernel width, or fails
    elif input_axis:
        w = weight * scale.reshape(1, -1, 1, 1)
    elif weight_unscaled:
        w = weight.copy()
    else:
        w = weight * scale.reshape(-1, 1, 1, 1)
    if mean_unscaled:
        shift = b * scale + beta - running_mean
    elif drop_bias:
        shift = beta - running_mean * scale
    elif bias_unscaled:
        shift = (b - running_mean) + beta
    else:
        shift = (b - running_mean) * scale + beta
    return w, shift


def _fold(**switches):
    return partial(_fold_variant, **switches)


FOLD_MISTAKES = [
    Mistake(
        "you divided by the variance; batch norm divides by the standard deviation: "
        "s = gamma / sqrt(running_var + eps).",
        _fold(inv_var=True),
    ),
    Mistake(
        "eps is missing: inference-mode batch norm divides by sqrt(running_var + eps), and "
        "the folded convolution must match it exactly (here eps = 1e-3 makes a visible "
        "difference).",
        _fold(no_eps=True),
    ),
    Mistake(
        "weight * s broadcasts s along the LAST axis of the (F, C, KH, KW) weights, the "
        "kernel width, instead of giving each output filter f its own factor s[f]: reshape "
        "it first, weight * s.reshape(-1, 1, 1, 1) (or s[:, None, None, None]).",
        _fold(last_axis=True),
    ),
    Mistake(
        "you scaled the input channels (axis 1) of the weights. Batch norm follows the "
        "convolution, so it scales each OUTPUT channel: filter f is multiplied by s[f], "
        "weight * s.reshape(-1, 1, 1, 1).",
        _fold(input_axis=True),
    ),
    Mistake(
        "the running mean must be scaled too: bn(conv(x)) = s * (conv(x) + bias - mean) + "
        "beta, so the folded bias is s * (bias - running_mean) + beta.",
        _fold(mean_unscaled=True),
    ),
    Mistake(
        "you dropped the convolution's own bias: the folded bias is "
        "s * (bias - running_mean) + beta.",
        _fold(drop_bias=True),
    ),
    Mistake(
        "the folded bias needs the factor s as well: s * (bias - running_mean) + beta.",
        _fold(bias_unscaled=True),
    ),
    Mistake(
        "only the bias changed: the weights must be scaled too, each filter f by "
        "s[f] = gamma[f] / sqrt(running_var[f] + eps).",
        _fold(weight_unscaled=True),
    ),
    Mistake(
        "bias=None means the convolution has no bias (as a convolution right before batch "
        "norm usually has not): treat it as zeros, e.g. b = np.zeros_like(gamma) if bias "
        "is None else bias.",
        _fold(none_bias=True),
    ),
]


def _fold_case(label, seed, shape, *, bias=True, eps=1e-5) -> Case:
    rng = np.random.default_rng(seed)
    f = shape[0]
    weight = rng.standard_normal(shape) * 0.5
    b = rng.uniform(-1.0, 1.0, f) if bias else None
    gamma = rng.uniform(0.5, 2.0, f)
    beta = rng.uniform(-1.0, 1.0, f)
    mean = rng.uniform(-2.0, 2.0, f)
    var = rng.uniform(0.001, 3.0, f)  # one small variance, where eps matters
    var[0] = 0.002
    args = (weight, b, gamma, beta, mean, var)
    expected = fold_batch_norm(*args, eps=eps)
    return Case(label, args, {"eps": eps}, expected=tuple(np.asarray(e) for e in expected))


def _fold_cases() -> list[Case]:
    return [
        _fold_case("3 filters of 2x3x2, with a bias", 11, (3, 2, 3, 2)),
        _fold_case("4 filters of 1x2x4 (kernel width = number of filters), eps 1e-3", 12,
                   (4, 1, 2, 4), eps=1e-3),
        _fold_case("2 filters of 3x3x3 and bias=None (no bias before batch norm)", 13,
                   (2, 3, 3, 3), bias=False),
    ]  # fmt: skip


_SAME_OUTPUTS = 1e-9  # float64 outputs of size ~10 agree to ~1e-14 when the folding is right


def _output_gap(fn, case: Case) -> float | None:
    """Largest |folded conv(x) - bn_eval(conv(x))| on a test batch, or None if not computable."""
    weight, bias, gamma, beta, mean, var = case.args
    eps = case.kwargs["eps"]
    try:
        got = fn(*copy.deepcopy(case.args), **copy.deepcopy(dict(case.kwargs)))
        w, b = (torch.as_tensor(g).detach().to("cpu", torch.float64) for g in got)
    except Exception:  # an answer that cannot be run as a convolution: the check said why
        return None
    x = torch.from_numpy(_batch(5, (2, weight.shape[1], 6, 5)))
    t = {k: torch.from_numpy(np.asarray(v, dtype=np.float64))
         for k, v in zip(("g", "be", "m", "v"), (gamma, beta, mean, var), strict=True)}  # fmt: skip
    conv = torch.nn.functional.conv2d(
        x, torch.from_numpy(weight), None if bias is None else torch.from_numpy(bias), padding=1
    )
    expected = torch.nn.functional.batch_norm(
        conv, t["m"], t["v"], t["g"], t["be"], training=False, eps=eps
    )
    try:
        folded = torch.nn.functional.conv2d(x, w, b, padding=1)
    except Exception:  # wrong shapes: already reported
        return None
    if folded.shape != expected.shape:
        return None
    return float((folded - expected).abs().max())


def check_fold_batch_norm(fn) -> CheckResult:
    """Exercise 7.3: ``fn(weight, bias, gamma, beta, running_mean, running_var, eps=1e-5)``
    returns ``(folded_weight, folded_bias)`` with ``conv(x, folded_weight, folded_bias)``
    equal to ``batch_norm_eval(conv(x, weight, bias))``; weight (F, C, KH, KW), the rest (F,),
    ``bias`` may be None.

    After the parameters are compared, the answer is run: the folded convolution's outputs
    on a test batch are compared with conv -> batch norm, and the difference reported.
    """
    cases = _fold_cases()
    result = check_function("Exercise 7.3", fn, cases, mistakes=FOLD_MISTAKES)
    if result.status == "not attempted" or not callable(fn):
        return result
    gap = _output_gap(fn, cases[0])
    if gap is None or (not result.passed and gap <= _SAME_OUTPUTS):
        return result  # (a failure elsewhere, with this case right: nothing to add)
    if result.passed:
        note = (f" Equal outputs: on a test batch your folded convolution matches conv -> "
                f"batch norm (inference) to within {gap:.1e}.")  # fmt: skip
    else:
        note = (f"\nrun as a convolution on a test batch (case '{cases[0].label}'), your "
                f"folded weights give outputs that differ from conv -> batch norm "
                f"(inference) by up to {gap:.3g}.")  # fmt: skip
    changed = dataclasses.replace(result, message=result.message + note)
    return changed._with_cases(result.cases)
