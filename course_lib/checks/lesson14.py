"""Checks for lesson 14 (detection in brief).

* Exercise 14.1: :func:`check_box_iou`, the IoU of two boxes ``(x1, y1, x2, y2)``.
* Exercise 14.2: :func:`check_greedy_nms`, greedy non-maximum suppression: the kept
  indices, highest score first (a box is dropped when its IoU with a kept box is
  greater than the threshold, as in ``torchvision.ops.nms``).
* Exercise 14.3: :func:`check_pool5_field`, the receptive field of AlexNet's pool5.
* Exercise 14.4: :func:`check_average_precision`, AP of a ranked list of detections
  (the interpolated, all-point form of PASCAL VOC 2010 on).

The expected answers come from :mod:`course_lib.detection` and
:func:`course_lib.shapes.receptive_field`; the mistakes are the slips learners make,
each with its own feedback.
"""

from __future__ import annotations

import numpy as np

from course_lib.checks import Case, CheckResult, Mistake, check_function, check_value
from course_lib.detection import average_precision, iou, nms, precision_recall
from course_lib.shapes import receptive_field

__all__ = [
    "ALEXNET_LAYERS",
    "check_average_precision",
    "check_box_iou",
    "check_greedy_nms",
    "check_pool5_field",
]

# AlexNet up to pool5, as (kernel, stride): conv1, pool1, conv2, pool2, conv3-5, pool5
ALEXNET_LAYERS = ((11, 4), (3, 2), (5, 1), (3, 2), (3, 1), (3, 1), (3, 1), (3, 2))


# ----------------------------------------------------------------------------- 14.1 IoU


def _iou_of(a, b) -> float:
    return float(iou(np.asarray(a, dtype=np.float64)[None], np.asarray(b, dtype=np.float64)[None])[0, 0])


def _areas(a, b):
    return (a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1])


def _unclamped(a, b) -> float:
    inter = (min(a[2], b[2]) - max(a[0], b[0])) * (min(a[3], b[3]) - max(a[1], b[1]))
    area_a, area_b = _areas(a, b)
    return float(inter / (area_a + area_b - inter))


def _overlap(a, b) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return float(w * h)


def _plus_one(a, b) -> float:
    a1 = np.asarray(a, dtype=np.float64) + np.array([0, 0, 1, 1])
    b1 = np.asarray(b, dtype=np.float64) + np.array([0, 0, 1, 1])
    return _iou_of(a1, b1)


IOU_CASES = [
    ("two boxes that overlap in a corner", (0.5, 1.0, 4.0, 3.5), (2.0, 0.0, 6.5, 2.25)),
    ("a small box inside a big one", (1.0, 1.0, 3.0, 2.0), (0.0, 0.0, 6.0, 4.0)),
    ("boxes apart along both axes", (0.0, 0.0, 1.0, 1.5), (2.0, 3.0, 4.0, 5.0)),
    ("boxes side by side: apart along x, overlapping in y", (0.0, 0.0, 2.0, 4.0),
     (3.0, 1.0, 5.0, 3.0)),
    ("boxes that share an edge", (0.0, 0.0, 2.0, 2.0), (2.0, 0.0, 4.0, 2.0)),
    ("a box and itself", (1.5, 2.0, 4.0, 7.0), (1.5, 2.0, 4.0, 7.0)),
]

BOX_IOU_MISTAKES = [
    Mistake(
        "for boxes that do not overlap, the width or the height of the 'intersection' comes "
        "out negative (and two negatives multiply to a positive area). Clamp each at 0: "
        "w = max(0, min(x2, x2') - max(x1, x1')), and the same for h.",
        lambda a, b: _unclamped(a, b),
    ),
    Mistake(
        "the union counts the overlap twice: area(A) + area(B) includes the intersection "
        "once in each box. Subtract it once: union = area(A) + area(B) - intersection.",
        lambda a, b: _overlap(a, b) / sum(_areas(a, b)),
    ),
    Mistake(
        "you divided the intersection by the smaller box's area; IoU divides by the area "
        "of the union, area(A) + area(B) - intersection.",
        lambda a, b: _overlap(a, b) / min(_areas(a, b)),
    ),
    Mistake(
        "you returned the area of the intersection; IoU divides it by the area of the union.",
        lambda a, b: _overlap(a, b),
    ),
    Mistake(
        "you added 1 to each width and height (the old pixel-count convention of the PASCAL "
        "VOC code). The course, like torchvision, treats (x1, y1, x2, y2) as corners: the "
        "width is x2 - x1, no + 1.",
        lambda a, b: _plus_one(a, b),
    ),
]


def check_box_iou(fn) -> CheckResult:
    """Exercise 14.1: ``fn(box_a, box_b)`` returns the IoU of two boxes (arrays of 4 numbers)."""
    cases = [
        Case(label, (np.array(a), np.array(b)), expected=_iou_of(a, b))
        for label, a, b in IOU_CASES
    ]
    return check_function("Exercise 14.1", fn, cases, mistakes=BOX_IOU_MISTAKES)


