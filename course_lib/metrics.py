"""Classification and segmentation metrics, on numpy arrays or torch tensors.

Every function takes scikit-learn's order, the truth first: ``(y_true, y_pred)`` (or
``(y_true, y_score)`` for :func:`top_k_accuracy`, like ``sklearn.metrics.top_k_accuracy_score``).
``y_pred`` holds integer labels of ``y_true``'s shape, or floating scores (logits,
probabilities) with an extra class axis 1, which are turned into labels by argmax.

Segmentation scores follow section 5 of Long, Shelhamer and Darrell (2015), "Fully
convolutional networks for semantic segmentation". With n_ij the number of pixels of
true class i predicted as class j and t_i = sum_j n_ij the pixels of class i:

- pixel accuracy            sum_i n_ii / sum_i t_i
- mean accuracy             (1 / n_cl) sum_i n_ii / t_i
- mean IU                   (1 / n_cl) sum_i n_ii / (t_i + sum_j n_ji - n_ii)
- frequency-weighted IU     (sum_k t_k)^-1 sum_i t_i n_ii / (t_i + sum_j n_ji - n_ii)

A class whose denominator is zero (absent from the truth for the accuracy, from both
truth and prediction for the IU) is left out of the mean rather than counted as 0 or 1;
the per-class scores (:func:`per_class_accuracy`, :func:`per_class_iou`) are NaN there.
"""

from __future__ import annotations

import numpy as np
import torch

from course_lib.validate import as_float_array, check_int

__all__ = [
    "accuracy",
    "confusion_matrix",
    "per_class_accuracy",
    "per_class_iou",
    "scores_from_confusion",
    "segmentation_scores",
    "top_k_accuracy",
]

ArrayLike = np.ndarray | torch.Tensor


def _tensor(name: str, a) -> torch.Tensor:
    """``a`` (a tensor, numpy array or list) as a real-valued torch tensor."""
    if isinstance(a, torch.Tensor):
        t = a.detach()
    else:
        arr = np.asarray(a)
        if arr.dtype.kind not in "biuf":
            raise TypeError(
                f"{name} has dtype {arr.dtype}; expected integer class labels or floating scores"
            )
        # torch takes neither negative strides nor a non-native byte order: copy those
        t = torch.as_tensor(np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("=")))
    if t.is_complex():
        raise TypeError(f"{name} has dtype {t.dtype}; expected integer class labels")
    return t


def _check_range(name: str, v: torch.Tensor, num_classes: int | None) -> None:
    """Refuse labels below 0 (or >= num_classes): name the argument and the first bad value."""
    if v.numel() == 0:
        return
    bad = (v < 0) if num_classes is None else (v < 0) | (v >= num_classes)
    if bool(bad.any()):
        first = int(v[bad][0])
        allowed = ">= 0" if num_classes is None else f"in [0, {num_classes})"
        where = "" if num_classes is None else f" (num_classes={num_classes})"
        raise ValueError(
            f"{name} holds the label {first}; expected class labels {allowed}{where}, or "
            "ignore_index for y_true entries to skip"
        )


