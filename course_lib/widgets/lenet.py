"""Lesson 05's apps around a trained LeNet-5: feature maps, training curves, confusion matrix.

* :func:`draw_feature_maps` shows one test digit, the network's class probabilities
  for it, and the output of a chosen layer (conv1 before its ReLU, relu1, pool1,
  conv2, relu2, pool2) as one small image per channel. :func:`feature_maps_app`
  adds a slider for the digit and a dropdown for the layer.
* :func:`draw_training_curves` plots loss or accuracy per epoch (train solid,
  validation dashed) for one or several runs; :func:`training_curves_app` picks the
  metric and the run.
* :func:`draw_confusion` counts, for each true class, what the network predicted
  (:func:`course_lib.metrics.confusion_matrix`) and names the most frequent mistake;
  :func:`confusion_app` switches between runs and between counts and row fractions.

The model and the data are passed in (the notebook trains them); the draw functions
are pure and the apps only wire controls to them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from course_lib.device import resolve_device
from course_lib.metrics import confusion_matrix
from course_lib.train import History
from course_lib.validate import check_bool, check_choice, check_int
from course_lib.viz import layer_output, plot_confusion_matrix, plot_history, show_feature_maps
from course_lib.widgets.base import FigureApp

__all__ = [
    "LENET_LAYERS",
    "ConfusionView",
    "FeatureView",
    "confusion_app",
    "draw_confusion",
    "draw_feature_maps",
    "draw_training_curves",
    "feature_maps_app",
    "feature_maps",
    "lenet_layer_names",
    "training_curves_app",
]

# Friendly names for LeNet-5's feature stages, in the order the image meets them.
LENET_LAYERS = ("conv1", "relu1", "pool1", "conv2", "relu2", "pool2")
_KINDS = {nn.Conv2d: "conv", nn.ReLU: "relu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid"}


def lenet_layer_names(model: nn.Module) -> dict[str, str]:
    """Map "conv1", "relu1", "pool1", ... to the model's module names ("features.0", ...).

    Works for any model whose ``features`` (or first child) is an ``nn.Sequential`` of
    conv, activation and pooling layers, such as :func:`course_lib.models.lenet5`.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, not {type(model).__name__}")
    features = getattr(model, "features", None)
    prefix = "features"
    if not isinstance(features, nn.Sequential) and isinstance(model, nn.Sequential):
        features, prefix = model[0], "0"
    if not isinstance(features, nn.Sequential):
        raise ValueError(
            f"model {type(model).__name__} has no `features` Sequential of conv/pool layers"
        )
    names, counts = {}, {}
    for i, module in enumerate(features):
        kind = next((k for cls, k in _KINDS.items() if isinstance(module, cls)), None)
        if kind is None and isinstance(module, nn.MaxPool2d | nn.AvgPool2d):
            kind = "pool"
        if kind is None:
            continue
        counts[kind] = counts.get(kind, 0) + 1
        names[f"{kind}{counts[kind]}"] = f"{prefix}.{i}"
    if not names:
        raise ValueError(f"model {type(model).__name__}'s features hold no conv or pool layers")
    return names


def _check_images(images: torch.Tensor, labels: torch.Tensor | None) -> None:
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch tensor (N, C, H, W), not {type(images).__name__}")
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(
            f"images must be a non-empty batch (N, C, H, W); got {tuple(images.shape)}"
        )
    if not images.is_floating_point():
        raise TypeError(f"images has dtype {images.dtype}; expected floats such as torch.float32")
    if labels is None:
        return
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"labels must be a torch tensor (N,) or None, not {type(labels).__name__}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(
            f"labels has shape {tuple(labels.shape)} but images has {len(images)} images"
        )


