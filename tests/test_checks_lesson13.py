"""Lesson 13's checks: right answers pass (also written differently); the mistakes learners make
fail with their own feedback.

The reference solutions themselves are run from the notebook by tests/test_solutions.py;
here the library's occlusion_map, torch and autograd stand in as independent right answers.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_lib.checks import lesson13
from course_lib.checks.lesson13 import (
    ascent_step_reference,
    check_ascent_step,
    check_conv2_receptive_field,
    check_occlusion,
    cnn_score,
    occlusion_reference,
)
from course_lib.models import lenet5
from course_lib.shapes import receptive_field
from course_lib.viz import occlusion_map


def _stub(*args, **kwargs):
    raise NotImplementedError


# ---- Exercise 13.2: the receptive field of conv2 -------------------------------------


def test_receptive_field_answer_is_what_autograd_sees():
    """Oracle: the input pixels that one conv2 unit's gradient reaches (positive weights)."""
    model = lenet5()
    with torch.no_grad():
        for p in model.parameters():
            p.abs_()
    x = torch.rand(1, 1, 32, 32, requires_grad=True)
    model.features[:4](x)[0, 0, 5, 5].backward()
    rows = torch.nonzero(x.grad[0, 0].abs().sum(1)).flatten()
    side = int(rows.max() - rows.min() + 1)
    assert side == 14 == receptive_field([(5, 1), (2, 2), (5, 1)])
    assert check_conv2_receptive_field(side).passed


@pytest.mark.parametrize("value", [14, 14.0, np.int64(14), torch.tensor(14), 5 + 1 + 8])
def test_receptive_field_accepts_any_kind_of_number(value):
    assert check_conv2_receptive_field(value).passed


@pytest.mark.parametrize(
    ("wrong", "words"),
    [(10, "5 + 5 = 10"), (9, "stacked directly"), (13, "pool's own window"), (16, "after pool2"),
     (5, "conv1's field")],
)
def test_receptive_field_mistakes_get_their_feedback(wrong, words):
    result = check_conv2_receptive_field(wrong)
    assert result.status == "failed" and words in result.message, result.message


def test_receptive_field_placeholder_is_not_attempted():
    assert check_conv2_receptive_field(...).status == "not attempted"


# ---- Exercise 13.3: occlusion --------------------------------------------------------


def test_reference_occlusion_matches_the_library_on_a_cnn():
    """The check's answers for the CNN cases are course_lib.viz.occlusion_map's."""
    image = np.random.default_rng(0).uniform(size=(9, 7))
    ours = occlusion_reference(cnn_score, image, 3, 2, fill=0.25)
    library = occlusion_map(lesson13._CNN, torch.from_numpy(image)[None], 1, patch=3, stride=2,
                            fill=0.25, device="cpu")
    torch.testing.assert_close(torch.from_numpy(ours), library.double(), rtol=1e-7, atol=1e-9)


def test_occlusion_written_differently_passes():
    """A vectorised answer in torch: every occluded image in one batch, scored one by one."""

    def batched(score, image, patch, stride, fill=0.0):
        x = torch.as_tensor(image)
        h, w = x.shape
        tops, lefts = range(0, h - patch + 1, stride), range(0, w - patch + 1, stride)
        masks = torch.zeros(len(tops), len(lefts), h, w, dtype=torch.bool)
        for i, t in enumerate(tops):
            for j, lft in enumerate(lefts):
                masks[i, j, t : t + patch, lft : lft + patch] = True
        occluded = torch.where(masks, torch.tensor(fill, dtype=x.dtype), x)
        scores = torch.tensor([[score(o.numpy()) for o in row] for row in occluded])
        return score(image) - scores

    assert check_occlusion(batched).passed


