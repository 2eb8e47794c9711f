"""Lesson 01's apps: slide a kernel over a small image; pick or edit a 3x3 kernel.

Pure draw functions (the tests call them directly):

* :func:`draw_correlation_step`: the input, the kernel and the output as grids of
  numbers, with the window that makes one output number outlined and its sum of
  products written out.
* :func:`draw_filtered`: a photo, the kernel, the filtered photo and the histogram of
  its values, signed or with ``abs()``.

Thin apps on :class:`~course_lib.widgets.base.FigureApp`:

* :func:`correlation_step_app`: two sliders move the window (lesson 02's stepped
  window with padding and stride is :func:`course_lib.widgets.sliding_window.sliding_window_app`).
* :func:`kernel_explorer_app`: a dropdown of named kernels, nine number boxes that
  hold the kernel (editing one makes it "custom"), an ``abs()`` toggle and a photo
  choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from course_lib.data import PHOTOS, load_photo
from course_lib.filters import KERNEL_NAMES, filter_image, kernel, kernel_name_of
from course_lib.validate import as_float_array, check_bool, check_choice, check_int, check_number
from course_lib.viz.plots import check_cmap
from course_lib.widgets.base import FigureApp

__all__ = [
    "CUSTOM",
    "FilterSummary",
    "KernelExplorer",
    "correlation_step_app",
    "draw_correlation_step",
    "draw_filtered",
    "draw_numbers",
    "kernel_explorer_app",
]

CUSTOM = "(custom)"
BOX_NAMES = tuple(f"k{r}{c}" for r in range(3) for c in range(3))


def draw_numbers(
    matrix: Any,
    *,
    ax: Any,
    title: str = "",
    cmap: str = "Greys_r",
    symmetric: bool = False,
    highlight: tuple[int, int, int, int] | None = None,
    limits: tuple[float, float] | None = None,
) -> Any:
    """Draw a small matrix as coloured cells with its numbers written in them.

    highlight: (row, col, height, width) of a rectangle to outline. limits: the values
    drawn darkest and lightest (default: the matrix's own range, or +-max with
    ``symmetric``). Returns ``ax``.
    """
    m = as_float_array("matrix", matrix, ndim=2, layout="a 2-D matrix (rows, columns)")
    if m.size == 0:
        raise ValueError(f"matrix has shape {m.shape}; expected at least one number")
    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes, not {type(ax).__name__}")
    symmetric = check_bool("symmetric", symmetric)
    cmap = check_cmap(cmap)
    lim = max(float(np.abs(m).max()), 1e-12)
    vmin, vmax = (-lim, lim) if symmetric else (float(m.min()), float(m.max()) + 1e-12)
    if limits is not None:
        if not isinstance(limits, tuple | list) or len(limits) != 2:
            raise TypeError(f"limits={limits!r} must be a (low, high) pair of numbers or None")
        vmin, vmax = (check_number("limits", v) for v in limits)
    shown = ax.imshow(m, cmap=cmap, vmin=vmin, vmax=vmax)
    for (r, c), v in np.ndenumerate(m):
        red, green, blue, _ = shown.cmap(shown.norm(v))
        light = 0.299 * red + 0.587 * green + 0.114 * blue > 0.5  # perceived brightness
        ax.text(
            c,
            r,
            f"{v:.3g}",
            ha="center",
            va="center",
            fontsize=9,
            color="black" if light else "white",
        )
    if highlight is not None:
        if not isinstance(highlight, tuple | list) or len(highlight) != 4:
            raise TypeError(
                f"highlight={highlight!r} must be a (row, col, height, width) tuple or None"
            )
        r, c, h, w = (check_int("highlight", v) for v in highlight)
        ax.add_patch(Rectangle((c - 0.5, r - 0.5), w, h, fill=False, edgecolor="#e8710a", lw=3))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title)
    return ax


def draw_correlation_step(
    image: Any, weights: Any, *, row: int = 0, col: int = 0
) -> tuple[Figure, float]:
    """Show how output[row, col] of a valid cross-correlation is made.

    image: (H, W); weights: (KH, KW). Returns the figure and that output number,
    sum(image[row:row+KH, col:col+KW] * weights).
    """
    x = as_float_array("image", image, ndim=2, layout="a 2-D grey image (H, W)")
    k = as_float_array("weights", weights, ndim=2, layout="a 2-D kernel (KH, KW)")
    out = filter_image(x, k)  # (H-KH+1, W-KW+1); checks shapes
    oh, ow = out.shape
    row, col = check_int("row", row), check_int("col", col)
    if not 0 <= row < oh:
        raise ValueError(f"row={row} is outside the output's rows 0..{oh - 1}")
    if not 0 <= col < ow:
        raise ValueError(f"col={col} is outside the output's columns 0..{ow - 1}")
    kh, kw = k.shape
    patch = x[row : row + kh, col : col + kw]
    value = float((patch * k).sum())
    fig = Figure(figsize=(10, 3.4), layout="constrained")
    axes = fig.subplots(1, 3, width_ratios=[x.shape[1], kw, ow])
    draw_numbers(
        x, ax=axes[0], title=f"input {x.shape[0]}x{x.shape[1]}", highlight=(row, col, kh, kw)
    )
    draw_numbers(k, ax=axes[1], title=f"kernel {kh}x{kw}", cmap="RdBu_r", symmetric=True)
    draw_numbers(
        out,
        ax=axes[2],
        title=f"output {oh}x{ow}",
        cmap="RdBu_r",
        symmetric=True,
        highlight=(row, col, 1, 1),
    )
    terms = " + ".join(
        f"{a:.3g}*{b:.3g}" if b >= 0 else f"{a:.3g}*({b:.3g})"
        for a, b in zip(patch.ravel(), k.ravel(), strict=True)
    )
    if len(terms) > 110:
        terms = terms[:107] + "..."
    fig.suptitle(f"output[{row}, {col}] = {terms} = {value:g}", fontsize=10)
    return fig, value


@dataclass(frozen=True)
class FilterSummary:
    """Numbers behind the explorer's picture."""

    kernel_name: str
    absolute: bool
    minimum: float
    maximum: float
    mean_abs: float
    positive_fraction: float

    def __str__(self) -> str:
        kind = "abs(response)" if self.absolute else "response"
        return (
            f"{self.kernel_name}: {kind} from {self.minimum:.3g} to {self.maximum:.3g}; "
            f"mean |response| {self.mean_abs:.3g}; {100 * self.positive_fraction:.0f}% of pixels > 0"
        )


