"""Lesson 09's pictures: gradients through plain and residual nets, and their training curves.

* :func:`draw_depth_gradients` plots, on a log scale, the weight-gradient norm of every
  3x3 conv layer of a fresh plain net and a fresh residual net of the same depth
  (:func:`course_lib.experiments.residual.gradient_norms_by_depth`);
  :func:`depth_gradients_app` adds a depth slider (8 to 56 layers, only the depths
  6n + 2 the nets allow) and a batch-norm checkbox.
* :func:`draw_degradation` draws the training loss of the degradation experiment's
  three networks step by step
  (:func:`course_lib.experiments.residual.degradation_experiment`).

The draw functions are pure; the app only wires controls to them.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from course_lib.experiments.residual import (
    DegradationResult,
    GradientNorms,
    gradient_norms_by_depth,
)
from course_lib.validate import check_bool, check_int
from course_lib.widgets.base import FigureApp

__all__ = ["depth_gradients_app", "draw_degradation", "draw_depth_gradients"]

_COLOURS = {"plain": "#c0392b", "residual": "#1f6fb5"}
_FLOOR = 1e-30  # a gradient of exactly 0 is drawn here on the log scale


def draw_depth_gradients(
    depth: int = 20, batch_norm: bool = True, *, seed: int = 0, device=None
) -> tuple[Figure, GradientNorms]:
    """Per-layer ||dL/dW|| (log scale) of a plain and a residual net of ``depth`` layers.

    Layer 1 is the stem conv, nearest the input. Returns the figure and the numbers it
    shows; a depth that is not 6n + 2 raises ``ValueError``.
    """
    result = gradient_norms_by_depth(depth, batch_norm=batch_norm, seed=seed, device=device)
    fig = Figure(figsize=(7, 3.8), layout="constrained")
    ax = fig.subplots()
    layers = np.arange(1, result.depth)
    for name in ("plain", "residual"):
        norms = np.maximum(getattr(result, name), _FLOOR)
        spread = result.spread(name)
        what = f"spread {spread:.3g}x" if np.isfinite(spread) else "some layers get exactly 0"
        ax.semilogy(layers, norms, "o-", ms=3, color=_COLOURS[name], label=f"{name} ({what})")
    if (result.plain == 0).any():
        ax.annotate("exactly 0 (drawn at 1e-30)", (1, _FLOOR), xytext=(6, 6),
                    textcoords="offset points", fontsize=8)
    bn = "with" if result.batch_norm else "without"
    ax.set_title(f"{result.depth} layers {bn} batch norm, at initialisation")
    ax.set_xlabel("3x3 conv layer (1 = nearest the input)")
    ax.set_ylabel("||dL/dW|| (log scale)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(frameon=False)
    return fig, result


def depth_gradients_app(depth: int = 20, batch_norm: bool = True) -> FigureApp:
    """A depth slider (8, 14, ..., 56) and a batch-norm checkbox over :func:`draw_depth_gradients`."""
    depth = check_int("depth", depth, minimum=8, maximum=56)
    if (depth - 2) % 6:
        raise ValueError(f"depth={depth} must be 6n + 2 (8, 14, 20, ..., 56)")
    batch_norm = check_bool("batch_norm", batch_norm)
    controls = {
        "depth": widgets.IntSlider(value=depth, min=8, max=56, step=6, description="depth"),
        "batch_norm": widgets.Checkbox(value=batch_norm, description="batch norm"),
    }
    return FigureApp(controls, draw_depth_gradients, title="Gradient norm per layer")


def draw_degradation(result: DegradationResult, *, ax: Axes | None = None, smooth: int = 5):
    """The three networks' training loss per step (a running mean over ``smooth`` steps).

    Returns the figure (a new one unless ``ax`` is given).
    """
    if not isinstance(result, DegradationResult):
        raise TypeError(f"result is a {type(result).__name__}; expected a DegradationResult")
    if ax is not None and not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None, not {type(ax).__name__}")
    smooth = check_int("smooth", smooth, minimum=1, maximum=100)
    if ax is None:
        fig = Figure(figsize=(7, 3.6), layout="constrained")
        ax = fig.subplots()
    colours = ("#e67e22", "#c0392b", "#1f6fb5")
    for name, colour in zip(result.names, colours, strict=True):
        loss = np.asarray(result.histories[name].step_loss, dtype=np.float64)
        k = min(smooth, len(loss))
        running = np.convolve(loss, np.ones(k) / k, mode="valid")
        ax.plot(np.arange(k, len(loss) + 1), running, color=colour,
                label=f"{name}: {result.train_loss[name]:.3f} at the end")
    ax.set_xlabel("training step (batches of 64)")
    ax.set_ylabel("training loss (cross-entropy)")
    ax.set_title(f"The same {result.epochs} epochs for every network")
    ax.grid(True, alpha=0.3)
    ax.legend(frameon=False)
    return ax.figure
