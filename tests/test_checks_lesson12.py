"""Lesson 12's checks: the solutions pass, right answers written differently pass, and the
mistakes learners make fail with their own feedback.

The answer keys are checked against independent oracles: scikit-learn's metrics for the
four scores, and the FCN's own output shapes (on torch's meta device) for the map sizes.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, jaccard_score, recall_score

from course_lib.checks.lesson12 import _confusions as confusions
from course_lib.checks.lesson12 import check_fcn_scores, check_score_map_sizes
from course_lib.models import fcn


def _stub(*args, **kwargs):
    raise NotImplementedError


# ---- Exercise 12.2: the four scores from a confusion matrix --------------------------


def _solution(confusion):
    n = np.asarray(confusion, dtype=np.float64)
    correct, truth, predicted = np.diag(n), n.sum(axis=1), n.sum(axis=0)
    union = truth + predicted - correct
    seen, has_union = truth > 0, union > 0
    iu = correct[has_union] / union[has_union]
    return (correct.sum() / n.sum(), np.mean(correct[seen] / truth[seen]), np.mean(iu),
            np.sum(truth[has_union] * iu) / n.sum())  # fmt: skip


def _pixels(confusion):
    """(y_true, y_pred) with n[i, j] pixels of truth i predicted as j."""
    n = np.asarray(confusion)
    i, j = np.nonzero(n)
    counts = n[i, j]
    return np.repeat(i, counts), np.repeat(j, counts)


def _by_sklearn(confusion):
    """A right answer written differently: scikit-learn's metrics on the pixels, restricted
    to the classes that have a score (truth for recall, truth or prediction for IU)."""
    y_true, y_pred = _pixels(confusion)
    k = len(confusion)
    in_truth = [c for c in range(k) if np.any(y_true == c)]
    in_either = [c for c in range(k) if np.any(y_true == c) or np.any(y_pred == c)]
    iu = jaccard_score(y_true, y_pred, labels=in_either, average=None)
    weights = np.array([np.sum(y_true == c) for c in in_either]) / len(y_true)
    return (
        accuracy_score(y_true, y_pred),
        recall_score(y_true, y_pred, labels=in_truth, average="macro"),
        float(np.mean(iu)),
        float(np.sum(weights * iu)),
    )


def test_answer_key_agrees_with_scikit_learn():
    key = check_fcn_scores(_stub).cases
    assert len(key) == len(confusions()) >= 4
    for case in key:
        np.testing.assert_allclose(case.expected, _by_sklearn(case.args[0]), rtol=1e-12)


def test_solution_and_sklearn_answer_pass():
    assert check_fcn_scores(_solution).passed
    assert check_fcn_scores(_by_sklearn).passed


def test_torch_and_float32_answers_pass():
    def in_torch(confusion):
        n = torch.as_tensor(confusion, dtype=torch.float32)
        correct, truth, predicted = n.diagonal(), n.sum(1), n.sum(0)
        union = truth + predicted - correct
        iu = correct[union > 0] / union[union > 0]
        return (correct.sum() / n.sum(), (correct[truth > 0] / truth[truth > 0]).mean(),
                iu.mean(), (truth[union > 0] * iu).sum() / n.sum())  # fmt: skip

    assert check_fcn_scores(in_torch).passed


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (lambda n: _solution(np.asarray(n).T), "rows and columns are swapped"),
        (lambda n: _solution(np.asarray(n).T)[:2] + _solution(n)[2:3] + _solution(n.T)[3:],
         "rows and columns are swapped"),
    ],
)
def test_rows_and_columns_swapped_get_their_hint(wrong, words):
    result = check_fcn_scores(wrong)
    assert result.status == "failed" and words in result.message, result.message


def _absent_as_zero(confusion):
    n = np.asarray(confusion, dtype=np.float64)
    correct, truth, predicted = np.diag(n), n.sum(1), n.sum(0)
    union = truth + predicted - correct
    recall = np.divide(correct, truth, out=np.zeros_like(correct), where=truth > 0)
    iu = np.divide(correct, union, out=np.zeros_like(correct), where=union > 0)
    return correct.sum() / n.sum(), recall.mean(), iu.mean(), np.sum(truth * iu) / n.sum()


def _nan_means(confusion):
    n = np.asarray(confusion, dtype=np.float64)
    correct, truth, predicted = np.diag(n), n.sum(1), n.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        iu = correct / (truth + predicted - correct)
        return (correct.sum() / n.sum(), np.mean(correct / truth), np.mean(iu),
                np.sum(truth * iu) / n.sum())


def _union_counts_twice(confusion):
    n = np.asarray(confusion, dtype=np.float64)
    correct, truth, predicted = np.diag(n), n.sum(1), n.sum(0)
    keep = truth + predicted > 0
    iu = np.divide(correct, truth + predicted, out=np.zeros_like(correct), where=keep)
    return (correct.sum() / n.sum(), np.mean(correct[truth > 0] / truth[truth > 0]),
            iu[keep].mean(), np.sum(truth[keep] * iu[keep]) / n.sum())  # fmt: skip


def _fw_not_normalised(confusion):
    p, m, iu, fw = _solution(confusion)
    return p, m, iu, fw * np.asarray(confusion).sum()


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (_absent_as_zero, "counted it as 0"),
        (_nan_means, "holds NaN"),
        (_union_counts_twice, "counts the correct pixels once"),
        (_fw_not_normalised, "divides by the total pixel count"),
        (lambda n: tuple(100 * v for v in _solution(n)), "not percentages"),
        (lambda n: dict(zip(("pa", "ma", "iu", "fw"), _solution(n), strict=True)), "not a dict"),
    ],
)
def test_fcn_scores_mistakes_get_their_feedback(wrong, words):
    result = check_fcn_scores(wrong)
    assert result.status == "failed", result
    assert words in result.message, result.message


def test_fcn_scores_stub_is_not_attempted():
    assert check_fcn_scores(_stub).status == "not attempted"


# ---- Exercise 12.1: the sizes of the score maps --------------------------------------


def _sizes_solution(height, width):
    return tuple((math.ceil(height / s), math.ceil(width / s)) for s in (8, 16, 32))


def test_answer_key_matches_the_fcn_shapes():
    """Oracle: the stride-8/16/32 maps the course's FCN (ceil-mode pools) really makes."""
    with torch.device("meta"):
        net = fcn("8s")
    for case in check_score_map_sizes(_stub).cases:
        h, w = case.args
        p3 = net.to_pool3(torch.zeros(1, 3, h, w, device="meta"))
        p4 = net.to_pool4(p3)
        p5 = net.to_pool5(p4)
        assert case.expected == tuple(tuple(t.shape[-2:]) for t in (p3, p4, p5)), case.label


