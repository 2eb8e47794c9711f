"""Exercise checks for lesson 05: building and training a CNN (LeNet-5 and the classic nets).

* Exercise 5.1 - :func:`check_layer_shapes`: the volume after every layer of a
  conv/pool/FC stack, e.g. LeNet-5's 32x32x3 -> 28x28x6 -> 14x14x6 -> ... -> 10.
* Exercise 5.2 - :func:`check_layer_cost`: one layer's activation size and parameters
  (28x28x6 = 4,704 values and 456 parameters for LeNet-5's first conv layer).
* Exercise 5.3 - :func:`check_lenet_params`: the total parameter count of LeNet-5 on a
  32x32x3 input with 10 classes.
* Exercise 5.4 - :func:`check_lenet_sequential`: LeNet-5 written as an ``nn.Sequential``
  for 32x32 grey digits. Judged by what it computes: the reference's weights are copied
  into the learner's network and the scores compared, so nesting, ``inplace=True`` or a
  ReLU after (instead of before) a max pool all pass.
* Exercise 5.5 - :func:`check_training_loop`: a training loop (SGD with momentum 0.9,
  cross-entropy) returning each epoch's mean batch loss. The losses follow the weights'
  whole trajectory, so a missing ``zero_grad`` or ``step`` changes them.
* Exercise 5.6 - :func:`check_lenet_28`: that LeNet-5 changed for 28x28 digits; both
  one-number changes pass (the first FC layer reads 256 values, or conv1 pads by 2).

Shapes follow the lesson's notation: a volume is ``(H, W, C)``, a vector ``(n,)``. A
layer is one of

* ``("conv", f, n_filters)``: ``n_filters`` filters of ``f x f x C``, stride 1, no
  padding, one bias each;
* ``("pool", f, s)``: an ``f x f`` pooling window moved by ``s``, no parameters;
* ``("fc", n)``: a fully connected layer with ``n`` outputs (a volume is flattened
  first), one bias per output.

Reference answers come from :mod:`course_lib.shapes` and :func:`course_lib.models.lenet5`.
The cases include non-square inputs and pooling windows larger than their stride (4/2,
3/2), where ``n // s`` and ``floor((n - f)/s) + 1`` differ.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from course_lib.checks import Case, CheckResult, Mistake, check_function, check_value, describe
from course_lib.models import lenet5
from course_lib.shapes import conv_output_size, count_parameters, pool_output_size
from course_lib.validate import check_bool, check_int, check_number, check_shape

__all__ = [
    "LENET5_LAYERS",
    "check_layer_cost",
    "check_layer_shapes",
    "check_lenet_28",
    "check_lenet_params",
    "check_lenet_sequential",
    "check_training_loop",
    "layer_cost",
    "layer_shapes",
    "lenet_28",
    "lenet_sequential",
    "train_epochs",
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


_KINDS = ("conv", "pool", "fc")


def _check_layer(layer: Any, name: str = "layer") -> Layer:
    """``layer`` as a tuple of a kind and positive Python ints, e.g. ``("pool", 3, 2)``."""
    if not isinstance(layer, tuple | list) or not layer or layer[0] not in _KINDS:
        raise ValueError(f"{name}={layer!r} must be a tuple starting with one of {_KINDS}")
    size = 2 if layer[0] == "fc" else 3
    if len(layer) != size:
        form = {"conv": "('conv', f, n_filters)", "pool": "('pool', f, s)", "fc": "('fc', n)"}
        raise ValueError(f"{name}={layer!r} must be {form[layer[0]]}")
    numbers = [check_int(f"{name}[{i}]", v, minimum=1) for i, v in enumerate(layer[1:], 1)]
    return (layer[0], *numbers)


def _check_input_shape(input_shape: Any) -> Shape:
    return check_shape("input_shape", input_shape, length=(1, 3), layout="(H, W, C) or (n,)")


def _next_shape(shape: Shape, layer: Layer, *, channels=None, source: str = "input_shape"
                ) -> Shape:
    """Shape after one layer; ``channels(c, k)`` lets a mistake replace the conv depth rule.
    ``source`` names where ``shape`` came from, for the error messages."""
    layer = _check_layer(layer)
    if layer[0] == "fc":
        return (layer[1],)
    if len(shape) != 3:
        raise ValueError(f"layer={layer!r} needs an (H, W, C) volume, but {source}={shape}")
    h, w, c = shape
    try:
        if layer[0] == "conv":
            _, f, k = layer
            depth = channels(c, k) if channels else k
            return (conv_output_size(h, f), conv_output_size(w, f), depth)
        _, f, s = layer
        return (pool_output_size(h, f, s=s), pool_output_size(w, f, s=s), c)
    except ValueError as exc:
        raise ValueError(f"layer={layer!r} does not fit {source}={shape}: {exc}") from None


def layer_shapes(input_shape: Shape, layers: tuple[Layer, ...]) -> list[Shape]:
    """Reference for Exercise 5.1: the shape after each layer, from :mod:`course_lib.shapes`."""
    shape = _check_input_shape(input_shape)
    if not isinstance(layers, tuple | list):
        raise TypeError(f"layers must be a tuple of layers, not {type(layers).__name__}")
    checked = [_check_layer(layer, f"layers[{i}]") for i, layer in enumerate(layers)]
    shapes = []
    for i, layer in enumerate(checked):
        source = "input_shape" if i == 0 else f"the output of layers[{i - 1}]"
        shape = _next_shape(shape, layer, source=source)
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

def _shapes_channels_first(input_shape, layers):
    """A learner's loop that unpacks ``c, h, w = input_shape`` (torch's order) instead of
    ``h, w, c``, written without any checks, as a learner's code would be."""
    c, h, w = input_shape
    out = []
    for layer in layers:
        if layer[0] == "conv":
            h, w, c = h - layer[1] + 1, w - layer[1] + 1, layer[2]
            out.append((h, w, c))
        elif layer[0] == "pool":
            h, w = (h - layer[1]) // layer[2] + 1, (w - layer[1]) // layer[2] + 1
            out.append((h, w, c))
        else:
            out.append((layer[1],))
    return out


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
    Mistake(
        "you unpacked input_shape as (C, H, W), torch's order; in this exercise a volume "
        "is (H, W, C): h, w, c = input_shape.",
        _shapes_channels_first,
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
    input_shape = _check_input_shape(input_shape)
    layer = _check_layer(layer)
    out = _next_shape(input_shape, layer)
    inputs = math.prod(input_shape)
    if layer[0] == "conv":
        _, f, k = layer
        params = (f * f * input_shape[2] + 1) * k
    elif layer[0] == "pool":
        params = 0
    else:
        params = (inputs + 1) * layer[1]
    return math.prod(out), params


def _cost_with(*, activation=None, conv=None, fc=None, pool=None, pool_side=None):
    """A wrong version of :func:`layer_cost` with one rule replaced (``pool_side(n, f, s)``:
    the side of a pooled volume)."""

    def wrong(input_shape, layer):
        size, params = layer_cost(input_shape, layer)
        out = _next_shape(tuple(input_shape), layer)
        if activation is not None:
            size = activation(out)
        if pool_side is not None and layer[0] == "pool":
            h, w, c = input_shape
            size = pool_side(h, layer[1], layer[2]) * pool_side(w, layer[1], layer[2]) * c
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
    ("28x28x6, pool 3/2 (a window larger than its stride)", (28, 28, 6), ("pool", 3, 2)),
    ("a 15x9x2 input (not square), conv 3x3 x 7", (15, 9, 2), ("conv", 3, 7)),
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
    Mistake(
        "a pooled side is floor((n - f) / s) + 1; n // s (or n // 2) only works when the "
        "window equals the stride. With a 3x3 window and stride 2, 28 -> 13, not 14.",
        _cost_with(pool_side=lambda n, f, s: n // s),
    ),
    Mistake(
        "a pooled side is floor((n - f) / s) + 1; n // 2 only works when the window and the "
        "stride are both 2.",
        _cost_with(pool_side=lambda n, f, s: n // 2),
    ),
    Mistake(
        "one bias per filter, not one per input channel: each filter sums its f x f x C "
        "products into one number and adds one bias, (f^2 C + 1) K.",
        _cost_with(conv=lambda shape, f, k: (f * f + 1) * shape[2] * k),
    ),
    Mistake(
        "you read the channels from input_shape[0], which is the height: in this exercise "
        "a volume is (H, W, C), so C is input_shape[2] (torch's tensors are (C, H, W)).",
        _cost_with(conv=lambda shape, f, k: (f * f * shape[0] + 1) * k),
    ),
    Mistake(
        "you gave every filter one weight per input value (H x W x C), as a fully "
        "connected layer would. A conv filter sees only an f x f x C window, reused at "
        "every position: (f^2 C + 1) K, whatever H and W are.",
        _cost_with(conv=lambda shape, f, k: (math.prod(shape) + 1) * k),
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
        lambda: count_parameters(lenet5(in_channels=1)),
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
        count_parameters(lenet5(in_channels=3, num_classes=10)),
        mistakes=LENET_MISTAKES,
    )


# --------------------------------------------------------------------------------------
# Exercises 5.4 and 5.6: LeNet-5 written as an nn.Sequential, then for 28x28 digits
# --------------------------------------------------------------------------------------
def lenet_sequential() -> nn.Sequential:
    """Reference for Exercise 5.4: LeNet-5 for (N, 1, 32, 32) grey digits, 10 logits.

    The same network as :func:`course_lib.models.lenet5` (61,706 parameters), written out.
    """
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2, stride=2),  # (N, 6, 14, 14)
        nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2, stride=2),  # (N, 16, 5, 5)
        nn.Flatten(),  # (N, 400)
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),  # (N, 10) scores; nn.CrossEntropyLoss applies the softmax
    )  # fmt: skip


