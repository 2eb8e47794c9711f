"""Lesson 12's pictures and app: what FCN-32s, -16s and -8s predict on the same scenes.

* :func:`segmentation_view` measures one validation scene under one variant: per-class
  IU and error pixels on that image.
* :func:`draw_segmentation` shows the scene, its truth, the variant's prediction and
  its errors coloured by the true class (:func:`course_lib.viz.plot_segmentation`);
  :func:`segmentation_app` wires a scene slider and a variant drop-down to it.
* :func:`draw_skip_comparison` puts the three variants side by side on a few scenes:
  predictions in the top row of each scene, errors below.

All take the :class:`~course_lib.experiments.segmentation.SkipResult` of
:func:`~course_lib.experiments.segmentation.skip_experiment`, which holds the
validation scenes and every variant's predicted labels, so nothing is recomputed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from course_lib.data import CLASS_PALETTE
from course_lib.experiments.segmentation import VARIANTS, SkipResult
from course_lib.metrics import confusion_matrix, per_class_iou
from course_lib.validate import check_choice, check_int
from course_lib.viz import plot_segmentation
from course_lib.widgets.base import FigureApp

__all__ = [
    "SegmentationView",
    "draw_segmentation",
    "draw_skip_comparison",
    "segmentation_app",
    "segmentation_view",
]


def _check_result(result) -> SkipResult:
    if not isinstance(result, SkipResult):
        raise TypeError(
            f"result is a {type(result).__name__}; expected the SkipResult of skip_experiment()"
        )
    return result


def _check_index(result: SkipResult, index, name: str = "index") -> int:
    n = result.n_val
    return check_int(name, index, minimum=0, maximum=n - 1,
                     what=f"an int in [0, {n - 1}] (a validation scene)")  # fmt: skip


@dataclass(frozen=True)
class SegmentationView:
    """One scene under one variant: ``class_iou`` (K,) IU on this image (NaN for a class
    absent from truth and prediction), ``errors`` (K,) wrongly labelled pixels per TRUE
    class, ``error_fraction`` of all pixels."""

    index: int
    variant: str
    class_names: tuple[str, ...]
    class_iou: np.ndarray
    errors: np.ndarray
    error_fraction: float

    def __str__(self) -> str:
        parts = [
            f"{name} {100 * iu:.0f}%"
            for name, iu in zip(self.class_names, self.class_iou, strict=True)
            if not np.isnan(iu)
        ]
        worst = int(np.argmax(self.errors))
        return (
            f"scene {self.index}, FCN-{self.variant}: {100 * self.error_fraction:.1f}% of pixels "
            f"wrong, most of them {self.class_names[worst]} ({int(self.errors[worst])} px); "
            f"IU on this image: " + ", ".join(parts) + "."
        )


def segmentation_view(result: SkipResult, index: int = 0, variant: str = "8s") -> SegmentationView:
    """Per-class IU and error counts of ``variant`` on validation scene ``index``."""
    result = _check_result(result)
    index = _check_index(result, index)
    variant = check_choice("variant", variant, VARIANTS)
    k = len(result.class_names)
    truth, pred = result.masks[index], result.predictions[variant][index]  # (H, W) each
    cm = np.asarray(confusion_matrix(truth, pred, k).cpu(), dtype=np.int64)  # (truth, pred)
    errors = cm.sum(1) - np.diag(cm)
    return SegmentationView(
        index=index,
        variant=variant,
        class_names=tuple(result.class_names),
        class_iou=per_class_iou(truth, pred, k),
        errors=errors,
        error_fraction=float(errors.sum() / cm.sum()),
    )


def draw_segmentation(
    result: SkipResult, index: int = 0, variant: str = "8s"
) -> tuple[Figure, SegmentationView]:
    """Scene ``index``: image, truth, ``variant``'s prediction, its errors by true class."""
    view = segmentation_view(result, index, variant)
    fig = plot_segmentation(
        result.images[view.index],
        result.masks[view.index],
        result.predictions[variant][view.index],
        class_names=list(result.class_names),
        errors=True,
    )
    fig.suptitle(f"validation scene {view.index}, FCN-{variant}", fontsize=10)
    return fig, view