def feature_maps(
    model: nn.Module, image: torch.Tensor, layer: str = "conv1", *, device=None
) -> torch.Tensor:
    """The output (C, H, W) of ``layer`` (a name from :func:`lenet_layer_names`) for one image.

    ``image`` is (C, H, W) or (1, C, H, W). The model is run in eval mode, up to the layer.
    """
    names = lenet_layer_names(model)
    layer = check_choice("layer", layer, tuple(names))
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"image must be a torch tensor (C, H, W), not {type(image).__name__}")
    if image.ndim not in (3, 4) or (image.ndim == 4 and len(image) != 1):
        raise ValueError(
            f"image has shape {tuple(image.shape)}; expected (C, H, W) or (1, C, H, W)"
        )
    x = image if image.ndim == 4 else image[None]  # (1, C, H, W)
    device = resolve_device(device)
    return layer_output(model, names[layer], x, device=device)[0]  # (C, H, W)


@dataclass(frozen=True)
class FeatureView:
    """What :func:`draw_feature_maps` shows, as numbers."""

    index: int
    layer: str
    shape: tuple[int, int, int]  # (H, W, C), the lesson's notation
    label: int | None
    prediction: int
    probability: float
    strongest_channel: int  # the channel with the largest mean activation

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def __str__(self) -> str:
        h, w, c = self.shape
        truth = f" (true label {self.label})" if self.label is not None else ""
        return (
            f"test digit #{self.index}{truth}: predicted {self.prediction} with probability "
            f"{self.probability:.2f}. {self.layer} output {h}x{w}x{c} = {self.size:,} values; "
            f"channel {self.strongest_channel} responds most on average."
        )


def draw_feature_maps(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    index: int = 0,
    layer: str = "conv1",
    device=None,
) -> tuple[Figure, FeatureView]:
    """One digit, its class probabilities and one layer's feature maps.

    ``images`` (N, C, H, W) and optional ``labels`` (N,); ``index`` picks the digit.
    Returns the figure and a :class:`FeatureView`.
    """
    _check_images(images, labels)
    index = check_int("index", index, minimum=0, maximum=len(images) - 1)
    device = resolve_device(device)
    image = images[index]  # (C, H, W)
    maps = feature_maps(model, image, layer, device=device)  # (C', H', W')
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            probs = torch.softmax(model(image[None].to(device)), dim=1)[0].cpu()  # (K,)
    finally:
        model.train(was_training)
    pred = int(probs.argmax())
    label = int(labels[index]) if labels is not None else None
    strongest = int(maps.flatten(1).mean(1).argmax())
    view = FeatureView(
        index=index,
        layer=layer,
        shape=(maps.shape[1], maps.shape[2], maps.shape[0]),
        label=label,
        prediction=pred,
        probability=float(probs[pred]),
        strongest_channel=strongest,
    )

    fig = Figure(figsize=(10, 3.8), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[1, 2.6])
    ax_img, ax_prob = left.subplots(2, 1, height_ratios=[3, 2])
    ax_img.imshow(image.detach().cpu().numpy().mean(0), cmap="gray")
    ax_img.set_title(f"digit #{index}" + (f", label {label}" if label is not None else ""))
    ax_img.set_axis_off()
    colours = ["#2a9d5c" if k == pred else "#9aa5b1" for k in range(len(probs))]
    ax_prob.bar(range(len(probs)), probs.numpy(), color=colours)
    ax_prob.set_xticks(range(len(probs)))
    ax_prob.set_ylim(0, 1)
    ax_prob.set_title(f"softmax: predicted {pred}", fontsize=9)
    ax_maps = right.subplots()
    ncols = 8 if maps.shape[0] > 6 else maps.shape[0]
    show_feature_maps(maps, ncols=ncols, max_maps=None, ax=ax_maps)
    h, w, c = view.shape
    right.suptitle(f"{layer}: {h}x{w}x{c} = {view.size:,} values", fontsize=10)
    return fig, view


