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


# --------------------------------------------------------------------------- lesson 14: R-CNN parts

from course_lib.detection import (  # noqa: E402 -- the lesson-14 additions, tested below
    average_precision,
    match_detections,
    mean_average_precision,
    precision_recall,
    sliding_window_proposals,
    warp_crops,
)


def test_sliding_window_proposals_count_and_corners():
    boxes = sliding_window_proposals(48, 40, (12, 20), 4, device="cpu")
    n12 = ((48 - 12) // 4 + 1) * ((40 - 12) // 4 + 1)
    n20 = ((48 - 20) // 4 + 1) * ((40 - 20) // 4 + 1)
    assert boxes.shape == (n12 + n20, 4) and boxes.dtype == torch.float32
    sides = boxes[:, 2:] - boxes[:, :2]
    assert torch.equal(sides[:n12], torch.full((n12, 2), 12.0))
    assert float(boxes[:, 2].max()) <= 40 and float(boxes[:, 3].max()) <= 48  # inside the image
    assert boxes[:n12, 0].unique().tolist() == list(range(0, 40 - 12 + 1, 4))
    with pytest.raises(ValueError, match="sizes"):
        sliding_window_proposals(10, 10, (12,), 2)


def test_warp_crops_of_pixel_aligned_boxes_is_the_crop_itself():
    """Oracle: a box on the pixel grid warped to its own size is exactly its pixels; squeezed
    to half its height, torch's average pooling of pairs of its rows."""
    rng = np.random.default_rng(0)
    image = torch.from_numpy(rng.random((2, 12, 15)))  # (C, H, W) float64
    boxes = torch.tensor([[2.0, 3.0, 8.0, 9.0], [0.0, 0.0, 6.0, 6.0], [9.0, 4.0, 15.0, 10.0]],
                         dtype=torch.float64)
    crops = warp_crops(image, boxes, 6)
    assert crops.shape == (3, 2, 6, 6) and crops.dtype == torch.float64
    for crop, (x1, y1, x2, y2) in zip(crops, boxes.int().tolist(), strict=True):
        torch.testing.assert_close(crop, image[:, y1:y2, x1:x2], rtol=1e-12, atol=1e-12)
    tall = torch.tensor([[3.0, 0.0, 9.0, 12.0]], dtype=torch.float64)  # 6 wide, 12 tall
    # squeezing 12 rows into 6 samples each output row halfway between two pixel rows:
    # bilinear gives their mean, torch's 2x1 average pooling of the box's pixels
    expected = torch.nn.functional.avg_pool2d(image[None, :, 0:12, 3:9], (2, 1))
    torch.testing.assert_close(warp_crops(image, tall, 6), expected, rtol=1e-12, atol=1e-12)


def test_match_detections_follows_the_voc_rule():
    truth = np.array([[0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]])
    boxes = np.array([[0.0, 0.0, 10.0, 9.0],     # IoU 0.9 with object 0
                      [1.0, 0.0, 10.0, 10.0],    # IoU 0.9 with object 0 again: a duplicate
                      [20.0, 20.0, 30.0, 25.0],  # IoU exactly 0.5 with object 1: counts
                      [40.0, 40.0, 50.0, 50.0]])  # nothing there
    scores = np.array([0.9, 0.8, 0.7, 0.95])
    assert match_detections(boxes, scores, truth, 0.5).tolist() == [True, False, True, False]
    # the higher-scoring duplicate takes the object, whatever the input order
    assert match_detections(boxes, np.array([0.8, 0.9, 0.7, 0.95]), truth).tolist() == [
        False, True, True, False]
    assert match_detections(boxes, scores, truth, 0.51).tolist() == [True, False, False, False]
    assert not match_detections(boxes, scores, np.zeros((0, 4))).any()


def _ap_reference(flags, n_true):
    """Reference: all-point interpolated AP by a double loop (the VOC 2010 definition)."""
    hits, precisions, recalls = 0, [], []
    for k, hit in enumerate(flags, start=1):
        hits += hit
        precisions.append(hits / k)
        recalls.append(hits / n_true)
    total, prev = 0.0, 0.0
    for k in range(len(flags)):
        total += (recalls[k] - prev) * max(precisions[k:])
        prev = recalls[k]
    return total


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**16), k=st.integers(1, 20), extra=st.integers(0, 5))
def test_precision_recall_and_ap_match_the_reference(seed, k, extra):
    rng = np.random.default_rng(seed)
    flags = rng.random(k) < 0.5
    n_true = int(flags.sum()) + extra or 1
    scores = rng.permutation(k).astype(np.float64)
    p, r = precision_recall(scores, flags, n_true)
    ranked = flags[np.argsort(-scores)]
    hits = np.cumsum(ranked)
    np.testing.assert_allclose(p, hits / np.arange(1, k + 1), rtol=1e-15)
    np.testing.assert_allclose(r, hits / n_true, rtol=1e-15)
    assert abs(average_precision(p, r) - _ap_reference(list(ranked), n_true)) < 1e-12