def segmentation_app(result: SkipResult, index: int = 0, variant: str = "8s") -> FigureApp:
    """A scene slider (every validation scene) and a variant drop-down over
    :func:`draw_segmentation`."""
    result = _check_result(result)
    index = _check_index(result, index)
    variant = check_choice("variant", variant, VARIANTS)
    controls = {
        "index": widgets.IntSlider(
            value=index, min=0, max=result.n_val - 1, description="scene"
        ),
        "variant": widgets.Dropdown(
            options=[(f"FCN-{v}", v) for v in VARIANTS], value=variant, description="variant"
        ),
    }

    def draw(index: int, variant: str) -> tuple[Figure, SegmentationView]:
        return draw_segmentation(result, index, variant)

    return FigureApp(controls, draw, title="FCN predictions on a validation scene")


def _colour_labels(labels: np.ndarray, colours: np.ndarray) -> np.ndarray:
    return colours[labels]  # (H, W) -> (H, W, 3)


def draw_skip_comparison(result: SkipResult, indices: Sequence[int] = (0, 1, 2)) -> Figure:
    """For each scene in ``indices``: image, truth, then FCN-32s, -16s, -8s predictions
    (top row) and their errors (below: wrong pixels in the colour of their true class,
    background called an object in black). Classes are drawn in the colours the scenes
    paint them (:data:`course_lib.data.CLASS_PALETTE`)."""
    result = _check_result(result)
    if isinstance(indices, str) or not isinstance(indices, Sequence | np.ndarray):
        raise TypeError(f"indices={indices!r} must be a list of scene numbers")
    indices = [_check_index(result, i, f"indices[{j}]") for j, i in enumerate(indices)]
    if not 1 <= len(indices) <= 6:
        raise ValueError(f"indices has {len(indices)} scenes; expected 1 to 6")
    k = len(result.class_names)
    colours = np.ones((k, 3))  # background white; each class in its scenes' colour
    colours[1:] = CLASS_PALETTE[1:k]
    cols = 2 + len(VARIANTS)
    fig = Figure(figsize=(1.9 * cols, 3.9 * len(indices) + 0.4), layout="constrained")
    axes = fig.subplots(2 * len(indices), cols, squeeze=False)
    for row, i in enumerate(indices):
        top, bottom = axes[2 * row], axes[2 * row + 1]
        image = result.images[i].permute(1, 2, 0).numpy()  # (3, H, W) -> (H, W, 3)
        truth = result.masks[i].numpy()
        top[0].imshow(image, interpolation="nearest")
        top[0].set_title(f"scene {i}", fontsize=9)
        top[1].imshow(_colour_labels(truth, colours), interpolation="nearest")
        top[1].set_title("truth", fontsize=9)
        for j, v in enumerate(VARIANTS):
            pred = result.predictions[v][i].numpy()
            wrong = pred != truth
            top[2 + j].imshow(_colour_labels(pred, colours), interpolation="nearest")
            top[2 + j].set_title(f"FCN-{v}", fontsize=9)
            err = np.ones((*truth.shape, 3))
            err[wrong] = _colour_labels(truth, colours)[wrong]
            err[wrong & (truth == 0)] = 0.0  # a false alarm on the background
            bottom[2 + j].imshow(err, interpolation="nearest")
            bottom[2 + j].set_title(f"errors: {100 * wrong.mean():.1f}%", fontsize=9)
        for ax in (*top, *bottom):
            ax.set_xticks([])
            ax.set_yticks([])
        for ax in bottom[:2]:
            ax.set_axis_off()
    handles = [Patch(facecolor=colours[c], edgecolor="#888", label=name)
               for c, name in enumerate(result.class_names)]  # fmt: skip
    handles.append(Patch(facecolor="black", label="background (error)"))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8,
               frameon=False)  # fmt: skip
    return fig
