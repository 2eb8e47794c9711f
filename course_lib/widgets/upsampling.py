"""Lesson 11's pictures and app: the four tasks on one scene, score maps, and upsampling.

* :func:`draw_task_kinds` draws what classification, localisation, detection and
  semantic vs instance segmentation each output for one scene
  (:func:`course_lib.experiments.dense_prediction.scene_tasks`).
* :func:`draw_score_map` draws a canvas of digits next to the score map that the
  convolutionalised LeNet-5 computed for it in one pass.
* :func:`upsampling_view` max-pools a small feature map or a photo by ``stride`` and
  brings it back to full size four ways with :mod:`course_lib.ops`: nearest neighbour,
  bed of nails, max unpooling (with the pool's remembered positions) and a transposed
  convolution with a bilinear or a random kernel; :func:`draw_upsampling` draws them
  side by side and :func:`upsampling_app` wires a source dropdown, a stride slider, an
  initialisation toggle and a kernel-size slider (random kernels only) to it.

The draw functions are pure; the app only wires controls to them.
"""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from course_lib import ops
from course_lib.data import load_photo
from course_lib.experiments.dense_prediction import NET_STRIDE, SceneTasks
from course_lib.validate import check_array, check_choice, check_int, check_seed
from course_lib.viz import show_image
from course_lib.widgets.base import FigureApp

__all__ = [
    "INITS",
    "METHODS",
    "SOURCES",
    "UpsamplingView",
    "draw_score_map",
    "draw_task_kinds",
    "draw_upsampling",
    "upsampling_app",
    "upsampling_view",
]

SOURCES = ("feature map", "image")
INITS = ("bilinear", "random")
METHODS = ("nearest neighbour", "bed of nails", "max unpooling", "transposed conv")
STRIDES = (2, 3, 4)  # every source's sides are multiples of 12, so each stride divides them
MAX_KERNEL = 8


# --------------------------------------------------------------------------- the four tasks


def _colours(n: int) -> np.ndarray:
    cmap = colormaps["tab10"]
    return np.array([cmap(i % 10) for i in range(n)])  # (n, 4) RGBA


def _overlay(ax, labels: np.ndarray, colours: np.ndarray) -> None:
    rgba = np.zeros((*labels.shape, 4))
    for k in np.unique(labels):
        if k > 0:
            rgba[labels == k] = colours[k % len(colours)]
    rgba[..., 3] *= 0.6
    ax.imshow(rgba, interpolation="nearest")


def _box(ax, box, colour, text: str | None = None) -> None:
    x0, y0, x1, y1 = box
    ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, ec=colour, lw=2))
    if text:
        ax.text(x0 - 0.5, y0 - 1.5, text, color=colour, fontsize=7, va="bottom",
                bbox={"fc": "white", "ec": "none", "pad": 0.5, "alpha": 0.7})  # fmt: skip


def draw_task_kinds(image, tasks: SceneTasks) -> Figure:
    """Five panels: classification, localisation, detection, semantic and instance masks.

    image: the scene, any layout :func:`course_lib.viz.show_image` accepts (e.g. (3, H, W)
    from :func:`course_lib.data.make_shapes_segmentation`); tasks: its
    :class:`~course_lib.experiments.dense_prediction.SceneTasks`.
    """
    if not isinstance(tasks, SceneTasks):
        raise TypeError(
            f"tasks must be a SceneTasks from scene_tasks(mask), not {type(tasks).__name__}"
        )
    check_array("image", image, ndim=(2, 3, 4), layout="(H, W), (H, W, 3) or (3, H, W)",
                allow_empty=False)  # fmt: skip
    names = tasks.class_names
    fig = Figure(figsize=(13, 3.2), layout="constrained")
    axes = fig.subplots(1, 5)
    titles = [
        f"classification:\n'{names[tasks.label]}'",
        f"localisation:\n'{names[tasks.label]}' + one box",
        f"detection:\n{tasks.n_objects} boxes, each with a class",
        "semantic segmentation:\na class per pixel",
        f"instance segmentation:\n{tasks.n_objects} objects, one id each",
    ]
    class_colours = _colours(len(names))
    for ax, title in zip(axes, titles, strict=True):
        show_image(image, ax=ax)
        ax.set_title(title, fontsize=9)
    _box(axes[1], tasks.box, "yellow", names[tasks.label])
    for box, k in zip(tasks.boxes, tasks.box_labels, strict=True):
        _box(axes[2], box, class_colours[k], names[k])
    _overlay(axes[3], tasks.semantic, class_colours)
    _overlay(axes[4], tasks.instances, _colours(tasks.n_objects + 1)[::-1])
    return fig


# --------------------------------------------------------------------------- score maps