def draw_filtered(
    image: Any, weights: Any, *, absolute: bool = False, name: str | None = None, bins: int = 60
) -> tuple[Figure, FilterSummary]:
    """The photo, the kernel, the filtered photo and the histogram of its values.

    image: (H, W) grey values; weights: (KH, KW). ``absolute=True`` shows
    ``abs(response)``: bright-to-dark and dark-to-bright edges then look alike.
    Signed responses are drawn with 0 as mid-grey. Raises ``ValueError`` for a kernel
    with nan/inf or of the wrong shape.
    """
    x = as_float_array("image", image, ndim=2, layout="a 2-D grey image (H, W)")
    k = as_float_array("weights", weights, ndim=2, layout="a 2-D kernel (KH, KW)")
    absolute = check_bool("absolute", absolute)
    bins = check_int("bins", bins, minimum=1, maximum=1000)
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name={name!r} must be a string or None, not {type(name).__name__}")
    response = filter_image(x, k, mode="same")  # (H, W)
    shown = np.abs(response) if absolute else response
    lim = max(float(np.abs(shown).max()), 1e-12)
    name = name or kernel_name_of(k) or "custom kernel"
    fig = Figure(figsize=(11, 3.3), layout="constrained")
    axes = fig.subplots(1, 4, width_ratios=[3, 1.3, 3, 2.4])
    axes[0].imshow(x, cmap="gray", vmin=0, vmax=1)
    axes[0].set_title("input")
    axes[0].axis("off")
    draw_numbers(k, ax=axes[1], title="kernel", cmap="RdBu_r", symmetric=True)
    if absolute:
        axes[2].imshow(shown, cmap="gray", vmin=0, vmax=lim)
        axes[2].set_title("abs(filtered): black = 0")
    else:
        axes[2].imshow(shown, cmap="gray", vmin=-lim, vmax=lim)
        axes[2].set_title("filtered: grey = 0")
    axes[2].axis("off")
    axes[3].hist(shown.ravel(), bins=bins, color="#4c72b0")
    axes[3].set_yscale("log")
    axes[3].set_title("histogram of filtered values")
    axes[3].set_xlabel("abs(response)" if absolute else "response")
    summary = FilterSummary(
        kernel_name=name,
        absolute=absolute,
        minimum=float(shown.min()),
        maximum=float(shown.max()),
        mean_abs=float(np.abs(response).mean()),
        positive_fraction=float((shown > 0).mean()),
    )
    return fig, summary


def correlation_step_app(image: Any | None = None, weights: Any | None = None) -> FigureApp:
    """Two sliders move the window over the input; the figure shows that output number.

    Defaults: lesson 01's 6x6 image (bright left half, dark right half) and the
    vertical edge kernel.
    """
    x = (
        np.array([[10.0, 10, 10, 0, 0, 0]] * 6)
        if image is None
        else as_float_array("image", image, ndim=2, layout="a 2-D grey image (H, W)")
    )
    k = (
        kernel("vertical_edge")
        if weights is None
        else as_float_array("weights", weights, ndim=2, layout="a 2-D kernel (KH, KW)")
    )
    oh, ow = filter_image(x, k).shape  # checks that the kernel fits
    controls = {
        "row": widgets.IntSlider(value=0, min=0, max=oh - 1, description="output row"),
        "col": widgets.IntSlider(value=0, min=0, max=ow - 1, description="output col"),
    }
    return FigureApp(
        controls,
        lambda row, col: draw_correlation_step(x, k, row=row, col=col),
        title="Slide the kernel: each output number is a sum of products",
    )