def lenet_28(*, pad: bool = False) -> nn.Sequential:
    """Reference for Exercise 5.6: LeNet-5 for (N, 1, 28, 28) digits (MNIST's size).

    28 -> conv 24 -> pool 12 -> conv 8 -> pool 4, so the first FC layer reads
    16 * 4 * 4 = 256 values; or, with ``pad=True``, conv1 pads by 2 (28 + 4 = 32) and
    everything after it is LeNet-5's 32x32 network unchanged (400 values).
    """
    net = lenet_sequential()
    if check_bool("pad", pad):
        net[0] = nn.Conv2d(1, 6, kernel_size=5, padding=2)  # (N, 6, 28, 28)
    else:
        net[7] = nn.Linear(16 * 4 * 4, 120)  # after pool2: (N, 16, 4, 4)
    return net


def _seeded(build: Any, seed: int = 0) -> Any:
    """``build()`` with torch's global generator seeded, and restored afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def _probe(side: int) -> torch.Tensor:
    """A fixed float64 batch (4, 1, side, side) of values in [0, 1)."""
    generator = torch.Generator().manual_seed(5)
    return torch.rand(4, 1, side, side, generator=generator, dtype=torch.float64)


def _weight_layers(net: nn.Module) -> list[str]:
    """The layers that hold weights, in order, e.g. ``['Conv2d(1->6, 5x5)', 'Linear(400->120)']``."""
    out = []
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            pad = "" if m.padding in ((0, 0), "valid") else f", padding={m.padding}"
            kernel = "x".join(map(str, m.kernel_size))
            out.append(f"Conv2d({m.in_channels}->{m.out_channels}, {kernel}{pad})")
        elif isinstance(m, nn.Linear):
            out.append(f"Linear({m.in_features}->{m.out_features})")
        elif any(True for _ in m.parameters(recurse=False)):
            out.append(type(m).__name__)
    return out


def _network_compare(side: int, references: tuple[nn.Module, ...], name: str) -> Any:
    """A ``compare(got, expected)`` for networks: ``got`` must compute what one of the
    ``references`` computes. Its weights are replaced by the reference's (so any
    initialisation passes) and both run in float64 on the same batch of side x side
    images; layers may be nested, and ReLU may come before or after a max pool."""

    def compare(got: Any, expected: Any) -> str | None:
        if not isinstance(got, nn.Module):
            return f"expected a network (an nn.Module such as nn.Sequential), got {describe(got)}"
        net = copy.deepcopy(got).cpu()
        x = _probe(side)
        first = next(net.parameters(), None)
        lazy = first is not None and nn.parameter.is_lazy(first)
        dtype = torch.float32 if first is None or lazy else first.dtype
        try:
            with torch.no_grad():
                out = net(x.to(dtype))  # also gives lazy layers their sizes
        except Exception as exc:  # the learner's network does not run: say how
            return (f"running your network on a batch of shape {tuple(x.shape)} raised "
                    f"{type(exc).__name__}: {exc}")
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (4, 10):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            return (f"your network turns a batch of shape {tuple(x.shape)} into {shape}; "
                    "expected (4, 10): ten scores per image")
        shapes = [tuple(p.shape) for p in net.parameters()]
        ref = next((r for r in references
                    if [tuple(p.shape) for p in r.parameters()] == shapes), None)
        if ref is None:
            return (f"your layers with weights are {_weight_layers(net)} "
                    f"({sum(math.prod(s) for s in shapes):,} parameters); {name} has "
                    f"{_weight_layers(references[0])} "
                    f"({count_parameters(references[0]):,} parameters)")
        ref = copy.deepcopy(ref).double().eval()
        net = net.double().eval()
        with torch.no_grad():
            for mine, theirs in zip(net.parameters(), ref.parameters(), strict=True):
                mine.copy_(theirs)
            diff = float((net(x) - ref(x)).abs().max())
        if diff > 1e-9:
            return (f"your layers with weights match {name}'s, but with {name}'s weights copied "
                    f"in, your network's scores differ from its scores by up to {diff:.3g}: "
                    "something between those layers (an activation, a pooling layer, their "
                    "order) is not the same")
        return None

    return compare


def _modules(net: Any) -> list[nn.Module]:
    return list(net.modules()) if isinstance(net, nn.Module) else []


def _count(net: Any, *kinds: type) -> int:
    return sum(isinstance(m, kinds) for m in _modules(net))


def _convs(net: Any) -> list[nn.Conv2d]:
    return [m for m in _modules(net) if isinstance(m, nn.Conv2d)]


def _first_fc_inputs(net: Any) -> int | None:
    return next((m.in_features for m in _modules(net) if isinstance(m, nn.Linear)), None)


def _padded(conv: nn.Conv2d) -> bool:
    return conv.padding not in ((0, 0), "valid")


def _last_module(net: Any) -> nn.Module | None:
    leaves = [m for m in _modules(net) if not list(m.children())]
    return leaves[-1] if leaves else None


_NET_LIST_MISTAKE = Mistake(
    "nn.Sequential takes the layers as separate arguments, nn.Sequential(a, b, c); to "
    "hand it a list, unpack it: nn.Sequential(*layers).",
    lambda: nn.Sequential([nn.Identity()]),
)
# Mistakes any LeNet-5 can have, whatever its input size (Exercises 5.4 and 5.6).
_NET_MISTAKES = (
    Mistake(
        "the digits are grey, one channel: the first layer is nn.Conv2d(1, 6, 5). (Exercise "
        "5.3's LeNet-5 read 32x32x3 colour images.)",
        matches=lambda got, exp: bool(_convs(got)) and _convs(got)[0].in_channels != 1,
    ),
    Mistake(
        "a filter is as deep as its input: conv2's filters span the 6 maps that conv1 makes, "
        "so it is nn.Conv2d(6, 16, 5).",
        matches=lambda got, exp: len(_convs(got)) >= 2
        and _convs(got)[1].in_channels != _convs(got)[0].out_channels,
    ),
    Mistake(
        "nn.Linear works on the last axis only: put nn.Flatten() between the last pooling "
        "layer and the first nn.Linear, so that it reads all 16 maps as one vector.",
        matches=lambda got, exp: isinstance(got, nn.Sequential) and _count(got, nn.Flatten) == 0,
    ),
    Mistake(
        "a pooling layer here is nn.MaxPool2d(2): a 2x2 window moved by 2, which halves "
        "each side (28 -> 14). Another window or stride changes every size after it.",
        matches=lambda got, exp: any(
            isinstance(m, nn.MaxPool2d | nn.AvgPool2d)
            and (m.kernel_size not in (2, (2, 2)) or m.stride not in (2, (2, 2)))
            for m in _modules(got)
        ),
    ),
    Mistake(
        "the network ends with the ten scores (logits): no softmax after the last layer. "
        "nn.CrossEntropyLoss applies the softmax itself.",
        matches=lambda got, exp: isinstance(_last_module(got), nn.Softmax | nn.LogSoftmax),
    ),
    Mistake(
        "no activation after the last layer: its ten scores may be negative, and a ReLU "
        "there would cut them to 0. The last layer is a plain nn.Linear(84, 10).",
        matches=lambda got, exp: isinstance(_last_module(got), nn.ReLU | nn.Sigmoid | nn.Tanh),
    ),
    Mistake(
        "this LeNet-5 uses ReLU (lesson 04), not the sigmoid or tanh units of the 1998 "
        "original: nn.ReLU() after each conv layer and each hidden FC layer.",
        matches=lambda got, exp: _count(got, nn.Sigmoid, nn.Tanh) > 0,
    ),
    Mistake(
        "this LeNet-5 pools with the maximum, nn.MaxPool2d(2); the 1998 original averaged "
        "(nn.AvgPool2d), which gives other numbers.",
        matches=lambda got, exp: _count(got, nn.AvgPool2d) > 0,
    ),
    Mistake(
        "LeNet-5 has four ReLUs: after conv1, after conv2 and after the two hidden FC layers "
        "(120 and 84). Without one, two linear layers in a row collapse into one (lesson 04).",
        matches=lambda got, exp: _count(got, nn.ReLU) < 4,
    ),
    Mistake(
        "one score per class: the last layer is nn.Linear(84, 10).",
        matches=lambda got, exp: isinstance(_last_module(got), nn.Linear)
        and _last_module(got).out_features != 10,
    ),
)

LENET_NET_CASES = (
    Case("LeNet-5 for 32x32 grey digits and 10 classes", (), expected=_seeded(lenet_sequential)),
)
LENET_NET_MISTAKES = (
    _NET_LIST_MISTAKE,
    *_NET_MISTAKES[:2],
    Mistake(
        "LeNet-5's convolutions are valid (no padding): 32 -> 28 -> pool 14 -> 10 -> pool 5. "
        "With padding the maps keep their size (lesson 02) and the flattened volume is no "
        "longer 5 x 5 x 16 = 400.",
        matches=lambda got, exp: any(_padded(c) for c in _convs(got)),
    ),
    Mistake(
        "after pool2 the volume is 5 x 5 x 16 = 400 values (32 -> 28 -> 14 -> 10 -> 5), so "
        "the first FC layer is nn.Linear(400, 120). 16 x 4 x 4 = 256 is what a 28x28 input "
        "would leave.",
        matches=lambda got, exp: _first_fc_inputs(got) == 16 * 4 * 4,
    ),
    Mistake(
        "the first FC layer reads the whole flattened volume after pool2: 5 x 5 x 16 = 400 "
        "values (32 -> conv 28 -> pool 14 -> conv 10 -> pool 5), so nn.Linear(400, 120).",
        matches=lambda got, exp: _first_fc_inputs(got) not in (None, 400),
    ),
    *_NET_MISTAKES[2:],
)


def check_lenet_sequential(fn: Any) -> CheckResult:
    """Exercise 5.4: ``fn() -> nn.Module``, LeNet-5 for (N, 1, 32, 32) digits, 10 scores.

    Any network that computes LeNet-5's function passes (the network itself in place of
    ``fn`` too): the check copies the reference's weights into it and compares scores.
    """
    if isinstance(fn, nn.Module):  # the network itself rather than a function building it
        net = fn
        fn = lambda: net  # noqa: E731
    return check_function(
        "Exercise 5.4 (LeNet-5 as an nn.Sequential)",
        fn,
        LENET_NET_CASES,
        mistakes=LENET_NET_MISTAKES,
        compare=_network_compare(32, (LENET_NET_CASES[0].expected,), "LeNet-5"),
    )


LENET_28_CASES = (
    Case("LeNet-5 for 28x28 grey digits and 10 classes", (), expected=_seeded(lenet_28)),
)
LENET_28_MISTAKES = (
    _NET_LIST_MISTAKE,
    Mistake(
        "on 28x28 digits conv1 gives 24x24, pool1 12x12, conv2 8x8 and pool2 4x4: the first "
        "FC layer reads 16 x 4 x 4 = 256 values, not 400. (Or keep 400 and pad conv1 by 2, "
        "so that 28 + 4 = 32 and the rest of LeNet-5 sees what it always saw.)",
        matches=lambda got, exp: _first_fc_inputs(got) == 400
        and not any(_padded(c) for c in _convs(got)),
    ),
    Mistake(
        "pad conv1 or change the FC layer, not both: with padding=2, conv1 keeps 28x28 and "
        "pool2 gives 5 x 5 x 16 = 400 values again.",
        matches=lambda got, exp: _first_fc_inputs(got) == 256
        and bool(_convs(got)) and _padded(_convs(got)[0]),
    ),
    Mistake(
        "change as little as possible: conv2 stays valid (no padding). Only conv1's padding "
        "(2) or the first FC layer's input (256) needs to change.",
        matches=lambda got, exp: len(_convs(got)) >= 2 and _padded(_convs(got)[1]),
    ),
    Mistake(
        "trace the sizes with lesson 02's formula: 28 -> conv 24 -> pool 12 -> conv 8 -> "
        "pool 4, so the first FC layer reads 16 x 4 x 4 = 256 values.",
        matches=lambda got, exp: _first_fc_inputs(got) not in (None, 256, 400),
    ),
    *_NET_MISTAKES,
)


def check_lenet_28(fn: Any) -> CheckResult:
    """Exercise 5.6: ``fn() -> nn.Module``, LeNet-5 changed for (N, 1, 28, 28) digits.

    Two one-number changes are right: the first FC layer reads 16*4*4 = 256 values, or
    conv1 pads by 2 and the rest stays LeNet-5's.
    """
    if isinstance(fn, nn.Module):
        net = fn
        fn = lambda: net  # noqa: E731
    references = (LENET_28_CASES[0].expected, _seeded(lambda: lenet_28(pad=True)))
    return check_function(
        "Exercise 5.6 (LeNet-5 for 28x28 digits)",
        fn,
        LENET_28_CASES,
        mistakes=LENET_28_MISTAKES,
        compare=_network_compare(28, references, "LeNet-5 for 28x28"),
    )


# --------------------------------------------------------------------------------------
# Exercise 5.5: the training loop
# --------------------------------------------------------------------------------------
def train_epochs(model: nn.Module, batches: Any, epochs: int, lr: float) -> list[float]:
    """Reference for Exercise 5.5: SGD with momentum 0.9 and the cross-entropy loss.

    ``batches``: a list (or a DataLoader) of ``(x, y)`` pairs, scores ``model(x)`` of
    shape (B, K) and labels ``y`` of shape (B,). Trains ``model`` in place and returns
    each epoch's mean batch loss.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module (a network), not {type(model).__name__}")
    if isinstance(batches, str | bytes | dict) or not isinstance(batches, Iterable):
        raise TypeError(
            f"batches must be a list (or a DataLoader) of (x, y) pairs, not {type(batches).__name__}"
        )
    epochs = check_int("epochs", epochs, minimum=0)
    lr = check_number("lr", lr, minimum=0.0)
    return _train_with(model, _PairsOnly(batches), epochs, lr)


