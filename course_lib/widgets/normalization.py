"""Lesson 07's apps: which values each normalisation averages over, and the training runs.

* :func:`draw_normalization` lights up, on an (N, C, H, W) block, the values that batch,
  layer, instance or group norm averages over to normalise one chosen value: a 3-D block
  (examples x channels x positions) on the left, the same numbers laid out as an
  N x C grid of H x W patches on the right, and under them the scheme's formula with
  the chosen value worked through (mean, variance, normalised value, checked against
  :mod:`course_lib.ops`). :func:`normalization_app` adds a scheme dropdown and sliders
  for the example n and the channel c of the chosen value.
* :func:`draw_training_curves` plots validation accuracy (or training loss) against
  training steps for the runs of one experiment of
  :mod:`course_lib.experiments.batch_norm`; :func:`training_curves_app` switches
  between experiments and metrics.
* :func:`draw_percentiles` draws the 15th/50th/85th percentiles of one unit's input
  over training, without and with batch norm, side by side on one scale.

The draw functions are pure; the apps only wire controls to them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from course_lib import ops
from course_lib.experiments.batch_norm import PercentilesResult, TrainingCurve
from course_lib.validate import check_choice, check_int, check_number, check_shape
from course_lib.viz import plot_activation_percentiles
from course_lib.widgets.base import FigureApp

__all__ = [
    "NORMALIZATIONS",
    "SCHEMES",
    "NormalizationView",
    "draw_normalization",
    "draw_percentiles",
    "draw_training_curves",
    "normalization_app",
    "normalization_members",
    "normalization_view",
    "training_curves_app",
]

SCHEMES = ("batch", "layer", "instance", "group")
# the app's dropdown: label -> (scheme, groups); groups only matters for group norm
NORMALIZATIONS: dict[str, tuple[str, int]] = {
    "batch norm": ("batch", 1),
    "layer norm": ("layer", 1),
    "instance norm": ("instance", 1),
    "group norm, 2 groups": ("group", 2),
    "group norm, 3 groups": ("group", 3),
}
DEMO_SHAPE = (4, 6, 2, 2)  # (N, C, H, W): small enough to print every value
_EPS = 1e-5
_COLOURS = {"batch": "#1f6fb5", "layer": "#2a9d5c", "instance": "#c0392b", "group": "#8e44ad"}
_AXES = {
    "batch": "N, H, W (every example, one channel)",
    "layer": "C, H, W (one example, every channel)",
    "instance": "H, W (one example, one channel)",
    "group": "C/G, H, W (one example, one group of channels)",
}
_FORMULAS = {
    "batch": r"$\mu_c = \frac{1}{NHW}\sum_{n,h,w} x_{nchw}$,   "
             r"$\sigma^2_c = \frac{1}{NHW}\sum_{n,h,w} (x_{nchw} - \mu_c)^2$",
    "layer": r"$\mu_n = \frac{1}{CHW}\sum_{c,h,w} x_{nchw}$,   "
             r"$\sigma^2_n = \frac{1}{CHW}\sum_{c,h,w} (x_{nchw} - \mu_n)^2$",
    "instance": r"$\mu_{nc} = \frac{1}{HW}\sum_{h,w} x_{nchw}$,   "
                r"$\sigma^2_{nc} = \frac{1}{HW}\sum_{h,w} (x_{nchw} - \mu_{nc})^2$",
    "group": r"$\mu_{ng} = \frac{G}{CHW}\sum_{c \in g,\,h,w} x_{nchw}$,   "
             r"$\sigma^2_{ng} = \frac{G}{CHW}\sum_{c \in g,\,h,w} (x_{nchw} - \mu_{ng})^2$",
}  # fmt: skip


def _demo_block(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """A fixed (N, C, H, W) block of one-decimal numbers, channels with different levels."""
    rng = np.random.default_rng(seed)
    c = shape[1]
    levels = np.linspace(-1.0, 2.0, c).reshape(1, c, 1, 1)
    return np.round(rng.standard_normal(shape) * 0.8 + levels, 1)


def _check_scheme(scheme: str, groups: int, channels: int) -> tuple[str, int]:
    scheme = check_choice("scheme", scheme, SCHEMES)
    groups = check_int("groups", groups, minimum=1)
    if scheme == "group" and channels % groups:
        raise ValueError(
            f"groups={groups} does not divide the {channels} channels; expected a divisor of "
            f"{channels}"
        )
    return scheme, groups


def normalization_members(
    scheme: str, shape: Sequence[int], n: int, c: int, *, groups: int = 2
) -> np.ndarray:
    """Which (example, channel) slices share the statistics of value (n, c, ., .).

    Returns a boolean (N, C) array: True where the whole H x W slice ``x[n', c']`` is
    averaged together with ``x[n, c]`` by ``scheme`` ("batch", "layer", "instance" or
    "group" with ``groups`` groups of C / G consecutive channels).
    """
    shape = check_shape("shape", shape, length=4, layout="(N, C, H, W)")
    nn_, cc = shape[0], shape[1]
    scheme, groups = _check_scheme(scheme, groups, cc)
    n = check_int("n", n, minimum=0, maximum=nn_ - 1, what=f"an example index in [0, {nn_ - 1}]")
    c = check_int("c", c, minimum=0, maximum=cc - 1, what=f"a channel index in [0, {cc - 1}]")
    rows = np.zeros(nn_, dtype=bool)
    cols = np.zeros(cc, dtype=bool)
    if scheme == "batch":
        rows[:], cols[c] = True, True
    elif scheme == "layer":
        rows[n], cols[:] = True, True
    elif scheme == "instance":
        rows[n], cols[c] = True, True
    else:
        size = cc // groups
        start = (c // size) * size
        rows[n], cols[start : start + size] = True, True
    return rows[:, None] & cols[None, :]  # (N, C)


@dataclass(frozen=True)
class NormalizationView:
    """What :func:`draw_normalization` shows, as numbers.

    ``members`` (N, C): the slices averaged together with the chosen value
    ``x[n, c, 0, 0]``; ``count`` how many values that is; ``mean``, ``var`` (biased) their
    statistics; ``xhat`` the chosen value normalised by hand, ``library_xhat`` the same
    value from :mod:`course_lib.ops` (batch_norm, layer_norm, instance_norm, group_norm).
    """

    scheme: str
    groups: int
    n: int
    c: int
    block: np.ndarray
    members: np.ndarray
    count: int
    value: float
    mean: float
    var: float
    xhat: float
    library_xhat: float

    @property
    def axes(self) -> str:
        return _AXES[self.scheme]

    def __str__(self) -> str:
        name = f"group norm ({self.groups} groups)" if self.scheme == "group" else (
            f"{self.scheme} norm")
        return (
            f"{name} averages over {self.axes}: {self.count} values for x[{self.n}, {self.c}, 0, 0]"
            f" = {self.value:g}; mean {self.mean:.4f}, variance {self.var:.4f}, normalised "
            f"{self.xhat:.4f} (course_lib.ops: {self.library_xhat:.4f})."
        )


def _library_xhat(scheme: str, groups: int, block: np.ndarray) -> np.ndarray:
    if scheme == "batch":
        return ops.batch_norm(block, None, None, None, None, training=True, eps=_EPS)[0]
    if scheme == "layer":
        return ops.layer_norm(block, eps=_EPS)
    if scheme == "instance":
        return ops.instance_norm(block, eps=_EPS)
    return ops.group_norm(block, groups, eps=_EPS)


def normalization_view(
    scheme: str = "batch",
    n: int = 0,
    c: int = 0,
    *,
    groups: int = 2,
    shape: Sequence[int] = DEMO_SHAPE,
    seed: int = 0,
) -> NormalizationView:
    """Normalise ``x[n, c, 0, 0]`` of a fixed (N, C, H, W) block by hand and by the library.

    ``shape`` is at most (8, 12, 4, 4) so that every value can be printed; ``seed``
    fixes the block.
    """
    shape = check_shape("shape", shape, length=4, layout="(N, C, H, W)")
    limits = (8, 12, 4, 4)
    if any(s > m for s, m in zip(shape, limits, strict=True)):
        raise ValueError(f"shape={shape} is too large to draw; expected at most {limits}")
    if shape[0] * shape[2] * shape[3] < 2:
        raise ValueError(f"shape={shape} has one value per channel; batch norm needs more")
    seed = check_int("seed", seed, minimum=0)
    n, c = check_int("n", n), check_int("c", c)  # numpy and 0-d torch ints as Python ints
    members = normalization_members(scheme, shape, n, c, groups=groups)
    scheme, groups = _check_scheme(scheme, groups, shape[1])
    block = _demo_block(shape, seed)
    values = block[members].reshape(-1)  # the (members, H, W) slices, flattened
    mean, var = float(values.mean()), float(values.var())
    value = float(block[n, c, 0, 0])
    xhat = (value - mean) / np.sqrt(var + _EPS)
    library = float(_library_xhat(scheme, groups, block)[n, c, 0, 0])
    return NormalizationView(scheme, groups, n, c, block, members, int(values.size), value,
                             mean, var, float(xhat), library)  # fmt: skip


def _draw_block(ax, view: NormalizationView) -> None:
    """The (N, C, H*W) block as voxels: the averaged values solid, the rest faint, the
    chosen value black (positions counted from the top, so position 0 is the top layer)."""
    n_, c_, h, w = view.block.shape
    depth = h * w
    lit = np.zeros((n_, c_, depth), dtype=bool)
    lit[view.members] = True
    faint = np.empty(lit.shape, dtype=object)
    faint[:] = "#cfcfcf14"
    ax.voxels(~lit, facecolors=faint, edgecolor="#b0b0b040", linewidth=0.3)
    colours = np.empty(lit.shape, dtype=object)
    colours[:] = _COLOURS[view.scheme] + "d0"
    colours[view.n, view.c, depth - 1] = "#111111f0"  # position (0, 0), on top
    ax.voxels(lit, facecolors=colours, edgecolor="#333333", linewidth=0.4)
    ax.set_xlabel("N (examples)", fontsize=8, labelpad=-6)
    ax.set_ylabel("C (channels)", fontsize=8, labelpad=-6)
    ax.set_zlabel("H x W (positions)", fontsize=8, labelpad=-8)
    ax.set_xticks(np.arange(n_) + 0.5, [str(i) for i in range(n_)], fontsize=7)
    ax.set_yticks(np.arange(c_) + 0.5, [str(i) for i in range(c_)], fontsize=7)
    ax.set_zticks([])
    ax.tick_params(pad=-3)
    ax.view_init(elev=24, azim=-58)
    ax.set_box_aspect((n_, c_, depth))


def _draw_grid(ax, view: NormalizationView) -> None:
    """Every value, as an N x C grid of H x W patches; the averaged ones on colour."""
    n_, c_, h, w = view.block.shape
    lit = np.kron(view.members, np.ones((h, w))).astype(bool)  # (N*H, C*W)
    image = view.block.transpose(0, 2, 1, 3).reshape(n_ * h, c_ * w)  # (N*H, C*W)
    colour = np.array(to_rgba(_COLOURS[view.scheme], 0.35))
    rgba = np.where(lit[:, :, None], colour, np.array(to_rgba("#f2f2f2")))  # (N*H, C*W, 4)
    ax.imshow(rgba, interpolation="nearest", aspect="equal")
    for (i, j), v in np.ndenumerate(image):
        ax.text(j, i, f"{v:g}", ha="center", va="center", fontsize=6.5,
                color="black" if lit[i, j] else "#8a8a8a")  # fmt: skip
    ax.add_patch(Rectangle((view.c * w - 0.5, view.n * h - 0.5), 1, 1, fill=False, ec="black",
                           lw=2))  # the chosen value x[n, c, 0, 0]
    for k in range(1, n_):
        ax.axhline(k * h - 0.5, color="white", lw=2)
    for k in range(1, c_):
        ax.axvline(k * w - 0.5, color="white", lw=2)
    ax.set_xticks(np.arange(c_) * w + (w - 1) / 2, [f"c={i}" for i in range(c_)], fontsize=7)
    ax.set_yticks(np.arange(n_) * h + (h - 1) / 2, [f"n={i}" for i in range(n_)], fontsize=7)
    ax.tick_params(length=0)
    ax.set_title(f"the {n_}x{c_}x{h}x{w} block: the {view.count} values averaged",
                 fontsize=9)  # fmt: skip


def draw_normalization(
    scheme: str = "batch",
    n: int = 0,
    c: int = 0,
    *,
    groups: int = 2,
    shape: Sequence[int] = DEMO_SHAPE,
    seed: int = 0,
) -> tuple[Figure, NormalizationView]:
    """The block, the numbers and the formula for normalising ``x[n, c, 0, 0]`` by ``scheme``.

    Returns the figure and the :class:`NormalizationView` it shows. Invalid settings
    raise ``ValueError`` (the app shows the message).
    """
    view = normalization_view(scheme, n, c, groups=groups, shape=shape, seed=seed)
    fig = Figure(figsize=(10.5, 4.6))
    ax3d = fig.add_axes((0.0, 0.2, 0.42, 0.74), projection="3d")
    ax_grid = fig.add_axes((0.47, 0.28, 0.5, 0.58))
    _draw_block(ax3d, view)
    _draw_grid(ax_grid, view)
    name = f"group norm, G = {view.groups}" if view.scheme == "group" else f"{view.scheme} norm"
    fig.text(0.02, 0.96, f"{name}: averages over {view.axes}", fontsize=10, weight="bold",
             color=_COLOURS[view.scheme])  # fmt: skip
    fig.text(0.02, 0.13, _FORMULAS[view.scheme] + r",   $\hat x = (x - \mu)/\sqrt{\sigma^2 + "
             r"\epsilon}$,   $y = \gamma \hat x + \beta$", fontsize=10)  # fmt: skip
    fig.text(
        0.02, 0.03,
        f"x[{view.n}, {view.c}, 0, 0] = {view.value:g} (black square):  mean of the "
        f"{view.count} values = {view.mean:.4f},  variance = {view.var:.4f},  "
        f"x_hat = ({view.value:g} - {view.mean:.4f}) / sqrt({view.var:.4f} + 1e-5) = "
        f"{view.xhat:.4f}   (course_lib.ops: {view.library_xhat:.4f})",
        fontsize=8.5,
    )  # fmt: skip
    return fig, view


def normalization_app(scheme: str = "batch norm", n: int = 0, c: int = 0) -> FigureApp:
    """A dropdown of the normalisations (group norm with 2 or 3 groups) and sliders for the
    example n and the channel c of the value being normalised."""
    scheme = check_choice("scheme", scheme, tuple(NORMALIZATIONS))
    n_, c_ = DEMO_SHAPE[0], DEMO_SHAPE[1]
    n = check_int("n", n, minimum=0, maximum=n_ - 1)
    c = check_int("c", c, minimum=0, maximum=c_ - 1)
    controls = {
        "normalization": widgets.Dropdown(options=list(NORMALIZATIONS), value=scheme,
                                          description="scheme"),
        "n": widgets.IntSlider(value=n, min=0, max=n_ - 1, description="example n"),
        "c": widgets.IntSlider(value=c, min=0, max=c_ - 1, description="channel c"),
    }  # fmt: skip

    def draw(normalization: str, n: int, c: int) -> tuple[Figure, NormalizationView]:
        chosen, groups = NORMALIZATIONS[normalization]
        return draw_normalization(chosen, n, c, groups=groups)

    return FigureApp(controls, draw, title="What each normalisation averages over")


# --------------------------------------------------------------------------- training runs

CURVE_METRICS = ("validation accuracy", "training loss")
# sigma'(x) = 0.1 at |x| = ln(z / (1 - z)) with z = (1 + sqrt(0.6)) / 2: about 2.06
_STEEP = float(np.log((1 + np.sqrt(0.6)) / (1 - np.sqrt(0.6))))


def _check_curves(curves, name: str = "curves") -> dict[str, TrainingCurve]:
    if not isinstance(curves, Mapping):
        raise TypeError(f"{name} is a {type(curves).__name__}; expected a dict {{run: TrainingCurve}}")
    if not curves:
        raise ValueError(f"{name} is empty; expected a dict {{run: TrainingCurve}} with runs")
    for key, curve in curves.items():
        if not isinstance(curve, TrainingCurve):
            raise TypeError(
                f"{name}[{key!r}] is a {type(curve).__name__}; expected a TrainingCurve"
            )
    return dict(curves)


def draw_training_curves(
    curves: Mapping[str, TrainingCurve],
    metric: str = "validation accuracy",
    *,
    target: float | None = None,
    title: str = "",
    ax=None,
) -> Figure:
    """Validation accuracy (every evaluation) or training loss (every step, smoothed over
    10 steps) against training steps, one line per run; ``target`` draws a dashed line.

    Returns the new Figure, or ``ax``'s figure when ``ax`` is given.
    """
    curves = _check_curves(curves)
    metric = check_choice("metric", metric, CURVE_METRICS)
    if target is not None:
        target = check_number("target", target, minimum=0.0, maximum=1.0, what="a fraction in [0, 1]")
    if not isinstance(title, str):
        raise TypeError(f"title={title!r} must be a string")
    if ax is not None and not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None, not {type(ax).__name__}")
    fig = Figure(figsize=(6.5, 3.4), layout="constrained") if ax is None else ax.figure
    axis = fig.subplots() if ax is None else ax
    for i, (name, curve) in enumerate(curves.items()):
        if metric == "validation accuracy":
            axis.plot(curve.eval_steps, 100 * np.asarray(curve.val_accuracy), color=f"C{i}",
                      label=name, lw=1.6)  # fmt: skip
        else:
            loss = np.asarray(curve.step_loss, dtype=np.float64)
            loss = np.where(np.isfinite(loss), loss, np.nan)
            k = min(10, len(loss))
            smooth = np.convolve(loss, np.ones(k) / k, mode="valid")
            axis.plot(np.arange(k, len(loss) + 1), smooth, color=f"C{i}", label=name, lw=1.6)
    if metric == "validation accuracy":
        axis.set_ylabel("validation accuracy (%)")
        axis.set_ylim(0, 100)
        if target is not None:
            axis.axhline(100 * target, color="#555", ls="--", lw=1,
                         label=f"target {100 * target:.0f}%")  # fmt: skip
    else:
        axis.set_ylabel("training loss (mean of 10 steps)")
        axis.set_yscale("log")
    axis.set_xlabel("training step")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, frameon=False)
    if title:
        axis.set_title(title, fontsize=10)
    return fig


def training_curves_app(
    experiments: Mapping[str, Mapping[str, TrainingCurve]],
    metric: str = "validation accuracy",
) -> FigureApp:
    """A dropdown over ``{experiment name: {run name: TrainingCurve}}`` and one for the metric."""
    if not isinstance(experiments, Mapping):
        raise TypeError(
            f"experiments is a {type(experiments).__name__}; expected a dict "
            "{name: {run: TrainingCurve}}"
        )
    if not experiments:
        raise ValueError("experiments is empty; expected a dict {name: {run: TrainingCurve}}")
    for key, curves in experiments.items():
        _check_curves(curves, f"experiments[{key!r}]")
    metric = check_choice("metric", metric, CURVE_METRICS)
    names = list(experiments)
    controls = {
        "experiment": widgets.Dropdown(options=names, value=names[0], description="runs"),
        "metric": widgets.ToggleButtons(options=list(CURVE_METRICS), value=metric,
                                        description="metric"),
    }  # fmt: skip

    def draw(experiment: str, metric: str) -> Figure:
        return draw_training_curves(experiments[experiment], metric, title=experiment)

    return FigureApp(controls, draw, title="Training runs with and without batch norm")


def draw_percentiles(result: PercentilesResult) -> Figure:
    """Two panels on one scale: the 15th/50th/85th percentiles of the unit's input over
    training steps without (left) and with (right) batch norm; the grey band is where the
    sigmoid's slope is above 0.1 (|input| < 2.06)."""
    if not isinstance(result, PercentilesResult):
        raise TypeError(f"result is a {type(result).__name__}; expected a PercentilesResult")
    fig = Figure(figsize=(10, 3.4), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    for ax, name in zip(axes, ("plain", "with BN"), strict=True):
        ax.axhspan(-_STEEP, _STEEP, color="#eeeeee", zorder=0)
        plot_activation_percentiles({name: result.percentiles[name]}, steps=result.steps, ax=ax)
        ax.set_title(f"{name}: drift {result.drift[name]:.2f}", fontsize=10)
        ax.set_ylabel(f"input to sigmoid unit {result.unit}")
    return fig
