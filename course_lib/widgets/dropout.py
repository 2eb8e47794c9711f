"""Lesson 06's app: what a drop rate does to one layer's activations and to the train/test gap.

:func:`draw_dropout` takes the nets the notebook trained, one per drop rate
(:class:`course_lib.experiments.dropout.TrainedNet`, e.g. ``result.runs`` of
:func:`~course_lib.experiments.dropout.dropout_gap_experiment`), and for the chosen rate
shows

* one test digit;
* the output of the first hidden layer (``relu1``, 256 units drawn as a 16x16 grid) of
  the net trained at that rate, as the network computes it at inference;
* the same layer after one dropout mask (drawn by :func:`course_lib.ops.dropout` from
  ``mask_seed``), as the next layer sees it in training: dropped units 0 and crossed
  out, kept ones divided by p_keep;
* that net's train and test accuracy per epoch, the gap between them shaded, next to
  the curves of the net trained without dropout.

:func:`dropout_app` wires a drop-rate slider (the trained rates only), a mask slider and
a digit slider to it. The draw function is pure; the app only wires the controls.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure

from course_lib import ops
from course_lib.experiments.dropout import TrainedNet
from course_lib.validate import check_array, check_int, check_number
from course_lib.viz import layer_output
from course_lib.widgets.base import FigureApp

__all__ = ["DropoutView", "draw_dropout", "dropout_app", "dropout_view"]

_LAYER = "relu1"  # the first hidden layer's output, which drop1 thins in training
_TRAIN_COLOUR, _TEST_COLOUR = "#1f6fb5", "#d35400"


@dataclass(frozen=True)
class DropoutView:
    """The numbers :func:`draw_dropout` shows.

    ``activations`` (units,) is the layer's output for digit ``index`` at inference,
    ``thinned`` (units,) the same after one mask (dropped units 0, kept ones divided by
    p_keep), ``keep`` (units,) that mask; ``run`` the net trained at ``p_drop``.
    """

    p_drop: float
    index: int
    mask_seed: int
    activations: np.ndarray
    thinned: np.ndarray
    keep: np.ndarray
    run: TrainedNet

    @property
    def kept(self) -> int:
        return int(self.keep.sum())

    @property
    def mean_full(self) -> float:
        return float(self.activations.mean())

    @property
    def mean_thinned(self) -> float:
        return float(self.thinned.mean())

    def __str__(self) -> str:
        n = self.keep.size
        return (
            f"p_drop = {self.p_drop:g} (p_keep = {1 - self.p_drop:g}): this mask keeps "
            f"{self.kept} of {n} units ({100 * self.kept / n:.0f}%); mean activation "
            f"{self.mean_full:.3f} at inference, {self.mean_thinned:.3f} after the mask (equal "
            f"on average over masks). After {self.run.epochs} epochs: train "
            f"{100 * self.run.final_train:.1f}%, test {100 * self.run.final_test:.1f}%, gap "
            f"{100 * self.run.gap:.1f} points."
        )


def _check_runs(runs) -> dict[float, TrainedNet]:
    if not isinstance(runs, Mapping):
        raise TypeError(
            f"runs must be a dict {{p_drop: TrainedNet}} (e.g. result.runs), not "
            f"{type(runs).__name__}"
        )
    if not runs:
        raise ValueError("runs is empty; expected at least one {p_drop: TrainedNet}")
    for p, run in runs.items():
        if not isinstance(run, TrainedNet):
            raise TypeError(f"runs[{p!r}] is a {type(run).__name__}; expected a TrainedNet")
    return {run.p_drop: run for run in runs.values()}


def _check_images(images) -> torch.Tensor:
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch tensor (N, 1, 8, 8), not {type(images).__name__}")
    check_array("images", images, ndim=4, layout="(N, C, H, W): a batch of digits",
                floating=True, allow_empty=False)  # fmt: skip
    return images


def _check_fit(runs: dict[float, TrainedNet], images: torch.Tensor) -> None:
    """Each net's first linear layer must accept the images, flattened."""
    for run in runs.values():
        fc1 = getattr(run.model, "fc1", None)
        if fc1 is not None and math.prod(images.shape[1:]) != fc1.in_features:
            raise ValueError(
                f"images of shape {tuple(images.shape)} have {math.prod(images.shape[1:])} "
                f"values each; the trained nets take {fc1.in_features} (e.g. (N, 1, 8, 8))"
            )


def _pick(runs: dict[float, TrainedNet], p_drop) -> float:
    p = check_number("p_drop", p_drop, minimum=0.0, below=1.0, what="a probability in [0, 1)")
    for rate in runs:
        if math.isclose(rate, p, abs_tol=1e-12):
            return rate
    raise ValueError(f"p_drop={p:g} has no trained net; the trained rates are {sorted(runs)}")


def dropout_view(
    runs: Mapping[float, TrainedNet],
    images: torch.Tensor,
    p_drop: float,
    mask_seed: int = 0,
    index: int = 0,
    *,
    device=None,
) -> DropoutView:
    """The first hidden layer's output for ``images[index]``, whole and after one mask."""
    runs = _check_runs(runs)
    images = _check_images(images)
    _check_fit(runs, images)
    p = _pick(runs, p_drop)
    mask_seed = check_int("mask_seed", mask_seed, minimum=0, maximum=2**63 - 1)
    index = check_int("index", index, minimum=0, maximum=len(images) - 1,
                      what=f"an image index in [0, {len(images) - 1}]")  # fmt: skip
    run = runs[p]
    out = layer_output(run.model, _LAYER, images[index : index + 1], device=device)  # (1, units)
    activations = out[0].double().numpy()  # (units,)
    thinned, keep = ops.dropout(activations, p, generator=mask_seed)
    return DropoutView(p, index, mask_seed, activations, thinned, np.asarray(keep), run)