# ----------------------------------------------------------------------------- 14.2 NMS


def _pairwise_iou(boxes) -> np.ndarray:
    b = np.asarray(boxes, dtype=np.float64)
    return iou(b, b)


def _nms_in_input_order(boxes, scores, thr) -> list[int]:
    overlaps, kept = _pairwise_iou(boxes), []
    for i in range(len(scores)):
        if all(overlaps[i, j] <= thr for j in kept):
            kept.append(i)
    return kept


def _nms_with(boxes, scores, thr, drop) -> list[int]:
    overlaps = _pairwise_iou(boxes)
    order = [int(i) for i in np.argsort(-np.asarray(scores), kind="stable")]
    kept = []
    for i in order:
        if not any(drop(overlaps[i, j], thr) for j in kept):
            kept.append(i)
    return kept


def _nms_against_all_higher(boxes, scores, thr) -> list[int]:
    overlaps = _pairwise_iou(boxes)
    order = [int(i) for i in np.argsort(-np.asarray(scores), kind="stable")]
    return [i for r, i in enumerate(order) if all(overlaps[i, j] <= thr for j in order[:r])]


def _nms_expected(boxes, scores, thr) -> list[int]:
    return [int(i) for i in nms(boxes, scores, thr).tolist()]


NMS_CASES = [
    ("two clusters of boxes, threshold 0.5",
     [[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 11.0, 11.0], [20.0, 20.0, 30.0, 30.0],
      [21.0, 19.0, 31.0, 29.5], [0.5, 0.0, 10.0, 9.0]],
     [0.6, 0.9, 0.75, 0.8, 0.3], 0.5),
    ("a chain: A overlaps B, B overlaps C, A does not overlap C",
     [[0.0, 0.0, 10.0, 10.0], [5.0, 0.0, 15.0, 10.0], [10.5, 0.0, 20.5, 10.0]],
     [0.95, 0.7, 0.6], 0.2),
    ("an IoU of exactly the threshold (0.5)",
     [[0.0, 0.0, 4.0, 2.0], [0.0, 0.0, 2.0, 2.0], [6.0, 0.0, 8.0, 3.0]],
     [0.9, 0.8, 0.4], 0.5),
    ("four boxes in no particular order, threshold 0.3",
     [[2.0, 2.0, 8.0, 8.0], [3.0, 2.5, 9.0, 8.5], [30.0, 0.0, 40.0, 6.0],
      [31.0, 1.0, 39.0, 7.0]],
     [0.2, 0.55, 0.65, 0.9], 0.3),
]

GREEDY_NMS_MISTAKES = [
    Mistake(
        "you went through the boxes in the order they were given. Greedy NMS starts from the "
        "highest score: sort the indices by decreasing score first (np.argsort(-scores)).",
        _nms_in_input_order,
    ),
    Mistake(
        "a box whose IoU with a kept box equals the threshold must stay: NMS drops a box "
        "only when its IoU is greater than the threshold (iou > threshold, not >=), as "
        "torchvision.ops.nms does.",
        lambda b, s, t: _nms_with(b, s, t, lambda o, thr: o >= thr),
    ),
    Mistake(
        "the comparison is the wrong way round: you dropped boxes that overlap a kept one "
        "little and kept those that overlap it a lot. Drop a box when iou > threshold.",
        lambda b, s, t: _nms_with(b, s, t, lambda o, thr: o <= thr),
    ),
    Mistake(
        "a box that was itself suppressed must not suppress others: compare each box only "
        "with the boxes already KEPT, not with every higher-scoring box. (In a chain A-B-C, "
        "B is removed by A, and C, which overlaps only B, stays.)",
        _nms_against_all_higher,
    ),
    Mistake(
        "the right boxes, but sorted by index; return them in the order NMS keeps them, "
        "highest score first.",
        lambda b, s, t: sorted(_nms_expected(b, s, t)),
    ),
    Mistake(
        "you returned the kept boxes themselves; return their indices (positions in boxes).",
        lambda b, s, t: np.asarray(b)[_nms_expected(b, s, t)],
    ),
]


def check_greedy_nms(fn) -> CheckResult:
    """Exercise 14.2: ``fn(boxes, scores, iou_threshold)`` returns the kept indices.

    boxes (K, 4) and scores (K,) are numpy float arrays; the answer is a list (or a 1-D
    array or tensor) of ints, highest score first.
    """
    cases = []
    for label, boxes, scores, thr in NMS_CASES:
        b, s = np.array(boxes), np.array(scores)
        cases.append(Case(label, (b, s, thr), expected=_nms_expected(b, s, thr)))
    return check_function("Exercise 14.2", fn, cases, mistakes=GREEDY_NMS_MISTAKES)


# ----------------------------------------------------------------------------- 14.3 pool5


def _pool5_field() -> int:
    return receptive_field(list(ALEXNET_LAYERS))


