"""Exercise checks for lesson 05: building and training a CNN (LeNet-5 and the classic nets).

* Exercise 5.1 - :func:`check_layer_shapes`: the volume after every layer of a
  conv/pool/FC stack, e.g. LeNet-5's 32x32x3 -> 28x28x6 -> 14x14x6 -> ... -> 10.
* Exercise 5.2 - :func:`check_layer_cost`: one layer's activation size and parameters
  (28x28x6 = 4,704 values and 456 parameters for LeNet-5's first conv layer).
* Exercise 5.3 - :func:`check_lenet_params`: the total parameter count of LeNet-5 on a
  32x32x3 input with 10 classes.

Shapes follow the lesson's notation: a volume is ``(H, W, C)``, a vector ``(n,)``. A
layer is one of

* ``("conv", f, n_filters)``: ``n_filters`` filters of ``f x f x C``, stride 1, no
  padding, one bias each;
* ``("pool", f, s)``: an ``f x f`` pooling window moved by ``s``, no parameters;
* ``("fc", n)``: a fully connected layer with ``n`` outputs (a volume is flattened
  first), one bias per output.

Reference answers come from :mod:`course_lib.shapes` and :func:`course_lib.models.lenet5`.
"""

from __future__ import annotations

import math
from typing import Any

from course_lib.checks import Case, CheckResult, Mistake, check_function, check_value
from course_lib.models import lenet5
from course_lib.shapes import conv_output_size, count_params, pool_output_size

__all__ = [
    "LENET5_LAYERS",
    "check_layer_cost",
    "check_layer_shapes",
    "check_lenet_params",
    "layer_cost",
    "layer_shapes",
]

Shape = tuple[int, ...]
Layer = tuple

# LeNet-5 in the exercise notation (seed 004's 32x32x3 version).
LENET5_LAYERS: tuple[Layer, ...] = (
    ("conv", 5, 6),
    ("pool", 2, 2),
    ("conv", 5, 16),
    ("pool", 2, 2),
    ("fc", 120),
    ("fc", 84),
    ("fc", 10),
)


def _check_layer(layer: Any) -> None:
    kinds = ("conv", "pool", "fc")
    if not isinstance(layer, tuple) or not layer or layer[0] not in kinds:
        raise ValueError(f"layer={layer!r} must be a tuple starting with one of {kinds}")


def _next_shape(shape: Shape, layer: Layer, *, channels=None) -> Shape:
    """Shape after one layer; ``channels(c, k)`` lets a mistake replace the conv depth rule."""
    _check_layer(layer)
    if layer[0] == "fc":
        return (layer[1],)
    h, w, c = shape
    if layer[0] == "conv":
        _, f, k = layer
        depth = channels(c, k) if channels else k
        return (conv_output_size(h, f), conv_output_size(w, f), depth)
    _, f, s = layer
    return (pool_output_size(h, f, s=s), pool_output_size(w, f, s=s), c)


def layer_shapes(input_shape: Shape, layers: tuple[Layer, ...]) -> list[Shape]:
    """Reference for Exercise 5.1: the shape after each layer, from :mod:`course_lib.shapes`."""
    shapes, shape = [], tuple(input_shape)
    for layer in layers:
        shape = _next_shape(shape, layer)
        shapes.append(shape)
    return shapes


def _shapes_with(size=None, channels=None):
    """A wrong version of :func:`layer_shapes` with one rule replaced."""

    def wrong(input_shape, layers):
        shapes, shape = [], tuple(input_shape)
        for layer in layers:
            if layer[0] == "fc":
                shape = (layer[1],)
            elif size is None:
                shape = _next_shape(shape, layer, channels=channels)
            else:
                h, w, c = shape
                f, other = layer[1], layer[2]
                if layer[0] == "conv":
                    new_c = channels(c, other) if channels else other
                    shape = (size(h, f, 1, False), size(w, f, 1, False), new_c)
                else:
                    shape = (size(h, f, other, True), size(w, f, other, True), c)
            shapes.append(shape)
        return shapes

    return wrong


