"""Box overlap and non-maximum suppression (lesson 14, the R-CNN pipeline).

Boxes are rows ``(x1, y1, x2, y2)`` with ``x1 <= x2`` and ``y1 <= y2`` (corners, in
pixels), floating or integer, finite. numpy arrays and torch tensors both work; results
keep the kind and device.

* IoU, intersection over union: ``area(A & B) / area(A | B)``, 1 for identical boxes,
  0 for disjoint ones.
* NMS, greedy: take the highest-scoring box, drop every remaining box that overlaps it
  with IoU above the threshold, repeat. R-CNN runs it per class on ~2000 scored
  proposals (Girshick et al., 2014).
"""

from __future__ import annotations

import numpy as np
import torch
from array_api_compat import array_namespace, device, is_torch_array

from course_lib.validate import check_array, check_probability

__all__ = ["box_area", "iou", "nms"]


def _namespace(**arrays):
    """The shared array namespace of numpy arrays or torch tensors (not a mix, one device)."""
    kinds = {}
    for name, a in arrays.items():
        check_array(name, a)
        kinds[name] = "torch tensor" if is_torch_array(a) else "numpy array"
    if len(set(kinds.values())) > 1:
        described = ", ".join(f"{n} is a {k}" for n, k in kinds.items())
        raise TypeError(
            f"mixed numpy and torch arguments ({described}); convert them to one kind, "
            "e.g. torch.from_numpy(a) or t.cpu().numpy()"
        )
    devices = {str(device(a)) for a in arrays.values()}
    if len(devices) > 1:
        raise ValueError(
            f"arguments live on different devices ({', '.join(sorted(devices))}); "
            "move them to one device with .to(device)"
        )
    return array_namespace(*arrays.values())


def _host(a) -> np.ndarray:
    """A numpy copy (or view) of ``a`` on the CPU."""
    return a.detach().cpu().numpy() if is_torch_array(a) else np.asarray(a)


def _check_boxes(xp, name: str, boxes) -> None:
    """The one check of a box array: shape (K, 4), real dtype, finite, corners in order."""
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(
            f"{name} has shape {tuple(boxes.shape)}; expected (K, 4), rows (x1, y1, x2, y2)"
        )
    if not xp.isdtype(boxes.dtype, ("real floating", "integral")):
        raise TypeError(
            f"{name} has dtype {boxes.dtype}; expected floating or integer corner coordinates"
        )
    if xp.isdtype(boxes.dtype, "real floating"):
        finite = _host(xp.all(xp.isfinite(boxes), axis=1))  # (K,)
        if not finite.all():
            i = int(np.flatnonzero(~finite)[0])
            raise ValueError(
                f"{name}[{i}] = {boxes[i].tolist()} holds NaN or infinite values; expected "
                "finite corners (x1, y1, x2, y2)"
            )
    bad = _host((boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1]))  # (K,)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name}[{i}] = {boxes[i].tolist()} has x2 < x1 or y2 < y1; expected "
            "corners (x1, y1, x2, y2) with x1 <= x2 and y1 <= y2"
        )


def _as_float(xp, boxes):
    """Floating boxes as they are; integer boxes as float64 (float32 on Apple MPS)."""
    if xp.isdtype(boxes.dtype, "real floating"):
        return boxes
    mps = is_torch_array(boxes) and boxes.device.type == "mps"
    return xp.astype(boxes, xp.float32 if mps else xp.float64)


def box_area(boxes):
    """Areas (K,) of boxes (K, 4); integer boxes give int64 areas (no overflow of small ints)."""
    xp = _namespace(boxes=boxes)
    _check_boxes(xp, "boxes", boxes)
    if xp.isdtype(boxes.dtype, "integral"):
        boxes = xp.astype(boxes, xp.int64)
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def _iou(xp, boxes_a, boxes_b):
    """IoU of checked boxes (N, 4) and (M, 4), floating."""
    a = _as_float(xp, boxes_a)[:, None, :]  # (N, 1, 4)
    b = _as_float(xp, boxes_b)[None, :, :]  # (1, M, 4)
    zero = xp.zeros((), dtype=a.dtype, device=device(a))
    w = xp.maximum(xp.minimum(a[..., 2], b[..., 2]) - xp.maximum(a[..., 0], b[..., 0]), zero)
    h = xp.maximum(xp.minimum(a[..., 3], b[..., 3]) - xp.maximum(a[..., 1], b[..., 1]), zero)
    inter = w * h  # (N, M)
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])  # (N, 1)
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # (1, M)
    union = area_a + area_b - inter  # (N, M)
    safe = xp.where(union > 0, union, xp.ones_like(union))
    return xp.where(union > 0, inter / safe, xp.zeros_like(union))


def iou(boxes_a, boxes_b):
    """Pairwise intersection over union: (N, 4) and (M, 4) -> (N, M).

    Integer boxes give float64 IoUs. Two boxes that both have zero area and do not
    overlap have IoU 0 (not 0/0). NaN or infinite corners raise ``ValueError``.
    """
    xp = _namespace(boxes_a=boxes_a, boxes_b=boxes_b)
    _check_boxes(xp, "boxes_a", boxes_a)
    _check_boxes(xp, "boxes_b", boxes_b)
    return _iou(xp, boxes_a, boxes_b)


def nms(boxes, scores, iou_threshold: float):
    """Greedy non-maximum suppression; returns the kept indices (int64), highest score first.

    boxes: (K, 4); scores: (K,); a box is dropped when its IoU with an already kept,
    higher-scoring box is greater than ``iou_threshold`` (in [0, 1]). Equal scores keep
    their input order. The (K, K) IoU matrix is computed once where the boxes live; the
    greedy pass then runs over one CPU copy of it, with no per-box device round trip.
    """
    xp = _namespace(boxes=boxes, scores=scores)
    _check_boxes(xp, "boxes", boxes)
    if scores.ndim != 1 or scores.shape[0] != boxes.shape[0]:
        raise ValueError(
            f"scores has shape {tuple(scores.shape)} but boxes has shape "
            f"{tuple(boxes.shape)}; expected scores of shape ({boxes.shape[0]},), one per box"
        )
    if not xp.isdtype(scores.dtype, ("real floating", "integral")):
        raise TypeError(f"scores has dtype {scores.dtype}; expected real numbers")
    iou_threshold = check_probability("iou_threshold", iou_threshold)
    s = _host(scores).astype(np.float64)  # (K,)
    if not np.all(np.isfinite(s)):
        raise ValueError("scores holds NaN or infinite values; expected finite numbers")
    order = np.argsort(-s, kind="stable")  # (K,) highest first, ties in input order
    overlaps = _host(_iou(xp, boxes, boxes) > iou_threshold)[order][:, order]  # (K, K) sorted
    suppressed = np.zeros(len(order), dtype=bool)
    kept = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        kept.append(i)
        suppressed |= overlaps[i]
    keep = order[kept].astype(np.int64)
    if is_torch_array(boxes):
        return torch.as_tensor(keep, dtype=torch.int64, device=boxes.device)
    return keep