class _PairsOnly:
    """``batches`` as it is (a DataLoader reshuffles every epoch), refusing anything but
    ``(x, y)`` pairs of tensors as they come."""

    def __init__(self, batches: Any) -> None:
        self.batches = batches

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        for i, batch in enumerate(self.batches):
            if not (isinstance(batch, tuple | list) and len(batch) == 2
                    and all(isinstance(t, torch.Tensor) for t in batch)):
                text = " ".join(repr(batch).split())
                text = text if len(text) <= 60 else text[:57] + "..."
                raise TypeError(f"batches[{i}]={text} must be an (x, y) pair of tensors")
            yield batch


def _train_with(model, batches, epochs, lr, *, zero=True, step=True, zero_after_backward=False,
                new_optimizer=None, momentum=0.9, record="mean", reduction="mean",
                softmax_first=False):
    """The training loop with one of its lines changed, as a learner's mistake changes it.

    new_optimizer: None (one for the run), "epoch" or "batch"; record: "mean", "sum",
    "last" (each epoch's last batch loss) or "batches" (every batch's loss)."""

    def optimizer():
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)

    opt = optimizer()
    model.train()
    losses = []
    for _ in range(epochs):
        if new_optimizer == "epoch":
            opt = optimizer()
        epoch = []
        for x, y in batches:
            if new_optimizer == "batch":
                opt = optimizer()
            if zero and not zero_after_backward:
                opt.zero_grad()
            scores = model(x)
            if softmax_first:
                scores = torch.softmax(scores, dim=1)
            loss = nn.functional.cross_entropy(scores, y, reduction=reduction)
            loss.backward()
            if zero_after_backward:
                opt.zero_grad()
            if step:
                opt.step()
            epoch.append(loss.item())
        if record == "batches":
            losses += epoch
        else:
            losses.append({"mean": sum(epoch) / len(epoch), "sum": sum(epoch),
                           "last": epoch[-1]}[record])
    return losses