class KernelExplorer(FigureApp):
    """The kernel explorer: see :func:`kernel_explorer_app`."""

    def __init__(self, images: dict[str, np.ndarray], preset: str) -> None:
        if not isinstance(images, dict) or not images:
            raise TypeError("images must be a non-empty dict {name: (H, W) grey image}")
        images = {
            str(name): as_float_array(f"images[{name!r}]", img, ndim=2, layout="(H, W)")
            for name, img in images.items()
        }
        preset = check_choice("preset", preset, KERNEL_NAMES)
        self._images = images
        self._holding = False
        start = kernel(preset)
        boxes = {
            name: widgets.FloatText(
                value=float(start.flat[i]), step=0.5, layout=widgets.Layout(width="80px")
            )
            for i, name in enumerate(BOX_NAMES)
        }
        self.grid = widgets.GridBox(
            list(boxes.values()),
            layout=widgets.Layout(grid_template_columns="repeat(3, 84px)", width="270px"),
        )
        controls: dict[str, widgets.Widget] = {
            "preset": widgets.Dropdown(
                options=[*KERNEL_NAMES, CUSTOM], value=preset, description="kernel"
            ),
            **boxes,
            "absolute": widgets.ToggleButton(
                value=False,
                description="abs()",
                tooltip="show |response|: both edge directions alike",
            ),
        }
        if len(images) > 1:
            controls["photo"] = widgets.Dropdown(options=list(images), description="photo")
        super().__init__(controls, self._draw, title="Kernel explorer")
        # Lay the nine boxes out as a 3x3 grid instead of a column.
        side = [controls["preset"], controls["absolute"]]
        if "photo" in controls:
            side.append(controls["photo"])
        header = self.widget.children[0]
        self.widget.children = (
            header,
            widgets.HBox([widgets.VBox(side), self.grid]),
            self.image,
            self.status,
        )

    def kernel(self) -> np.ndarray:
        """The (3, 3) kernel the nine boxes hold now."""
        return np.array([self.controls[n].value for n in BOX_NAMES], dtype=np.float64).reshape(3, 3)

    def _draw(
        self, *, preset: str, absolute: bool, photo: str | None = None, **boxes: float
    ) -> Any:
        values = np.array([boxes[n] for n in BOX_NAMES], dtype=np.float64)
        bad = [n for n, v in zip(BOX_NAMES, values, strict=True) if not np.isfinite(v)]
        if bad:
            where = ", ".join(f"row {int(n[1]) + 1} column {int(n[2]) + 1}" for n in bad)
            raise ValueError(
                f"the kernel entry at {where} is not a finite number; type a number there"
            )
        image = self._images[photo] if photo is not None else next(iter(self._images.values()))
        name = preset if preset != CUSTOM else "custom kernel"
        return draw_filtered(image, values.reshape(3, 3), absolute=absolute, name=name)

    def _on_change(self, change: dict) -> None:
        if self._holding:
            return
        owner = change.get("owner")
        self._holding = True
        try:
            if owner is self.controls["preset"]:
                if change["new"] != CUSTOM:
                    for n, v in zip(BOX_NAMES, kernel(change["new"]).ravel(), strict=True):
                        self.controls[n].value = float(v)
            elif owner in [self.controls[n] for n in BOX_NAMES]:
                current = self.kernel()
                match = kernel_name_of(current) if np.isfinite(current).all() else None
                self.controls["preset"].value = match or CUSTOM
        finally:
            self._holding = False
        self.refresh()


def kernel_explorer_app(
    image: Any | None = None, *, preset: str = "vertical_edge", crop: int | None = 200
) -> KernelExplorer:
    """Pick a named kernel or type nine numbers; see the filtered photo and its histogram.

    image: a (H, W) grey image in [0, 1]; by default both bundled photos (china,
    flower), with a photo dropdown. crop: keep the central crop x crop pixels of each
    photo (faster redraws); ``None`` keeps the whole photo. ``app.result`` is a
    :class:`FilterSummary`; an invalid entry (nan, inf) shows a message instead.
    """
    preset = check_choice("preset", preset, KERNEL_NAMES)
    if crop is not None:
        crop = check_int("crop", crop, minimum=3, what="an int >= 3 or None")
    if image is not None:
        arr = as_float_array("image", image, ndim=2, layout="a 2-D grey image (H, W)")
        if min(arr.shape) < 3:
            raise ValueError(f"image has shape {arr.shape}; expected at least 3x3 pixels")
        images = {"image": arr}
    else:
        images = {name: load_photo(name, grey=True) for name in PHOTOS}
    if crop is not None:
        images = {name: _centre_crop(img, crop) for name, img in images.items()}
    return KernelExplorer(images, preset)


def _centre_crop(image: np.ndarray, size: int) -> np.ndarray:
    h, w = image.shape
    top, left = max((h - size) // 2, 0), max((w - size) // 2, 0)
    return image[top : top + size, left : left + size]
