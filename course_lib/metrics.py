"""Classification and segmentation metrics, on numpy arrays or torch tensors.

Segmentation scores follow section 5 of Long, Shelhamer and Darrell (2015), "Fully
convolutional networks for semantic segmentation". With n_ij the number of pixels of
true class i predicted as class j and t_i = sum_j n_ij the pixels of class i:

- pixel accuracy            sum_i n_ii / sum_i t_i
- mean accuracy             (1 / n_cl) sum_i n_ii / t_i
- mean IU                   (1 / n_cl) sum_i n_ii / (t_i + sum_j n_ji - n_ii)
- frequency-weighted IU     (sum_k t_k)^-1 sum_i t_i n_ii / (t_i + sum_j n_ji - n_ii)

A class whose denominator is zero (absent from the truth for the accuracy, from both
truth and prediction for the IU) is left out of the mean rather than counted as 0 or 1.
"""

from __future__ import annotations

import numpy as np
import torch

ArrayLike = np.ndarray | torch.Tensor


def _labels(pred: ArrayLike, target: ArrayLike, name: str = "pred") -> tuple:
    """Both as int64 torch tensors on pred's device; scores (N, C, ...) become argmax labels."""
    p = pred if isinstance(pred, torch.Tensor) else torch.as_tensor(np.asarray(pred))
    t = target if isinstance(target, torch.Tensor) else torch.as_tensor(np.asarray(target))
    t = t.to(p.device)
    given = tuple(p.shape)
    if p.ndim == t.ndim + 1 and p.is_floating_point():  # scores, class axis 1: (N, C, ...)
        p = p.argmax(1)
    if p.shape != t.shape:
        raise ValueError(
            f"{name} has shape {given} ({p.dtype}) but target has shape {tuple(t.shape)}; "
            "expected equal shapes (integer labels) or floating scores with an extra class "
            "axis 1"
        )
    if p.is_floating_point() or t.is_floating_point():
        raise TypeError(f"{name} and target must hold integer class labels (or pred scores)")
    return p.long(), t.long()


def confusion_matrix(
    pred: ArrayLike, target: ArrayLike, num_classes: int, *, ignore_index: int | None = None
) -> ArrayLike:
    """Counts (num_classes, num_classes): row = true class, column = predicted class.

    ``pred`` holds labels of ``target``'s shape, or scores with an extra class axis 1.
    Entries whose target equals ``ignore_index`` are skipped; other labels outside
    [0, num_classes) raise. Returns a numpy array for numpy input, else a tensor.
    """
    if (
        not isinstance(num_classes, int | np.integer)
        or isinstance(num_classes, bool)
        or num_classes <= 0
    ):
        raise ValueError(f"num_classes={num_classes!r} must be a positive int")
    num_classes = int(num_classes)
    numpy_in = not isinstance(pred, torch.Tensor)
    p, t = _labels(pred, target)
    p, t = p.flatten(), t.flatten()
    if ignore_index is not None:
        keep = t != ignore_index
        p, t = p[keep], t[keep]
    for name, v in (("pred", p), ("target", t)):
        if v.numel() and (int(v.min()) < 0 or int(v.max()) >= num_classes):
            raise ValueError(
                f"{name} holds labels in [{int(v.min())}, {int(v.max())}], outside "
                f"[0, {num_classes}) (num_classes={num_classes}, ignore_index={ignore_index})"
            )
    counts = torch.bincount(t * num_classes + p, minlength=num_classes * num_classes)
    cm = counts.reshape(num_classes, num_classes)  # (truth, prediction)
    return cm.cpu().numpy() if numpy_in else cm


def scores_from_confusion(confusion: ArrayLike) -> dict[str, float]:
    """The four FCN scores from a confusion matrix (rows truth, columns prediction)."""
    n = np.asarray(
        confusion.cpu() if isinstance(confusion, torch.Tensor) else confusion, dtype=np.float64
    )
    if n.ndim != 2 or n.shape[0] != n.shape[1]:
        raise ValueError(f"confusion has shape {n.shape}; expected a square matrix")
    if not np.all(np.isfinite(n)) or np.any(n < 0) or np.any(n != np.round(n)):
        bad = n[~np.isfinite(n) | (n < 0) | (n != np.round(n))][0]
        raise ValueError(
            f"confusion holds {float(bad)!r}; expected counts (non-negative whole numbers), "
            "e.g. from confusion_matrix"
        )
    diag = np.diag(n)
    t = n.sum(1)  # pixels per true class
    union = t + n.sum(0) - diag
    present = t > 0
    seen = union > 0
    total = t.sum()
    if total == 0:
        raise ValueError("confusion matrix is empty: no pixels to score")
    iou = np.divide(diag, union, out=np.zeros_like(diag), where=seen)
    return {
        "pixel_accuracy": float(diag.sum() / total),
        "mean_accuracy": float(np.mean(diag[present] / t[present])),
        "mean_iou": float(np.mean(iou[seen])),
        "fw_iou": float((t[seen] * iou[seen]).sum() / total),
    }


def segmentation_scores(
    pred: ArrayLike, target: ArrayLike, num_classes: int, *, ignore_index: int | None = None
) -> dict[str, float]:
    """``pixel_accuracy``, ``mean_accuracy``, ``mean_iou``, ``fw_iou`` (FCN paper, section 5).

    pred: labels (N, H, W) or scores (N, C, H, W); target: (N, H, W).
    """
    cm = confusion_matrix(pred, target, num_classes, ignore_index=ignore_index)
    return scores_from_confusion(cm)


def accuracy(pred: ArrayLike, target: ArrayLike, *, ignore_index: int | None = None) -> float:
    """Fraction of correct labels; ``pred`` as labels or as scores with class axis 1."""
    p, t = _labels(pred, target)
    if ignore_index is not None:
        keep = t != ignore_index
        p, t = p[keep], t[keep]
    if t.numel() == 0:
        raise ValueError("no targets to score (empty, or all equal to ignore_index)")
    return float((p == t).double().mean())


def top_k_accuracy(scores: ArrayLike, target: ArrayLike, k: int = 5) -> float:
    """Fraction of examples whose true class is among the ``k`` highest scores.

    scores: (N, C); target: (N,). Ties at the k-th score are broken by torch.topk.
    """
    s = scores if isinstance(scores, torch.Tensor) else torch.as_tensor(np.asarray(scores))
    t = target if isinstance(target, torch.Tensor) else torch.as_tensor(np.asarray(target))
    if s.ndim != 2 or t.shape != s.shape[:1]:
        raise ValueError(
            f"scores {tuple(s.shape)} and target {tuple(t.shape)}: expected (N, C) and (N,)"
        )
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise TypeError(f"target has dtype {t.dtype}; expected integer class labels")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= s.shape[1]:
        raise ValueError(f"k={k!r} must be an int in [1, {s.shape[1]}] (the number of classes)")
    k = int(k)
    top = s.topk(k, dim=1).indices  # (N, k)
    return float((top == t.to(s.device).long()[:, None]).any(1).double().mean())