def test_score_map_sizes_right_answers_pass():
    assert check_score_map_sizes(_sizes_solution).passed
    by_floor_division = lambda h, w: tuple((-(-h // s), -(-w // s)) for s in (8, 16, 32))  # noqa: E731
    assert check_score_map_sizes(by_floor_division).passed
    as_floats = lambda h, w: tuple((float(a), float(b)) for a, b in _sizes_solution(h, w))  # noqa: E731
    assert check_score_map_sizes(as_floats).passed
    as_lists = lambda h, w: [list(p) for p in _sizes_solution(h, w)]  # noqa: E731
    assert check_score_map_sizes(as_lists).passed


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (lambda h, w: tuple((h // s, w // s) for s in (8, 16, 32)), "you rounded down"),
        (lambda h, w: tuple((b, a) for a, b in _sizes_solution(h, w)), "(height, width)"),
        (lambda h, w: _sizes_solution(h, w)[::-1], "finest first"),
        (lambda h, w: tuple((math.ceil(h / s), math.ceil(w / s)) for s in (4, 8, 16)),
         "THIRD 2x2 pool"),
        (lambda h, w: tuple((round(h / s), round(w / s)) for s in (8, 16, 32)), "round()"),
    ],
)
def test_score_map_sizes_mistakes_get_their_feedback(wrong, words):
    result = check_score_map_sizes(wrong)
    assert result.status == "failed", result
    assert words in result.message, result.message


def test_score_map_sizes_stub_is_not_attempted():
    assert check_score_map_sizes(_stub).status == "not attempted"
