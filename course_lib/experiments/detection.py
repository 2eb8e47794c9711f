"""Lesson 14's experiments: box overlap and NMS against a reference; R-CNN on digit scenes.

* **Do the library's IoU and NMS compute what the definitions say?**
  :func:`agreement_experiment` draws random boxes (some repeated exactly, some of zero
  width) and compares :func:`course_lib.detection.iou` and :func:`course_lib.detection.nms`
  with textbook loops written from the definitions, box pair by box pair. The claim:
  every IoU agrees to 1e-12 and every list of kept boxes is identical. torchvision's
  ``torchvision.ops.box_iou(boxes1, boxes2)`` and ``torchvision.ops.nms(boxes, scores,
  iou_threshold)`` use the same conventions (corners ``(x1, y1, x2, y2)``, no "+1" pixel,
  a box dropped when its IoU with a kept one is *greater than* the threshold, indices
  by decreasing score), so what holds here holds against them too.
* **Does the R-CNN recipe find objects?** :func:`rcnn_experiment` runs the pipeline of
  Girshick et al. (2014), "Rich feature hierarchies for accurate object detection and
  semantic segmentation", at toy scale on :func:`course_lib.data.make_digit_scenes`:
  class-agnostic region proposals (a window grid,
  :func:`course_lib.detection.sliding_window_proposals`, instead of selective search),
  every proposal warped to 16x16 (:func:`course_lib.detection.warp_crops`), a small CNN
  scoring it for the ten digits and "background", a per-class decision (a score
  threshold) and per-class NMS; then mAP at IoU 0.5 on held-out scenes. The claim: mAP
  of at least ``min_map`` with NMS, and NMS adds at least ``min_gain`` to it (without
  NMS every object is found many times over, and all but one of those count as false
  positives).

The CNN is trained the way R-CNN fine-tunes its network: on warped proposals, labelled
with the digit of the object they overlap with IoU >= 0.7 and "background" below 0.3
(those in between are left out). R-CNN then trained one linear SVM per class on the
CNN's features; here the network's own softmax scores play that part, as in Fast R-CNN.

Each run uses one intra-op CPU thread by default (``num_threads=1``; None leaves torch's
setting alone).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from course_lib.data import DigitScenes, make_digit_scenes
from course_lib.detection import (
    DetectionAP,
    iou,
    mean_average_precision,
    nms,
    sliding_window_proposals,
    warp_crops,
)
from course_lib.device import resolve_device, set_seed, torch_threads
from course_lib.train import fit, predict
from course_lib.validate import (
    check_array,
    check_bool,
    check_int,
    check_number,
    check_probability,
    check_seed,
)

__all__ = [
    "BACKGROUND",
    "CANVAS",
    "CROP",
    "STRIDE",
    "WINDOW_SIZES",
    "AgreementResult",
    "RCNNResult",
    "SceneDetections",
    "agreement_experiment",
    "detect_scene",
    "rcnn_experiment",
    "region_classifier",
    "score_proposals",
    "train_region_classifier",
]

CANVAS = 48  # scene side, pixels
WINDOW_SIZES = (12, 16, 20)  # proposal sides; digits are 12 to 20 pixels
STRIDE = 2  # proposal grid step, pixels
CROP = 16  # every proposal is warped to CROP x CROP
BACKGROUND = 10  # class index of "no digit"; digits are 0..9
POSITIVE_IOU, NEGATIVE_IOU = 0.7, 0.3  # training labels, as R-CNN's fine-tuning uses them
_THREADS = {"minimum": 1, "maximum": 1024}


def _threads(num_threads):
    return None if num_threads is None else check_int("num_threads", num_threads, **_THREADS)


# --------------------------------------------------------------------------- IoU and NMS


def _reference_iou(a, b) -> float:
    """IoU of two boxes by the definition: overlap area over the area of the union."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _reference_nms(boxes, scores, threshold: float) -> list[int]:
    """Greedy NMS as the textbook states it, with Python lists."""
    remaining = sorted(range(len(scores)), key=lambda i: -scores[i])
    kept = []
    while remaining:
        best = remaining.pop(0)
        kept.append(best)
        remaining = [j for j in remaining if _reference_iou(boxes[best], boxes[j]) <= threshold]
    return kept


