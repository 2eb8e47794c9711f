"""Lesson 05's checks: right answers pass; the mistakes learners make fail with their own hint.

The notebook's reference solutions run in tests/test_solutions.py. Here torch is the
independent correct answer: shapes come from running ``nn.Conv2d`` / ``nn.MaxPool2d`` /
``nn.Linear`` on zeros, parameter counts from the modules' own tensors. The wrong
answers are written the way a learner would write them.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from course_lib.checks.lesson05 import (
    LENET5_LAYERS,
    check_layer_cost,
    check_layer_shapes,
    check_lenet_params,
    layer_cost,
    layer_shapes,
)


def _stub(*args, **kwargs):
    raise NotImplementedError


def _torch_layer(shape, layer) -> nn.Module:
    if layer[0] == "conv":
        return nn.Conv2d(shape[2], layer[2], layer[1])
    if layer[0] == "pool":
        return nn.MaxPool2d(layer[1], layer[2])
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(shape), layer[1]))


def _torch_out(shape, module) -> tuple[int, ...]:
    x = torch.zeros(1, shape[2], shape[0], shape[1]) if len(shape) == 3 else torch.zeros(1, *shape)
    y = module(x)
    return (y.shape[2], y.shape[3], y.shape[1]) if y.ndim == 4 else (y.shape[1],)


def by_torch_shapes(input_shape, layers):
    """Oracle for 5.1: run each layer in torch and read the shape back as (H, W, C)."""
    shapes, shape = [], tuple(input_shape)
    for layer in layers:
        shape = _torch_out(shape, _torch_layer(shape, layer))
        shapes.append(shape)
    return shapes


def by_torch_cost(input_shape, layer):
    """Oracle for 5.2: torch's output size and the module's parameter tensors."""
    module = _torch_layer(tuple(input_shape), layer)
    out = _torch_out(tuple(input_shape), module)
    return math.prod(out), sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("check", [check_layer_shapes, check_layer_cost])
def test_untouched_stub_is_not_attempted(check):
    result = check(_stub)
    assert result.status == "not attempted" and not result.passed


def test_untouched_value_is_not_attempted():
    assert check_lenet_params(...).status == "not attempted"


# ---- Exercise 5.1 -----------------------------------------------------------------------


def test_shapes_accepts_torch_and_the_reference():
    assert check_layer_shapes(by_torch_shapes).passed
    assert layer_shapes((32, 32, 3), LENET5_LAYERS) == by_torch_shapes((32, 32, 3), LENET5_LAYERS)
    assert layer_shapes((32, 32, 3), LENET5_LAYERS)[:4] == [
        (28, 28, 6), (14, 14, 6), (10, 10, 16), (5, 5, 16),
    ]  # fmt: skip


def _learner_shapes(conv_size, pool_size, conv_depth=lambda c, k: k):
    def fn(input_shape, layers):
        h, w, c = input_shape
        out = []
        for layer in layers:
            if layer[0] == "conv":
                h, w, c = conv_size(h, layer[1]), conv_size(w, layer[1]), conv_depth(c, layer[2])
                out.append((h, w, c))
            elif layer[0] == "pool":
                h, w = pool_size(h, layer[1], layer[2]), pool_size(w, layer[1], layer[2])
                out.append((h, w, c))
            else:
                out.append((layer[1],))
        return out

    return fn


_GOOD_CONV = lambda n, f: n - f + 1  # noqa: E731
_GOOD_POOL = lambda n, f, s: (n - f) // s + 1  # noqa: E731


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (_learner_shapes(lambda n, f: n - f, _GOOD_POOL), "the +1"),
        (_learner_shapes(_GOOD_CONV, _GOOD_POOL, lambda c, k: c), "number of filters"),
        (_learner_shapes(_GOOD_CONV, lambda n, f, s: (n - f) / s + 1), "whole number"),
        (
            _learner_shapes(_GOOD_CONV, lambda n, f, s: math.ceil((n - f) / s) + 1),
            "round down, not up",
        ),
        (_learner_shapes(_GOOD_CONV, lambda n, f, s: n // s), "n / s only works"),
    ],
    ids=["no-plus-one", "keeps-depth", "no-floor", "ceil", "n-over-s"],
)
def test_shapes_mistakes_get_their_hint(wrong, hint):
    result = check_layer_shapes(wrong)
    assert not result.passed
    assert hint in result.message, result.message


# ---- Exercise 5.2 -----------------------------------------------------------------------


def test_cost_accepts_torch_and_matches_the_lenet_numbers():
    assert check_layer_cost(by_torch_cost).passed
    assert layer_cost((32, 32, 3), ("conv", 5, 6)) == (4704, 456)
    assert layer_cost((5, 5, 16), ("fc", 120)) == by_torch_cost((5, 5, 16), ("fc", 120))


def _learner_cost(activation=math.prod, conv=None, fc=None, pool=None):
    def fn(input_shape, layer):
        size, params = by_torch_cost(input_shape, layer)
        if activation is not math.prod:
            out = _torch_out(tuple(input_shape), _torch_layer(tuple(input_shape), layer))
            size = activation(out)
        if layer[0] == "conv" and conv:
            params = conv(input_shape, layer[1], layer[2])
        if layer[0] == "fc" and fc:
            params = fc(input_shape, layer[1])
        if layer[0] == "pool" and pool:
            params = pool(input_shape, layer[1])
        return size, params

    return fn


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (
            _learner_cost(activation=lambda out: out[0] * out[1] if len(out) == 3 else out[0]),
            "every channel",
        ),
        (
            _learner_cost(conv=lambda s, f, k: f * f * s[2] * k, fc=lambda s, n: math.prod(s) * n),
            "not the biases",
        ),
        (_learner_cost(conv=lambda s, f, k: (f * f + 1) * k), "f x f x C"),
        (_learner_cost(fc=lambda s, n: (s[-1] + 1) * n), "flatten the volume"),
        (_learner_cost(pool=lambda s, f: f * f * s[2]), "pooling has no parameters"),
    ],
    ids=["no-channels-in-size", "no-bias", "no-input-channels", "fc-not-flattened", "pool-params"],
)
def test_cost_mistakes_get_their_hint(wrong, hint):
    result = check_layer_cost(wrong)
    assert not result.passed
    assert hint in result.message, result.message


# ---- Exercise 5.3 -----------------------------------------------------------------------


def _torch_lenet(in_channels: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(in_channels, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )  # fmt: skip


def test_lenet_params_accepts_the_torch_count():
    net = _torch_lenet(3)
    assert net(torch.zeros(1, 3, 32, 32)).shape == (1, 10)
    assert check_lenet_params(sum(p.numel() for p in net.parameters())).passed


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (
            sum(p.numel() for n, p in _torch_lenet(3).named_parameters() if "weight" in n),
            "not the biases",
        ),
        (sum(p.numel() for p in _torch_lenet(1).parameters()), "one-channel"),
        (sum(p.numel() for p in _torch_lenet(3)[:-1].parameters()), "last layer"),
        (
            sum(
                p.numel()
                for m in _torch_lenet(3)
                if isinstance(m, nn.Conv2d)
                for p in m.parameters()
            ),
            "only the conv",
        ),
        (60_000, "rounded figure"),
    ],
    ids=["weights-only", "grey-input", "no-output-layer", "conv-only", "rounded"],
)
def test_lenet_params_mistakes_get_their_hint(wrong, hint):
    result = check_lenet_params(wrong)
    assert not result.passed
    assert hint in result.message, result.message