# --------------------------------------------------------------------------------------
# Exercise 5.1: shapes through a network
# --------------------------------------------------------------------------------------
SHAPE_CASES = (
    Case(
        "LeNet-5 on 32x32x3",
        ((32, 32, 3), LENET5_LAYERS),
        expected=layer_shapes((32, 32, 3), LENET5_LAYERS),
    ),
    Case(
        "LeNet-5 on 32x32x1 digits",
        ((32, 32, 1), LENET5_LAYERS),
        expected=layer_shapes((32, 32, 1), LENET5_LAYERS),
    ),
    Case(
        "28x28x4, pool 4/2 (window larger than the stride), fc 3",
        ((28, 28, 4), (("pool", 4, 2), ("fc", 3))),
        expected=layer_shapes((28, 28, 4), (("pool", 4, 2), ("fc", 3))),
    ),
    Case(
        "27x27x1, conv 4x4 x 8, pool 3/2, conv 3x3 x 4, pool 2/2, fc 5",
        ((27, 27, 1), (("conv", 4, 8), ("pool", 3, 2), ("conv", 3, 4), ("pool", 2, 2), ("fc", 5))),
        expected=layer_shapes(
            (27, 27, 1),
            (("conv", 4, 8), ("pool", 3, 2), ("conv", 3, 4), ("pool", 2, 2), ("fc", 5)),
        ),
    ),
    Case(
        "a 15x9x2 input (not square), conv 3x3 x 7, pool 2/2",
        ((15, 9, 2), (("conv", 3, 7), ("pool", 2, 2))),
        expected=layer_shapes((15, 9, 2), (("conv", 3, 7), ("pool", 2, 2))),
    ),
)