def feature_maps_app(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    index: int = 0,
    layer: str = "conv1",
    device=None,
) -> FigureApp:
    """A slider for the test digit and a dropdown for the layer; the model stays fixed."""
    _check_images(images, labels)
    layers = list(lenet_layer_names(model))
    index = check_int("index", index, minimum=0, maximum=len(images) - 1)
    layer = check_choice("layer", layer, tuple(layers))
    resolve_device(device)  # an unknown device is refused now, not at the first redraw

    def draw(index: int, layer: str):
        return draw_feature_maps(model, images, labels, index=index, layer=layer, device=device)

    controls = {
        "index": widgets.IntSlider(
            value=index, min=0, max=len(images) - 1, description="test digit"
        ),
        "layer": widgets.Dropdown(options=layers, value=layer, description="layer"),
    }
    return FigureApp(controls, draw, title="What LeNet-5's layers see")


# --------------------------------------------------------------------------- training curves

METRICS = ("accuracy", "loss")


def _check_histories(histories: Mapping[str, History]) -> None:
    if not isinstance(histories, Mapping):
        raise TypeError(
            f"histories must be a {{name: History}} dict, not {type(histories).__name__}"
        )
    if not histories:
        raise ValueError("histories must be a non-empty {name: History} dict")
    for name, h in histories.items():
        if not isinstance(h, History):
            raise TypeError(f"histories[{name!r}] must be a History, not {type(h).__name__}")


def draw_training_curves(
    histories: Mapping[str, History], *, metric: str = "accuracy", run: str = "all"
) -> tuple[Figure, str]:
    """Per-epoch ``metric`` (train solid, validation dashed) of one run or all of them.

    Returns the figure and a line per run with its last train and validation values.
    """
    _check_histories(histories)
    metric = check_choice("metric", metric, METRICS)
    run = check_choice("run", run, ("all", *histories))
    chosen = dict(histories) if run == "all" else {run: histories[run]}
    fig = plot_history(chosen, metric=metric)
    ax = fig.axes[0]
    ax.set_title(f"{metric} per epoch (solid: training batches, dashed: validation)")
    if metric == "accuracy":
        ax.set_ylim(top=1.0)
    lines = []
    for name, h in chosen.items():
        train, val = getattr(h, f"train_{metric}")[-1], getattr(h, f"val_{metric}")[-1]
        fmt = (lambda v: f"{100 * v:.1f}%") if metric == "accuracy" else (lambda v: f"{v:.3f}")
        lines.append(f"{name}: after {h.epochs} epochs, train {fmt(train)}, validation {fmt(val)}")
    return fig, "; ".join(lines)


def training_curves_app(histories: Mapping[str, History], *, metric: str = "accuracy") -> FigureApp:
    """Dropdowns for the metric and the run ("all" overlays every run).

    With a single run there is no run dropdown: "all" and that run draw the same picture.
    """
    _check_histories(histories)
    metric = check_choice("metric", metric, METRICS)

    def draw(metric: str, run: str = "all"):
        return draw_training_curves(histories, metric=metric, run=run)

    controls = {
        "metric": widgets.Dropdown(options=list(METRICS), value=metric, description="metric"),
    }
    if len(histories) > 1:
        controls["run"] = widgets.Dropdown(options=["all", *histories], value="all", description="run")
    return FigureApp(controls, draw, title="Training curves")


# --------------------------------------------------------------------------- confusion matrix


@dataclass(frozen=True)
class ConfusionView:
    """A confusion matrix (K, K) (row = true class) and what stands out in it."""

    name: str
    matrix: np.ndarray
    accuracy: float
    worst: tuple[int, int, int]  # (true class, predicted class, count) of the commonest error

    def __str__(self) -> str:
        t, p, n = self.worst
        errors = int(self.matrix.sum() - np.trace(self.matrix))
        if n == 0:
            return f"{self.name}: accuracy {100 * self.accuracy:.1f}%, no mistakes."
        return (
            f"{self.name}: accuracy {100 * self.accuracy:.1f}% ({errors} mistakes); most "
            f"common: a true {t} predicted as {p} ({n} times)."
        )


def _check_predictions(predictions: Any) -> None:
    if not isinstance(predictions, Mapping):
        raise TypeError(
            f"predictions must be a {{name: labels}} dict, not {type(predictions).__name__}"
        )
    if not predictions:
        raise ValueError("predictions must be a non-empty {name: labels} dict")


