"""Lesson 12's pictures and app, driven headlessly on a hand-made result (no training):
set control values, assert that the picture and the numbers change as they should."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from sklearn.metrics import jaccard_score

from course_lib.data import SHAPE_CLASSES
from course_lib.experiments.segmentation import VARIANTS, SkipResult
from course_lib.widgets.segmentation import (
    draw_segmentation,
    draw_skip_comparison,
    segmentation_app,
    segmentation_view,
)


@pytest.fixture(scope="module")
def result() -> SkipResult:
    gen = torch.Generator().manual_seed(0)
    masks = torch.zeros(4, 16, 16, dtype=torch.int64)
    masks[:, 3:9, 3:9] = 1
    masks[:, 10:14, 2:15] = 4
    masks[2, 0:3, 12:16] = 2
    preds = {}
    for noise, v in zip((0.4, 0.2, 0.05), VARIANTS, strict=True):  # 32s worst, 8s best
        flip = torch.rand(masks.shape, generator=gen) < noise
        preds[v] = torch.where(flip, torch.randint(0, 5, masks.shape, generator=gen), masks)
    return SkipResult(
        scores={v: {"mean_iou": 0.0} for v in VARIANTS}, class_iou={}, predictions=preds,
        params={}, final_loss={}, seconds={}, images=torch.rand(4, 3, 16, 16, generator=gen),
        masks=masks, class_names=SHAPE_CLASSES, steps=1, n_train=1, margin=0.05, seed=0,
    )  # fmt: skip


def test_view_counts_errors_and_iou_per_class(result):
    view = segmentation_view(result, 2, "16s")
    truth, pred = result.masks[2].flatten().numpy(), result.predictions["16s"][2].flatten().numpy()
    wrong = truth != pred
    assert view.errors.sum() == wrong.sum()
    for k in range(5):
        assert view.errors[k] == np.sum(wrong & (truth == k))
    present = [k for k in range(5) if np.any(truth == k) or np.any(pred == k)]
    np.testing.assert_allclose(view.class_iou[present],
                               jaccard_score(truth, pred, labels=present, average=None),
                               rtol=1e-12)  # fmt: skip
    assert np.isclose(view.error_fraction, wrong.mean())
    assert "scene 2, FCN-16s" in str(view)


def test_draw_segmentation_shows_image_truth_prediction_and_errors(result):
    fig, view = draw_segmentation(result, 1, "32s")
    assert isinstance(fig, Figure)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:3] == ["image", "ground truth", "prediction"]
    assert titles[3].startswith("errors (") and f"{100 * view.error_fraction:.1f}%" in titles[3]


def test_app_controls_change_the_picture_and_the_numbers(result):
    app = segmentation_app(result)
    assert app.controls["index"].max == result.n_val - 1 and app.controls["index"].min == 0
    assert [v for _, v in app.controls["variant"].options] == list(VARIANTS)
    first_png, first_message = app.png, app.message
    app.controls["variant"].value = "32s"
    assert app.png != first_png and app.message != first_message
    assert app.result.variant == "32s"
    second_png = app.png
    app.controls["index"].value = 3
    assert app.png != second_png and app.result.index == 3
    assert app.result.error_fraction > segmentation_view(result, 3, "8s").error_fraction


def test_comparison_puts_the_variants_side_by_side(result):
    fig = draw_skip_comparison(result, (0, 2))
    titles = [ax.get_title() for ax in fig.axes]
    assert titles.count("FCN-32s") == titles.count("FCN-8s") == 2
    assert sum(t.startswith("errors:") for t in titles) == 2 * len(VARIANTS)


@pytest.mark.parametrize(
    ("call", "error", "pattern"),
    [
        (lambda r: segmentation_view(r, 4), ValueError, r"index=4 must be an int in \[0, 3\]"),
        (lambda r: segmentation_view(r, 0, "4s"), ValueError, "variant='4s'"),
        (lambda r: segmentation_view("result", 0), TypeError, "expected the SkipResult"),
        (lambda r: draw_skip_comparison(r, ()), ValueError, "expected 1 to 6"),
        (lambda r: draw_skip_comparison(r, 1), TypeError, "indices=1"),
    ],
)
def test_bad_settings_are_refused(result, call, error, pattern):
    with pytest.raises(error, match=pattern):
        call(result)
