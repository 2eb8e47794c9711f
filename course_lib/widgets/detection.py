"""Lesson 14's app: R-CNN's last steps on one scene, live: score threshold, then NMS.

:func:`draw_detections` shows a test scene twice: on the left every proposal whose
class score passes the threshold (the candidates), on the right what is left after
per-class NMS (or, with NMS off, all candidates again), with the true boxes dashed.
:func:`detection_view` gives the same as numbers: how many candidates, how many kept,
how many digits found at IoU >= 0.5 and how many false positives.
:func:`detections_app` wires a scene slider, a score-threshold slider, an NMS IoU
slider and an NMS on/off switch to it.

:func:`draw_iou` and :func:`iou_app` come first in the lesson: a fixed 20x20 box and a
second one that the learner moves and scales, with their IoU.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from course_lib.data import DigitScenes
from course_lib.detection import iou, match_detections
from course_lib.experiments.detection import SceneDetections, detect_scene
from course_lib.validate import check_int, check_number
from course_lib.widgets.base import FigureApp

__all__ = [
    "DetectionView",
    "detection_view",
    "detections_app",
    "draw_detections",
    "draw_iou",
    "iou_app",
]

_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf")


@dataclass(frozen=True)
class DetectionView:
    """What :func:`draw_detections` shows for one scene, as numbers."""

    index: int
    n_candidates: int
    n_kept: int
    n_objects: int
    n_found: int
    n_false: int
    detections: SceneDetections

    def __str__(self) -> str:
        return (
            f"scene {self.index}: {self.n_candidates} candidate boxes above the threshold -> "
            f"{self.n_kept} kept; {self.n_found} of {self.n_objects} digits found (IoU >= 0.5), "
            f"{self.n_false} false positives."
        )


def _check_inputs(scenes, proposals, class_scores, index: int) -> int:
    if not isinstance(scenes, DigitScenes):
        raise TypeError(f"scenes is a {type(scenes).__name__}; expected course_lib.data.DigitScenes")
    if not isinstance(proposals, torch.Tensor):
        raise TypeError(f"proposals must be a torch tensor (P, 4), not {type(proposals).__name__}")
    if isinstance(class_scores, str | torch.Tensor) or not isinstance(class_scores, Sequence):
        raise TypeError(
            f"class_scores must be a list of (P, classes) tensors, one per scene, not "
            f"{type(class_scores).__name__}"
        )
    if len(class_scores) != len(scenes):
        raise ValueError(
            f"class_scores has {len(class_scores)} entries but scenes has {len(scenes)} scenes; "
            "expected one score table per scene"
        )
    what = f"a scene number in [0, {len(scenes) - 1}]"
    return check_int("index", index, minimum=0, maximum=len(scenes) - 1, what=what)


def detection_view(
    scenes: DigitScenes,
    proposals: torch.Tensor,
    class_scores: Sequence[torch.Tensor],
    index: int = 0,
    score_threshold: float = 0.5,
    nms_threshold: float = 0.3,
    use_nms: bool = True,
) -> DetectionView:
    """Detections of scene ``index`` at these settings (:func:`detect_scene`), and their tally.

    A detection is a hit when it overlaps a digit of its own class with IoU >= 0.5 that no
    higher-scoring detection took already (:func:`course_lib.detection.match_detections`).
    """
    index = _check_inputs(scenes, proposals, class_scores, index)
    found = detect_scene(class_scores[index], proposals, score_threshold=score_threshold,
                         nms_threshold=nms_threshold, use_nms=use_nms)
    truth, labels = scenes.boxes[index].cpu(), scenes.labels[index].cpu()
    boxes, scores, classes = found.boxes.cpu(), found.scores.cpu(), found.labels.cpu()
    hits = 0
    for c in torch.unique(torch.cat([labels, classes])).tolist():
        mine = classes == c
        hits += int(match_detections(boxes[mine], scores[mine], truth[labels == c], 0.5).sum())
    return DetectionView(index, found.n_candidates, len(scores), len(truth), hits,
                         len(scores) - hits, found)


def _draw_boxes(ax, boxes, labels, scores=None, *, lw=1.0, alpha=1.0) -> None:
    for i, (x1, y1, x2, y2) in enumerate(boxes.tolist()):
        colour = _COLOURS[int(labels[i]) % len(_COLOURS)]
        # imshow puts pixel centres at integers: a corner x sits at x - 0.5
        ax.add_patch(Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False,
                               edgecolor=colour, lw=lw, alpha=alpha))
        if scores is not None:
            ax.text(x1 - 0.5, y1 - 1.0, f"{int(labels[i])}: {float(scores[i]):.2f}",
                    color=colour, fontsize=8, va="bottom")


def draw_detections(
    scenes: DigitScenes,
    proposals: torch.Tensor,
    class_scores: Sequence[torch.Tensor],
    index: int = 0,
    score_threshold: float = 0.5,
    nms_threshold: float = 0.3,
    use_nms: bool = True,
) -> tuple[Figure, DetectionView]:
    """Candidates above the score threshold (left) and what NMS keeps (right) on one scene.

    Boxes are coloured by digit class, true boxes are dashed white; returns the figure and
    the :class:`DetectionView` it shows. Invalid settings raise ``ValueError``.
    """
    view = detection_view(scenes, proposals, class_scores, index, score_threshold,
                          nms_threshold, use_nms)
    image = scenes.images[view.index, 0].detach().cpu().numpy()
    scores = class_scores[view.index].detach().cpu()
    cpu_proposals = proposals.detach().cpu()
    best, best_class = scores[:, :-1].max(dim=1)  # (P,) each proposal's best digit
    candidates = best > score_threshold
    fig = Figure(figsize=(8.4, 4.2), layout="constrained")
    left, right = fig.subplots(1, 2)
    for ax in (left, right):
        ax.imshow(image, cmap="gray", vmin=0.0, vmax=1.0)
        for x1, y1, x2, y2 in scenes.boxes[view.index].cpu().tolist():
            ax.add_patch(Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False,
                                   edgecolor="white", lw=1.2, ls="--"))
        ax.set_xticks([])
        ax.set_yticks([])
    _draw_boxes(left, cpu_proposals[candidates], best_class[candidates], lw=0.6, alpha=0.6)
    left.set_title(f"{int(candidates.sum())} proposals with a digit score > {score_threshold:.2f}",
                   fontsize=10)
    d = view.detections
    _draw_boxes(right, d.boxes.cpu(), d.labels.cpu(), d.scores.cpu(), lw=1.5)
    step = f"after NMS at IoU {nms_threshold:.2f}" if use_nms else "without NMS"
    right.set_title(f"{view.n_kept} detections {step}: {view.n_found} of {view.n_objects} "
                    f"found, {view.n_false} false", fontsize=10)
    return fig, view


def detections_app(
    scenes: DigitScenes,
    proposals: torch.Tensor,
    class_scores: Sequence[torch.Tensor],
    index: int = 0,
) -> FigureApp:
    """Sliders for the scene, the score threshold and the NMS IoU threshold; an NMS switch.

    The IoU slider is disabled while NMS is off (it has nothing to set then).
    """
    index = _check_inputs(scenes, proposals, class_scores, index)
    controls = {
        "index": widgets.IntSlider(value=index, min=0, max=len(scenes) - 1, description="scene"),
        "score_threshold": widgets.FloatSlider(value=0.5, min=0.05, max=0.95, step=0.05,
                                               description="score >"),
        "nms_threshold": widgets.FloatSlider(value=0.3, min=0.05, max=0.95, step=0.05,
                                             description="NMS IoU"),
        "use_nms": widgets.Checkbox(value=True, description="NMS"),
    }

    def iou_only_with_nms(_change: dict | None = None) -> None:
        controls["nms_threshold"].disabled = not controls["use_nms"].value

    iou_only_with_nms()
    controls["use_nms"].observe(iou_only_with_nms, names="value")

    def draw(**values):
        return draw_detections(scenes, proposals, class_scores, **values)

    return FigureApp(controls, draw, title="R-CNN's last steps: per-class scores, then NMS")


# --------------------------------------------------------------------------- IoU of two boxes

_REFERENCE = (20.0, 20.0, 40.0, 40.0)  # the fixed box A, 20x20


def draw_iou(dx: float = 6.0, dy: float = 4.0, scale: float = 1.0) -> tuple[Figure, float]:
    """Box A (20x20, fixed) and box B: A scaled by ``scale`` about its centre, then moved
    by (``dx``, ``dy``) pixels; their intersection shaded. Returns the figure and the IoU.

    dx, dy in [-40, 40]; scale in [0.25, 3].
    """
    dx = check_number("dx", dx, minimum=-40.0, maximum=40.0)
    dy = check_number("dy", dy, minimum=-40.0, maximum=40.0)
    scale = check_number("scale", scale, minimum=0.25, maximum=3.0)
    a = np.array([_REFERENCE])
    cx, cy, half = 30.0 + dx, 30.0 + dy, 10.0 * scale
    b = np.array([[cx - half, cy - half, cx + half, cy + half]])
    value = float(iou(a, b)[0, 0])
    fig = Figure(figsize=(4.2, 4.2), layout="constrained")
    ax = fig.subplots()
    for box, colour, name in ((a[0], "black", "A"), (b[0], "tab:blue", "B")):
        x1, y1, x2, y2 = box
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=colour, lw=2))
        ax.text(x1, y1 - 1, name, color=colour, fontsize=10, va="bottom")
    ix1, iy1 = max(a[0, 0], b[0, 0]), max(a[0, 1], b[0, 1])
    ix2, iy2 = min(a[0, 2], b[0, 2]), min(a[0, 3], b[0, 3])
    if ix2 > ix1 and iy2 > iy1:
        ax.add_patch(Rectangle((ix1, iy1), ix2 - ix1, iy2 - iy1, color="tab:orange", alpha=0.4))
    ax.set_xlim(-20, 80)
    ax.set_ylim(80, -20)  # y grows downwards, as in an image
    ax.set_aspect("equal")
    verdict = "a hit at IoU >= 0.5" if value >= 0.5 else "a miss at IoU >= 0.5"
    ax.set_title(f"IoU = {value:.3f}: {verdict}", fontsize=10)
    return fig, value


def iou_app(dx: float = 6.0, dy: float = 4.0, scale: float = 1.0) -> FigureApp:
    """Sliders that move (dx, dy) and scale box B over :func:`draw_iou`; the message is the IoU."""
    dx = check_number("dx", dx, minimum=-40.0, maximum=40.0)
    dy = check_number("dy", dy, minimum=-40.0, maximum=40.0)
    scale = check_number("scale", scale, minimum=0.25, maximum=3.0)
    controls = {
        "dx": widgets.FloatSlider(value=dx, min=-40.0, max=40.0, step=0.5, description="move x"),
        "dy": widgets.FloatSlider(value=dy, min=-40.0, max=40.0, step=0.5, description="move y"),
        "scale": widgets.FloatSlider(value=scale, min=0.25, max=3.0, step=0.05,
                                     description="scale"),
    }

    def draw(**values):
        fig, value = draw_iou(**values)
        return fig, f"IoU(A, B) = {value:.4f}"

    return FigureApp(controls, draw, title="The IoU of two boxes")
