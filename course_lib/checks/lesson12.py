"""Checks for lesson 12 (FCN semantic segmentation).

* Exercise 12.1: :func:`check_score_map_sizes`, the (h, w) of the stride-8, -16 and -32
  maps of an H x W input when every pool rounds up (``ceil_mode=True``).
* Exercise 12.2: :func:`check_fcn_scores`, the four scores of the FCN paper (pixel
  accuracy, mean accuracy, mean IU, frequency-weighted IU) from a confusion matrix whose
  rows are the true classes and columns the predicted ones. A class absent from the
  truth is left out of the mean accuracy, and one absent from truth and prediction alike
  out of the mean IU (0 / 0 has no value), as :mod:`course_lib.metrics` does.

The expected answers come from :func:`course_lib.metrics.scores_from_confusion` and
:func:`course_lib.experiments.segmentation.score_map_sizes` (the tests compare both with
scikit-learn and with the FCN's own output shapes); the mistakes are the slips learners
really make, each with its own feedback.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from course_lib.checks import Case, CheckResult, Mistake, check_function
from course_lib.experiments.segmentation import STRIDES, score_map_sizes
from course_lib.metrics import scores_from_confusion
from course_lib.validate import is_number

__all__ = ["check_fcn_scores", "check_score_map_sizes"]

_ORDER = ("pixel_accuracy", "mean_accuracy", "mean_iou", "fw_iou")


def _as_tuple(scores: dict[str, float]) -> tuple[float, float, float, float]:
    return tuple(scores[k] for k in _ORDER)


def _confusions() -> list[tuple[str, np.ndarray]]:
    return [
        ("3 classes, every class present",
         np.array([[50, 3, 2], [4, 20, 1], [6, 0, 14]])),
        ("4 classes, class 2 absent from truth and prediction",
         np.array([[40, 2, 0, 3], [5, 12, 0, 0], [0, 0, 0, 0], [1, 0, 0, 7]])),
        ("3 classes, class 2 predicted 5 times but never true",
         np.array([[30, 2, 4], [3, 9, 1], [0, 0, 0]])),
        ("2 classes (background and object)",
         np.array([[90, 10], [5, 15]])),
    ]  # fmt: skip


def _scores_by_hand(n: np.ndarray, *, absent_as_zero: bool = False, dice: bool = False,
                    fw_unnormalised: bool = False) -> tuple[float, float, float, float]:
    """The four scores computed the way a mistake computes them (float64)."""
    n = np.asarray(n, dtype=np.float64)
    diag, t, p = np.diag(n), n.sum(1), n.sum(0)
    union = t + p if dice else t + p - diag
    with np.errstate(invalid="ignore", divide="ignore"):
        recall, iou = diag / t, diag / union
    if absent_as_zero:
        recall, iou = np.nan_to_num(recall), np.nan_to_num(iou)
    seen = ~np.isnan(iou)
    fw = float((t[seen] * iou[seen]).sum())
    return (float(diag.sum() / n.sum()), float(np.nanmean(recall)), float(np.nanmean(iou)),
            fw if fw_unnormalised else fw / float(n.sum()))  # fmt: skip


def _holds_nan(got: Any, *args: Any) -> bool:
    if not isinstance(got, tuple | list):
        return False
    return any(is_number(v) and math.isnan(float(v)) for v in got)


def _is_dict(got: Any, *args: Any) -> bool:
    return isinstance(got, dict)


def _percent(n: np.ndarray) -> tuple[float, ...]:
    return tuple(100 * v for v in _as_tuple(scores_from_confusion(n)))


FCN_SCORES_MISTAKES = [
    Mistake(
        "rows and columns are swapped: row i of the confusion matrix counts the pixels whose "
        "TRUE class is i, column j those PREDICTED as j. t_i, the pixels of class i, is a row "
        "sum, n.sum(axis=1); the predicted counts are column sums, n.sum(axis=0). Pixel "
        "accuracy and IU do not change under the swap, but mean accuracy and f.w. IU do.",
        lambda n: _as_tuple(scores_from_confusion(np.asarray(n).T)),
    ),
    Mistake(
        "a class that never appears (t_i = 0 for the accuracy; t_i = 0 and never predicted "
        "for the IU) has no score, 0 / 0, and is left out of the mean; you counted it as 0, "
        "which punishes the network for a class the images do not contain. Average over "
        "the classes whose denominator is above 0 (np.nanmean does it).",
        lambda n: _scores_by_hand(n, absent_as_zero=True),
    ),
    Mistake(
        "the union of truth and prediction counts the correct pixels once: "
        "t_i + sum_j n_ji - n_ii. Without the '- n_ii' the correct pixels are counted twice.",
        lambda n: _scores_by_hand(n, dice=True),
    ),
    Mistake(
        "the frequency-weighted IU divides by the total pixel count sum_k t_k: it is a "
        "weighted average of the class IUs, between 0 and 1.",
        lambda n: _scores_by_hand(n, fw_unnormalised=True),
    ),
    Mistake(
        "the scores are fractions in [0, 1], not percentages: leave out the * 100.",
        _percent,
    ),
    Mistake(
        "your answer holds NaN: a class absent from the truth (and, for the IU, from the "
        "prediction) divides 0 by 0. Leave those classes out of the means: np.nanmean "
        "skips NaN, or select the classes with a denominator above 0.",
        matches=_holds_nan,
    ),
    Mistake(
        "return the four scores as a tuple in the order (pixel accuracy, mean accuracy, "
        "mean IU, f.w. IU), not a dict.",
        matches=_is_dict,
    ),
]


def check_fcn_scores(fn) -> CheckResult:
    """Exercise 12.2: ``fn(confusion)`` returns (pixel accuracy, mean accuracy, mean IU,
    f.w. IU) as fractions from a (K, K) count matrix, rows truth and columns prediction."""
    cases = [
        Case(label, (n,), expected=_as_tuple(scores_from_confusion(n)))
        for label, n in _confusions()
    ]
    return check_function("Exercise 12.2", fn, cases, mistakes=FCN_SCORES_MISTAKES)


def _sizes(h: int, w: int, strides=STRIDES, rounding=math.ceil) -> tuple[tuple[int, int], ...]:
    return tuple((int(rounding(h / s)), int(rounding(w / s))) for s in strides)


SCORE_MAP_MISTAKES = [
    Mistake(
        "you rounded down. torch's MaxPool2d drops a partial window at the edge unless "
        "ceil_mode=True; the FCN pools with ceil_mode=True (as Caffe did), so every pool "
        "gives ceil(n / 2) and the map of stride s has ceil(n / s) cells: math.ceil(n / s) "
        "or -(-n // s).",
        lambda h, w: _sizes(h, w, rounding=math.floor),
    ),
    Mistake(
        "each pair is (height, width): rows first, as in torch's (N, C, H, W).",
        lambda h, w: tuple((b, a) for a, b in _sizes(h, w)),
    ),
    Mistake(
        "the order is stride 8 (pool3), then 16 (pool4), then 32 (pool5): finest first.",
        lambda h, w: _sizes(h, w, strides=STRIDES[::-1]),
    ),
    Mistake(
        "pool3 is the THIRD 2x2 pool, so its stride is 2 * 2 * 2 = 8 (not 4); pool4's is "
        "16 and pool5's 32.",
        lambda h, w: _sizes(h, w, strides=(4, 8, 16)),
    ),
    Mistake(
        "round() goes to the nearest whole number; a pool with ceil_mode=True always rounds "
        "UP: a partial window still gives an output cell.",
        lambda h, w: _sizes(h, w, rounding=round),
    ),
]


def check_score_map_sizes(fn) -> CheckResult:
    """Exercise 12.1: ``fn(height, width)`` returns ((h8, w8), (h16, w16), (h32, w32))."""
    inputs = [
        ("a 512 x 512 input", (512, 512)),
        ("a 500 x 375 photo (PASCAL VOC's usual size)", (500, 375)),
        ("a 64 x 48 scene", (64, 48)),
        ("a 100 x 33 strip", (100, 33)),
        ("a 20 x 70 input, smaller than one stride-32 cell", (20, 70)),
    ]
    cases = [Case(label, hw, expected=score_map_sizes(*hw)) for label, hw in inputs]
    return check_function("Exercise 12.1", fn, cases, mistakes=SCORE_MAP_MISTAKES)
