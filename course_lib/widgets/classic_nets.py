"""Lesson 05's classic-network tables: LeNet-5, AlexNet and VGG-16, layer by layer.

* :func:`net_summary` runs :func:`course_lib.shapes.summary` on one of :data:`NETS`
  built on PyTorch's "meta" device: shapes and parameter counts are exact, but no
  weights are allocated (VGG-16's 138 million would take half a gigabyte) and nothing
  is downloaded.
* The summary's ``activations`` column is each layer's activation size (the number of
  values in its output, H x W x C); :func:`activation_memory` adds up what a forward
  pass must keep for one image: the input plus the output of every conv, pooling and
  FC layer (ReLU and dropout overwrite their input in place, flatten is a view).
* :func:`draw_net_profile` draws activation sizes, parameters or multiplications per
  layer on a log scale, and :func:`net_profile_app` picks the network and the quantity:
  activations are large early and parameters late.

Source: lesson 05 (LeNet-5 about 60K parameters, AlexNet about 60M, VGG-16 about 138M;
CS231n's "96 MB per image" for VGG-16's forward pass).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from course_lib.models import alexnet, lenet5, vgg16
from course_lib.shapes import Summary, summary
from course_lib.validate import check_choice, check_int
from course_lib.widgets.base import FigureApp

__all__ = [
    "NETS",
    "QUANTITIES",
    "STORED_KINDS",
    "ActivationMemory",
    "activation_memory",
    "draw_net_profile",
    "net_profile_app",
    "net_summary",
]

# name -> (constructor, input shape (C, H, W) of one image)
NETS: dict[str, tuple[Callable[[], nn.Module], tuple[int, int, int]]] = {
    "LeNet-5": (lambda: lenet5(in_channels=3, num_classes=10), (3, 32, 32)),
    "AlexNet": (lambda: alexnet(num_classes=1000), (3, 224, 224)),
    "VGG-16": (lambda: vgg16(num_classes=1000), (3, 224, 224)),
}
# Layers whose outputs a forward pass stores (see activation_memory).
STORED_KINDS = ("Conv2d", "MaxPool2d", "AvgPool2d", "Linear")
QUANTITIES = ("activation size", "parameters", "multiplications")


def net_summary(name: str) -> Summary:
    """``shapes.summary`` of a classic network (see :data:`NETS`) on its usual input size."""
    return _net_summary(check_choice("name", name, tuple(NETS)))


@functools.lru_cache(maxsize=len(NETS))
def _net_summary(name: str) -> Summary:  # a Summary is frozen, so sharing it is safe
    build, shape = NETS[name]
    with torch.device("meta"):  # shapes and counts without allocating any weights
        model = build()
    return summary(model, shape)


def _size(megabytes: float) -> str:
    return f"{megabytes:.1f} MB" if megabytes >= 1 else f"{1000 * megabytes:.1f} kB"


@dataclass(frozen=True)
class ActivationMemory:
    """Values a forward pass keeps for one image, and their size in bytes."""

    input_values: int
    layer_values: int  # outputs of the stored layers
    activation_values: int  # outputs of ReLU layers, if kept separately (not in place)
    bytes_per_value: int
    early_fraction: float  # share of the stored values in the first half of the stored layers

    @property
    def values(self) -> int:
        return self.input_values + self.layer_values

    @property
    def megabytes(self) -> float:
        return self.values * self.bytes_per_value / 1e6

    @property
    def megabytes_separate_relu(self) -> float:
        """The total if every ReLU output were a separate tensor too."""
        return (self.values + self.activation_values) * self.bytes_per_value / 1e6

    def __str__(self) -> str:
        return (
            f"{self.values:,} values per image ({self.input_values:,} input + "
            f"{self.layer_values:,} layer outputs) = {_size(self.megabytes)} at "
            f"{self.bytes_per_value} bytes each, forward pass only; "
            f"{100 * self.early_fraction:.0f}% of the layer outputs are in the first half "
            f"of the layers. Keeping ReLU outputs separately too: "
            f"{_size(self.megabytes_separate_relu)}."
        )


def activation_memory(
    table: Summary,
    *,
    kinds: Sequence[str] = STORED_KINDS,
    bytes_per_value: int = 4,
) -> ActivationMemory:
    """What one image's forward pass stores: its input plus every ``kinds`` layer's output.

    ``bytes_per_value`` is 4 for float32. The backward pass needs these values again
    (and gradients of the same size), so training needs at least twice as much.
    """
    if not isinstance(table, Summary):
        raise TypeError(f"table must be a shapes.Summary, not {type(table).__name__}")
    bytes_per_value = check_int("bytes_per_value", bytes_per_value, minimum=1)
    if isinstance(kinds, str) or not isinstance(kinds, Sequence) or not all(
        isinstance(k, str) for k in kinds
    ):
        raise TypeError(f"kinds={kinds!r} must be a list of layer type names such as ('Conv2d',)")
    sizes = [r.activations for r in table.rows if r.kind in kinds]
    if not sizes:
        raise ValueError(f"no layer of kinds {tuple(kinds)} in the table")
    relu = sum(r.activations for r in table.rows if r.kind == "ReLU")
    half = len(sizes) // 2 or 1
    return ActivationMemory(
        input_values=math.prod(table.input_shape),
        layer_values=sum(sizes),
        activation_values=relu,
        bytes_per_value=bytes_per_value,
        early_fraction=sum(sizes[:half]) / sum(sizes),
    )


def draw_net_profile(net: str = "VGG-16", quantity: str = "activation size") -> tuple[Figure, str]:
    """Bars per conv/pool/FC layer of ``net``: activation size, parameters or multiplications.

    Log scale; conv layers blue, pooling grey, FC orange. Returns the figure and a
    sentence with the network's totals.
    """
    net = check_choice("net", net, tuple(NETS))
    quantity = check_choice("quantity", quantity, QUANTITIES)
    table = net_summary(net).only(*STORED_KINDS)
    rows = table.rows
    column = {"activation size": "activations", "parameters": "params", "multiplications": "mults"}
    values = np.array([getattr(r, column[quantity]) for r in rows], dtype=np.float64)
    colours = {"Conv2d": "#1f6fb5", "Linear": "#e67e22"}
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    ax = fig.subplots()
    x = np.arange(len(values))
    ax.bar(
        x,
        np.where(values > 0, values, np.nan),
        color=[colours.get(r.kind, "#9aa5b1") for r in rows],
    )
    ax.set_yscale("log")
    labels = [
        r.kind.replace("Conv2d", "conv").replace("MaxPool2d", "pool").replace("Linear", "FC")
        for r in rows
    ]
    ax.set_xticks(x, labels, rotation=90, fontsize=7)
    ax.set_ylabel(quantity)
    total = values.sum()
    fc = values[[r.kind == "Linear" for r in rows]].sum()
    ax.set_title(
        f"{net}: {quantity} per layer (total {total:,.0f}; FC layers {100 * fc / total:.0f}%)",
        fontsize=10,
    )
    memory = activation_memory(net_summary(net))
    text = (
        f"{net}: {table.total_params:,} parameters, {table.total_mults:,} multiplications; "
        f"{quantity} of the FC layers: {100 * fc / total:.0f}% of the total. "
        f"Forward-pass memory: {_size(memory.megabytes)} per image."
    )
    return fig, text


def net_profile_app(net: str = "LeNet-5", quantity: str = "activation size") -> FigureApp:
    """Dropdowns for the network and the quantity per layer."""
    net = check_choice("net", net, tuple(NETS))
    quantity = check_choice("quantity", quantity, QUANTITIES)
    controls = {
        "net": widgets.Dropdown(options=list(NETS), value=net, description="network"),
        "quantity": widgets.Dropdown(
            options=list(QUANTITIES), value=quantity, description="per layer"
        ),
    }
    return FigureApp(controls, draw_net_profile, title="Where the values, weights and work sit")