def _labels(
    y_true, y_pred, num_classes: int | None = None, ignore_index: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Both flattened as int64 tensors on y_pred's device (y_true's if y_pred is not a tensor).

    Scores (N, C, ...) become argmax labels; entries whose y_true is ``ignore_index`` are
    dropped; the remaining labels are checked against [0, num_classes).
    """
    if ignore_index is not None:
        ignore_index = check_int("ignore_index", ignore_index)
    t = _tensor("y_true", y_true)
    p = _tensor("y_pred", y_pred)
    where = p.device if isinstance(y_pred, torch.Tensor) else t.device
    t, p = t.to(where), p.to(where)
    given = tuple(p.shape)
    if p.ndim == t.ndim + 1 and p.is_floating_point():  # scores, class axis 1: (N, C, ...)
        if num_classes is not None and p.shape[1] != num_classes:
            raise ValueError(
                f"y_pred holds scores for {p.shape[1]} classes (shape {given}) but "
                f"num_classes={num_classes}"
            )
        p = p.argmax(1)
    if p.shape != t.shape:
        raise ValueError(
            f"y_true has shape {tuple(t.shape)} but y_pred has shape {given} ({p.dtype}); "
            "expected equal shapes (integer labels) or floating scores with an extra class "
            "axis 1"
        )
    for name, v in (("y_true", t), ("y_pred", p)):
        if v.is_floating_point():
            raise TypeError(
                f"{name} has dtype {v.dtype}; expected integer class labels (y_pred may also "
                "be floating scores with an extra class axis 1)"
            )
    t, p = t.long().flatten(), p.long().flatten()
    if ignore_index is not None:
        keep = t != ignore_index
        t, p = t[keep], p[keep]
    _check_range("y_true", t, num_classes)
    _check_range("y_pred", p, num_classes)
    return t, p


def confusion_matrix(
    y_true: ArrayLike, y_pred: ArrayLike, num_classes: int, *, ignore_index: int | None = None
) -> ArrayLike:
    """Counts (num_classes, num_classes): row = true class, column = predicted class.

    The layout of ``sklearn.metrics.confusion_matrix(y_true, y_pred)``. ``y_pred`` holds
    labels of ``y_true``'s shape, or scores with an extra class axis 1. Entries whose
    ``y_true`` equals ``ignore_index`` are skipped; other labels outside
    [0, num_classes) raise ``ValueError``. Returns a numpy array when neither input is a
    tensor, else a tensor on y_pred's device.
    """
    num_classes = check_int("num_classes", num_classes, minimum=1)
    t, p = _labels(y_true, y_pred, num_classes, ignore_index)
    counts = torch.bincount(t * num_classes + p, minlength=num_classes * num_classes)
    cm = counts.reshape(num_classes, num_classes)  # (truth, prediction)
    either_tensor = isinstance(y_true, torch.Tensor) or isinstance(y_pred, torch.Tensor)
    return cm if either_tensor else cm.cpu().numpy()


def _counts(confusion: ArrayLike) -> np.ndarray:
    """A confusion matrix as validated float64 numpy counts."""
    n = as_float_array("confusion", confusion)
    if n.ndim != 2 or n.shape[0] != n.shape[1]:
        raise ValueError(f"confusion has shape {n.shape}; expected a square matrix")
    if not np.all(np.isfinite(n)) or np.any(n < 0) or np.any(n != np.round(n)):
        bad = n[~np.isfinite(n) | (n < 0) | (n != np.round(n))][0]
        raise ValueError(
            f"confusion holds {float(bad)!r}; expected counts (non-negative whole numbers), "
            "e.g. from confusion_matrix"
        )
    return n


def _recall_and_iou(n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-class n_ii / t_i and n_ii / union, NaN where the denominator is zero."""
    diag = np.diag(n)
    t = n.sum(1)  # pixels per true class
    union = t + n.sum(0) - diag
    recall = np.divide(diag, t, out=np.full_like(diag, np.nan), where=t > 0)
    iou = np.divide(diag, union, out=np.full_like(diag, np.nan), where=union > 0)
    return recall, iou


def scores_from_confusion(confusion: ArrayLike) -> dict[str, float]:
    """The four FCN scores from a confusion matrix (rows truth, columns prediction)."""
    n = _counts(confusion)
    total = n.sum()
    if total == 0:
        raise ValueError("confusion matrix is empty: no pixels to score")
    recall, iou = _recall_and_iou(n)
    t = n.sum(1)
    seen = ~np.isnan(iou)
    return {
        "pixel_accuracy": float(np.trace(n) / total),
        "mean_accuracy": float(np.nanmean(recall)),
        "mean_iou": float(np.mean(iou[seen])),
        "fw_iou": float((t[seen] * iou[seen]).sum() / total),
    }


