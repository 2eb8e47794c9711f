"""Box overlap and non-maximum suppression (lesson 14, the R-CNN pipeline).

Boxes are rows ``(x1, y1, x2, y2)`` with ``x1 <= x2`` and ``y1 <= y2`` (corners, in
pixels), floating or integer, finite. numpy arrays and torch tensors both work; results
keep the kind and device.

* IoU, intersection over union: ``area(A & B) / area(A | B)``, 1 for identical boxes,
  0 for disjoint ones.
* NMS, greedy: take the highest-scoring box, drop every remaining box that overlaps it
  with IoU above the threshold, repeat. R-CNN runs it per class on ~2000 scored
  proposals (Girshick et al., 2014).
* The rest of the R-CNN pipeline (lesson 14): class-agnostic region proposals
  (:func:`sliding_window_proposals`, a window grid standing in for selective search),
  crops warped to a fixed size (:func:`warp_crops`), and the evaluation: matching
  detections to objects (:func:`match_detections`, PASCAL VOC's rule),
  :func:`precision_recall`, :func:`average_precision` (VOC's all-point interpolated AP)
  and :func:`mean_average_precision` over classes and images.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from array_api_compat import array_namespace, device, is_torch_array

from course_lib.device import resolve_device
from course_lib.validate import check_array, check_int, check_probability

__all__ = [
    "DetectionAP",
    "average_precision",
    "box_area",
    "iou",
    "match_detections",
    "mean_average_precision",
    "nms",
    "precision_recall",
    "sliding_window_proposals",
    "warp_crops",
]


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


# --------------------------------------------------------------------------- the R-CNN pipeline


def sliding_window_proposals(
    height: int,
    width: int,
    sizes: Sequence[int] = (12, 16, 20),
    stride: int = 2,
    *,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Square windows of every side in ``sizes`` at every ``stride``-th position: (K, 4).

    The simplest class-agnostic region-proposal generator: it knows nothing about the
    image, only its ``height`` x ``width``. Rows are ``(x1, y1, x2, y2)`` in float32 on
    ``device``, side by side (smallest side first), row-major within a side. R-CNN used
    selective search instead (about 2,000 proposals that follow image edges); a window
    grid plays the same part on small scenes.
    """
    height = check_int("height", height, minimum=1)
    width = check_int("width", width, minimum=1)
    stride = check_int("stride", stride, minimum=1)
    if isinstance(sizes, str) or not isinstance(sizes, Sequence) or len(sizes) == 0:
        raise TypeError(f"sizes={sizes!r} must be a non-empty list of window sides (ints)")
    what = f"a window side in [1, min(height, width) = {min(height, width)}]"
    sides = [check_int("sizes", s, minimum=1, maximum=min(height, width), what=what) for s in sizes]
    device = resolve_device(device)
    rows = []
    for side in sides:
        ys = torch.arange(0, height - side + 1, stride, dtype=torch.float32)  # (ny,) tops
        xs = torch.arange(0, width - side + 1, stride, dtype=torch.float32)  # (nx,) lefts
        y1, x1 = torch.meshgrid(ys, xs, indexing="ij")  # (ny, nx) each
        x1, y1 = x1.reshape(-1), y1.reshape(-1)  # (ny * nx,)
        rows.append(torch.stack([x1, y1, x1 + side, y1 + side], dim=1))  # (ny * nx, 4)
    return torch.cat(rows).to(device)


def warp_crops(image: torch.Tensor, boxes: torch.Tensor, size: int = 16) -> torch.Tensor:
    """Cut every box out of ``image`` and warp it to ``size`` x ``size``: (K, C, size, size).

    image: (C, H, W) floating tensor; boxes: (K, 4) ``(x1, y1, x2, y2)`` in pixels (a
    box may stick out of the image: outside counts as 0). R-CNN's "warp": whatever the
    box's shape, its pixels are stretched to the network's fixed input by bilinear
    sampling, so a tall box and a wide one both come out square. The crops stay on the
    image's device.
    """
    if not isinstance(image, torch.Tensor) or not isinstance(boxes, torch.Tensor):
        bad = "image" if not isinstance(image, torch.Tensor) else "boxes"
        value = image if bad == "image" else boxes
        raise TypeError(f"{bad} must be a torch tensor, not {type(value).__name__}")
    check_array("image", image, ndim=3, layout="(C, H, W): one image", floating=True)
    xp = _namespace(image=image, boxes=boxes)
    _check_boxes(xp, "boxes", boxes)
    size = check_int("size", size, minimum=1, maximum=1024)
    if image.numel() == 0:
        raise ValueError(f"image has shape {tuple(image.shape)}, which is empty; expected pixels")
    c, h, w = image.shape
    if boxes.shape[0] == 0:
        return image.new_zeros(0, c, size, size)
    b = boxes.to(image.dtype)
    # corners to grid_sample's [-1, 1] coordinates (align_corners=False: pixel edges)
    scale = torch.stack([b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], dim=1) / torch.tensor(
        [w, h], dtype=image.dtype, device=image.device)  # (K, 2) box size / image size
    centre = (b[:, 0:2] + b[:, 2:4]) / torch.tensor(
        [w, h], dtype=image.dtype, device=image.device) - 1.0  # (K, 2) in [-1, 1]
    theta = torch.zeros(len(b), 2, 3, dtype=image.dtype, device=image.device)  # (K, 2, 3)
    theta[:, 0, 0], theta[:, 1, 1] = scale[:, 0], scale[:, 1]
    theta[:, :, 2] = centre
    grid = F.affine_grid(theta, [len(b), c, size, size], align_corners=False)  # (K, s, s, 2)
    source = image.unsqueeze(0).expand(len(b), c, h, w)  # (K, C, H, W), no copy
    return F.grid_sample(source, grid, mode="bilinear", padding_mode="zeros",
                         align_corners=False)  # (K, C, size, size)


