"""A stepped sliding window: which input cells feed each output cell of a convolution.

An ``n x n`` input, zero-padded by ``p`` on every side, is read by an ``f x f``
window that jumps ``s`` cells at a time. The output has
``floor((n + 2p - f) / s) + 1`` cells per side (lesson 02; the formula itself is
:func:`course_lib.shapes.conv_output_size`, which also says why a setting is
invalid). The picture shows the padded input with the window of one chosen output
cell, the output grid, and the formula evaluated with the numbers.

Pure parts: :func:`coverage_counts`, :func:`window_for_cell`,
:func:`draw_sliding_window`. The app, :func:`sliding_window_app`, only wires
sliders to the draw function.
"""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from course_lib.shapes import conv_output_size
from course_lib.validate import check_int
from course_lib.widgets.base import FigureApp

__all__ = [
    "WindowView",
    "coverage_counts",
    "draw_sliding_window",
    "sliding_window_app",
    "window_for_cell",
]

# Largest padded side n + 2p: counted (an (n, n) array) and drawn (cell by cell).
MAX_COUNTED = 4096
MAX_DRAWN = 64
# Cell categories in the padded-input picture, and their colours.
_PAD, _INPUT, _UNUSED, _WIN_PAD, _WIN_INPUT = range(5)
_COLOURS = ListedColormap(["#e6e6e6", "#ffffff", "#f4c7c3", "#9ec5e8", "#1f6fb5"])


@dataclass(frozen=True)
class WindowView:
    """What the picture shows, as numbers.

    ``rows`` and ``cols`` are the window's cells in *padded* coordinates (row 0 is
    the first padding row when ``p > 0``); ``unused`` counts input cells (not
    padding) that no window ever reads, which happens when the stride does not fit.
    """

    n: int
    f: int
    p: int
    s: int
    out: int
    row: int
    col: int
    rows: range
    cols: range
    unused: int

    @property
    def formula(self) -> str:
        top = self.n + 2 * self.p - self.f
        return (
            f"floor(({self.n} + 2*{self.p} - {self.f}) / {self.s}) + 1 "
            f"= floor({top} / {self.s}) + 1 = {self.out}"
        )

    def __str__(self) -> str:
        text = (
            f"output {self.out}x{self.out}: {self.formula}. "
            f"Output cell ({self.row}, {self.col}) reads padded rows "
            f"{self.rows.start}-{self.rows.stop - 1}, columns {self.cols.start}-{self.cols.stop - 1}."
        )
        if self.unused:
            text += f" {self.unused} input cells are never read: the stride does not fit."
        return text


def _checked(n: object, f: object, p: object, s: object, largest: int) -> tuple[int, ...]:
    """(n, f, p, s, out) as ints, or the reason they make no output (or too big a grid)."""
    out = conv_output_size(n, f, p, s)  # checks types and values, names the parameter
    n, f, p, s = (int(v) for v in (n, f, p, s))
    if n + 2 * p > largest:
        raise ValueError(
            f"n + 2p = {n} + 2*{p} = {n + 2 * p} cells per side is more than the {largest} "
            "this function lays out; use a smaller n (input size) or p (padding)"
        )
    return n, f, p, s, out


def coverage_counts(n: int, f: int, p: int = 0, s: int = 1) -> np.ndarray:
    """How many output windows read each input cell: an ``(n, n)`` int array.

    Padding cells are left out. Corner cells of a valid convolution are read once,
    central ones up to ``ceil(f/s)**2`` times; cells at 0 are never read (a stride
    that does not fit drops the last rows and columns). ``n + 2p`` is at most 4096.
    """
    n, f, p, s, out = _checked(n, f, p, s, MAX_COUNTED)
    padded = n + 2 * p
    along = np.zeros(padded, dtype=np.int64)  # (n + 2p,) windows per padded position
    for i in range(out):
        along[i * s : i * s + f] += 1
    counts = np.outer(along, along)  # (n + 2p, n + 2p)
    return counts[p : p + n, p : p + n]  # (n, n) without the padding


def window_for_cell(n: int, f: int, p: int, s: int, cell: int) -> WindowView:
    """The window that output cell number ``cell`` (row-major) reads.

    Raises ``ValueError`` for settings the formula calls invalid (message from
    :func:`course_lib.shapes.conv_output_size`) or a cell past the last one. The grid is
    drawn cell by cell, so ``n + 2p`` is at most 64.
    """
    n, f, p, s, out = _checked(n, f, p, s, MAX_DRAWN)
    cell = check_int("cell", cell, minimum=0)
    if not 0 <= cell < out * out:
        raise ValueError(
            f"cell={cell} does not exist: with n={n}, f={f}, p={p}, s={s} the output is "
            f"{out}x{out}, cells 0..{out * out - 1}"
        )
    row, col = divmod(cell, out)
    unused = int((coverage_counts(n, f, p, s) == 0).sum())
    return WindowView(
        n, f, p, s, out, row, col,
        rows=range(row * s, row * s + f),
        cols=range(col * s, col * s + f),
        unused=unused,
    )


def _grid_lines(ax, size: int) -> None:
    ax.set_xticks(np.arange(-0.5, size, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, size, 1), minor=True)
    ax.grid(which="minor", color="#555555", linewidth=0.6)
    ax.tick_params(which="both", length=0)
    ax.set_xticks([])
    ax.set_yticks([])