def _small_net() -> nn.Module:
    return nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3)).double()


class _Batches(list):
    """A list of ``(x, y)`` batches that the feedback names by their shapes."""

    def __repr__(self) -> str:
        x, y = self[0]
        return f"{len(self)} batches of (x {tuple(x.shape)}, y {tuple(y.shape)})"


def _batches(n: int, size: int, shape: tuple[int, ...], classes: int, seed: int) -> _Batches:
    """``n`` float64 batches ``(x, y)``: x of shape (size, *shape), labels in 0..classes-1."""
    generator = torch.Generator().manual_seed(seed)
    return _Batches(
        (torch.randn(size, *shape, generator=generator, dtype=torch.float64),
         torch.randint(0, classes, (size,), generator=generator))
        for _ in range(n)
    )  # fmt: skip


_LOOP_INPUTS = (
    ("a 6 -> 5 -> 3 network, 3 batches of 4, 3 epochs, lr 0.1",
     _seeded(_small_net, 1), _batches(3, 4, (6,), 3, seed=0), 3, 0.1),
    ("LeNet-5 (float64), 2 batches of 8 random 32x32 images, 2 epochs, lr 0.05",
     _seeded(lambda: lenet5().double(), 2), _batches(2, 8, (1, 32, 32), 10, seed=1), 2, 0.05),
)  # fmt: skip
LOOP_CASES = tuple(
    Case(label, (model, batches, epochs, lr),
         expected=train_epochs(copy.deepcopy(model), batches, epochs, lr))
    for label, model, batches, epochs, lr in _LOOP_INPUTS
)  # fmt: skip