def _as_host_1d(
    name: str, x, *, like: tuple[str, int] | None = None, floating: bool = True
) -> np.ndarray:
    """A 1-D numpy copy of ``x`` (numpy or torch), float64 or bool, checked; ``like`` is
    (the name of, the length of) the argument it must match one for one."""
    check_array(name, x, ndim=1, layout="a 1-D array, one value per detection")
    host = _host(x)
    if like is not None and len(host) != like[1]:
        raise ValueError(
            f"{name} has {len(host)} entries but {like[0]} has {like[1]}; expected one each"
        )
    if floating:
        if host.dtype.kind not in "iuf":
            raise TypeError(f"{name} has dtype {x.dtype}; expected real numbers")
        host = host.astype(np.float64)
        if not np.all(np.isfinite(host)):
            raise ValueError(f"{name} holds NaN or infinite values; expected finite numbers")
    elif host.dtype.kind != "b":
        raise TypeError(f"{name} has dtype {x.dtype}; expected bool (True for a true positive)")
    return host


def match_detections(boxes, scores, true_boxes, iou_threshold: float = 0.5) -> np.ndarray:
    """Which detections of one image and one class are true positives: bool (K,).

    boxes (K, 4) with scores (K,): the detections; true_boxes (G, 4): the objects. In
    order of decreasing score, each detection takes the object it overlaps most; it is
    a true positive if that IoU is at least ``iou_threshold`` and no higher-scoring
    detection took the object already (PASCAL VOC's rule: a second detection of the same
    object is a false positive). The flags come back in the input order.
    """
    xp = _namespace(boxes=boxes, true_boxes=true_boxes)
    _check_boxes(xp, "boxes", boxes)
    _check_boxes(xp, "true_boxes", true_boxes)
    s = _as_host_1d("scores", scores, like=("boxes", boxes.shape[0]))
    iou_threshold = check_probability("iou_threshold", iou_threshold)
    flags = np.zeros(len(s), dtype=bool)
    if len(s) == 0 or true_boxes.shape[0] == 0:
        return flags
    overlaps = _host(_iou(xp, boxes, true_boxes)).astype(np.float64)  # (K, G)
    taken = np.zeros(overlaps.shape[1], dtype=bool)
    for i in np.argsort(-s, kind="stable"):
        j = int(np.argmax(overlaps[i]))
        if overlaps[i, j] >= iou_threshold and not taken[j]:
            flags[i], taken[j] = True, True
    return flags


