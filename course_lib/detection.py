"""Box overlap and non-maximum suppression (lesson 14, the R-CNN pipeline).

Boxes are rows ``(x1, y1, x2, y2)`` with ``x1 <= x2`` and ``y1 <= y2`` (corners, in
pixels). numpy arrays and torch tensors both work; results keep the kind and device.

* IoU, intersection over union: ``area(A & B) / area(A | B)``, 1 for identical boxes,
  0 for disjoint ones.
* NMS, greedy: take the highest-scoring box, drop every remaining box that overlaps it
  with IoU above the threshold, repeat. R-CNN runs it per class on ~2000 scored
  proposals (Girshick et al., 2014).
"""

from __future__ import annotations

from course_lib.ops._backend import device, namespace

__all__ = ["box_area", "iou", "nms"]


def _check_boxes(xp, name, boxes):
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(
            f"{name} has shape {tuple(boxes.shape)}; expected (K, 4), rows (x1, y1, x2, y2)"
        )
    if not xp.isdtype(boxes.dtype, "real floating"):
        raise TypeError(f"{name} has dtype {boxes.dtype}; expected a floating dtype")
    bad = (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
    if bool(xp.any(bad)):
        i = int(xp.argmax(xp.astype(bad, xp.int8)))
        raise ValueError(
            f"{name}[{i}] = {[float(v) for v in boxes[i]]} has x2 < x1 or y2 < y1; expected "
            "corners (x1, y1, x2, y2) with x1 <= x2 and y1 <= y2"
        )


def box_area(boxes):
    """Areas (K,) of boxes (K, 4)."""
    xp = namespace(boxes, names=("boxes",))
    _check_boxes(xp, "boxes", boxes)
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def iou(boxes_a, boxes_b):
    """Pairwise intersection over union: (N, 4) and (M, 4) -> (N, M).

    Two boxes that both have zero area and do not overlap have IoU 0 (not 0/0).
    """
    xp = namespace(boxes_a, boxes_b, names=("boxes_a", "boxes_b"))
    _check_boxes(xp, "boxes_a", boxes_a)
    _check_boxes(xp, "boxes_b", boxes_b)
    a = boxes_a[:, None, :]  # (N, 1, 4)
    b = boxes_b[None, :, :]  # (1, M, 4)
    zero = xp.zeros((), dtype=boxes_a.dtype, device=device(boxes_a))
    w = xp.maximum(xp.minimum(a[..., 2], b[..., 2]) - xp.maximum(a[..., 0], b[..., 0]), zero)
    h = xp.maximum(xp.minimum(a[..., 3], b[..., 3]) - xp.maximum(a[..., 1], b[..., 1]), zero)
    inter = w * h  # (N, M)
    area_a = (boxes_a[:, 2] - boxes_a[:, 0]) * (boxes_a[:, 3] - boxes_a[:, 1])
    area_b = (boxes_b[:, 2] - boxes_b[:, 0]) * (boxes_b[:, 3] - boxes_b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter  # (N, M)
    safe = xp.where(union > 0, union, xp.ones_like(union))
    return xp.where(union > 0, inter / safe, xp.zeros_like(union))


def nms(boxes, scores, iou_threshold: float):
    """Greedy non-maximum suppression; returns the kept indices (int64), highest score first.

    boxes: (K, 4); scores: (K,); a box is dropped when its IoU with an already kept,
    higher-scoring box is greater than ``iou_threshold`` (in [0, 1]). Equal scores keep
    their input order.
    """
    xp = namespace(boxes, scores, names=("boxes", "scores"))
    _check_boxes(xp, "boxes", boxes)
    if scores.ndim != 1 or scores.shape[0] != boxes.shape[0]:
        raise ValueError(
            f"scores has shape {tuple(scores.shape)}; expected ({boxes.shape[0]},), one per box"
        )
    if isinstance(iou_threshold, bool) or not isinstance(iou_threshold, (int, float)):
        raise TypeError(f"iou_threshold={iou_threshold!r} must be a number in [0, 1]")
    if not 0 <= iou_threshold <= 1:
        raise ValueError(f"iou_threshold={iou_threshold!r} must be in [0, 1]")
    for name, v in (("boxes", boxes), ("scores", scores)):
        if not bool(xp.all(xp.isfinite(v))):
            raise ValueError(f"{name} holds NaN or infinite values; expected finite numbers")
    order = xp.argsort(scores, descending=True, stable=True)  # (K,)
    overlaps = iou(boxes, boxes)  # (K, K)
    alive = xp.ones((boxes.shape[0],), dtype=xp.bool, device=device(boxes))
    keep = []
    for idx in order:
        i = int(idx)
        if not bool(alive[i]):
            continue
        keep.append(i)
        alive = alive & ~(overlaps[i] > iou_threshold)
    return xp.asarray(keep, dtype=xp.int64, device=device(boxes))