def draw_score_map(canvas, score_map, *, class_names=None) -> Figure:
    """The canvas (H, W) and the one-pass score map (K, rows, cols) it gave.

    Left: the canvas; middle: the winning class at each map position, written where its
    softmax probability is above 0.9; right: that probability. One map step is
    ``NET_STRIDE`` = 4 input pixels; map position (r, c) scores the 32x32 window whose
    top-left corner is at pixel (4r, 4c).
    """
    check_array("canvas", canvas, ndim=2, layout="(H, W): one grey canvas", allow_empty=False)
    check_array("score_map", score_map, ndim=3, layout="(K, rows, cols): a score per class",
                allow_empty=False)  # fmt: skip
    scores = torch.as_tensor(np.asarray(score_map.detach().cpu() if isinstance(
        score_map, torch.Tensor) else score_map, dtype=np.float64))  # fmt: skip
    k = scores.shape[0]
    if class_names is None:
        class_names = [str(i) for i in range(k)]
    if not isinstance(class_names, tuple | list):
        raise TypeError(f"class_names must be a list of names, not {type(class_names).__name__}")
    if len(class_names) != k:
        raise ValueError(f"class_names has {len(class_names)} names; expected the {k} classes "
                         "of score_map")  # fmt: skip
    prob = torch.softmax(scores, 0)  # (K, rows, cols)
    best, winner = prob.max(0)  # (rows, cols) each
    fig = Figure(figsize=(12, 3.2), layout="constrained")
    ax_c, ax_w, ax_p = fig.subplots(1, 3)
    show_image(canvas, ax=ax_c, title=f"canvas {tuple(canvas.shape)}")
    ax_w.imshow(winner.numpy(), cmap="tab10", vmin=0, vmax=9, interpolation="nearest")
    for (r, c), v in np.ndenumerate(winner.numpy()):
        if best[r, c] > 0.9:
            ax_w.text(c, r, class_names[v], ha="center", va="center", fontsize=8, color="white")
    ax_w.set_title(f"winning class ({scores.shape[1]}x{scores.shape[2]} map; one step = "
                   f"{NET_STRIDE} px)", fontsize=9)  # fmt: skip
    image = ax_p.imshow(best.numpy(), cmap="magma", vmin=0, vmax=1, interpolation="nearest")
    ax_p.set_title("its probability", fontsize=9)
    fig.colorbar(image, ax=ax_p, shrink=0.8)
    for ax in (ax_w, ax_p):
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


# --------------------------------------------------------------------------- upsampling


def _feature_map() -> np.ndarray:
    """A small 12x12 "feature map": a few smooth blobs plus texture, fixed."""
    rows, cols = np.mgrid[0:12, 0:12]
    blobs = [(2.5, 3.0, 1.0), (8.0, 8.5, 0.8), (4.0, 9.5, -0.6), (9.5, 2.0, 0.5)]
    out = sum(a * np.exp(-((rows - r) ** 2 + (cols - c) ** 2) / 4.0) for r, c, a in blobs)
    return out + 0.15 * np.sin(1.7 * rows) * np.cos(1.3 * cols)


def _image() -> np.ndarray:
    """scikit-learn's "china" photo in grey, averaged down to 96 x 144 (4 x 4 blocks)."""
    grey = load_photo("china", grey=True)[:384, :576]  # (384, 576)
    return grey.reshape(96, 4, 144, 4).mean(axis=(1, 3))  # (96, 144)


@dataclass(frozen=True)
class UpsamplingView:
    """What the app shows: the source, its max-pooled version and the four upsamplings.

    ``outputs`` maps each of :data:`METHODS` to an (H, W) array the source's size;
    ``errors`` to its mean absolute difference from the source.
    """

    source: str
    stride: int
    init: str
    kernel: int
    original: np.ndarray
    pooled: np.ndarray
    outputs: dict
    errors: dict

    def __str__(self) -> str:
        errs = ", ".join(f"{m} {e:.3f}" for m, e in self.errors.items())
        ph, pw = self.pooled.shape
        return (f"{self.source} {self.original.shape[0]}x{self.original.shape[1]} -> max pool "
                f"{self.stride}x{self.stride} -> {ph}x{pw} -> back to full size; mean |error| "
                f"against the original: {errs}")  # fmt: skip