def _labels(values: Any, name: str) -> torch.Tensor:
    """Class labels (N,) as a CPU int64 tensor, from a tensor or a numpy array of ints."""
    if isinstance(values, np.ndarray):
        if not np.issubdtype(values.dtype, np.integer):
            raise TypeError(f"{name} has dtype {values.dtype}; expected integer class labels")
        values = torch.from_numpy(np.array(values, dtype=np.int64))
    if not isinstance(values, torch.Tensor):
        raise TypeError(f"{name} must be a tensor of class labels, not {type(values).__name__}")
    if values.is_floating_point() or values.is_complex() or values.dtype == torch.bool:
        raise TypeError(f"{name} has dtype {values.dtype}; expected integer class labels")
    if values.ndim != 1:
        raise ValueError(f"{name} has shape {tuple(values.shape)}; expected (N,) class labels")
    if len(values) and values.min() < 0:
        raise ValueError(f"{name} holds a negative class label {int(values.min())}")
    return values.cpu().long()


def draw_confusion(
    predictions: Mapping[str, torch.Tensor],
    targets: torch.Tensor,
    *,
    run: str | None = None,
    normalize: bool = False,
    class_names: Sequence[str] | None = None,
) -> tuple[Figure, ConfusionView]:
    """The confusion matrix of one run's predicted labels (N,) against ``targets`` (N,)."""
    _check_predictions(predictions)
    run = next(iter(predictions)) if run is None else check_choice("run", run, tuple(predictions))
    normalize = check_bool("normalize", normalize)
    pred = _labels(predictions[run], f"predictions[{run!r}]")
    target = _labels(targets, "targets")
    if pred.shape != target.shape:
        raise ValueError(
            f"predictions[{run!r}] has shape {tuple(pred.shape)}, targets {tuple(target.shape)}"
        )
    if class_names is not None and (
        isinstance(class_names, str) or not isinstance(class_names, Sequence)
    ):
        raise TypeError(f"class_names must be a list of names or None, not {class_names!r}")
    if class_names is not None and len(class_names) == 0:
        raise ValueError("class_names=[] names no class; pass None to number the classes")
    if len(pred) == 0:
        raise ValueError("targets is empty: there is nothing to count")
    top = int(max(pred.max(), target.max()))
    if class_names is not None and len(class_names) <= top:
        raise ValueError(
            f"class_names has {len(class_names)} names, but the labels go up to {top}; "
            f"expected at least {top + 1} names"
        )
    k = len(class_names) if class_names is not None else top + 1
    cm = confusion_matrix(target.numpy(), pred.numpy(), k)  # (K, K) numpy counts
    off = cm.copy()
    np.fill_diagonal(off, 0)
    t, p = np.unravel_index(int(np.argmax(off)), off.shape)
    view = ConfusionView(run, cm, float(np.trace(cm) / cm.sum()), (int(t), int(p), int(off[t, p])))
    fig = plot_confusion_matrix(cm, class_names, normalize=normalize)
    fig.axes[0].set_title(f"{run}: {100 * view.accuracy:.1f}% correct", fontsize=10)
    return fig, view


def confusion_app(
    predictions: Mapping[str, torch.Tensor],
    targets: torch.Tensor,
    *,
    class_names: Sequence[str] | None = None,
) -> FigureApp:
    """A dropdown for the run (when there is more than one) and a checkbox for row
    fractions instead of counts."""
    _check_predictions(predictions)

    def draw(normalize: bool, run: str | None = None):
        return draw_confusion(
            predictions, targets, run=run, normalize=normalize, class_names=class_names
        )

    controls = {}
    if len(predictions) > 1:  # a dropdown with one option would do nothing
        controls["run"] = widgets.Dropdown(options=list(predictions), description="run")
    controls["normalize"] = widgets.Checkbox(value=False, description="fractions per true class")
    return FigureApp(controls, draw, title="Confusion matrix on the test digits")