def draw_sliding_window(
    n: int = 7, f: int = 3, p: int = 0, s: int = 1, cell: int = 0
) -> tuple[Figure, WindowView]:
    """Draw the padded input, the window of output cell ``cell`` and the output grid.

    Left: the ``(n+2p) x (n+2p)`` padded input; grey cells are zero padding, white
    cells the input, light red cells input that no window reads, blue the window of
    the chosen output cell. Right: the output grid with that cell marked. The title
    evaluates ``floor((n + 2p - f)/s) + 1``. Returns ``(figure, WindowView)``.
    """
    view = window_for_cell(n, f, p, s, cell)
    padded = n + 2 * p
    kind = np.full((padded, padded), _PAD)
    kind[p : p + n, p : p + n] = np.where(coverage_counts(n, f, p, s) > 0, _INPUT, _UNUSED)
    window = kind[view.rows.start : view.rows.stop, view.cols.start : view.cols.stop]
    kind[view.rows.start : view.rows.stop, view.cols.start : view.cols.stop] = np.where(
        window == _PAD, _WIN_PAD, _WIN_INPUT
    )

    fig = Figure(figsize=(8.4, 4.4))
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [max(padded, 1), max(view.out, 1) + 2]})
    left.imshow(kind, cmap=_COLOURS, vmin=0, vmax=4)
    _grid_lines(left, padded)
    left.add_patch(
        Rectangle((view.cols.start - 0.5, view.rows.start - 0.5), f, f, fill=False, lw=2.5, ec="#0b3d6b")
    )
    if padded <= 16 and p > 0:  # write the zeros into the padding
        for r in range(padded):
            for c in range(padded):
                if kind[r, c] in (_PAD, _WIN_PAD):
                    left.text(c, r, "0", ha="center", va="center", fontsize=7, color="#555555")
    left.set_title(f"padded input: {n} + 2*{p} = {padded} per side, {f}x{f} window, stride {s}", fontsize=9)

    grid = np.zeros((view.out, view.out))
    grid[view.row, view.col] = 1
    right.imshow(grid, cmap=ListedColormap(["#ffffff", "#1f6fb5"]), vmin=0, vmax=1)
    _grid_lines(right, view.out)
    right.set_title(f"output {view.out}x{view.out}, cell ({view.row}, {view.col})", fontsize=9)

    top = n + 2 * p - f
    fig.suptitle(
        rf"$\lfloor ({n} + 2\cdot{p} - {f})\,/\,{s} \rfloor + 1"
        rf" = \lfloor {top}/{s} \rfloor + 1 = {view.out}$",
        fontsize=13,
    )
    if view.unused:
        fig.text(0.5, 0.02, f"{view.unused} input cells (light red) are never read", ha="center", fontsize=9)
    return fig, view


def sliding_window_app(n: int = 7, f: int = 3, p: int = 0, s: int = 1) -> FigureApp:
    """Sliders for n, f, p, s and the output cell; a play button steps through the cells.

    Every position of the sliders is a valid setting: the stride starts at 1 and the
    kernel slider stops at the padded input, n + 2p (at most 9), moving back when n or p
    shrinks. (:func:`draw_sliding_window` itself still refuses, with the reason, the
    settings that cannot work.) The starting values must lie on the sliders: n in 1..16,
    p in 0..4, f in 1..min(9, n + 2p), s in 1..4.
    """
    n = check_int("n", n, minimum=1, maximum=16)
    p = check_int("p", p, minimum=0, maximum=4)
    f = check_int("f", f, minimum=1, maximum=min(9, n + 2 * p))
    s = check_int("s", s, minimum=1, maximum=4)
    style = {"description_width": "initial"}
    controls = {
        "n": widgets.IntSlider(value=n, min=1, max=16, description="input n", style=style),
        "f": widgets.IntSlider(value=f, min=1, max=min(9, n + 2 * p), description="kernel f",
                               style=style),
        "p": widgets.IntSlider(value=p, min=0, max=4, description="padding p", style=style),
        "s": widgets.IntSlider(value=s, min=1, max=4, description="stride s", style=style),
        "cell": widgets.IntSlider(value=0, min=0, max=0, description="output cell", style=style),
    }
    cell = controls["cell"]

    def fit_kernel_slider(_change=None) -> None:
        # The kernel must fit in the padded input; lowering the max moves f back with it.
        controls["f"].max = min(9, controls["n"].value + 2 * controls["p"].value)

    def fit_cell_slider(_change=None) -> None:
        # Registered before FigureApp's own observers, so the cell index is already
        # inside the new output when the picture is redrawn.
        try:
            out = conv_output_size(*(controls[k].value for k in "nfps"))
        except ValueError:
            return  # the app shows why; keep the slider as it is
        cell.max = out * out - 1

    fit_cell_slider()
    for name in "np":
        controls[name].observe(fit_kernel_slider, names="value")
    for name in "nfps":
        controls[name].observe(fit_cell_slider, names="value")
    app = FigureApp(controls, draw_sliding_window, title="Sliding window: padding, stride, output size")
    play = widgets.Play(value=0, min=0, max=cell.max, step=1, interval=700, description="step")
    widgets.dlink((cell, "max"), (play, "max"))
    widgets.jslink((play, "value"), (cell, "value"))
    app.widget.children = (widgets.HBox([play, widgets.Label("play: step through the output cells")]),) + tuple(
        app.widget.children
    )
    return app
