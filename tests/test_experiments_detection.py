"""Lesson 14's experiments: the claims hold on the notebook's seed and on three others.

Each seed's margins are printed (run with -s to see them). The R-CNN runs use the
notebook's settings (400 training scenes, 40 test scenes, 6 epochs, one thread).
"""

from __future__ import annotations

import pytest
import torch

import course_lib.experiments.detection as experiment
from course_lib.data import make_digit_scenes
from course_lib.detection import iou
from course_lib.experiments.base import ExperimentResult
from course_lib.experiments.detection import (
    agreement_experiment,
    detect_scene,
    rcnn_experiment,
    region_classifier,
)

NOTEBOOK = {"n_train_scenes": 400, "n_test_scenes": 40, "epochs": 6}
SEEDS = (0, 1, 2, 3)  # 0 is the notebook's


@pytest.fixture(scope="module")
def runs():
    return {seed: rcnn_experiment(seed=seed, device="cpu", **NOTEBOOK) for seed in SEEDS}


@pytest.mark.parametrize("seed", SEEDS)
def test_rcnn_claim_holds_with_a_margin(runs, seed):
    r = runs[seed]
    assert isinstance(r, ExperimentResult) and r.sentence().startswith("Experiment:")
    print(f"\nseed {seed}: mAP {r.mean_ap:.3f} (margin {r.mean_ap - r.min_map:+.3f} over "
          f"{r.min_map}), without NMS {r.ap_without_nms.mean_ap:.3f}, NMS adds {r.nms_gain:.3f} "
          f"(margin {r.nms_gain - r.min_gain:+.3f} over {r.min_gain})")
    assert r.claim_holds, r.sentence()
    assert r.mean_ap >= r.min_map + 0.1, r.sentence()  # a clear margin, not a coin toss
    assert r.nms_gain >= r.min_gain + 0.05, r.sentence()


def test_rcnn_result_is_consistent(runs):
    r = runs[0]
    assert len(r.class_scores) == len(r.test_scenes) == 40
    assert all(s.shape == (len(r.proposals), 11) for s in r.class_scores)
    torch.testing.assert_close(r.class_scores[0].sum(1), torch.ones(len(r.proposals)),
                               rtol=1e-5, atol=1e-5)  # float32 softmax rows
    assert sum(r.ap.n_true) == sum(len(b) for b in r.test_scenes.boxes)
    assert all(0.0 <= ap <= 1.0 for ap in r.ap.per_class)
    # the stored detections are the NMS decisions at the experiment's thresholds
    again = detect_scene(r.class_scores[3], r.proposals, score_threshold=r.score_threshold,
                         nms_threshold=r.nms_threshold)
    torch.testing.assert_close(again.boxes, r.detections[3].boxes.cpu(), rtol=0, atol=0)


def test_rcnn_is_deterministic_for_a_seed():
    small = {"n_train_scenes": 30, "n_test_scenes": 4, "epochs": 1, "seed": 7, "device": "cpu"}
    a, b = rcnn_experiment(**small), rcnn_experiment(**small)
    assert a.sentence() == b.sentence()
    for s, t in zip(a.class_scores, b.class_scores, strict=True):
        torch.testing.assert_close(s, t, rtol=0, atol=0)


def test_rcnn_claim_can_fail():
    """An untrained-for-long detector misses the bar: the claim is not vacuous."""
    weak = rcnn_experiment(n_train_scenes=5, n_test_scenes=10, epochs=1, seed=0, device="cpu")
    assert not weak.claim_holds, weak.sentence()
    assert "does NOT hold" in weak.sentence()


@pytest.mark.parametrize("seed", SEEDS)
def test_agreement_claim_holds(seed):
    r = agreement_experiment(n_trials=200, seed=seed, device="cpu")
    print(f"\nseed {seed}: max IoU difference {r.max_iou_difference:.1e} (tolerance "
          f"{r.tolerance:.0e}), NMS identical {r.nms_identical}/{r.n_trials}")
    assert r.claim_holds, r.sentence()


def test_agreement_catches_a_wrong_nms(monkeypatch):
    """An NMS in which suppressed boxes suppress others too (each box compared with every
    higher-scoring box, kept or not) is caught: random sets hold such chains."""

    def every_higher(boxes, scores, thr):
        order = torch.argsort(scores, descending=True, stable=True)
        overlaps = iou(boxes, boxes)
        kept = [int(i) for r, i in enumerate(order) if bool((overlaps[i, order[:r]] <= thr).all())]
        return torch.tensor(kept, dtype=torch.int64)

    monkeypatch.setattr(experiment, "nms", every_higher)
    r = agreement_experiment(n_trials=100, seed=0, device="cpu")
    assert not r.claim_holds and r.nms_identical < r.n_trials, r.sentence()


def test_agreement_catches_a_wrong_iou(monkeypatch):
    monkeypatch.setattr(experiment, "iou", lambda a, b: iou(a, b) * (1 + 1e-9))
    r = agreement_experiment(n_trials=20, seed=0, device="cpu")
    assert not r.claim_holds and r.max_iou_difference > r.tolerance


def test_digit_scenes_have_known_non_overlapping_boxes():
    scenes = make_digit_scenes(50, split="test", seed=3, device="cpu")
    assert scenes.images.shape == (50, 1, 48, 48)
    assert make_digit_scenes(50, split="test", seed=3, device="cpu").images.equal(scenes.images)
    for image, boxes, labels in zip(scenes.images, scenes.boxes, scenes.labels, strict=True):
        assert 1 <= len(boxes) <= 3 and len(labels) == len(boxes)
        sides = boxes[:, 2] - boxes[:, 0]
        assert torch.equal(sides, boxes[:, 3] - boxes[:, 1])  # squares
        assert bool(((sides >= 12) & (sides <= 20)).all())
        overlap = iou(boxes, boxes) - torch.eye(len(boxes))
        assert float(overlap.abs().max()) == 0.0  # no two digits overlap
        ink = torch.zeros_like(image[0], dtype=torch.bool)
        for x1, y1, x2, y2 in boxes.int().tolist():
            ink[y1:y2, x1:x2] = True
        assert float(image[0][~ink].abs().max()) == 0.0  # nothing outside the boxes
        assert all(float(image[0, y1:y2, x1:x2].max()) > 0.3
                   for x1, y1, x2, y2 in boxes.int().tolist())


def test_region_classifier_shapes():
    net = region_classifier(11, width=4)
    assert net(torch.zeros(3, 1, 16, 16)).shape == (3, 11)