@dataclass(frozen=True)
class AgreementResult:
    """How far :mod:`course_lib.detection` is from the definitions on random boxes."""

    n_trials: int
    n_boxes: int
    max_iou_difference: float
    nms_identical: int
    tolerance: float
    device: str

    @property
    def claim_holds(self) -> bool:
        return self.max_iou_difference <= self.tolerance and self.nms_identical == self.n_trials

    def sentence(self) -> str:
        verdict = "holds" if self.claim_holds else "does NOT hold"
        return (
            f"Experiment: on {self.n_trials} sets of random boxes ({self.n_boxes} boxes in all, "
            f"on {self.device}), course_lib's IoU differs from the definition by at most "
            f"{self.max_iou_difference:.1e} (tolerance {self.tolerance:.0e}) and its NMS keeps "
            f"the same boxes in the same order in {self.nms_identical} of {self.n_trials} sets; "
            f"the claim (every IoU within the tolerance, every NMS identical) {verdict}."
        )


def _random_boxes(rng: np.random.Generator, k: int) -> np.ndarray:
    """(k, 4) boxes in a 64x64 frame: sides up to 32, a few repeated, a few of width 0."""
    xy = rng.uniform(0, 48, size=(k, 2))
    wh = rng.uniform(0, 32, size=(k, 2))
    wh[rng.random(k) < 0.05, 0] = 0.0  # degenerate: zero width
    boxes = np.concatenate([xy, xy + wh], axis=1)
    repeat = rng.random(k) < 0.1
    if k > 1 and repeat.any():
        boxes[repeat] = boxes[rng.integers(0, k, size=int(repeat.sum()))]  # exact copies
    return boxes


def agreement_experiment(
    *,
    n_trials: int = 200,
    max_boxes: int = 30,
    tolerance: float = 1e-12,
    seed: int = 0,
    device: torch.device | str | None = None,
    num_threads: int | None = 1,
) -> AgreementResult:
    """Compare the library's IoU and NMS with the definitions on ``n_trials`` random sets.

    Each set has 1 to ``max_boxes`` boxes (float64, on ``device``) and random scores;
    NMS runs at a threshold drawn from 0.1, 0.3, 0.5 and 0.7. The IoU matrix of the set
    with itself is compared entry by entry with :func:`_reference_iou` (max absolute
    difference), the kept indices with :func:`_reference_nms`.
    """
    n_trials = check_int("n_trials", n_trials, minimum=1)
    max_boxes = check_int("max_boxes", max_boxes, minimum=1)
    tolerance = check_number("tolerance", tolerance, minimum=0.0)
    seed = check_seed("seed", seed)
    device = resolve_device(device)
    num_threads = _threads(num_threads)
    rng = np.random.default_rng(seed)
    worst, identical, total = 0.0, 0, 0
    with torch_threads(num_threads):
        for _ in range(n_trials):
            k = int(rng.integers(1, max_boxes + 1))
            boxes = _random_boxes(rng, k)
            scores = rng.random(k)
            threshold = float(rng.choice([0.1, 0.3, 0.5, 0.7]))
            b = torch.from_numpy(boxes).to(device)
            s = torch.from_numpy(scores).to(device)
            ours = iou(b, b).cpu().numpy()  # (k, k)
            ref = np.array([[_reference_iou(p, q) for q in boxes] for p in boxes])
            worst = max(worst, float(np.max(np.abs(ours - ref))))
            kept = nms(b, s, threshold).cpu().tolist()
            identical += kept == _reference_nms(boxes.tolist(), scores.tolist(), threshold)
            total += k
    return AgreementResult(n_trials, total, worst, identical, tolerance, device.type)


# --------------------------------------------------------------------------- R-CNN


