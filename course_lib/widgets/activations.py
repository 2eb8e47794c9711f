"""Lesson 04's apps: activation functions and their slopes; vanishing gradients by depth.

* :func:`draw_activation` plots one activation from :mod:`course_lib.ops` (sigmoid,
  tanh, ReLU, leaky ReLU, softplus) next to its derivative over a chosen input
  range. It marks the derivative's largest value (0.25 at x = 0 for the sigmoid),
  the kink at 0 where ReLU and leaky ReLU have no derivative, and shades where the
  slope is below 0.01 (saturated, or dead for ReLU). :func:`activation_app` wires a
  function dropdown, an input-range slider and a slope slider (leaky ReLU) to it.
* :func:`draw_gradient_norms` plots, on a log scale, the per-layer weight-gradient
  norms of plain fully connected nets with sigmoid, tanh and ReLU
  (:func:`course_lib.experiments.vanishing_gradients.vanishing_gradient_experiment`);
  :func:`gradient_norms_app` adds a depth slider and an initialisation dropdown.

The draw functions are pure; the apps only wire controls to them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from course_lib import ops
from course_lib.experiments.vanishing_gradients import (
    INIT_NAMES,
    VanishingGradientResult,
    vanishing_gradient_experiment,
)
from course_lib.validate import check_choice, check_int, check_number
from course_lib.widgets.base import FigureApp

__all__ = [
    "ACTIVATIONS",
    "ActivationView",
    "activation_app",
    "activation_view",
    "draw_activation",
    "draw_gradient_norms",
    "gradient_norms_app",
]

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "softplus")
_KINKED = ("relu", "leaky_relu")  # no derivative at x = 0
_FLAT = 0.01  # slopes below this are shaded as saturated / dead
_COLOURS = {"sigmoid": "#1f6fb5", "tanh": "#2a9d5c", "relu": "#c0392b", "leaky_relu": "#8e44ad"}


def _function_and_derivative(name: str, slope: float) -> tuple[Callable, Callable]:
    """The activation and its derivative from course_lib.ops, slope bound for leaky ReLU."""
    if name == "leaky_relu":
        return (lambda x: ops.leaky_relu(x, slope=slope)), (lambda x: ops.leaky_relu_grad(x, slope=slope))
    return getattr(ops, name), getattr(ops, f"{name}_grad")


@dataclass(frozen=True)
class ActivationView:
    """What :func:`draw_activation` shows, as numbers.

    ``x`` (n,) is the grid (it contains 0 whenever 0 is in range), ``y`` and ``dy``
    the function and its derivative on it; ``max_slope`` is the derivative's largest
    value on the grid, reached at ``argmax_x``; ``flat_fraction`` is the fraction of
    the range where the slope is below 0.01.
    """

    name: str
    slope: float
    x: np.ndarray
    y: np.ndarray
    dy: np.ndarray
    max_slope: float
    argmax_x: float
    flat_fraction: float

    def __str__(self) -> str:
        lo, hi = self.x[0], self.x[-1]
        y_lo, y_hi = self.y.min() + 0.0, self.y.max() + 0.0  # + 0.0 turns -0 into 0
        if self.name in _KINKED:
            left = self.slope if self.name == "leaky_relu" else 0.0
            where = f"slope 1 for x > 0 and {left:g} for x < 0"
        else:
            where = f"largest slope {self.max_slope:.4g} at x = {self.argmax_x + 0.0:.3g}"
        text = (
            f"{self.name} on [{lo:g}, {hi:g}]: outputs from {y_lo:.4g} to {y_hi:.4g}; "
            f"{where}; slope below {_FLAT} on {100 * self.flat_fraction:.0f}% of the range."
        )
        if self.name in _KINKED and lo < 0 < hi:
            text += " No derivative at x = 0 (a kink); the plot uses the left-hand value."
        return text


def activation_view(
    name: str = "sigmoid", x_range: Sequence[float] = (-6.0, 6.0), slope: float = 0.01,
    *, points: int = 801,
) -> ActivationView:
    """Evaluate activation ``name`` and its derivative on ``points`` inputs in ``x_range``.

    ``x_range`` is (low, high) with -1000 <= low < high <= 1000; ``points`` 2 to 100,000.
    """
    name = check_choice("name", name, ACTIVATIONS)
    if not isinstance(x_range, tuple | list) or len(x_range) != 2:
        raise TypeError(f"x_range={x_range!r} must be two numbers (low, high)")
    what = "two numbers in [-1000, 1000]"
    lo, hi = (
        check_number("x_range", v, minimum=-1e3, maximum=1e3, what=what) for v in x_range
    )
    if not lo < hi:
        raise ValueError(f"x_range=({lo:g}, {hi:g}) is empty: the low end must be below the high end")
    what = "a number in [0, 1) (leaky ReLU's negative slope)"
    slope = check_number("slope", slope, minimum=0.0, below=1.0, what=what)
    points = check_int("points", points, minimum=2, maximum=100_000)
    x = np.linspace(lo, hi, points)
    if lo < 0 < hi:
        x = np.union1d(x, [0.0])  # the sigmoid's peak and the kink sit exactly at 0
    f, df = _function_and_derivative(name, slope)
    y, dy = np.asarray(f(x), dtype=np.float64), np.asarray(df(x), dtype=np.float64)
    i = int(np.argmax(dy))
    flat = float(np.mean(dy < _FLAT))  # the grid is uniform, up to the inserted 0
    return ActivationView(name, float(slope), x, y, dy, float(dy[i]), float(x[i]), flat)


def draw_activation(
    name: str = "sigmoid", x_range: Sequence[float] = (-6.0, 6.0), slope: float = 0.01,
) -> tuple[Figure, ActivationView]:
    """Two panels: the activation (left) and its derivative (right), with marks.

    Returns the figure and the :class:`ActivationView` it shows. Invalid settings
    raise ``ValueError`` (the app shows the message).
    """
    view = activation_view(name, x_range, slope)
    fig = Figure(figsize=(9, 3.4), layout="constrained")
    ax_f, ax_d = fig.subplots(1, 2)
    colour = _COLOURS.get(name, "#d35400")
    x, y, dy = view.x, view.y, view.dy
    kinked = name in _KINKED and x[0] < 0 < x[-1]
    ax_f.plot(x, y, color=colour, lw=2)
    ax_f.set_title(f"{name}(x)")
    if kinked:  # draw the derivative as two pieces so the jump is not a slanted line
        left, right = x <= 0, x > 0
        ax_d.plot(x[left], dy[left], color=colour, lw=2)
        ax_d.plot(x[right], dy[right], color=colour, lw=2)
        ax_d.plot([0], [dy[x <= 0][-1]], "o", color=colour, ms=7)  # value used at 0
        ax_d.plot([0], [dy[right][0]], "o", mfc="white", mec=colour, ms=7)
        ax_d.annotate("kink: no derivative at 0", (0, 0.5 * (dy[left][-1] + dy[right][0])),
                      xytext=(8, 0), textcoords="offset points", fontsize=9)
    else:
        ax_d.plot(x, dy, color=colour, lw=2)
        ax_d.plot([view.argmax_x], [view.max_slope], "o", color="black", ms=6)
        ax_d.annotate(f"max {view.max_slope:.3g} at x = {view.argmax_x:.3g}",
                      (view.argmax_x, view.max_slope), xytext=(8, -14),
                      textcoords="offset points", fontsize=9)
    ax_d.set_title(f"derivative {name}'(x)")
    flat = dy < _FLAT
    for ax in (ax_f, ax_d):
        ax.axhline(0, color="#999", lw=0.6)
        ax.axvline(0, color="#999", lw=0.6)
        ax.set_xlabel("x")
        ax.set_xlim(x[0], x[-1])
        if flat.any():
            ax.fill_between(x, 0, 1, where=flat, transform=ax.get_xaxis_transform(),
                            color="#f4c7c3", alpha=0.5, lw=0,
                            label=f"slope < {_FLAT}" if ax is ax_d else None)
    if flat.any():
        ax_d.legend(loc="upper left", fontsize=8, frameon=False)
    top = max(1.05 * view.max_slope, 0.05)
    ax_d.set_ylim(min(-0.05 * top, dy.min() - 0.05 * top), top * 1.15)
    return fig, view


def activation_app(name: str = "sigmoid") -> FigureApp:
    """Dropdown for the function, a range slider for x, a slope slider for leaky ReLU.

    The slope slider is disabled unless leaky ReLU is picked (no other function has a
    slope to set), and the range slider cannot close to an empty range.
    """
    name = check_choice("name", name, ACTIVATIONS)
    controls = {
        "name": widgets.Dropdown(options=list(ACTIVATIONS), value=name, description="function"),
        "x_range": widgets.FloatRangeSlider(
            value=(-6.0, 6.0), min=-20.0, max=20.0, step=0.5, description="x range"
        ),
        "slope": widgets.FloatSlider(
            value=0.01, min=0.0, max=0.5, step=0.01, description="leaky slope"
        ),
    }
    x_range, slope = controls["x_range"], controls["slope"]

    def slope_only_for_leaky(_change: dict | None = None) -> None:
        slope.disabled = controls["name"].value != "leaky_relu"

    def keep_range_open(change: dict) -> None:
        # Registered before FigureApp's observers: the picture never sees an empty range.
        low, high = change["new"]
        if high - low < x_range.step:
            step = x_range.step
            x_range.value = (low, low + step) if low + step <= x_range.max else (high - step, high)

    slope_only_for_leaky()
    controls["name"].observe(slope_only_for_leaky, names="value")
    x_range.observe(keep_range_open, names="value")
    return FigureApp(controls, draw_activation, title="An activation and its slope")


def draw_gradient_norms(
    depth: int = 10,
    init: str = "auto",
    *,
    activations: Sequence[str] = ("sigmoid", "tanh", "relu"),
    seed: int = 0,
    device=None,
) -> tuple[Figure, VanishingGradientResult]:
    """Per-layer weight-gradient norms (log scale) for each activation at one depth.

    Layer 1 is nearest the input. Returns the figure and the experiment's result,
    whose ``str`` is its one-sentence outcome.
    """
    what = "a whole number from 2 (at least one activation) to 100"
    depth = check_int("depth", depth, minimum=2, maximum=100, what=what)
    init = check_choice("init", init, INIT_NAMES)
    seed = check_int("seed", seed, minimum=0, maximum=2**64 - 1)
    if isinstance(activations, str) or not isinstance(activations, Sequence) or not activations:
        raise TypeError(f"activations={activations!r} must be a non-empty list of names")
    result = vanishing_gradient_experiment(depth, activations, init=init, seed=seed, device=device)
    fig = Figure(figsize=(7, 3.8), layout="constrained")
    ax = fig.subplots()
    layers = np.arange(1, depth + 1)
    for name, norms in result.norms.items():
        ax.semilogy(layers, norms, "o-", color=_COLOURS.get(name), label=name, ms=4)
    ax.set_xlabel("layer (1 = nearest the input)")
    ax.set_ylabel("||dL/dW|| (log scale)")
    ax.set_xticks(layers if depth <= 20 else layers[:: max(1, depth // 10)])
    ax.set_title(
        f"{depth} layers, {init} init: ReLU's first-layer gradient is "
        f"{result.ratio:.3g}x sigmoid's"
    )
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(frameon=False)
    return fig, result


def gradient_norms_app(depth: int = 10) -> FigureApp:
    """A depth slider (2-30 layers) and an initialisation dropdown over :func:`draw_gradient_norms`."""
    depth = check_int("depth", depth, minimum=2, maximum=30)
    controls = {
        "depth": widgets.IntSlider(value=depth, min=2, max=30, description="depth"),
        "init": widgets.Dropdown(options=list(INIT_NAMES), value="auto", description="init"),
    }
    return FigureApp(controls, draw_gradient_norms, title="Gradient norm per layer")
