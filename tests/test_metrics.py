"""Metrics against scikit-learn, called in its (y_true, y_pred) order."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, jaccard_score, recall_score, top_k_accuracy_score
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from course_lib.metrics import (
    accuracy,
    confusion_matrix,
    per_class_accuracy,
    per_class_iou,
    scores_from_confusion,
    segmentation_scores,
    top_k_accuracy,
)


def _fcn_scores_via_sklearn(y_true, y_pred, num_classes):
    """The FCN paper's formulas written out over sklearn's confusion matrix, class by class."""
    n = sk_confusion_matrix(y_true.ravel(), y_pred.ravel(), labels=list(range(num_classes)))
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


def _noisy_labels(rng, k, shape, p_right=0.6):
    y_true = rng.integers(0, k, shape)
    y_pred = np.where(rng.random(shape) < p_right, y_true, rng.integers(0, k, shape))
    return y_true, y_pred


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(2, 6))
def test_confusion_matrix_and_scores_agree_with_sklearn(seed, k):
    rng = np.random.default_rng(seed)
    y_true, y_pred = _noisy_labels(rng, k, (3, 7, 5))
    ours = confusion_matrix(y_true, y_pred, k)
    np.testing.assert_array_equal(
        ours, sk_confusion_matrix(y_true.ravel(), y_pred.ravel(), labels=list(range(k)))
    )
    scores = segmentation_scores(y_true, y_pred, k)
    ref = _fcn_scores_via_sklearn(y_true, y_pred, k)
    for key, value in ref.items():
        assert scores[key] == pytest.approx(value, rel=1e-12, abs=1e-12)


def test_argument_order_is_sklearns_truth_first():
    """A case where swapping y_true and y_pred changes every asymmetric answer."""
    y_true = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    y_pred = np.array([0, 1, 1, 1, 1, 2, 0, 2, 2])
    ref = sk_confusion_matrix(y_true, y_pred, labels=[0, 1, 2])
    swapped = sk_confusion_matrix(y_pred, y_true, labels=[0, 1, 2])
    assert not np.array_equal(ref, swapped)  # the case can tell the orders apart
    np.testing.assert_array_equal(confusion_matrix(y_true, y_pred, 3), ref)
    by_name = confusion_matrix(y_true=y_true, y_pred=y_pred, num_classes=3)
    np.testing.assert_array_equal(by_name, ref)
    recall = recall_score(y_true, y_pred, average=None, labels=[0, 1, 2])
    assert not np.allclose(recall, recall_score(y_pred, y_true, average=None, labels=[0, 1, 2]))
    np.testing.assert_allclose(per_class_accuracy(y_true, y_pred, 3), recall, rtol=1e-12)
    # mean accuracy (mean recall) is asymmetric too
    s = segmentation_scores(y_true, y_pred, 3)
    assert s["mean_accuracy"] == pytest.approx(np.mean(recall), rel=1e-12)
    swapped_scores = segmentation_scores(y_pred, y_true, 3)
    assert s["mean_accuracy"] != pytest.approx(swapped_scores["mean_accuracy"])
    # scores in the second place are argmaxed; in the first they are refused
    scores = np.eye(3)[y_pred] + 0.1
    np.testing.assert_array_equal(confusion_matrix(y_true, scores, 3), ref)
    with pytest.raises(ValueError, match=r"y_true has shape \(9, 3\)"):
        confusion_matrix(scores, y_true, 3)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(2, 7))
def test_per_class_iou_and_accuracy_against_sklearn(seed, k):
    """Oracle: jaccard_score and recall_score with average=None; NaN where undefined."""
    rng = np.random.default_rng(seed)
    # draw from fewer classes than k so that some classes are absent from one or both
    present = rng.choice(k, size=rng.integers(1, k + 1), replace=False)
    y_true = rng.choice(present, 40)
    y_pred = np.where(rng.random(40) < 0.5, y_true, rng.choice(present, 40))
    labels = list(range(k))
    iou = per_class_iou(torch.from_numpy(y_true), torch.from_numpy(y_pred), k)
    acc = per_class_accuracy(y_true, y_pred, k)
    assert iou.shape == acc.shape == (k,) and iou.dtype == acc.dtype == np.float64
    # sklearn scores an undefined class 0 (zero_division=0); ours are NaN there
    ref_iou = jaccard_score(y_true, y_pred, average=None, labels=labels, zero_division=0)
    ref_acc = recall_score(y_true, y_pred, average=None, labels=labels, zero_division=0)
    in_truth = np.isin(labels, y_true)
    in_either = in_truth | np.isin(labels, y_pred)
    np.testing.assert_array_equal(np.isnan(acc), ~in_truth)
    np.testing.assert_array_equal(np.isnan(iou), ~in_either)
    np.testing.assert_allclose(iou[in_either], ref_iou[in_either], rtol=1e-12)
    np.testing.assert_allclose(acc[in_truth], ref_acc[in_truth], rtol=1e-12)
    s = segmentation_scores(y_true, y_pred, k)
    assert s["mean_iou"] == pytest.approx(np.nanmean(iou), rel=1e-12)
    assert s["mean_accuracy"] == pytest.approx(np.nanmean(acc), rel=1e-12)


def test_torch_input_and_scores_with_class_axis():
    rng = np.random.default_rng(0)
    logits = torch.from_numpy(rng.normal(size=(2, 4, 6, 6)))
    y_true = torch.from_numpy(rng.integers(0, 4, (2, 6, 6)))
    cm = confusion_matrix(y_true, logits, 4)
    assert isinstance(cm, torch.Tensor)
    ref = sk_confusion_matrix(y_true.ravel(), logits.argmax(1).ravel(), labels=[0, 1, 2, 3])
    np.testing.assert_array_equal(cm.numpy(), ref)
    # a tensor on either side gives a tensor
    assert isinstance(confusion_matrix(y_true.numpy(), logits, 4), torch.Tensor)
    assert isinstance(confusion_matrix(y_true, logits.numpy(), 4), torch.Tensor)
    assert isinstance(confusion_matrix(y_true.numpy(), logits.numpy(), 4), np.ndarray)


def test_ignore_index_skips_pixels():
    y_true = np.array([[0, 1, 255], [2, 255, 1]])
    y_pred = np.array([[0, 2, 1], [2, 0, 1]])
    cm = confusion_matrix(y_true, y_pred, 3, ignore_index=255)
    keep = y_true != 255
    np.testing.assert_array_equal(
        cm, sk_confusion_matrix(y_true[keep], y_pred[keep], labels=[0, 1, 2])
    )
    assert accuracy(y_true, y_pred, ignore_index=255) == pytest.approx(3 / 4)
    assert accuracy(y_true, y_pred, ignore_index=np.int64(255)) == pytest.approx(3 / 4)
    np.testing.assert_allclose(
        per_class_accuracy(y_true, y_pred, 3, ignore_index=255), [1.0, 0.5, 1.0], rtol=1e-12
    )


def test_absent_classes_are_left_out_of_the_means():
    # class 2 never occurs in truth or prediction: it must not count as IU 0 (or 1)
    y_true = np.array([0, 0, 1, 1])
    y_pred = np.array([0, 1, 1, 1])
    s = segmentation_scores(y_true, y_pred, 3)
    assert s["mean_iou"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert s["mean_accuracy"] == pytest.approx((1 / 2 + 1) / 2)
    np.testing.assert_allclose(per_class_iou(y_true, y_pred, 3), [1 / 2, 2 / 3, np.nan])
    # class 2 predicted but absent from truth: IU 0 counts, accuracy is left out
    y_pred2 = np.array([0, 2, 1, 1])
    s2 = segmentation_scores(y_true, y_pred2, 3)
    assert s2["mean_iou"] == pytest.approx((1 / 2 + 1 + 0) / 3)
    assert s2["mean_accuracy"] == pytest.approx((1 / 2 + 1) / 2)
    np.testing.assert_allclose(per_class_iou(y_true, y_pred2, 3), [1 / 2, 1.0, 0.0])
    np.testing.assert_allclose(per_class_accuracy(y_true, y_pred2, 3), [1 / 2, 1.0, np.nan])


def test_perfect_prediction_scores_one():
    y = np.random.default_rng(1).integers(0, 5, (4, 8, 8))
    assert all(v == pytest.approx(1.0) for v in segmentation_scores(y, y, 5).values())


def test_accuracy_and_top_k_against_sklearn():
    rng = np.random.default_rng(2)
    y_score = rng.normal(size=(50, 6))
    y_true = rng.integers(0, 6, 50)
    assert accuracy(y_true, y_score) == pytest.approx(
        accuracy_score(y_true, y_score.argmax(1)), rel=1e-12
    )
    assert accuracy(torch.from_numpy(y_true), y_score.argmax(1)) == pytest.approx(
        accuracy_score(y_true, y_score.argmax(1)), rel=1e-12
    )
    for k in range(1, 6):  # sklearn warns at k = C (every class is in the top C)
        ref = top_k_accuracy_score(y_true, y_score, k=k, labels=list(range(6)))
        assert top_k_accuracy(y_true, y_score, k) == pytest.approx(ref, rel=1e-12)
        got = top_k_accuracy(torch.from_numpy(y_true), torch.from_numpy(y_score), k=k)
        assert got == pytest.approx(ref, rel=1e-12)
    assert top_k_accuracy(y_true=y_true, y_score=y_score, k=np.int64(2)) == pytest.approx(
        top_k_accuracy_score(y_true, y_score, k=2, labels=list(range(6))), rel=1e-12
    )


@pytest.mark.parametrize(
    ("call", "exc", "pattern"),
    [
        (lambda: confusion_matrix(np.array([0]), np.array([0]), 0), ValueError, "num_classes=0"),
        (lambda: confusion_matrix(np.array([0]), np.array([0]), True), TypeError,
         "num_classes=True"),
        (lambda: confusion_matrix(np.array([0, 1]), np.array([0, 3]), 3), ValueError,
         r"y_pred holds the label 3; expected class labels in \[0, 3\) \(num_classes=3\)"),
        (lambda: confusion_matrix(np.array([0, 7, 1]), np.array([0, 1, 1]), 3), ValueError,
         r"y_true holds the label 7; expected class labels in \[0, 3\)"),
        (lambda: confusion_matrix(np.array([-1, 1]), np.array([0, 1]), 3, ignore_index=255),
         ValueError, "y_true holds the label -1"),
        (lambda: segmentation_scores(np.array([0, 1]), np.array([-2, 1]), 3), ValueError,
         "y_pred holds the label -2"),
        (lambda: per_class_iou(np.array([0, 4]), np.array([0, 1]), 3), ValueError,
         "y_true holds the label 4"),
        (lambda: accuracy(np.array([0, -100]), np.array([0, 1])), ValueError,
         "y_true holds the label -100"),
        (lambda: confusion_matrix(np.zeros(3, int), np.zeros((2, 3), int), 2), ValueError,
         r"y_true has shape \(3,\) but y_pred has shape \(2, 3\)"),
        (lambda: confusion_matrix(np.zeros(3, int), np.zeros((3, 4)), 2), ValueError,
         r"y_pred holds scores for 4 classes \(shape \(3, 4\)\) but num_classes=2"),
        (lambda: accuracy(np.array([0]), np.array([0.5])), TypeError,
         "y_pred has dtype torch.float64; expected integer class labels"),
        (lambda: accuracy(np.array([0.0]), np.array([0])), TypeError,
         "y_true has dtype torch.float64; expected integer class labels"),
        (lambda: accuracy(np.array(["a"]), np.array([0])), TypeError, "y_true has dtype <U1"),
        (lambda: accuracy(np.array([0, 1]), np.array([0, 1]), ignore_index=0.5), TypeError,
         "ignore_index=0.5"),
        (lambda: top_k_accuracy(np.zeros(2, int), np.zeros((2, 3)), k=4), ValueError,
         r"k=4 must be an int in \[1, 3\] \(the number of classes\)"),
        (lambda: top_k_accuracy(np.zeros(2, int), np.zeros((2, 3)), k=0), ValueError, "k=0"),
        (lambda: top_k_accuracy(np.zeros(2, int), np.zeros((2, 3)), k=2.0), TypeError, "k=2.0"),
        (lambda: top_k_accuracy(np.array([0, 3]), np.zeros((2, 3)), k=1), ValueError,
         r"y_true holds the label 3; expected class labels in \[0, 3\)"),
        (lambda: top_k_accuracy(np.zeros((2, 3)), np.zeros(2, int)), ValueError,
         r"y_true has shape \(2, 3\) and y_score \(2,\); expected \(N,\) and \(N, C\)"),
        (lambda: top_k_accuracy(np.array([0.0, 1.7]), np.zeros((2, 3))), TypeError,
         "y_true has dtype torch.float64; expected integer class labels"),
        (lambda: scores_from_confusion(np.zeros((2, 3))), ValueError, "square"),
        # integer y_pred with an extra axis is not scores: argmax of it used to give 0.25
        (lambda: accuracy(np.array([0, 1, 1, 2]), np.array([[0], [1], [2], [2]])), ValueError,
         r"y_true has shape \(4,\) but y_pred has shape \(4, 1\) \(torch.int64\)"),
        (lambda: scores_from_confusion(np.array([[3, -1], [0, 2]])), ValueError,
         "confusion holds -1.0; expected counts"),
        (lambda: scores_from_confusion(np.array([[3, 0.5], [0, 2]])), ValueError,
         "confusion holds 0.5"),
        (lambda: accuracy(np.array([255]), np.array([0]), ignore_index=255), ValueError,
         "no labels to score"),
    ],
)  # fmt: skip
def test_bad_arguments(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


def test_numpy_integers_are_accepted_as_num_classes_and_k():
    y_score = np.array([[0.1, 0.9, 0.0], [0.8, 0.1, 0.1]])
    y_true = np.array([1, 2])
    cm = confusion_matrix(y_true, y_score, np.int64(3))
    assert cm.shape == (3, 3) and int(cm.sum()) == 2
    assert top_k_accuracy(y_true, y_score, np.int64(1)) == pytest.approx(0.5)
    assert confusion_matrix(y_true, y_score, torch.tensor(3)).shape == (3, 3)


def test_odd_numpy_layouts_give_the_same_scores():
    y_true, y_pred = np.array([0, 1, 2, 1, 0, 2]), np.array([0, 2, 2, 1, 1, 2])
    odd_true = np.flip(np.flip(y_true).astype(">i8"))  # big-endian, negative stride
    odd_true.setflags(write=False)
    odd_pred = np.flip(np.flip(y_pred).copy())
    assert odd_true.strides[0] < 0 and odd_pred.strides[0] < 0
    assert accuracy(odd_true, odd_pred) == accuracy(y_true, y_pred)
    np.testing.assert_array_equal(
        confusion_matrix(odd_true, odd_pred, 3), confusion_matrix(y_true, y_pred, 3)
    )
    scores = np.linspace(0, 1, 18).reshape(6, 3)
    assert top_k_accuracy(odd_true, np.flip(np.flip(scores, 1).copy(), 1), k=2) == top_k_accuracy(y_true, scores, k=2)


def test_scores_from_confusion_names_its_argument():
    for bad in ("fuzz", {"a": 1}, object()):
        with pytest.raises(TypeError, match="confusion"):
            scores_from_confusion(bad)
