"""Lesson 00's app: a photo is a grid of numbers.

:func:`draw_patch` shows a grey photo with a square outlined and, beside it, the
numbers inside that square; :func:`patch_app` moves and sizes the square with
sliders. It is the smallest example of the course's widget pattern: a pure draw
function, and a thin :class:`~course_lib.widgets.base.FigureApp` around it.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from course_lib.data import load_photo
from course_lib.validate import as_float_array, check_int
from course_lib.widgets.base import FigureApp
from course_lib.widgets.kernels import draw_numbers

__all__ = ["draw_patch", "patch_app"]

MAX_SIZE = 12


def draw_patch(image: Any, *, row: int, col: int, size: int) -> tuple[Figure, str]:
    """The photo with a size x size square at (row, col) outlined, and its numbers.

    image: (H, W) grey values in [0, 1]. Returns the figure and a sentence about the
    square's mean brightness. Raises ``ValueError`` when the square leaves the photo.
    """
    x = as_float_array("image", image, ndim=2, layout="a 2-D grey image (H, W)")
    what = f"a whole number from 1 to {MAX_SIZE}"
    size = check_int("size", size, minimum=1, maximum=MAX_SIZE, what=what)
    row, col = check_int("row", row), check_int("col", col)
    if x.size == 0:
        raise ValueError(f"image has shape {x.shape}, which holds no pixel")
    h, w = x.shape
    if not (0 <= row and row + size <= h and 0 <= col and col + size <= w):
        raise ValueError(
            f"a size={size} square at row={row}, col={col} does not fit in the {h}x{w} "
            f"image; row goes up to {h - size}, col up to {w - size}"
        )
    patch = x[row : row + size, col : col + size]  # (size, size)
    fig = Figure(figsize=(10, 4), layout="constrained")
    left, right = fig.subplots(1, 2)
    left.imshow(x, cmap="gray", vmin=0, vmax=1)
    left.add_patch(
        Rectangle((col - 0.5, row - 0.5), size, size, fill=False, edgecolor="#e8710a", lw=2)
    )
    left.set_title(f"photo, {h}x{w} numbers")
    left.axis("off")
    draw_numbers(
        np.round(patch, 2),
        ax=right,
        title=f"the {size}x{size} square, as numbers",
        limits=(0.0, 1.0),
    )
    sentence = (
        f"The {size}x{size} square at row {row}, column {col} holds {size * size} numbers "
        f"with mean brightness {patch.mean():.2f} (0 = black, 1 = white)."
    )
    return fig, sentence


def patch_app(image: Any | None = None, *, size: int = 6) -> FigureApp:
    """Sliders for the square's row, column and size; the picture and sentence follow.

    image: a (H, W) grey image in [0, 1]; by default the bundled "china" photo.
    """
    size = check_int("size", size, minimum=1, maximum=MAX_SIZE)
    if image is None:
        image = load_photo("china", grey=True)
    x = as_float_array("image", image, ndim=2, layout="a 2-D grey image (H, W)")
    h, w = x.shape
    if min(h, w) < size:
        raise ValueError(f"image is {h}x{w}: too small for a {size}x{size} square")
    controls = {
        "row": widgets.IntSlider(value=h // 3, min=0, max=h - size, description="row"),
        "col": widgets.IntSlider(value=w // 3, min=0, max=w - size, description="column"),
        "size": widgets.IntSlider(value=size, min=1, max=min(MAX_SIZE, h, w), description="size"),
    }

    def keep_square_inside(_change: dict | None = None) -> None:
        # Registered before FigureApp's observers: a larger square moves the row and
        # column back (ipywidgets clamps a value to a lowered max) before the redraw.
        controls["row"].max = h - controls["size"].value
        controls["col"].max = w - controls["size"].value

    controls["size"].observe(keep_square_inside, names="value")
    return FigureApp(
        controls,
        lambda row, col, size: draw_patch(x, row=row, col=col, size=size),
        title="A photo is a grid of numbers: move the square",
    )
