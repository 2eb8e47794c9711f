"""Lesson 14's checks: right answers pass (also written differently); the mistakes learners
make fail with their own feedback. The notebook's solutions run in tests/test_solutions.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_lib.checks.lesson14 import (
    ALEXNET_LAYERS,
    check_average_precision,
    check_box_iou,
    check_greedy_nms,
    check_pool5_field,
)
from course_lib.detection import iou, nms
from course_lib.shapes import receptive_field


def _stub(*args, **kwargs):
    raise NotImplementedError


# ---- Exercise 14.1: IoU of two boxes ---------------------------------------------------


def _box_iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_box_iou_accepts_the_solution_and_other_right_answers():
    assert check_box_iou(_box_iou).passed
    # the library's matrix version, a torch float32 version, and a numpy-vectorised one
    assert check_box_iou(lambda a, b: iou(a[None], b[None])[0, 0]).passed

    def in_torch(a, b):
        a, b = torch.tensor(a, dtype=torch.float32), torch.tensor(b, dtype=torch.float32)
        lo, hi = torch.maximum(a[:2], b[:2]), torch.minimum(a[2:], b[2:])
        inter = (hi - lo).clamp(min=0).prod()
        return inter / ((a[2:] - a[:2]).prod() + (b[2:] - b[:2]).prod() - inter)

    assert check_box_iou(in_torch).passed

    def vectorised(a, b):
        wh = np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None)
        inter = np.prod(wh)
        return inter / (np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter)

    assert check_box_iou(vectorised).passed


def _no_clamp(a, b):
    inter = (min(a[2], b[2]) - max(a[0], b[0])) * (min(a[3], b[3]) - max(a[1], b[1]))
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _overlap(a, b):
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def _area(a):
    return (a[2] - a[0]) * (a[3] - a[1])


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (_no_clamp, "Clamp each at 0"),
        (lambda a, b: _overlap(a, b) / (_area(a) + _area(b)), "counts the overlap twice"),
        (lambda a, b: _overlap(a, b) / min(_area(a), _area(b)), "smaller box's area"),
        (_overlap, "returned the area of the intersection"),
        (lambda a, b: _box_iou(a + np.array([0, 0, 1, 1]), b + np.array([0, 0, 1, 1])), "+ 1"),
    ],
)
def test_box_iou_mistakes_get_their_feedback(wrong, words):
    result = check_box_iou(wrong)
    assert result.status == "failed"
    assert words in result.message, result.message


def test_box_iou_stub_is_not_attempted_and_a_crash_is_reported():
    assert check_box_iou(_stub).status == "not attempted"
    result = check_box_iou(lambda a, b: a[5])
    assert result.status == "failed" and "IndexError" in result.message


# ---- Exercise 14.2: greedy NMS ---------------------------------------------------------


def _greedy(boxes, scores, thr):
    order = [int(i) for i in np.argsort(-scores)]
    kept = []
    while order:
        best = order.pop(0)
        kept.append(best)
        overlaps = iou(boxes[best : best + 1], boxes)[0]
        order = [i for i in order if overlaps[i] <= thr]
    return kept


def test_greedy_nms_accepts_the_solution_and_other_right_answers():
    assert check_greedy_nms(_greedy).passed
    assert check_greedy_nms(lambda b, s, t: nms(b, s, t)).passed  # a numpy int64 array
    assert check_greedy_nms(  # torch tensors in, a tensor of indices out
        lambda b, s, t: nms(torch.from_numpy(b), torch.from_numpy(s), t)
    ).passed

    def with_a_mask(boxes, scores, thr):
        order = np.argsort(-scores, kind="stable")
        alive = np.ones(len(scores), dtype=bool)
        kept = []
        for i in order:
            if alive[i]:
                kept.append(int(i))
                alive &= iou(boxes[i : i + 1], boxes)[0] <= thr
        return np.array(kept)

    assert check_greedy_nms(with_a_mask).passed


def _input_order(boxes, scores, thr):
    kept = []
    for i in range(len(scores)):
        if all(iou(boxes[i : i + 1], boxes[j : j + 1])[0, 0] <= thr for j in kept):
            kept.append(i)
    return kept


def _greater_equal(boxes, scores, thr):
    order = [int(i) for i in np.argsort(-scores)]
    kept = []
    while order:
        best = order.pop(0)
        kept.append(best)
        overlaps = iou(boxes[best : best + 1], boxes)[0]
        order = [i for i in order if overlaps[i] < thr]
    return kept


def _all_higher(boxes, scores, thr):
    order = [int(i) for i in np.argsort(-scores)]
    overlaps = iou(boxes, boxes)
    return [i for r, i in enumerate(order) if all(overlaps[i, j] <= thr for j in order[:r])]


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (_input_order, "in the order they were given"),
        (_greater_equal, "iou > threshold, not >="),
        (_all_higher, "suppressed must not suppress"),
        (lambda b, s, t: sorted(_greedy(b, s, t)), "sorted by index"),
        (lambda b, s, t: b[_greedy(b, s, t)], "kept boxes themselves"),
    ],
)
def test_greedy_nms_mistakes_get_their_feedback(wrong, words):
    result = check_greedy_nms(wrong)
    assert result.status == "failed"
    assert words in result.message, result.message


def test_greedy_nms_stub_is_not_attempted():
    assert check_greedy_nms(_stub).status == "not attempted"


# ---- Exercise 14.3: pool5's receptive field --------------------------------------------


def test_pool5_field_right_answers():
    assert check_pool5_field(receptive_field(list(ALEXNET_LAYERS))).passed
    for value in (195, np.int64(195), torch.tensor(195), 195.0):
        assert check_pool5_field(value).passed, value


def _by_hand(layers):
    field, jump = 1, 1
    for k, s in layers:
        field += (k - 1) * jump
        jump *= s
    return field


def test_pool5_field_by_hand_matches_shapes():
    """Oracle: the receptive-field recursion written out, against course_lib.shapes."""
    assert _by_hand(ALEXNET_LAYERS) == receptive_field(list(ALEXNET_LAYERS)) == 195


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (_by_hand(ALEXNET_LAYERS[:-1]), "receptive field of conv5"),
        (_by_hand([ALEXNET_LAYERS[i] for i in (0, 2, 4, 5, 6)]), "left out the pooling layers"),
        (sum(k for k, _ in ALEXNET_LAYERS), "forgets the strides"),
        (227, "the whole input"),
    ],
)
def test_pool5_field_mistakes_get_their_feedback(wrong, words):
    result = check_pool5_field(wrong)
    assert result.status == "failed"
    assert words in result.message, result.message


def test_pool5_field_placeholder_is_not_attempted():
    assert check_pool5_field(...).status == "not attempted"


# ---- Exercise 14.4: average precision --------------------------------------------------


def _ap(is_hit, n_true):
    found = np.cumsum(is_hit)
    precision = found / np.arange(1, len(is_hit) + 1)
    recall = found / n_true
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.sum(np.diff(np.concatenate([[0.0], recall])) * envelope))


def test_average_precision_accepts_the_solution_and_other_right_answers():
    assert check_average_precision(_ap).passed

    def loop(is_hit, n_true):  # the envelope by a double loop, the area step by step
        hits, total, prev_recall, precisions, recalls = 0, 0.0, 0.0, [], []
        for k, hit in enumerate(is_hit, start=1):
            hits += bool(hit)
            precisions.append(hits / k)
            recalls.append(hits / n_true)
        for k in range(len(recalls)):
            total += (recalls[k] - prev_recall) * max(precisions[k:])
            prev_recall = recalls[k]
        return total

    assert check_average_precision(loop).passed

    def in_torch(is_hit, n_true):
        h = torch.as_tensor(is_hit, dtype=torch.float32)
        found = torch.cumsum(h, 0)
        p = found / torch.arange(1, len(h) + 1)
        r = found / n_true
        env = torch.flip(torch.cummax(torch.flip(p, [0]), 0).values, [0])
        return (torch.diff(r, prepend=torch.zeros(1)) * env).sum()

    assert check_average_precision(in_torch).passed


def _not_interpolated(is_hit, n_true):
    found = np.cumsum(is_hit)
    precision = found / np.arange(1, len(is_hit) + 1)
    return float(np.sum(np.diff(np.concatenate([[0.0], found / n_true])) * precision))


def _eleven(is_hit, n_true):
    found = np.cumsum(is_hit)
    p, r = found / np.arange(1, len(is_hit) + 1), found / n_true
    return float(np.mean([p[r >= t].max() if np.any(r >= t) else 0.0
                          for t in np.linspace(0, 1, 11)]))


def _mean_at_hits(is_hit, n_true):
    found = np.cumsum(is_hit)
    p = found / np.arange(1, len(is_hit) + 1)
    return float(p[is_hit].mean()) if is_hit.any() else 0.0


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (_not_interpolated, "interpolated precision"),
        (lambda h, n: _ap(h, len(h)), "over ALL objects"),
        (_mean_at_hits, "averaged the precision at the hits"),
        (_eleven, "11-point AP"),
    ],
)
def test_average_precision_mistakes_get_their_feedback(wrong, words):
    result = check_average_precision(wrong)
    assert result.status == "failed"
    assert words in result.message, result.message


def test_average_precision_stub_is_not_attempted():
    assert check_average_precision(_stub).status == "not attempted"
