"""course_lib.detection against straightforward reference loops (torchvision is not a dependency)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _ops_helpers import BACKENDS, as_kind, close, to_torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.detection import box_area, iou, nms


def _iou_one(a, b):
    """Reference: IoU of two boxes by the definition."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _nms_reference(boxes, scores, thr):
    """Reference: textbook greedy NMS with Python lists."""
    remaining = sorted(range(len(scores)), key=lambda i: -scores[i])
    keep = []
    while remaining:
        best = remaining.pop(0)
        keep.append(best)
        remaining = [j for j in remaining if _iou_one(boxes[best], boxes[j]) <= thr]
    return keep


def _random_boxes(rng, k):
    xy = rng.uniform(0, 50, size=(k, 2))
    wh = rng.uniform(0, 30, size=(k, 2))
    return np.concatenate([xy, xy + wh], axis=1)


@pytest.mark.parametrize(("kind", "device"), BACKENDS)
@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(1, 12), m=st.integers(1, 12))
def test_iou_matches_reference(kind, device, seed, n, m):
    """Oracle: the definition, box by box."""
    rng = np.random.default_rng(seed)
    a, b = _random_boxes(rng, n), _random_boxes(rng, m)
    out = iou(as_kind(a, kind, device), as_kind(b, kind, device))
    expected = np.array([[_iou_one(p, q) for q in b] for p in a])
    assert tuple(out.shape) == (n, m)
    close(out, expected)


@pytest.mark.parametrize(("kind", "device"), BACKENDS)
@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**16), k=st.integers(0, 30), thr=st.sampled_from([0.0, 0.3, 0.5, 0.7, 1.0])
)
def test_nms_matches_reference(kind, device, seed, k, thr):
    """Oracle: a plain-Python greedy NMS."""
    rng = np.random.default_rng(seed)
    boxes, scores = _random_boxes(rng, k), rng.permutation(k).astype(np.float64)
    kept = nms(as_kind(boxes, kind, device), as_kind(scores, kind, device), thr)
    assert to_torch(kept).tolist() == _nms_reference(boxes, scores, thr)
    assert to_torch(kept).dtype == torch.int64


def test_iou_worked_values_and_area():
    a = np.array([[0.0, 0.0, 2.0, 2.0]])
    b = np.array([[1.0, 1.0, 3.0, 3.0], [0.0, 0.0, 2.0, 2.0], [5.0, 5.0, 6.0, 6.0]])
    np.testing.assert_allclose(iou(a, b), [[1 / 7, 1.0, 0.0]])
    np.testing.assert_allclose(box_area(b), [4.0, 4.0, 1.0])
    point = np.array([[1.0, 1.0, 1.0, 1.0]])
    assert iou(point, point)[0, 0] == 0.0


def test_nms_keeps_highest_first_and_ties_in_input_order():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30], [0, 0, 10, 10.0]])
    scores = np.array([0.5, 0.9, 0.7, 0.9])
    assert nms(boxes, scores, 0.5).tolist() == [1, 2]
    assert nms(boxes, scores, 1.0).tolist() == [1, 3, 2, 0]


@pytest.mark.parametrize(
    ("call", "exc", "pattern"),
    [
        (
            lambda: iou(np.zeros((2, 3)), np.zeros((1, 4))),
            ValueError,
            r"boxes_a has shape \(2, 3\)",
        ),
        (
            lambda: iou(np.array([[0, 0, 1, 1.0], [2, 0, 1, 1.0]]), np.zeros((1, 4))),
            ValueError,
            r"boxes_a\[1\] = \[2.0, 0.0, 1.0, 1.0\] has x2 < x1",
        ),
        (lambda: nms(np.zeros((2, 4)), np.zeros(3), 0.5), ValueError, r"scores has shape \(3,\)"),
        (lambda: nms(np.zeros((2, 4)), np.zeros(2), 1.5), ValueError, r"iou_threshold=1.5"),
        (lambda: nms(np.zeros((2, 4)), torch.zeros(2), 0.5), TypeError, "mixed numpy and torch"),
        (lambda: iou(np.zeros((1, 4), int), np.zeros((1, 4))), TypeError, "floating dtype"),
    ],
)
def test_detection_bad_input_is_named(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_nms_refuses_non_finite_scores_and_boxes(kind):
    """A NaN score used to be sorted somewhere arbitrary and kept or dropped silently."""
    boxes = as_kind(np.array([[0.0, 0, 2, 2], [1, 1, 3, 3]]), kind)
    with pytest.raises(ValueError, match="scores holds NaN or infinite values"):
        nms(boxes, as_kind(np.array([0.9, np.nan]), kind), 0.5)
    bad = as_kind(np.array([[0.0, 0, 2, 2], [1, 1, np.inf, 3]]), kind)
    with pytest.raises(ValueError, match="boxes holds NaN or infinite values"):
        nms(bad, as_kind(np.array([0.9, 0.8]), kind), 0.5)