POOL5_MISTAKES = [
    Mistake(
        "163 is the receptive field of conv5; pool5 (3x3, stride 2) comes after it and adds "
        "(3 - 1) times the jump there, 4 * 2 * 2 = 16 pixels: 163 + 32 = 195.",
        lambda: receptive_field(list(ALEXNET_LAYERS[:-1])),
    ),
    Mistake(
        "you left out the pooling layers. They have no weights, but their windows and strides "
        "widen what a unit sees just as a convolution's do: include pool1, pool2 and pool5.",
        lambda: receptive_field([ALEXNET_LAYERS[i] for i in (0, 2, 4, 5, 6)]),
    ),
    Mistake(
        "adding up the kernel sizes forgets the strides: a layer's kernel is spread over "
        "'jump' input pixels per step, the product of all the strides before it. Each layer "
        "adds (kernel - 1) * jump.",
        lambda: sum(k for k, _ in ALEXNET_LAYERS),
    ),
    Mistake(
        "227 is the whole input. A pool5 unit sees less than that: work it out layer by "
        "layer with receptive_field (or r += (k - 1) * jump; jump *= s).",
        lambda: 227,
    ),
]


def check_pool5_field(value) -> CheckResult:
    """Exercise 14.3: the side, in input pixels, of one AlexNet pool5 unit's receptive field."""
    return check_value(
        "Exercise 14.3", value, _pool5_field(), mistakes=POOL5_MISTAKES,
        label="the receptive field of pool5",
    )


# ----------------------------------------------------------------------------- 14.4 AP


def _curve(flags, n_true):
    flags = np.asarray(flags, dtype=bool)
    scores = np.arange(len(flags), 0, -1, dtype=np.float64)  # already ranked
    return precision_recall(scores, flags, n_true)


def _ap_expected(flags, n_true) -> float:
    return average_precision(*_curve(flags, n_true))


def _ap_not_interpolated(flags, n_true) -> float:
    p, r = _curve(flags, n_true)
    return float(np.sum(np.diff(np.concatenate([[0.0], r])) * p))


def _ap_recall_over_detections(flags, n_true) -> float:
    flags = np.asarray(flags, dtype=bool)
    return _ap_expected(flags, len(flags)) if flags.sum() <= len(flags) else float("nan")


def _ap_mean_precision_at_hits(flags, n_true) -> float:
    p, _ = _curve(flags, n_true)
    hits = np.asarray(flags, dtype=bool)
    return float(p[hits].mean()) if hits.any() else 0.0


def _ap_eleven_points(flags, n_true) -> float:
    p, r = _curve(flags, n_true)
    return float(np.mean([p[r >= t].max() if np.any(r >= t) else 0.0
                          for t in np.linspace(0, 1, 11)]))


def _ap_trapezoid(flags, n_true) -> float:
    p, r = _curve(flags, n_true)
    return float(np.sum(np.diff(r) * (p[1:] + p[:-1]) / 2))  # what np.trapz(p, r) gives


AP_CASES = [
    ("ranked hits T, F, T, F, F and 3 objects", [True, False, True, False, False], 3),
    ("ranked hits F, T, T, F, T and 4 objects", [False, True, True, False, True], 4),
    ("one hit, 3 objects (two never found)", [True], 3),
    ("every detection a hit, 2 objects", [True, True], 2),
    ("no hits at all, 2 objects", [False, False, False], 2),
    ("ranked hits T, F, F, T, T, F, T and 6 objects",
     [True, False, False, True, True, False, True], 6),
]

AP_MISTAKES = [
    Mistake(
        "you summed the raw precision over the recall steps. AP uses the interpolated "
        "precision: at each rank, the best precision at that recall or any higher one "
        "(np.maximum.accumulate over the reversed precisions), which removes the zig-zags.",
        _ap_not_interpolated,
    ),
    Mistake(
        "recall is found objects over ALL objects (n_true), including those no detection "
        "found; you divided by the number of detections.",
        _ap_recall_over_detections,
    ),
    Mistake(
        "you averaged the precision at the hits over the hits found; AP weights each by its "
        "recall step 1 / n_true, so objects that were never found count as 0 (and the "
        "precision must be interpolated).",
        _ap_mean_precision_at_hits,
    ),
    Mistake(
        "that is the 11-point AP of PASCAL VOC 2007 (the envelope averaged at recall 0, 0.1, "
        "..., 1). The exercise asks for the all-point form: sum over every recall step.",
        _ap_eleven_points,
    ),
    Mistake(
        "np.trapz joins the points with straight lines; AP is the area under the step-shaped "
        "interpolated curve: sum (r_k - r_(k-1)) * envelope_k, starting from recall 0.",
        _ap_trapezoid,
    ),
]


def check_average_precision(fn) -> CheckResult:
    """Exercise 14.4: ``fn(is_hit, n_true)`` returns the AP of a ranked list of detections.

    is_hit: a numpy bool array, best-scoring detection first (True: a true positive);
    n_true: the number of objects.
    """
    cases = [
        Case(label, (np.array(flags), n_true), expected=_ap_expected(flags, n_true))
        for label, flags, n_true in AP_CASES
    ]
    return check_function("Exercise 14.4", fn, cases, mistakes=AP_MISTAKES)