def _grid(values: np.ndarray) -> np.ndarray:
    """(units,) -> a near-square (rows, cols) picture, padded with NaN."""
    cols = math.ceil(math.sqrt(values.size))
    rows = math.ceil(values.size / cols)
    out = np.full(rows * cols, np.nan)
    out[: values.size] = values
    return out.reshape(rows, cols)


def draw_dropout(
    runs: Mapping[float, TrainedNet],
    images: torch.Tensor,
    p_drop: float,
    mask_seed: int = 0,
    index: int = 0,
    *,
    device=None,
) -> tuple[Figure, DropoutView]:
    """The digit, its ``relu1`` activations whole and thinned, and the run's accuracy curves.

    ``runs`` maps drop rates to trained nets, ``images`` (N, 1, 8, 8) are digits to
    look at. Returns the figure and the :class:`DropoutView` it shows; a rate without a
    trained net raises ``ValueError``.
    """
    view = dropout_view(runs, images, p_drop, mask_seed, index, device=device)
    fig = Figure(figsize=(11, 3.3), layout="constrained")
    grid = fig.add_gridspec(1, 5)
    ax_digit = fig.add_subplot(grid[0, 0])
    ax_full = fig.add_subplot(grid[0, 1])
    ax_thin = fig.add_subplot(grid[0, 2])
    ax_curve = fig.add_subplot(grid[0, 3:])
    digit = images[index].detach().cpu().double().numpy()
    ax_digit.imshow(digit.reshape(digit.shape[-2:]) if digit.shape[0] == 1 else digit[0],
                    cmap="gray_r")  # fmt: skip
    ax_digit.set_title(f"test digit {index}", fontsize=9)
    top = max(float(np.max(view.thinned)), float(np.max(view.activations)), 1e-6)
    for ax, values, title in (
        (ax_full, view.activations, "relu1 at inference"),
        (ax_thin, view.thinned, f"after one mask ({view.kept} kept)"),
    ):
        ax.imshow(_grid(values), cmap="viridis", vmin=0.0, vmax=top, interpolation="nearest")
        ax.set_title(title, fontsize=9)
    dropped = np.flatnonzero(~view.keep)
    if dropped.size:
        cols = _grid(view.activations).shape[1]
        ax_thin.plot(dropped % cols, dropped // cols, "x", color="#e74c3c", ms=3, mew=0.8)
    for ax in (ax_digit, ax_full, ax_thin):
        ax.set_xticks([])
        ax.set_yticks([])
    epochs = np.arange(1, view.run.epochs + 1)
    train, test = np.array(view.run.train_accuracy), np.array(view.run.test_accuracy)
    base = _check_runs(runs).get(0.0)
    if base is not None and view.p_drop != 0.0:
        ax_curve.plot(np.arange(1, base.epochs + 1), base.train_accuracy, color=_TRAIN_COLOUR,
                      lw=1, alpha=0.35, ls="--", label="no dropout: train")  # fmt: skip
        ax_curve.plot(np.arange(1, base.epochs + 1), base.test_accuracy, color=_TEST_COLOUR,
                      lw=1, alpha=0.35, ls="--", label="no dropout: test")  # fmt: skip
    ax_curve.plot(epochs, train, color=_TRAIN_COLOUR, lw=2, label="train (given labels)")
    ax_curve.plot(epochs, test, color=_TEST_COLOUR, lw=2, label="test")
    ax_curve.fill_between(epochs, test, train, color="#bbbbbb", alpha=0.4, lw=0, label="gap")
    ax_curve.set_ylim(0.0, 1.02)
    ax_curve.set_xlabel("epoch")
    ax_curve.set_ylabel("accuracy (eval mode)")
    ax_curve.set_title(f"p_drop = {view.p_drop:g}: final gap {100 * view.run.gap:.1f} points",
                       fontsize=9)  # fmt: skip
    ax_curve.grid(True, alpha=0.3)
    ax_curve.legend(fontsize=7, loc="lower right", frameon=False)
    return fig, view


def dropout_app(
    runs: Mapping[float, TrainedNet],
    images: torch.Tensor,
    *,
    p_drop: float | None = None,
    device=None,
) -> FigureApp:
    """Sliders for the drop rate (the rates in ``runs``), the mask and the digit."""
    runs = _check_runs(runs)
    images = _check_images(images)
    _check_fit(runs, images)
    rates = sorted(runs)
    start = rates[len(rates) // 2] if p_drop is None else _pick(runs, p_drop)

    def draw(p_drop: float, mask_seed: int, index: int):
        return draw_dropout(runs, images, p_drop, mask_seed, index, device=device)

    controls = {
        "p_drop": widgets.SelectionSlider(
            options=[(f"{p:g}", p) for p in rates], value=start, description="p_drop"
        ),
        "mask_seed": widgets.IntSlider(value=0, min=0, max=20, description="mask"),
        "index": widgets.IntSlider(value=0, min=0, max=min(len(images), 100) - 1,
                                   description="digit"),  # fmt: skip
    }
    return FigureApp(controls, draw, title="Drop rate, one layer's activations and the gap")
