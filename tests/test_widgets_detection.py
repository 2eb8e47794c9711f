"""Lesson 14's app, driven headlessly: set control values, assert the picture and the tally change.

The class scores are made up from the true boxes (a proposal's score for a digit is its
IoU with that digit's box), so the expected tallies are known without training a CNN.
"""

from __future__ import annotations

import pytest
import torch

from course_lib.data import make_digit_scenes
from course_lib.detection import iou, sliding_window_proposals
from course_lib.widgets.detection import (
    detection_view,
    detections_app,
    draw_detections,
    draw_iou,
    iou_app,
)


@pytest.fixture(scope="module")
def parts():
    scenes = make_digit_scenes(3, split="test", seed=5, device="cpu")
    proposals = sliding_window_proposals(48, 48, (12, 16, 20), 2, device="cpu")
    tables = []
    for boxes, labels in zip(scenes.boxes, scenes.labels, strict=True):
        scores = torch.zeros(len(proposals), 11)
        overlap = iou(proposals, boxes)  # (P, G)
        for g, c in enumerate(labels.tolist()):
            scores[:, c] = torch.maximum(scores[:, c], overlap[:, g].float())
        scores[:, 10] = 1.0 - scores[:, :10].max(dim=1).values
        tables.append(scores)
    return scenes, proposals, tuple(tables)


def test_view_with_nms_finds_every_digit_once(parts):
    scenes, proposals, tables = parts
    for i in range(len(scenes)):
        view = detection_view(scenes, proposals, tables, i, score_threshold=0.5, nms_threshold=0.3)
        assert view.n_objects == len(scenes.boxes[i])
        assert view.n_found == view.n_objects  # the best proposal of each digit wins
        assert view.n_kept >= view.n_found and view.n_candidates > view.n_kept
        without = detection_view(scenes, proposals, tables, i, score_threshold=0.5, use_nms=False)
        assert without.n_kept == without.n_candidates == view.n_candidates
        assert without.n_false > view.n_false  # duplicates count as false positives


def test_app_controls_change_the_picture_and_the_tally(parts):
    app = detections_app(*parts)
    first_png, first = app.png, app.result
    assert first_png.startswith(b"\x89PNG") and first.index == 0
    assert "candidate boxes" in app.message

    app.controls["use_nms"].value = False
    assert app.png != first_png and app.result.n_kept == first.n_candidates
    assert app.controls["nms_threshold"].disabled  # nothing to set without NMS
    app.controls["use_nms"].value = True
    assert not app.controls["nms_threshold"].disabled

    before = app.png
    app.controls["nms_threshold"].value = 0.95  # almost nothing overlaps that much
    assert app.png != before and app.result.n_kept > first.n_kept

    before, kept = app.png, app.result.n_candidates
    app.controls["score_threshold"].value = 0.9
    assert app.png != before and app.result.n_candidates < kept

    before = app.png
    app.controls["index"].value = 2
    assert app.png != before and app.result.index == 2
    assert app.controls["index"].max == 2  # the slider reaches only existing scenes


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [({"index": 3}, "index=3"), ({"score_threshold": 1.5}, "score_threshold"),
     ({"nms_threshold": -0.1}, "nms_threshold")],
)
def test_invalid_settings_raise_value_error_naming_them(parts, kwargs, words):
    with pytest.raises(ValueError, match=words):
        draw_detections(*parts, **kwargs)


def test_mismatched_inputs_are_refused(parts):
    scenes, proposals, tables = parts
    with pytest.raises(ValueError, match="class_scores has 2 entries"):
        detection_view(scenes, proposals, tables[:2])
    with pytest.raises(TypeError, match="scenes"):
        detection_view([scenes], proposals, tables)


def _iou_by_hand(dx, dy, scale):
    """Oracle: the IoU of A = (20, 20, 40, 40) and B (side 20 * scale, centre moved)."""
    half = 10.0 * scale
    bx1, by1, bx2, by2 = 30 + dx - half, 30 + dy - half, 30 + dx + half, 30 + dy + half
    w = max(0.0, min(40.0, bx2) - max(20.0, bx1))
    h = max(0.0, min(40.0, by2) - max(20.0, by1))
    inter = w * h
    return inter / (400.0 + (2 * half) ** 2 - inter)


def test_iou_app_sliders_move_box_b_and_the_iou_follows():
    app = iou_app()
    first = app.png
    assert app.message == f"IoU(A, B) = {_iou_by_hand(6.0, 4.0, 1.0):.4f}"
    app.controls["dx"].value = 10.0  # half a side to the right, centred in y: IoU 1/3
    app.controls["dy"].value = 0.0
    assert app.png != first and app.message == "IoU(A, B) = 0.3333"
    before = app.png
    app.controls["scale"].value = 2.0
    assert app.png != before
    assert app.message == f"IoU(A, B) = {_iou_by_hand(10.0, 0.0, 2.0):.4f}"
    app.controls["dx"].value = 40.0  # far apart: no overlap
    assert app.message == "IoU(A, B) = 0.0000"
    assert app.controls["scale"].min > 0  # a box of zero size cannot be reached


@pytest.mark.parametrize(("dx", "dy", "scale"), [(0.0, 0.0, 1.0), (3.5, -2.0, 0.5), (-12.0, 7.5, 2.5)])
def test_draw_iou_matches_the_definition(dx, dy, scale):
    _, value = draw_iou(dx, dy, scale)
    assert abs(value - _iou_by_hand(dx, dy, scale)) < 1e-12
    with pytest.raises(ValueError, match="scale"):
        draw_iou(dx, dy, 0.0)
