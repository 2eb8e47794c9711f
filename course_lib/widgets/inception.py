"""Lesson 10's app: build an inception module from its branch sizes and see what it costs.

:func:`draw_inception_module` counts a module's output depth, parameters and
multiplications branch by branch
(:func:`course_lib.experiments.inception.inception_module_cost`) and draws them as bars:
multiplications per branch (next to the same branches without their 1x1 reductions, in
grey, for a module with dimension reduction) and the output depth each branch adds.
:func:`inception_app` wires sliders for the input depth and every branch size, and a
choice between the naive module and the one with dimension reduction; the two
reduction sliders are disabled for the naive module, which has no reductions.

The draw function is pure; the app only wires controls to it.
"""

from __future__ import annotations

import ipywidgets as widgets
from matplotlib.figure import Figure

from course_lib.experiments.inception import ModuleCost, inception_module_cost
from course_lib.validate import check_choice, check_int
from course_lib.widgets.base import FigureApp

__all__ = ["MODULE_KINDS", "draw_inception_module", "inception_app"]

MODULE_KINDS = ("with dimension reduction", "naive")
_MAX_CHANNELS = 512
_COLOURS = ("#1f6fb5", "#2a9d5c", "#c0392b", "#8e44ad")


def draw_inception_module(
    kind: str = "with dimension reduction",
    in_channels: int = 192,
    c1: int = 64,
    c3_reduce: int = 96,
    c3: int = 128,
    c5_reduce: int = 16,
    c5: int = 32,
    pool_proj: int = 32,
    *,
    size: int = 28,
) -> tuple[Figure, ModuleCost]:
    """Bars of an inception module's multiplications and output depth, per branch.

    The input is ``size x size x in_channels``; ``kind`` is one of :data:`MODULE_KINDS`
    (the naive module ignores ``c3_reduce`` and ``c5_reduce``). The pool branch always
    ends in a 1x1 projection to ``pool_proj`` channels. Returns the figure and the
    :class:`~course_lib.experiments.inception.ModuleCost` it shows.
    """
    kind = check_choice("kind", kind, MODULE_KINDS)
    in_channels = check_int("in_channels", in_channels, minimum=1, maximum=4096)
    size = check_int("size", size, minimum=1, maximum=1024)
    naive = kind == "naive"
    sizes = {"c1": c1, "c3": c3, "c5": c5, "pool_proj": pool_proj}
    if not naive:
        sizes |= {"c3_reduce": c3_reduce, "c5_reduce": c5_reduce}
    cost = inception_module_cost((in_channels, size, size), **sizes)
    plain = cost if naive else inception_module_cost(
        (in_channels, size, size), c1=c1, c3=c3, c5=c5, pool_proj=pool_proj
    )
    fig = Figure(figsize=(9, 3.2), layout="constrained")
    ax_m, ax_d = fig.subplots(1, 2, width_ratios=(2, 1))
    names = [b.name for b in cost.branches]
    rows = range(len(names))
    if not naive:
        ax_m.barh(rows, [b.mults / 1e6 for b in plain.branches], color="#cccccc",
                  label="without the 1x1 reductions")  # fmt: skip
    ax_m.barh(rows, [b.mults / 1e6 for b in cost.branches], color=_COLOURS, height=0.55,
              label="this module")  # fmt: skip
    for i, b in enumerate(cost.branches):
        ax_m.annotate(f"{b.mults / 1e6:,.1f} M", (b.mults / 1e6, i), xytext=(4, 0),
                      textcoords="offset points", va="center", fontsize=8)  # fmt: skip
    ax_m.set_yticks(list(rows), [f"{b.name}: {b.layers}" for b in cost.branches], fontsize=8)
    ax_m.invert_yaxis()
    ax_m.set_xlabel("multiplications (millions)")
    ax_m.margins(x=0.25)
    if not naive:
        ax_m.legend(fontsize=8, loc="lower right")
    left = 0
    for colour, b in zip(_COLOURS, cost.branches, strict=True):
        ax_d.bar([0], [b.out_channels], bottom=left, color=colour, width=0.5)
        ax_d.annotate(f"{b.name}: {b.out_channels}", (0.3, left + b.out_channels / 2),
                      va="center", fontsize=8)  # fmt: skip
        left += b.out_channels
    ax_d.set_xlim(-0.5, 1.5)
    ax_d.set_xticks([])
    ax_d.set_ylabel("output channels")
    ax_d.set_title(f"output depth {cost.out_channels}", fontsize=10)
    fig.suptitle(
        f"{kind}: {size}x{size}x{in_channels} -> {size}x{size}x{cost.out_channels}, "
        f"{cost.params:,} parameters, {cost.mults:,} multiplications",
        fontsize=10,
    )
    return fig, cost


def inception_app(
    kind: str = "with dimension reduction",
    in_channels: int = 192,
    c1: int = 64,
    c3_reduce: int = 96,
    c3: int = 128,
    c5_reduce: int = 16,
    c5: int = 32,
    pool_proj: int = 32,
) -> FigureApp:
    """Sliders for the input depth and every branch size (1 to 512 channels), and the kind
    of module; the reduction sliders are disabled for the naive module."""
    kind = check_choice("kind", kind, MODULE_KINDS)
    start = {"in_channels": in_channels, "c1": c1, "c3_reduce": c3_reduce, "c3": c3,
             "c5_reduce": c5_reduce, "c5": c5, "pool_proj": pool_proj}  # fmt: skip
    start = {k: check_int(k, v, minimum=1, maximum=_MAX_CHANNELS) for k, v in start.items()}
    labels = {"in_channels": "input depth", "c1": "1x1", "c3_reduce": "3x3 reduce",
              "c3": "3x3", "c5_reduce": "5x5 reduce", "c5": "5x5",
              "pool_proj": "pool proj"}  # fmt: skip
    controls: dict[str, widgets.ValueWidget] = {
        "kind": widgets.ToggleButtons(options=MODULE_KINDS, value=kind, description="module")
    }
    for name, value in start.items():
        controls[name] = widgets.IntSlider(
            value=value, min=1, max=_MAX_CHANNELS, description=labels[name],
            continuous_update=False,
        )  # fmt: skip
    reductions = (controls["c3_reduce"], controls["c5_reduce"])

    def follow(change=None) -> None:
        for slider in reductions:
            slider.disabled = controls["kind"].value == "naive"

    follow()
    controls["kind"].observe(follow, names="value")
    return FigureApp(controls, draw_inception_module, title="Build an inception module")