def region_classifier(num_classes: int = 11, *, width: int = 8) -> nn.Sequential:
    """The small CNN that scores a warped 16x16 proposal: (N, 1, 16, 16) -> (N, num_classes).

    conv 3x3 (``width`` filters, same padding) -> ReLU -> max pool 2 -> conv 3x3
    (2 * ``width``) -> ReLU -> max pool 2 -> flatten (2 * width * 4 * 4) -> linear. Class
    ``num_classes - 1`` is "background". (R-CNN used AlexNet on 227x227 warps.)
    """
    num_classes = check_int("num_classes", num_classes, minimum=2)
    width = check_int("width", width, minimum=1)
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (N, w, 8, 8)
        nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (N, 2w, 4, 4)
        nn.Flatten(),  # (N, 2w * 16)
        nn.Linear(2 * width * (CROP // 4) ** 2, num_classes),
    )


def _check_scenes(scenes) -> DigitScenes:
    if not isinstance(scenes, DigitScenes):
        raise TypeError(
            f"scenes is a {type(scenes).__name__}; expected course_lib.data.DigitScenes, "
            "e.g. make_digit_scenes(100)"
        )
    if scenes.images.shape[-2:] != (CANVAS, CANVAS):
        raise ValueError(
            f"scenes are {tuple(scenes.images.shape[-2:])} pixels; the pipeline's proposals "
            f"are made for {CANVAS}x{CANVAS} scenes (make_digit_scenes(canvas={CANVAS}))"
        )
    return scenes


def _training_crops(scenes: DigitScenes, proposals: torch.Tensor, per_scene: int, seed: int):
    """Warped proposals with R-CNN's labels: up to ``per_scene`` positives (IoU >= 0.7,
    the digit's class) and as many negatives (IoU < 0.3, background) per scene."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for i in range(len(scenes)):
        truth, labels = scenes.boxes[i], scenes.labels[i]
        if len(truth) == 0:
            continue
        overlap = iou(proposals, truth)  # (P, G)
        best, which = overlap.max(dim=1)  # (P,) best IoU and its object
        pos = torch.nonzero(best >= POSITIVE_IOU).flatten().cpu()
        neg = torch.nonzero(best < NEGATIVE_IOU).flatten().cpu()
        pos = pos[torch.from_numpy(rng.permutation(len(pos))[:per_scene])]
        neg = neg[torch.from_numpy(rng.permutation(len(neg))[: max(len(pos), 1)])]
        chosen = torch.cat([pos, neg]).to(proposals.device)
        xs.append(warp_crops(scenes.images[i], proposals[chosen], CROP))  # (k, 1, 16, 16)
        background = torch.full((len(neg),), BACKGROUND, dtype=torch.int64, device=labels.device)
        ys.append(torch.cat([labels[which[pos.to(which.device)]], background]))
    return torch.cat(xs), torch.cat(ys)


def train_region_classifier(
    scenes: DigitScenes,
    *,
    epochs: int = 6,
    lr: float = 1e-2,
    positives_per_scene: int = 8,
    seed: int = 0,
    device: torch.device | str | None = None,
    num_threads: int | None = 1,
) -> nn.Module:
    """A :func:`region_classifier` trained on warped proposals of ``scenes`` (R-CNN's labels).

    Proposals come from :func:`course_lib.detection.sliding_window_proposals` with the
    pipeline's settings; per scene up to ``positives_per_scene`` digits (IoU >= 0.7 with
    an object) and as many background crops (IoU < 0.3). Adam with a one-cycle schedule,
    batches of 64, weights and shuffling seeded by ``seed``. Returns the model in eval mode.
    """
    scenes = _check_scenes(scenes)
    epochs = check_int("epochs", epochs, minimum=1)
    lr = check_number("lr", lr, positive=True, maximum=10.0)
    positives_per_scene = check_int("positives_per_scene", positives_per_scene, minimum=1)
    seed = check_seed("seed", seed)
    device = resolve_device(device)
    num_threads = _threads(num_threads)
    with torch_threads(num_threads):
        proposals = sliding_window_proposals(CANVAS, CANVAS, WINDOW_SIZES, STRIDE,
                                             device=scenes.images.device)
        x, y = _training_crops(scenes, proposals, positives_per_scene, seed)
        set_seed(seed)
        model = region_classifier(len(scenes.classes) + 1)
        fit(model, (x, y), epochs=epochs, lr=lr, batch_size=64, scheduler="onecycle",
            device=device, seed=seed, progress=False)
    return model.eval()


def _check_proposals(proposals) -> None:
    """Proposals as the pipeline passes them on: a (P, 4) tensor of finite, ordered corners."""
    if not isinstance(proposals, torch.Tensor):
        raise TypeError(f"proposals must be a torch tensor (P, 4), not {type(proposals).__name__}")
    if proposals.ndim != 2 or proposals.shape[1] != 4:
        raise ValueError(f"proposals has shape {tuple(proposals.shape)}; expected (P, 4) boxes")
    if proposals.dtype == torch.bool or proposals.is_complex():
        raise TypeError(f"proposals has dtype {proposals.dtype}; expected real corner coordinates")
    if not bool(torch.isfinite(proposals).all()) or bool(
        ((proposals[:, 2] < proposals[:, 0]) | (proposals[:, 3] < proposals[:, 1])).any()
    ):
        raise ValueError(
            "proposals holds NaN, infinite or inverted boxes; expected finite corners "
            "(x1, y1, x2, y2) with x1 <= x2 and y1 <= y2"
        )


def score_proposals(
    model: nn.Module,
    image: torch.Tensor,
    proposals: torch.Tensor,
    *,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Class probabilities of every proposal of one image: (P, classes), rows sum to 1.

    image (1, H, W); proposals (P, 4). Each proposal is warped to 16x16
    (:func:`course_lib.detection.warp_crops`) and run through ``model``; the softmax of
    its scores comes back on the image's device.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, not {type(model).__name__}")
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"image must be a torch tensor (1, H, W), not {type(image).__name__}")
    device = resolve_device(device)
    _check_proposals(proposals)
    if proposals.shape[0] == 0:
        raise ValueError("proposals has no rows; expected at least one box (P, 4) to score")
    crops = warp_crops(image, proposals, CROP)  # (P, 1, 16, 16)
    scores = predict(model, crops, batch_size=1024, device=device)  # (P, classes)
    return torch.softmax(scores.to(image.device), dim=1)


@dataclass(frozen=True)
class SceneDetections:
    """Detections in one image: ``boxes`` (K, 4), ``scores`` (K,), ``labels`` (K,) int64,
    highest score first within each class; ``n_candidates`` counts the boxes above the
    score threshold before NMS."""

    boxes: torch.Tensor
    scores: torch.Tensor
    labels: torch.Tensor
    n_candidates: int


def detect_scene(
    class_scores: torch.Tensor,
    proposals: torch.Tensor,
    *,
    score_threshold: float = 0.05,
    nms_threshold: float = 0.3,
    use_nms: bool = True,
) -> SceneDetections:
    """R-CNN's last two steps: per class, keep proposals scoring above ``score_threshold``,
    then (``use_nms``) greedy NMS at ``nms_threshold``; the last column is background.

    class_scores (P, classes) as :func:`score_proposals` gives them; proposals (P, 4).
    """
    check_array("class_scores", class_scores, ndim=2, layout="(P, classes)", floating=True)
    check_array("proposals", proposals, ndim=2, layout="(P, 4)")
    if not isinstance(class_scores, torch.Tensor) or not isinstance(proposals, torch.Tensor):
        raise TypeError("class_scores and proposals must be torch tensors")
    if class_scores.shape[0] != proposals.shape[0] or class_scores.shape[1] < 2:
        raise ValueError(
            f"class_scores has shape {tuple(class_scores.shape)} and proposals "
            f"{tuple(proposals.shape)}; expected one row of at least 2 class scores per proposal"
        )
    if not bool(torch.isfinite(class_scores).all()):
        raise ValueError("class_scores holds NaN or infinite values; expected probabilities")
    _check_proposals(proposals)
    score_threshold = check_probability("score_threshold", score_threshold)
    nms_threshold = check_probability("nms_threshold", nms_threshold)
    use_nms = check_bool("use_nms", use_nms)
    boxes, scores, labels, candidates = [], [], [], 0
    for c in range(class_scores.shape[1] - 1):  # every class but background
        above = class_scores[:, c] > score_threshold  # (P,)
        b, s = proposals[above], class_scores[above, c]
        candidates += len(s)
        keep = nms(b, s, nms_threshold) if use_nms else torch.argsort(s, descending=True)
        boxes.append(b[keep])
        scores.append(s[keep])
        labels.append(torch.full((len(keep),), c, dtype=torch.int64, device=proposals.device))
    return SceneDetections(torch.cat(boxes), torch.cat(scores), torch.cat(labels), candidates)


@dataclass(frozen=True)
class RCNNResult:
    """The pipeline's outcome on held-out scenes, with and without NMS.

    ``ap`` / ``ap_without_nms``: :class:`course_lib.detection.DetectionAP` (per-class AP,
    precision-recall curves, mAP); ``class_scores[i]`` (P, 11) the CNN's probabilities
    for every proposal of test scene i (on the CPU), so that the decisions can be
    redrawn at other thresholds; ``detections[i]`` the final ones (with NMS).
    """

    ap: DetectionAP
    ap_without_nms: DetectionAP
    test_scenes: DigitScenes
    proposals: torch.Tensor
    class_scores: tuple[torch.Tensor, ...]
    detections: tuple[SceneDetections, ...]
    n_train_scenes: int
    train_seconds: float
    score_threshold: float
    nms_threshold: float
    min_map: float
    min_gain: float

    @property
    def mean_ap(self) -> float:
        return self.ap.mean_ap

    @property
    def nms_gain(self) -> float:
        return self.ap.mean_ap - self.ap_without_nms.mean_ap

    @property
    def claim_holds(self) -> bool:
        return self.mean_ap >= self.min_map and self.nms_gain >= self.min_gain

    def sentence(self) -> str:
        verdict = "holds" if self.claim_holds else "does NOT hold"
        n_objects = sum(self.ap.n_true)
        return (
            f"Experiment: trained on warped proposals of {self.n_train_scenes} scenes, the "
            f"R-CNN pipeline reaches mAP {self.mean_ap:.3f} at IoU "
            f"{self.ap.iou_threshold:g} on {len(self.test_scenes)} held-out scenes "
            f"({n_objects} digits, {len(self.proposals)} proposals each); without NMS "
            f"{self.ap_without_nms.mean_ap:.3f}, so NMS adds {self.nms_gain:.3f}; the claim "
            f"(mAP >= {self.min_map:g} and NMS adds >= {self.min_gain:g}) {verdict}."
        )


def rcnn_experiment(
    *,
    n_train_scenes: int = 400,
    n_test_scenes: int = 40,
    epochs: int = 6,
    score_threshold: float = 0.05,
    nms_threshold: float = 0.3,
    min_map: float = 0.5,
    min_gain: float = 0.1,
    seed: int = 0,
    device: torch.device | str | None = None,
    num_threads: int | None = 1,
) -> RCNNResult:
    """Train on ``n_train_scenes`` scenes, detect on ``n_test_scenes`` others, measure mAP.

    Scenes: :func:`course_lib.data.make_digit_scenes` (train scenes from the training
    digits, seed ``seed``; test scenes from the test digits, seed ``seed + 1``). The
    classifier: :func:`train_region_classifier`. Detection: :func:`score_proposals` then
    :func:`detect_scene`, once with NMS and once without; mAP at IoU 0.5
    (:func:`course_lib.detection.mean_average_precision`).
    """
    n_train_scenes = check_int("n_train_scenes", n_train_scenes, minimum=1)
    n_test_scenes = check_int("n_test_scenes", n_test_scenes, minimum=1)
    epochs = check_int("epochs", epochs, minimum=1)
    score_threshold = check_probability("score_threshold", score_threshold)
    nms_threshold = check_probability("nms_threshold", nms_threshold)
    min_map = check_probability("min_map", min_map)
    min_gain = check_number("min_gain", min_gain, minimum=-1.0, maximum=1.0)
    seed = check_seed("seed", seed)
    if seed == 2**32 - 1:
        raise ValueError(f"seed={seed} leaves no seed + 1 for the test scenes; expected < 2**32 - 1")
    device = resolve_device(device)
    num_threads = _threads(num_threads)
    with torch_threads(num_threads):
        train = make_digit_scenes(n_train_scenes, split="train", canvas=CANVAS, seed=seed,
                                  device=device)
        test = make_digit_scenes(n_test_scenes, split="test", canvas=CANVAS, seed=seed + 1,
                                 device=device)
        start = time.perf_counter()
        model = train_region_classifier(train, epochs=epochs, seed=seed, device=device,
                                        num_threads=None)
        seconds = time.perf_counter() - start
        proposals = sliding_window_proposals(CANVAS, CANVAS, WINDOW_SIZES, STRIDE, device=device)
        scores = [score_proposals(model, test.images[i], proposals, device=device)
                  for i in range(len(test))]
        runs = {}
        for use_nms in (True, False):
            found = [detect_scene(s, proposals, score_threshold=score_threshold,
                                  nms_threshold=nms_threshold, use_nms=use_nms) for s in scores]
            ap = mean_average_precision(
                [d.boxes for d in found], [d.scores for d in found], [d.labels for d in found],
                list(test.boxes), list(test.labels), num_classes=len(test.classes),
            )
            runs[use_nms] = (ap, found)
    return RCNNResult(
        ap=runs[True][0],
        ap_without_nms=runs[False][0],
        test_scenes=test,
        proposals=proposals.cpu(),
        class_scores=tuple(s.cpu() for s in scores),
        detections=tuple(runs[True][1]),
        n_train_scenes=n_train_scenes,
        train_seconds=seconds,
        score_threshold=score_threshold,
        nms_threshold=nms_threshold,
        min_map=min_map,
        min_gain=min_gain,
    )