def _occlusion_variant(copy_once=False, signs=1.0, drop=True, unstrided=False, last=True,
                       ignore_fill=False, swapped=False):
    def occlusion(score, image, patch, stride, fill=0.0):
        if swapped:
            patch, stride = stride, patch
        h, w = image.shape
        n_rows = (h - patch) // stride + (1 if last else 0)
        n_cols = (w - patch) // stride + (1 if last else 0)
        base = score(image)
        out = np.zeros((n_rows, n_cols))
        shared = image.copy()
        for i in range(n_rows):
            for j in range(n_cols):
                hidden = shared if copy_once else image.copy()
                r, c = (i, j) if unstrided else (i * stride, j * stride)
                hidden[r : r + patch, c : c + patch] = 0.0 if ignore_fill else fill
                value = score(hidden)
                out[i, j] = signs * (base - value) if drop else value
        return out

    return occlusion


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"signs": -1.0}, "signs are reversed"),
        ({"drop": False}, "score itself"),
        ({"copy_once": True}, "same copy of the image"),
        ({"unstrided": True}, "row i * stride"),
        ({"last": False}, "last position is missing"),
        ({"ignore_fill": True}, "whatever `fill` says"),
        ({"swapped": True}, "patch and stride are swapped"),
    ],
)
def test_occlusion_mistakes_get_their_feedback(options, words):
    result = check_occlusion(_occlusion_variant(**options))
    assert result.status == "failed" and words in result.message, result.message


def test_occlusion_that_changes_the_image_in_place_is_reported():
    def in_place(score, image, patch, stride, fill=0.0):
        h, w = image.shape
        out = np.zeros(((h - patch) // stride + 1, (w - patch) // stride + 1))
        base = score(image)
        for i in range(out.shape[0]):
            for j in range(out.shape[1]):
                saved = image.copy()
                image[i * stride : i * stride + patch, j * stride : j * stride + patch] = fill
                out[i, j] = base - score(image)
                image[:] = saved  # restored, except after the last one
        image[0, 0] = -1.0
        return out

    result = check_occlusion(in_place)
    assert result.status == "failed" and "in place" in result.message


def test_occlusion_stub_is_not_attempted():
    assert check_occlusion(_stub).status == "not attempted"


# ---- Exercise 13.5: the projected ascent step -----------------------------------------


def test_ascent_step_reference_agrees_with_torch_and_keeps_the_norm():
    rng = np.random.default_rng(1)
    x, g = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    t = torch.from_numpy(x) + 0.3 * torch.from_numpy(g)
    expected = 2.5 * t / torch.linalg.vector_norm(t)
    got = torch.from_numpy(ascent_step_reference(x, g, 0.3, 2.5))
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(torch.linalg.vector_norm(got).item(), 2.5, rtol=1e-12, atol=0)


def test_ascent_step_written_differently_passes():
    def in_torch(x, grad, lr, rho):
        s = torch.as_tensor(x, dtype=torch.float32) + lr * torch.as_tensor(grad, dtype=torch.float32)
        return s * (rho / s.pow(2).sum().sqrt())

    def with_math(x, grad, lr, rho):
        s = x + lr * grad
        return s / np.sqrt((s * s).sum()) * rho

    assert check_ascent_step(in_torch).passed
    assert check_ascent_step(with_math).passed


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (lambda x, g, lr, rho: x + lr * g, "did not project"),
        (lambda x, g, lr, rho: (x + lr * g) / np.linalg.norm(x + lr * g), "norm 1"),
        (lambda x, g, lr, rho: rho * (x - lr * g) / np.linalg.norm(x - lr * g), "descent"),
        (lambda x, g, lr, rho: x + lr * g / np.linalg.norm(g), "normalised the gradient"),
        (lambda x, g, lr, rho: rho * x / np.linalg.norm(x) + lr * g, "did not project"),
        (lambda x, g, lr, rho: rho * (x + lr * g) / np.linalg.norm(x + lr * g, axis=-1,
                                                                   keepdims=True), "each row"),
    ],
)
def test_ascent_step_mistakes_get_their_feedback(wrong, words):
    result = check_ascent_step(wrong)
    assert result.status == "failed" and words in result.message, result.message


def test_ascent_step_really_ascends():
    """The answer key's steps raise a linear unit w.x (its gradient is w) on the sphere."""
    rng = np.random.default_rng(2)
    w = rng.normal(size=(4, 5))
    x = ascent_step_reference(rng.normal(size=(4, 5)), np.zeros((4, 5)), 0.0, 3.0)
    for _ in range(50):
        new = ascent_step_reference(x, w, 0.5, 3.0)
        assert np.sum(w * new) >= np.sum(w * x) - 1e-12
        x = new
    np.testing.assert_allclose(np.sum(w * x), 3.0 * np.linalg.norm(w), rtol=1e-6)  # rho ||w||


def test_ascent_step_stub_is_not_attempted():
    assert check_ascent_step(_stub).status == "not attempted"
