"""Shape tracer: walk a small conv net layer by layer and see each volume's size.

The lesson-02 network (after Andrew Ng's "simple convolutional network example"):

    39x39x3 --conv 3x3, s1, 10 filters--> 37x37x10
            --conv 5x5, s2, 20 filters--> 17x17x20
            --conv 5x5, s2, 40 filters--> 7x7x40 --flatten--> 1960

Every size is computed by :func:`course_lib.shapes.conv_output_size` and every
receptive field by :func:`course_lib.shapes.receptive_field`; nothing is typed in.
:func:`trace_shapes` is the pure computation, :func:`draw_shape_trace` the picture
and :func:`shape_tracer_app` a dropdown that walks the layers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import ipywidgets as widgets
from matplotlib.figure import Figure
from matplotlib.patches import Polygon, Rectangle

from course_lib.shapes import conv_output_size, receptive_field
from course_lib.validate import check_int, check_shape
from course_lib.widgets.base import FigureApp

__all__ = [
    "INPUT_39",
    "NETWORK_39",
    "ConvStep",
    "TraceRow",
    "draw_shape_trace",
    "shape_tracer_app",
    "trace_shapes",
]


@dataclass(frozen=True)
class ConvStep:
    """One conv layer of a trace: kernel ``f``, stride ``s``, padding ``p``, filter count."""

    name: str
    f: int
    s: int = 1
    p: int = 0
    filters: int = 1


@dataclass(frozen=True)
class TraceRow:
    """One stage of the trace: its output volume ``shape`` (H, W, C) or ``(units,)``.

    ``formula`` shows how the size was computed; ``receptive_field`` is how many input
    pixels per side one output value of this stage sees.
    """

    name: str
    shape: tuple[int, ...]
    formula: str
    receptive_field: int

    @property
    def size(self) -> int:
        total = 1
        for d in self.shape:
            total *= d
        return total

    def __str__(self) -> str:
        volume = "x".join(str(d) for d in self.shape)
        return f"{self.name}: {volume} ({self.formula}); receptive field {self.receptive_field}x{self.receptive_field}"


INPUT_39: tuple[int, int, int] = (39, 39, 3)
NETWORK_39: tuple[ConvStep, ...] = (
    ConvStep("conv1", f=3, s=1, p=0, filters=10),
    ConvStep("conv2", f=5, s=2, p=0, filters=20),
    ConvStep("conv3", f=5, s=2, p=0, filters=40),
)


def trace_shapes(
    input_shape: Sequence[int] = INPUT_39, layers: Sequence[ConvStep] = NETWORK_39
) -> list[TraceRow]:
    """The volume after each layer: the input, every conv layer, then the flattened vector.

    ``input_shape`` is (H, W, C) with H == W. Raises ``ValueError`` (from
    ``conv_output_size``) when a layer does not fit its input.
    """
    n, w, c = check_shape("input_shape", input_shape, length=3, layout="(H, W, C)")
    if n != w:
        raise ValueError(f"input_shape={(n, w, c)!r} must be (H, W, C) with H == W")
    if isinstance(layers, str) or not isinstance(layers, Sequence):
        raise TypeError(f"layers must be a list of ConvStep, not {type(layers).__name__}")
    for i, layer in enumerate(layers):
        if not isinstance(layer, ConvStep):
            raise TypeError(f"layers[{i}]={layer!r} must be a ConvStep, not {type(layer).__name__}")
        try:
            check_int("filters", layer.filters, minimum=1)
        except (TypeError, ValueError) as err:
            raise type(err)(f"layers[{i}] ({layer.name}): {err}") from None
    rows = [TraceRow("input", (n, n, c), "the image", 1)]
    for k, layer in enumerate(layers, start=1):
        try:
            out = conv_output_size(n, layer.f, layer.p, layer.s)
        except (TypeError, ValueError) as err:
            raise type(err)(f"layers[{k - 1}] ({layer.name}) on a {n}x{n} input: {err}") from None
        formula = f"floor(({n} + 2*{layer.p} - {layer.f}) / {layer.s}) + 1 = {out}, {layer.filters} filters"
        rf = receptive_field([(step.f, step.s) for step in layers[:k]])
        rows.append(TraceRow(layer.name, (out, out, layer.filters), formula, rf))
        n, c = out, layer.filters
    rows.append(TraceRow("flatten", (n * n * c,), f"{n}*{n}*{c} = {n * n * c}", rows[-1].receptive_field))
    return rows


def _draw_volume(ax, x: float, h: float, depth: float, colour: str, edge: str) -> None:
    """A box seen slightly from above: front face ``h`` tall, ``depth`` deep."""
    dx, dy = depth * 0.6, depth * 0.45
    ax.add_patch(Rectangle((x, 0), h, h, fc=colour, ec=edge, lw=1.2))
    ax.add_patch(Polygon([(x, h), (x + dx, h + dy), (x + h + dx, h + dy), (x + h, h)], fc=colour, ec=edge, lw=1.2))
    ax.add_patch(Polygon([(x + h, 0), (x + h + dx, dy), (x + h + dx, h + dy), (x + h, h)], fc=colour, ec=edge, lw=1.2))


def draw_shape_trace(
    layer: int = 0, input_shape: Sequence[int] = INPUT_39, layers: Sequence[ConvStep] = NETWORK_39
) -> tuple[Figure, TraceRow]:
    """Draw every stage as a box (side ~ H, depth ~ C), the chosen ``layer`` highlighted.

    ``layer`` 0 is the input, 1..len(layers) the conv layers, the last index the
    flattened vector. Returns ``(figure, TraceRow of that stage)``.
    """
    rows = trace_shapes(input_shape, layers)
    what = f"an int from 0 to {len(rows) - 1}"
    layer = check_int("layer", layer, minimum=0, maximum=len(rows) - 1, what=what)
    biggest = max(r.shape[0] for r in rows[:-1])
    fig = Figure(figsize=(9, 3.8))
    ax = fig.subplots()
    x = 0.0
    for i, row in enumerate(rows):
        on = i == layer
        colour, edge = ("#1f6fb5", "#0b3d6b") if on else ("#d9d9d9", "#7f7f7f")
        if len(row.shape) == 3:
            h = 10 * row.shape[0] / biggest
            depth = 1.0 + 3.0 * row.shape[2] / 40
            _draw_volume(ax, x, h, depth, colour, edge)
            width = h + depth * 0.6
        else:  # the flattened vector: a thin tall bar
            h, width = 12.0, 0.6
            ax.add_patch(Rectangle((x, 0), width, h, fc=colour, ec=edge, lw=1.2))
        label = "x".join(str(d) for d in row.shape)
        ax.text(x + width / 2, -1.2, f"{row.name}\n{label}", ha="center", va="top", fontsize=9,
                fontweight="bold" if on else "normal")
        x += width + 2.5
    ax.set_xlim(-1, x)
    ax.set_ylim(-4.5, 15)
    ax.set_aspect("equal")
    ax.axis("off")
    current = rows[layer]
    ax.set_title(f"{current.name}: {current.formula}", fontsize=11)
    fig.text(0.5, 0.02, f"one value here sees {current.receptive_field}x{current.receptive_field} input pixels",
             ha="center", fontsize=9)
    return fig, current


def shape_tracer_app(
    input_shape: Sequence[int] = INPUT_39, layers: Sequence[ConvStep] = NETWORK_39
) -> FigureApp:
    """A dropdown of the network's stages; each choice shows its formula and volume."""
    rows = trace_shapes(input_shape, layers)
    options = [(f"{i}: {row.name}", i) for i, row in enumerate(rows)]
    controls = {"layer": widgets.Dropdown(options=options, value=0, description="layer")}

    def draw(layer: int):
        return draw_shape_trace(layer, input_shape, layers)

    return FigureApp(controls, draw, title="Shape tracer: 39x39x3 network")