def _tconv_settings(kernel: int, stride: int) -> tuple[int, int]:
    """(padding, output_padding) that make the output exactly ``stride`` times larger."""
    padding = max(0, -(-(kernel - stride) // 2))  # ceil((k - s) / 2), at least 0
    return padding, stride - kernel + 2 * padding


def upsampling_view(source: str = "feature map", stride: int = 2, init: str = "bilinear",
                    kernel: int = 4, *, seed: int = 0) -> UpsamplingView:  # fmt: skip
    """Max-pool ``source`` by ``stride`` (window = stride), then upsample back four ways.

    The transposed convolution uses :func:`course_lib.ops.bilinear_kernel` (its size
    is then ``2 * stride - stride % 2`` and ``kernel`` is ignored) or a random positive
    ``kernel`` x ``kernel`` one drawn by ``seed`` (entries uniform in [0.2, 1), scaled to
    sum to ``stride**2`` so that the picture keeps its brightness on average), with the
    padding that makes the output exactly ``stride`` times larger.
    """
    source = check_choice("source", source, SOURCES)
    stride = check_choice("stride", check_int("stride", stride), STRIDES)
    init = check_choice("init", init, INITS)
    kernel = check_int("kernel", kernel, minimum=1, maximum=MAX_KERNEL)
    seed = check_seed("seed", seed)
    original = _feature_map() if source == "feature map" else _image()
    x = original[None, None]  # (1, 1, H, W)
    pooled, indices = ops.max_pool2d(x, stride, return_indices=True)  # (1, 1, H/s, W/s)
    if init == "bilinear":
        weight = ops.bilinear_kernel(1, stride)  # (1, 1, K, K)
        kernel = weight.shape[-1]
    else:
        rng = np.random.default_rng(seed)
        weight = rng.uniform(0.2, 1.0, (1, 1, kernel, kernel))
        weight *= stride**2 / weight.sum()  # on average each output pixel gets weight 1
    padding, extra = _tconv_settings(kernel, stride)
    outputs = {
        "nearest neighbour": ops.upsample_nearest(pooled, stride),
        "bed of nails": ops.bed_of_nails(pooled, stride),
        "max unpooling": ops.max_unpool2d(pooled, indices, stride, output_size=x.shape[2:]),
        "transposed conv": ops.conv_transpose2d(pooled, weight, stride=stride, padding=padding,
                                                output_padding=extra),
    }  # fmt: skip
    outputs = {m: out[0, 0] for m, out in outputs.items()}
    errors = {m: float(np.mean(np.abs(out - original))) for m, out in outputs.items()}
    return UpsamplingView(source, stride, init, kernel, original, pooled[0, 0], outputs, errors)


def draw_upsampling(source: str = "feature map", stride: int = 2, init: str = "bilinear",
                    kernel: int = 4, *, seed: int = 0,
                    ) -> tuple[Figure, UpsamplingView]:  # fmt: skip
    """Six panels: the source, its max-pooled version, and the four ways back up.

    Returns the figure and the :class:`UpsamplingView` it shows. With ``source="feature
    map"`` the pooled values are written in their cells, in the pooled map and where bed
    of nails and max unpooling put them, so the positions can be followed.
    """
    view = upsampling_view(source, stride, init, kernel, seed=seed)
    fig = Figure(figsize=(12, 6.4), layout="constrained")
    axes = fig.subplots(2, 3).ravel()
    lo, hi = float(view.original.min()), float(view.original.max())
    tconv = (f"transposed conv, {view.init} {view.kernel}x{view.kernel} kernel, "
             f"stride {view.stride}")  # fmt: skip
    panels = [
        (f"original {view.original.shape[0]}x{view.original.shape[1]}", view.original),
        (f"max pooled {view.stride}x{view.stride}: {view.pooled.shape[0]}x{view.pooled.shape[1]}",
         view.pooled),
        *((tconv if m == "transposed conv" else m, view.outputs[m]) for m in METHODS),
    ]  # fmt: skip
    small = view.source == "feature map"
    for ax, (title, a) in zip(axes, panels, strict=True):
        ax.imshow(a, cmap="viridis" if small else "gray", vmin=lo, vmax=hi,
                  interpolation="nearest")  # fmt: skip
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        if small and (a is view.pooled or title in ("bed of nails", "max unpooling")):
            for (r, c), v in np.ndenumerate(a):  # the values that move: follow them by eye
                if v != 0:
                    ax.text(c, r, f"{v:.1f}", ha="center", va="center", fontsize=6,
                            color="white")  # fmt: skip
    return fig, view


def upsampling_app(source: str = "feature map") -> FigureApp:
    """Source dropdown, stride slider (2-4), initialisation toggle, kernel slider (1-8).

    The kernel slider is disabled for the bilinear initialisation, whose kernel size
    follows from the stride (it then shows that size).
    """
    source = check_choice("source", source, SOURCES)
    controls = {
        "source": widgets.Dropdown(options=list(SOURCES), value=source, description="source"),
        "stride": widgets.IntSlider(value=2, min=STRIDES[0], max=STRIDES[-1], description="stride"),
        "init": widgets.ToggleButtons(options=list(INITS), value="bilinear", description="kernel"),
        "kernel": widgets.IntSlider(value=4, min=1, max=MAX_KERNEL, description="kernel size"),
    }
    kernel, stride, init = controls["kernel"], controls["stride"], controls["init"]

    def kernel_only_for_random(_change: dict | None = None) -> None:
        # Registered before FigureApp's observers, so the picture sees the final values.
        kernel.disabled = init.value == "bilinear"
        if init.value == "bilinear":
            kernel.value = 2 * stride.value - stride.value % 2

    kernel_only_for_random()
    init.observe(kernel_only_for_random, names="value")
    stride.observe(kernel_only_for_random, names="value")
    return FigureApp(controls, draw_upsampling, title="Four ways back up after max pooling")