SHAPE_MISTAKES = (
    Mistake(
        "a valid f x f convolution leaves n - f + 1 positions, not n - f: the first "
        "window counts too (the +1).",
        _shapes_with(size=lambda n, f, s, pool: (n - f) // s + 1 if pool else n - f),
    ),
    Mistake(
        "after a conv layer the depth is the number of filters, not the input's depth: "
        "each filter makes one output channel.",
        _shapes_with(channels=lambda c, k: c),
    ),
    Mistake(
        "the output size must be a whole number: floor((n - f) / s) + 1. A window that "
        "would hang over the edge is not used, so round down (use //).",
        _shapes_with(
            size=lambda n, f, s, pool: (n - f) / s + 1 if pool else n - f + 1,
        ),
    ),
    Mistake(
        "round down, not up: floor((n - f) / s) + 1. A window that would hang over the "
        "edge is not used.",
        _shapes_with(
            size=lambda n, f, s, pool: math.ceil((n - f) / s) + 1 if pool else n - f + 1,
        ),
    ),
    Mistake(
        "pooling with window f and stride s gives floor((n - f) / s) + 1; n / s only "
        "works when f equals s.",
        _shapes_with(size=lambda n, f, s, pool: n // s if pool else n - f + 1),
    ),
)


def check_layer_shapes(fn: Any) -> CheckResult:
    """Exercise 5.1: ``fn(input_shape, layers) -> list of shapes``, one per layer.

    ``input_shape`` is ``(H, W, C)``; a conv or pool layer gives ``(H, W, C)``, an FC
    layer ``(n,)``.
    """
    return check_function(
        "Exercise 5.1 (shapes through a network)", fn, SHAPE_CASES, mistakes=SHAPE_MISTAKES
    )


# --------------------------------------------------------------------------------------
# Exercise 5.2: activation size and parameters of one layer
# --------------------------------------------------------------------------------------
def layer_cost(input_shape: Shape, layer: Layer) -> tuple[int, int]:
    """Reference for Exercise 5.2: (values in the layer's output, its parameters)."""
    _check_layer(layer)
    out = _next_shape(tuple(input_shape), layer)
    inputs = math.prod(input_shape)
    if layer[0] == "conv":
        _, f, k = layer
        params = (f * f * input_shape[2] + 1) * k
    elif layer[0] == "pool":
        params = 0
    else:
        params = (inputs + 1) * layer[1]
    return math.prod(out), params


def _cost_with(*, activation=None, conv=None, fc=None, pool=None):
    """A wrong version of :func:`layer_cost` with one rule replaced."""

    def wrong(input_shape, layer):
        size, params = layer_cost(input_shape, layer)
        out = _next_shape(tuple(input_shape), layer)
        if activation is not None:
            size = activation(out)
        if conv is not None and layer[0] == "conv":
            params = conv(input_shape, layer[1], layer[2])
        if fc is not None and layer[0] == "fc":
            params = fc(input_shape, layer[1])
        if pool is not None and layer[0] == "pool":
            params = pool(input_shape, layer[1])
        return size, params

    return wrong


_COST_INPUTS = (
    ("LeNet-5 conv1: 32x32x3, conv 5x5 x 6", (32, 32, 3), ("conv", 5, 6)),
    ("LeNet-5 pool1: 28x28x6, pool 2/2", (28, 28, 6), ("pool", 2, 2)),
    ("LeNet-5 conv2: 14x14x6, conv 5x5 x 16", (14, 14, 6), ("conv", 5, 16)),
    ("LeNet-5 FC3: 5x5x16 -> 120", (5, 5, 16), ("fc", 120)),
    ("LeNet-5 FC4: 120 -> 84", (120,), ("fc", 84)),
    ("VGG-16 conv1: 224x224x3, conv 3x3 x 64 (no padding here)", (224, 224, 3), ("conv", 3, 64)),
)
COST_CASES = tuple(
    Case(label, (shape, layer), expected=layer_cost(shape, layer))
    for label, shape, layer in _COST_INPUTS
)

COST_MISTAKES = (
    Mistake(
        "the activation size counts every channel: H x W x C (28 x 28 x 6 = 4,704 for "
        "LeNet-5's first layer), not just H x W.",
        _cost_with(activation=lambda out: math.prod(out[:2]) if len(out) == 3 else out[0]),
    ),
    Mistake(
        "you counted the weights but not the biases: every filter (and every FC output) "
        "has one bias too.",
        _cost_with(
            conv=lambda shape, f, k: f * f * shape[2] * k,
            fc=lambda shape, n: math.prod(shape) * n,
        ),
    ),
    Mistake(
        "a filter is as deep as its input: it has f x f x C weights (C = input "
        "channels), not f x f.",
        _cost_with(conv=lambda shape, f, k: (f * f + 1) * k),
    ),
    Mistake(
        "an FC layer connects every input value to every output: flatten the volume "
        "first (5 x 5 x 16 = 400 inputs), not just its channels.",
        _cost_with(fc=lambda shape, n: (shape[-1] + 1) * n),
    ),
    Mistake(
        "pooling has no parameters: it only takes the max (or mean) of each window.",
        _cost_with(pool=lambda shape, f: f * f * shape[2]),
    ),
)


def check_layer_cost(fn: Any) -> CheckResult:
    """Exercise 5.2: ``fn(input_shape, layer) -> (activation_size, n_params)``."""
    return check_function(
        "Exercise 5.2 (activation size and parameters of a layer)",
        fn,
        COST_CASES,
        mistakes=COST_MISTAKES,
    )


# --------------------------------------------------------------------------------------
# Exercise 5.3: LeNet-5's parameter count
# --------------------------------------------------------------------------------------
def _lenet_costs(input_shape: Shape = (32, 32, 3)) -> list[tuple[Layer, tuple[int, int]]]:
    shape, out = tuple(input_shape), []
    for layer in LENET5_LAYERS:
        out.append((layer, layer_cost(shape, layer)))
        shape = _next_shape(shape, layer)
    return out


def _lenet_without_biases() -> int:
    shape, total = (32, 32, 3), 0
    for layer in LENET5_LAYERS:
        n_out = math.prod(_next_shape(shape, layer))
        params = layer_cost(shape, layer)[1]
        biases = layer[2] if layer[0] == "conv" else (n_out if layer[0] == "fc" else 0)
        total += params - biases
        shape = _next_shape(shape, layer)
    return total


LENET_MISTAKES = (
    Mistake(
        "you counted the weights but not the biases: one per filter and one per FC output.",
        _lenet_without_biases,
    ),
    Mistake(
        "that is LeNet-5 on a one-channel (grey) input: this exercise's input has 3 "
        "channels, so each first-layer filter is 5x5x3.",
        lambda: count_params(lenet5(in_channels=1)),
    ),
    Mistake(
        "the count stops before the last layer: the 84 -> 10 output layer has weights "
        "and biases too.",
        lambda: sum(p for layer, (_, p) in _lenet_costs() if layer != ("fc", 10)),
    ),
    Mistake(
        "those are only the conv layers' parameters; most of LeNet-5's parameters sit in "
        "its fully connected layers.",
        lambda: sum(p for layer, (_, p) in _lenet_costs() if layer[0] == "conv"),
    ),
    Mistake(
        "60K is the rounded figure; add up the layers exactly.",
        lambda: 60_000,
    ),
)


def check_lenet_params(value: Any) -> CheckResult:
    """Exercise 5.3: LeNet-5's total parameter count for a 32x32x3 input and 10 classes."""
    return check_value(
        "Exercise 5.3 (LeNet-5's parameters)",
        value,
        count_params(lenet5(in_channels=3, num_classes=10)),
        mistakes=LENET_MISTAKES,
    )