def test_average_precision_worked_values():
    p, r = precision_recall(np.array([3.0, 2.0, 1.0]), np.array([True, False, True]), 2)
    assert abs(average_precision(p, r) - (0.5 * 1.0 + 0.5 * 2 / 3)) < 1e-15
    p, r = precision_recall(np.array([1.0]), np.array([False]), 3)
    assert average_precision(p, r) == 0.0
    with pytest.raises(ValueError, match="n_true=1"):
        precision_recall(np.array([2.0, 1.0]), np.array([True, True]), 1)
    with pytest.raises(ValueError, match="recall must not decrease"):
        average_precision(np.array([1.0, 1.0]), np.array([0.5, 0.2]))


def test_mean_average_precision_perfect_duplicated_and_missing():
    truth = [torch.tensor([[0.0, 0.0, 10.0, 10.0], [20.0, 0.0, 30.0, 10.0]]),
             torch.tensor([[5.0, 5.0, 15.0, 15.0]])]
    labels = [torch.tensor([0, 1]), torch.tensor([1])]
    scores = [torch.tensor([0.9, 0.8]), torch.tensor([0.7])]
    perfect = mean_average_precision(truth, scores, labels, truth, labels, num_classes=3)
    assert perfect.mean_ap == 1.0 and perfect.n_true == (1, 2, 0)
    assert np.isnan(perfect.per_class[2])  # no object of class 2: left out of the mean
    # a duplicate of class 1 in image 0, ranked above image 1's hit: class 1 AP drops
    dup = [torch.cat([truth[0], truth[0][1:]]), truth[1]]
    dup_scores = [torch.tensor([0.9, 0.8, 0.75]), torch.tensor([0.7])]
    dup_labels = [torch.tensor([0, 1, 1]), torch.tensor([1])]
    got = mean_average_precision(dup, dup_scores, dup_labels, truth, labels, num_classes=3)
    assert got.per_class[0] == 1.0
    assert abs(got.per_class[1] - (0.5 * 1.0 + 0.5 * 2 / 3)) < 1e-12
    assert abs(got.mean_ap - (1.0 + 0.5 + 1 / 3) / 2) < 1e-12
    # the wrong class finds nothing
    wrong = mean_average_precision(truth, scores, [torch.tensor([1, 0]), torch.tensor([0])],
                                   truth, labels, num_classes=2)
    assert wrong.mean_ap == 0.0
    with pytest.raises(ValueError, match="pred_scores has 1 entries"):
        mean_average_precision(truth, scores[:1], labels, truth, labels, num_classes=2)


def test_against_torchvision_where_installed():
    """torchvision.ops.box_iou and nms, which learners meet, give the same answers."""
    ops = pytest.importorskip("torchvision.ops")
    rng = np.random.default_rng(1)
    boxes = torch.from_numpy(_random_boxes(rng, 40))
    scores = torch.from_numpy(rng.random(40))
    torch.testing.assert_close(iou(boxes, boxes), ops.box_iou(boxes, boxes), rtol=1e-12, atol=1e-12)
    for thr in (0.1, 0.3, 0.5, 0.7):
        assert nms(boxes, scores, thr).tolist() == ops.nms(boxes, scores, thr).tolist()
