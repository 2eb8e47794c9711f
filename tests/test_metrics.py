"""Metrics against independent computations (scikit-learn's confusion matrix)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, top_k_accuracy_score
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from course_lib.metrics import (
    accuracy,
    confusion_matrix,
    scores_from_confusion,
    segmentation_scores,
    top_k_accuracy,
)


def _fcn_scores_via_sklearn(pred, target, num_classes):
    """The FCN paper's formulas written out over sklearn's confusion matrix, class by class."""
    n = sk_confusion_matrix(target.ravel(), pred.ravel(), labels=list(range(num_classes)))
    accs, ious, fw = [], [], 0.0
    total = n.sum()
    for i in range(num_classes):
        t_i = n[i, :].sum()
        union = t_i + n[:, i].sum() - n[i, i]
        if t_i > 0:
            accs.append(n[i, i] / t_i)
        if union > 0:
            ious.append(n[i, i] / union)
            fw += t_i * n[i, i] / union
    return {
        "pixel_accuracy": np.trace(n) / total,
        "mean_accuracy": np.mean(accs),
        "mean_iou": np.mean(ious),
        "fw_iou": fw / total,
    }


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(2, 6))
def test_confusion_matrix_and_scores_agree_with_sklearn(seed, k):
    rng = np.random.default_rng(seed)
    target = rng.integers(0, k, (3, 7, 5))
    pred = np.where(rng.random(target.shape) < 0.6, target, rng.integers(0, k, target.shape))
    ours = confusion_matrix(pred, target, k)
    np.testing.assert_array_equal(
        ours, sk_confusion_matrix(target.ravel(), pred.ravel(), labels=list(range(k)))
    )
    scores = segmentation_scores(pred, target, k)
    ref = _fcn_scores_via_sklearn(pred, target, k)
    for key, value in ref.items():
        assert scores[key] == pytest.approx(value, rel=1e-12, abs=1e-12)


def test_torch_input_and_scores_with_class_axis():
    rng = np.random.default_rng(0)
    logits = torch.from_numpy(rng.normal(size=(2, 4, 6, 6)))
    target = torch.from_numpy(rng.integers(0, 4, (2, 6, 6)))
    cm = confusion_matrix(logits, target, 4)
    assert isinstance(cm, torch.Tensor)
    ref = sk_confusion_matrix(target.ravel(), logits.argmax(1).ravel(), labels=[0, 1, 2, 3])
    np.testing.assert_array_equal(cm.numpy(), ref)


def test_ignore_index_skips_pixels():
    target = np.array([[0, 1, 255], [2, 255, 1]])
    pred = np.array([[0, 2, 1], [2, 0, 1]])
    cm = confusion_matrix(pred, target, 3, ignore_index=255)
    keep = target != 255
    np.testing.assert_array_equal(
        cm, sk_confusion_matrix(target[keep], pred[keep], labels=[0, 1, 2])
    )
    assert accuracy(pred, target, ignore_index=255) == pytest.approx(3 / 4)


def test_absent_classes_are_left_out_of_the_means():
    # class 2 never occurs in truth or prediction: it must not count as IU 0 (or 1)
    target = np.array([0, 0, 1, 1])
    pred = np.array([0, 1, 1, 1])
    s = segmentation_scores(pred, target, 3)
    assert s["mean_iou"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert s["mean_accuracy"] == pytest.approx((1 / 2 + 1) / 2)
    # class 2 predicted but absent from truth: IU 0 counts, accuracy is left out
    s2 = segmentation_scores(np.array([0, 2, 1, 1]), target, 3)
    assert s2["mean_iou"] == pytest.approx((1 / 2 + 1 + 0) / 3)
    assert s2["mean_accuracy"] == pytest.approx((1 / 2 + 1) / 2)


def test_perfect_prediction_scores_one():
    target = np.random.default_rng(1).integers(0, 5, (4, 8, 8))
    assert all(v == pytest.approx(1.0) for v in segmentation_scores(target, target, 5).values())


def test_accuracy_and_top_k_against_sklearn():
    rng = np.random.default_rng(2)
    scores = rng.normal(size=(50, 6))
    target = rng.integers(0, 6, 50)
    assert accuracy(scores, target) == pytest.approx(accuracy_score(target, scores.argmax(1)))
    for k in (1, 2, 3):
        ref = top_k_accuracy_score(target, scores, k=k, labels=list(range(6)))
        assert top_k_accuracy(
            torch.from_numpy(scores), torch.from_numpy(target), k
        ) == pytest.approx(ref)


@pytest.mark.parametrize(
    ("call", "exc", "pattern"),
    [
        (lambda: confusion_matrix(np.array([0]), np.array([0]), 0), ValueError, "num_classes=0"),
        (lambda: confusion_matrix(np.array([0, 3]), np.array([0, 1]), 3), ValueError,
         r"pred holds labels in \[0, 3\], outside \[0, 3\)"),
        (lambda: confusion_matrix(np.zeros((2, 3), int), np.zeros(3, int), 2), ValueError,
         r"shape \(2, 3\).*shape \(3,\)"),
        (lambda: accuracy(np.array([0.5]), np.array([0])), TypeError, "integer class labels"),
        (lambda: top_k_accuracy(np.zeros((2, 3)), np.zeros(2, int), k=4), ValueError, "k=4"),
        (lambda: scores_from_confusion(np.zeros((2, 3))), ValueError, "square"),
        # integer pred with an extra axis is not scores: argmax of it used to give 0.25
        (lambda: accuracy(np.array([[0], [1], [2], [2]]), np.array([0, 1, 1, 2])), ValueError,
         r"pred has shape \(4, 1\) \(torch.int64\) but target has shape \(4,\)"),
        (lambda: scores_from_confusion(np.array([[3, -1], [0, 2]])), ValueError,
         "confusion holds -1.0; expected counts"),
        (lambda: scores_from_confusion(np.array([[3, 0.5], [0, 2]])), ValueError,
         "confusion holds 0.5"),
        (lambda: top_k_accuracy(np.zeros((2, 3)), np.array([0.0, 1.7])), TypeError,
         "target has dtype torch.float64; expected integer class labels"),
    ],
)  # fmt: skip
def test_bad_arguments(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


def test_numpy_integers_are_accepted_as_num_classes_and_k():
    scores = np.array([[0.1, 0.9, 0.0], [0.8, 0.1, 0.1]])
    target = np.array([1, 2])
    cm = confusion_matrix(scores, target, np.int64(3))
    assert cm.shape == (3, 3) and int(cm.sum()) == 2
    assert top_k_accuracy(scores, target, np.int64(1)) == pytest.approx(0.5)