def _loop_with(**change: Any) -> Any:
    return lambda model, batches, epochs, lr: _train_with(model, batches, epochs, lr, **change)


LOOP_MISTAKES = (
    Mistake(  # a missing step() and a zero_grad() just before it lose the same updates
        "the weights never change: loss.backward() only computes the gradients, and "
        "optimizer.step() must then use them. Check that step() is called, and that no "
        "optimizer.zero_grad() comes between backward() and step() (it would wipe the "
        "gradients first): zero, backward, step.",
        _loop_with(step=False),
    ),
    Mistake(
        "gradients add up in each weight's .grad with every backward(): call "
        "optimizer.zero_grad() before each loss.backward(), or every step uses the sum of "
        "all the gradients so far.",
        _loop_with(zero=False),
    ),
    Mistake(
        "create the optimiser once, before the epoch loop: a new torch.optim.SGD each epoch "
        "throws away the momentum it has built up.",
        _loop_with(new_optimizer="epoch"),
    ),
    Mistake(  # no momentum and a fresh optimiser per batch both give plain SGD
        "your steps are plain SGD, without momentum: use torch.optim.SGD(model.parameters(), "
        "lr=lr, momentum=0.9), created once before the loops (a new optimiser for every "
        "batch starts its momentum from zero each time).",
        _loop_with(momentum=0.0),
    ),
    Mistake(
        "nn.functional.cross_entropy (and nn.CrossEntropyLoss) takes the raw scores and "
        "applies the softmax itself; a softmax before it squashes the scores twice.",
        _loop_with(softmax_first=True),
    ),
    Mistake(
        "use the mean loss over a batch (reduction='mean', cross_entropy's default): a sum "
        "makes the step grow with the batch size.",
        _loop_with(reduction="sum"),
    ),
    Mistake(
        "each epoch's number is the mean of its batch losses: divide their sum by the "
        "number of batches.",
        _loop_with(record="sum"),
    ),
    Mistake(
        "that is each epoch's last batch loss; the exercise asks for the mean over all the "
        "epoch's batches.",
        _loop_with(record="last"),
    ),
    Mistake(
        "return one number per epoch (the mean of that epoch's batch losses), not one per "
        "batch.",
        _loop_with(record="batches"),
    ),
)


def check_training_loop(fn: Any) -> CheckResult:
    """Exercise 5.5: ``fn(model, batches, epochs, lr) -> list of epoch mean losses``.

    The losses are compared: they follow the whole trajectory of the weights, so a
    missing ``zero_grad``, a missing ``step`` or a fresh optimiser changes them.
    """
    return check_function(
        "Exercise 5.5 (the training loop)", fn, LOOP_CASES, mistakes=LOOP_MISTAKES
    )