def segmentation_scores(
    y_true: ArrayLike, y_pred: ArrayLike, num_classes: int, *, ignore_index: int | None = None
) -> dict[str, float]:
    """``pixel_accuracy``, ``mean_accuracy``, ``mean_iou``, ``fw_iou`` (FCN paper, section 5).

    y_true: labels (N, H, W); y_pred: labels (N, H, W) or scores (N, C, H, W).
    """
    cm = confusion_matrix(y_true, y_pred, num_classes, ignore_index=ignore_index)
    return scores_from_confusion(cm)


def per_class_accuracy(
    y_true: ArrayLike, y_pred: ArrayLike, num_classes: int, *, ignore_index: int | None = None
) -> np.ndarray:
    """Per-class accuracy (recall) n_ii / t_i as float64 numpy (num_classes,).

    ``sklearn.metrics.recall_score(y_true, y_pred, average=None)``, except that a class
    absent from ``y_true`` is NaN (its accuracy is undefined), not 0.
    """
    cm = confusion_matrix(y_true, y_pred, num_classes, ignore_index=ignore_index)
    return _recall_and_iou(_counts(cm))[0]


def per_class_iou(
    y_true: ArrayLike, y_pred: ArrayLike, num_classes: int, *, ignore_index: int | None = None
) -> np.ndarray:
    """Per-class intersection over union n_ii / (t_i + sum_j n_ji - n_ii), float64 (num_classes,).

    ``sklearn.metrics.jaccard_score(y_true, y_pred, average=None)``, except that a class
    absent from both ``y_true`` and ``y_pred`` is NaN (0 / 0), not 0. A class predicted
    but never true scores 0.
    """
    cm = confusion_matrix(y_true, y_pred, num_classes, ignore_index=ignore_index)
    return _recall_and_iou(_counts(cm))[1]


def accuracy(y_true: ArrayLike, y_pred: ArrayLike, *, ignore_index: int | None = None) -> float:
    """Fraction of correct labels, ``sklearn.metrics.accuracy_score(y_true, y_pred)``.

    ``y_pred`` as labels or as scores with class axis 1; labels must be >= 0.
    """
    t, p = _labels(y_true, y_pred, ignore_index=ignore_index)
    if t.numel() == 0:
        raise ValueError("no labels to score (empty, or all equal to ignore_index)")
    return float((p == t).double().mean())


def top_k_accuracy(y_true: ArrayLike, y_score: ArrayLike, k: int = 5) -> float:
    """Fraction of examples whose true class is among the ``k`` highest scores.

    ``sklearn.metrics.top_k_accuracy_score(y_true, y_score, k=k)``. y_true: (N,) labels
    in [0, C); y_score: (N, C). Ties at the k-th score are broken by torch.topk.
    """
    t = _tensor("y_true", y_true)
    s = _tensor("y_score", y_score)
    s = s.to(s.device if isinstance(y_score, torch.Tensor) else t.device)
    if s.ndim != 2 or t.shape != s.shape[:1]:
        raise ValueError(
            f"y_true has shape {tuple(t.shape)} and y_score {tuple(s.shape)}; expected (N,) "
            "and (N, C)"
        )
    if t.is_floating_point() or t.dtype == torch.bool:
        raise TypeError(f"y_true has dtype {t.dtype}; expected integer class labels")
    if s.dtype == torch.bool:
        raise TypeError(f"y_score has dtype {s.dtype}; expected scores (numbers)")
    num_classes = s.shape[1]
    what = f"an int in [1, {num_classes}] (the number of classes)"
    k = check_int("k", k, minimum=1, maximum=num_classes, what=what)
    t = t.to(s.device).long()
    _check_range("y_true", t, num_classes)
    if t.numel() == 0:
        raise ValueError("no labels to score: y_true is empty")
    top = s.topk(k, dim=1).indices  # (N, k)
    return float((top == t[:, None]).any(1).double().mean())