def precision_recall(scores, is_true_positive, n_true: int) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall after each detection, highest score first: two (K,) arrays.

    After the k best detections, precision = TP_k / k and recall = TP_k / ``n_true``
    (the number of objects, found or not). Equal scores keep their input order.
    """
    s = _as_host_1d("scores", scores)
    tp = _as_host_1d("is_true_positive", is_true_positive, like=("scores", len(s)),
                     floating=False)
    n_true = check_int("n_true", n_true, minimum=1, what="a positive int (the number of objects)")
    if tp.sum() > n_true:
        raise ValueError(
            f"is_true_positive has {int(tp.sum())} true positives but n_true={n_true}: "
            "each object can be found at most once"
        )
    order = np.argsort(-s, kind="stable")
    hits = np.cumsum(tp[order])  # (K,) true positives among the k best
    ranks = np.arange(1, len(s) + 1)
    return hits / ranks, hits / n_true


def average_precision(precision, recall) -> float:
    """Area under the interpolated precision-recall curve (PASCAL VOC 2010 on), in [0, 1].

    precision, recall: (K,) after each detection (:func:`precision_recall`), recall not
    decreasing. The interpolated precision at recall r is the best precision at any
    recall >= r (the curve's upper envelope, which removes its zig-zags); AP sums it over
    the recall steps: ``sum_k (r_k - r_{k-1}) * max_{j >= k} p_j`` with r_0 = 0. (VOC
    2007 averaged the envelope at 11 recalls 0, 0.1, ..., 1 instead; COCO at 101.)
    """
    p = _as_host_1d("precision", precision)
    r = _as_host_1d("recall", recall, like=("precision", len(p)))
    if np.any((p < 0) | (p > 1)) or np.any((r < 0) | (r > 1)):
        raise ValueError("precision and recall must lie in [0, 1]")
    if np.any(np.diff(r) < 0):
        raise ValueError("recall must not decrease: give the values in order of decreasing score")
    if len(p) == 0:
        return 0.0
    envelope = np.maximum.accumulate(p[::-1])[::-1]  # (K,) best precision at recall >= r_k
    steps = np.diff(np.concatenate([[0.0], r]))  # (K,) r_k - r_{k-1}
    return float(np.sum(steps * envelope))


@dataclass(frozen=True)
class DetectionAP:
    """Average precision per class and their mean (mAP) over a set of images.

    ``per_class[c]`` is class c's AP (NaN for a class with no object, left out of the
    mean); ``curves[c]`` its (precision, recall) arrays; ``n_true[c]`` its objects.
    """

    mean_ap: float
    per_class: tuple[float, ...]
    curves: tuple[tuple[np.ndarray, np.ndarray], ...]
    n_true: tuple[int, ...]
    iou_threshold: float


def _per_image(name: str, value, n: int | None) -> list:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be a list with one array per image, not {type(value).__name__}")
    if n is not None and len(value) != n:
        raise ValueError(
            f"{name} has {len(value)} entries but pred_boxes has {n}; expected one per image"
        )
    return list(value)


def mean_average_precision(
    pred_boxes: Sequence,
    pred_scores: Sequence,
    pred_labels: Sequence,
    true_boxes: Sequence,
    true_labels: Sequence,
    *,
    num_classes: int,
    iou_threshold: float = 0.5,
) -> DetectionAP:
    """mAP of detections over images: AP per class (:func:`average_precision`), averaged.

    Each argument is a list with one entry per image: detections ``pred_boxes[i]``
    (K_i, 4), ``pred_scores[i]`` (K_i,), ``pred_labels[i]`` (K_i,) ints; objects
    ``true_boxes[i]`` (G_i, 4) with ``true_labels[i]`` (G_i,). For each class, the
    detections of all images are ranked together by score and matched image by image
    (:func:`match_detections` at ``iou_threshold``; 0.5 is PASCAL VOC's).
    """
    pred_boxes = _per_image("pred_boxes", pred_boxes, None)
    n = len(pred_boxes)
    if n == 0:
        raise ValueError("pred_boxes is empty; expected one entry per image")
    pred_scores = _per_image("pred_scores", pred_scores, n)
    pred_labels = _per_image("pred_labels", pred_labels, n)
    true_boxes = _per_image("true_boxes", true_boxes, n)
    true_labels = _per_image("true_labels", true_labels, n)
    num_classes = check_int("num_classes", num_classes, minimum=1)
    iou_threshold = check_probability("iou_threshold", iou_threshold)
    images = []
    for i in range(n):
        for name, value in (("pred_boxes", pred_boxes[i]), ("true_boxes", true_boxes[i])):
            check_array(f"{name}[{i}]", value)
            _check_boxes(_namespace(**{f"{name}[{i}]": value}), f"{name}[{i}]", value)
        k, g = pred_boxes[i].shape[0], true_boxes[i].shape[0]
        scores = _as_host_1d(f"pred_scores[{i}]", pred_scores[i], like=(f"pred_boxes[{i}]", k))
        labels = _as_host_1d(f"pred_labels[{i}]", pred_labels[i], like=(f"pred_boxes[{i}]", k))
        truth = _as_host_1d(f"true_labels[{i}]", true_labels[i], like=(f"true_boxes[{i}]", g))
        for name, lab in ((f"pred_labels[{i}]", labels), (f"true_labels[{i}]", truth)):
            if np.any((lab != np.round(lab)) | (lab < 0) | (lab >= num_classes)):
                raise ValueError(f"{name} holds values outside 0..{num_classes - 1} "
                                 f"(num_classes={num_classes}); expected class indices")
        images.append((_host(pred_boxes[i]).astype(np.float64), scores, labels,
                       _host(true_boxes[i]).astype(np.float64), truth))
    per_class, curves, counts = [], [], []
    for c in range(num_classes):
        scores, flags, n_true = [], [], 0
        for boxes, s, labels, gt, truth in images:
            mine, objects = labels == c, gt[truth == c]
            n_true += len(objects)
            scores.append(s[mine])
            flags.append(match_detections(boxes[mine], s[mine], objects, iou_threshold))
        counts.append(n_true)
        if n_true == 0:
            per_class.append(float("nan"))
            curves.append((np.zeros(0), np.zeros(0)))
            continue
        precision, recall = precision_recall(np.concatenate(scores), np.concatenate(flags), n_true)
        per_class.append(average_precision(precision, recall))
        curves.append((precision, recall))
    present = [ap for ap in per_class if not np.isnan(ap)]
    mean_ap = float(np.mean(present)) if present else float("nan")
    return DetectionAP(mean_ap, tuple(per_class), tuple(curves), tuple(counts), iou_threshold)
