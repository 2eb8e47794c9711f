"""course_lib.detection against straightforward reference loops (torchvision is not a dependency)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _ops_helpers import BACKENDS, as_kind, close, to_torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.overrides import TorchFunctionMode

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


def _integer_boxes(rng, k):
    xy = rng.integers(0, 50, size=(k, 2))
    wh = rng.integers(0, 30, size=(k, 2))
    return np.concatenate([xy, xy + wh], axis=1)


@pytest.mark.parametrize(("kind", "device"), BACKENDS)
@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8])
def test_integer_boxes_match_the_reference(kind, device, dtype):
    """Pixel boxes as ints: IoU in float64, areas as int64, NMS as for floats."""
    rng = np.random.default_rng(11)
    a, b = _integer_boxes(rng, 9).astype(dtype), _integer_boxes(rng, 7).astype(dtype)
    out = iou(as_kind(a, kind, device), as_kind(b, kind, device))
    assert to_torch(out).dtype == torch.float64
    ref = np.array([[_iou_one(p.astype(float), q.astype(float)) for q in b] for p in a])
    close(out, ref, rtol=1e-12, atol=1e-15)
    area = box_area(as_kind(a, kind, device))
    assert to_torch(area).dtype == torch.int64
    expected = (a[:, 2].astype(np.int64) - a[:, 0]) * (a[:, 3].astype(np.int64) - a[:, 1])
    assert to_torch(area).tolist() == expected.tolist()
    scores = rng.permutation(9).astype(np.float32)
    kept = nms(as_kind(a, kind, device), as_kind(scores, kind, device), 0.3)
    assert to_torch(kept).tolist() == _nms_reference(a.astype(float), scores, 0.3)
    # integer scores too
    kept = nms(as_kind(a, kind, device), as_kind(scores.astype(np.int64), kind, device), 0.3)
    assert to_torch(kept).tolist() == _nms_reference(a.astype(float), scores, 0.3)


def test_integer_and_float_boxes_mix():
    a = np.array([[0, 0, 2, 2]], dtype=np.int32)
    b = torch.tensor([[1.0, 1.0, 3.0, 3.0]], dtype=torch.float32)
    np.testing.assert_allclose(iou(a, b.numpy().astype(np.float64)), [[1 / 7]], rtol=1e-12)
    got = iou(torch.from_numpy(a), b)
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, torch.tensor([[1 / 7]], dtype=torch.float64))
    big = np.array([[0, 0, 200, 200]], dtype=np.uint8)  # 200 * 200 overflows uint8
    assert box_area(big).tolist() == [40000]


class _CountTorchCalls(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.calls += 1
        return func(*args, **(kwargs or {}))


def test_nms_does_not_go_back_to_the_host_per_box():
    """The torch calls nms makes do not grow with the number of boxes (no per-box sync)."""
    rng = np.random.default_rng(3)
    counts = []
    for k in (5, 60):
        boxes = torch.from_numpy(_random_boxes(rng, k))
        scores = torch.from_numpy(rng.permutation(k).astype(np.float64))
        with _CountTorchCalls() as mode:
            kept = nms(boxes, scores, 0.5)
        assert kept.tolist() == _nms_reference(boxes.numpy(), scores.numpy(), 0.5)
        counts.append(mode.calls)
    assert counts[0] == counts[1], counts


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
        (
            lambda: box_area(np.array([[0, 0, 1, 1], [0, 3, 1, 2]])),
            ValueError,
            r"boxes\[1\] = \[0, 3, 1, 2\] has x2 < x1 or y2 < y1",
        ),
        (lambda: nms(np.zeros((2, 4)), np.zeros(3), 0.5), ValueError, r"scores has shape \(3,\)"),
        (lambda: nms(np.zeros((2, 4)), np.zeros(2), 1.5), ValueError, r"iou_threshold=1.5"),
        (lambda: nms(np.zeros((2, 4)), np.zeros(2), "0.5"), TypeError, r"iou_threshold='0.5'"),
        (lambda: nms(np.zeros((2, 4)), np.zeros(2), float("nan")), ValueError, "iou_threshold=nan"),
        (lambda: nms(np.zeros((2, 4)), np.zeros(2, bool), 0.5), TypeError, "scores has dtype bool"),
        (lambda: nms(np.zeros((2, 4)), torch.zeros(2), 0.5), TypeError, "mixed numpy and torch"),
        (lambda: iou(np.zeros((1, 4), bool), np.zeros((1, 4))), TypeError,
         "boxes_a has dtype bool; expected floating or integer"),
        (lambda: iou([[0, 0, 1, 1]], np.zeros((1, 4))), TypeError,
         "boxes_a must be a numpy array or a torch tensor, not list"),
        (lambda: box_area(torch.zeros(1, 4, dtype=torch.complex64)), TypeError,
         "boxes has dtype torch.complex64"),
    ],
)  # fmt: skip
def test_detection_bad_input_is_named(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


def test_nms_takes_numpy_and_torch_scalars_as_the_threshold():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30.0]])
    scores = np.array([0.5, 0.9, 0.7])
    for thr in (np.float32(0.5), torch.tensor(0.5), 0.5):
        assert nms(boxes, scores, thr).tolist() == [1, 2]


@pytest.mark.parametrize("kind", ["numpy", "torch"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_boxes_are_refused_everywhere_and_scores_in_nms(kind, bad):
    """A NaN box used to get IoU 0 from iou (and be refused by nms); one check serves all."""
    good = as_kind(np.array([[0.0, 0, 2, 2], [1, 1, 3, 3]]), kind)
    boxes = np.array([[0.0, 0, 2, 2], [1, 1, 3, 3]])
    boxes[1, 2] = bad
    wrong = as_kind(boxes, kind)
    row = rf"\[1.0, 1.0, {bad}, 3.0\]"
    with pytest.raises(ValueError, match=rf"boxes_b\[1\] = {row} holds NaN or infinite"):
        iou(good, wrong)
    with pytest.raises(ValueError, match=rf"boxes_a\[1\] = {row} holds NaN or infinite"):
        iou(wrong, good)
    with pytest.raises(ValueError, match=rf"boxes\[1\] = {row} holds NaN or infinite"):
        box_area(wrong)
    with pytest.raises(ValueError, match=rf"boxes\[1\] = {row} holds NaN or infinite"):
        nms(wrong, as_kind(np.array([0.9, 0.8]), kind), 0.5)
    with pytest.raises(ValueError, match="scores holds NaN or infinite values"):
        nms(good, as_kind(np.array([0.9, bad]), kind), 0.5)


def test_nms_with_no_boxes_names_both_arrays():
    with pytest.raises(ValueError, match=r"scores has shape \(3,\) but boxes has shape \(0, 4\)"):
        nms(np.zeros((0, 4)), np.array([0.9, 0.8, 0.3]), 0.5)
