"""Lesson 05's checks: right answers pass; the mistakes learners make fail with their own hint.

The notebook's reference solutions run in tests/test_solutions.py. Here torch is the
independent correct answer: shapes come from running ``nn.Conv2d`` / ``nn.MaxPool2d`` /
``nn.Linear`` on zeros, parameter counts from the modules' own tensors. The wrong
answers are written the way a learner would write them.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn

from course_lib.checks.lesson05 import (
    LENET5_LAYERS,
    check_layer_cost,
    check_layer_shapes,
    check_lenet_28,
    check_lenet_params,
    check_lenet_sequential,
    check_training_loop,
    layer_cost,
    layer_shapes,
    lenet_28,
    lenet_sequential,
    train_epochs,
)
from course_lib.models import lenet5


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


def _channels_first(input_shape, layers):
    c, h, w = input_shape  # torch's (C, H, W) habit
    return _learner_shapes(_GOOD_CONV, _GOOD_POOL)((h, w, c), layers)


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
        (_channels_first, "torch's order"),
    ],
    ids=["no-plus-one", "keeps-depth", "no-floor", "ceil", "n-over-s", "channels-first"],
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


def _pool_size_by_halving(input_shape, layer):
    """The issue's slip: a pooled side computed as h // 2, right only for 2x2 windows, stride 2."""
    if layer[0] == "pool":
        h, w, c = input_shape
        return (h // 2) * (w // 2) * c, 0
    return by_torch_cost(input_shape, layer)


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
        (_pool_size_by_halving, "28 -> 13, not 14"),
        (_learner_cost(conv=lambda s, f, k: (f * f + 1) * s[2] * k), "not one per input channel"),
        (_learner_cost(conv=lambda s, f, k: (f * f * s[0] + 1) * k), "input_shape[0]"),
        (_learner_cost(conv=lambda s, f, k: (math.prod(s) + 1) * k), "fully connected"),
    ],
    ids=[
        "no-channels-in-size", "no-bias", "no-input-channels", "fc-not-flattened", "pool-params",
        "pool-h-over-2", "bias-per-channel", "channels-first", "HWC-weights",
    ],
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


def test_lenet_params_accepts_any_kind_of_whole_number():
    """The issue's case: torch.tensor(62006) was refused."""
    for value in (torch.tensor(62006), np.int64(62006), 62006.0, torch.tensor(62006.0)):
        assert check_lenet_params(value).passed, value


def test_reference_functions_name_their_bad_arguments():
    with pytest.raises(ValueError, match="input_shape"):
        layer_shapes((32, 32), LENET5_LAYERS)
    with pytest.raises(TypeError, match="layers"):
        layer_shapes((32, 32, 3), None)
    with pytest.raises(ValueError, match=r"layers\[1\]"):
        layer_shapes((32, 32, 3), (("conv", 5, 6), ("pool", 2)))
    with pytest.raises(ValueError, match="does not fit"):
        layer_cost((4, 4, 3), ("conv", 5, 6))
    assert layer_cost((np.int64(32), 32, 3), ("conv", np.int64(5), 6)) == (4704, 456)


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


# ---- Exercises 5.4 and 5.6: LeNet-5 as an nn.Sequential ---------------------------------


def _same_function(net, ref, side):
    """Copy ref's weights into net (same parameter shapes) and compare on random inputs."""
    net, ref = net.double().eval(), ref.double().eval()
    with torch.no_grad():
        for mine, theirs in zip(net.parameters(), ref.parameters(), strict=True):
            mine.copy_(theirs)
        x = torch.rand(3, 1, side, side, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        torch.testing.assert_close(net(x), ref(x), rtol=1e-12, atol=1e-12)


def test_reference_networks_compute_the_library_lenet():
    net = lenet_sequential()
    assert sum(p.numel() for p in net.parameters()) == 61_706
    _same_function(net, lenet5(), 32)  # course_lib.models.lenet5, written independently
    assert sum(p.numel() for p in lenet_28().parameters()) == 61_706 - (400 - 256) * 120
    assert sum(p.numel() for p in lenet_28(pad=True).parameters()) == 61_706
    padded, plain = lenet_28(pad=True).double(), lenet_sequential().double()
    plain.load_state_dict(padded.state_dict())  # same layers, same parameter names
    x28 = torch.rand(2, 1, 28, 28, dtype=torch.float64)
    with torch.no_grad():  # padding conv1 by 2 = LeNet-5 on the 28x28 digit framed to 32x32 by zeros
        torch.testing.assert_close(padded(x28), plain(nn.functional.pad(x28, (2, 2, 2, 2))),
                                   rtol=1e-12, atol=1e-12)
    for net in (lenet_28(), lenet_28(pad=True)):
        assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def _lenet(cin=1, pad=0, fc=400, act=nn.ReLU, pool=lambda: nn.MaxPool2d(2), flatten=True,
           fc_relu=True, end=(), c2in=6, out=10):
    """LeNet-5 with one thing changed, written as a learner writes it."""
    layers = [nn.Conv2d(cin, 6, 5, padding=pad), act(), pool(), nn.Conv2d(c2in, 16, 5), act(), pool()]
    layers += [nn.Flatten()] if flatten else []
    layers += [nn.Linear(fc, 120)] + ([act()] if fc_relu else [])
    layers += [nn.Linear(120, 84), act(), nn.Linear(84, out), *end]
    return nn.Sequential(*layers)


class _Functional(nn.Module):
    """LeNet-5 as a module whose forward uses F.relu and F.max_pool2d: no ReLU layers."""

    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(1, 6, 5), nn.Conv2d(6, 16, 5)
        self.f1, self.f2, self.f3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)

    def forward(self, x):
        x = nn.functional.max_pool2d(nn.functional.relu(self.c1(x)), 2)
        x = nn.functional.max_pool2d(nn.functional.relu(self.c2(x)), 2)
        x = nn.functional.relu(self.f1(torch.flatten(x, 1)))
        return self.f3(nn.functional.relu(self.f2(x)))


def _nested_pool_first():
    """Two nested blocks, pool before ReLU (max and ReLU commute), a lazy first FC layer."""
    features = nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=(5, 5), padding=0), nn.MaxPool2d(kernel_size=2, stride=2),
        nn.ReLU(inplace=True), nn.Conv2d(6, 16, 5), nn.MaxPool2d(2), nn.ReLU(inplace=True),
    )  # fmt: skip
    head = nn.Sequential(nn.LazyLinear(120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    return nn.Sequential(features, nn.Flatten(start_dim=1), head)


@pytest.mark.parametrize(
    "right",
    [lenet_sequential, _lenet, _Functional, _nested_pool_first, lambda: lenet5(), lenet_sequential()],
    ids=["reference", "plain", "functional-module", "nested-pool-first-lazy", "library", "network-itself"],
)
def test_lenet_sequential_accepts_right_networks_written_differently(right):
    result = check_lenet_sequential(right)
    assert result.passed, result.message


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda: _lenet(fc_relu=False), "four ReLUs"),
        (lambda: _lenet(fc=16 * 4 * 4), "28x28 input"),
        (lambda: _lenet(fc=16 * 6 * 6), "nn.Linear(400, 120)"),
        (lambda: _lenet(flatten=False), "nn.Flatten()"),
        (lambda: _lenet(cin=3), "one channel"),
        (lambda: _lenet(c2in=1), "nn.Conv2d(6, 16, 5)"),
        (lambda: _lenet(pad=2), "valid (no padding)"),
        (lambda: _lenet(act=nn.Sigmoid), "uses ReLU"),
        (lambda: _lenet(pool=lambda: nn.AvgPool2d(2)), "pools with the maximum"),
        (lambda: _lenet(pool=lambda: nn.MaxPool2d(2, stride=1)), "moved by 2"),
        (lambda: _lenet(end=[nn.Softmax(dim=1)]), "no softmax"),
        (lambda: _lenet(end=[nn.ReLU()]), "no activation after the last layer"),
        (lambda: _lenet(out=12), "nn.Linear(84, 10)"),
        (lambda: nn.Sequential([nn.Conv2d(1, 6, 5), nn.ReLU()]), "nn.Sequential(*layers)"),
    ],
    ids=["no-fc-relu", "flatten-256", "flatten-576", "no-flatten", "rgb", "conv2-depth",
         "padded", "sigmoid", "avg-pool", "pool-stride-1", "softmax", "relu-at-end",
         "12-classes", "list"],  # fmt: skip
)
def test_lenet_sequential_mistakes_fail_with_their_hint(wrong, hint):
    result = check_lenet_sequential(wrong)
    assert result.status == "failed"
    assert hint in result.message, result.message


def test_lenet_sequential_feedback_says_where_the_network_breaks():
    result = check_lenet_sequential(lambda: _lenet(fc=256))
    assert "mat1 and mat2 shapes cannot be multiplied (4x400 and 256x120)" in result.message
    result = check_lenet_sequential(lambda: _lenet(act=nn.Tanh))
    assert "layers with weights match" in result.message and "scores differ" in result.message
    result = check_lenet_sequential(lambda: "LeNet-5")
    assert result.status == "failed" and "expected a network" in result.message


def _lenet_28_pad_only_first():
    return _lenet(pad=2)  # conv1 28 -> 28, then LeNet-5's 32x32 path from pool1 on


@pytest.mark.parametrize("right", [lenet_28, lambda: _lenet(fc=256), _lenet_28_pad_only_first],
                         ids=["reference", "fc-256", "pad-conv1"])
def test_lenet_28_accepts_both_one_number_changes(right):
    assert check_lenet_28(right).passed


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (_lenet, "reads 16 x 4 x 4 = 256 values, not 400"),
        (lambda: _lenet(pad=2, fc=256), "not both"),
        (lambda: _lenet(fc=16 * 5 * 5 - 1), "28 -> conv 24 -> pool 12"),
        (lambda: _lenet(fc=256, fc_relu=False), "four ReLUs"),
        (lambda: _lenet(fc=256, cin=3), "one channel"),
    ],
    ids=["unchanged", "pad-and-256", "other-size", "no-fc-relu", "rgb"],
)
def test_lenet_28_mistakes_fail_with_their_hint(wrong, hint):
    result = check_lenet_28(wrong)
    assert result.status == "failed"
    assert hint in result.message, result.message


def test_lenet_28_names_a_network_padded_twice():
    def padded_twice():
        net = _lenet(pad=2, fc=16 * 7 * 7)
        net[3] = nn.Conv2d(6, 16, 5, padding=2)
        return net

    result = check_lenet_28(padded_twice)
    assert "Linear(784->120)" in result.message and "conv2 stays valid" in result.message


# ---- Exercise 5.5: the training loop ----------------------------------------------------


def _by_hand(model, batches, epochs, lr):
    """Oracle: SGD with momentum written out, v = 0.9 v + g, w = w - lr v (torch's rule
    with dampening 0), the gradients from autograd, no torch.optim."""
    params = list(model.parameters())
    velocity = [torch.zeros_like(p) for p in params]
    losses = []
    for _ in range(epochs):
        total = 0.0
        for x, y in batches:
            loss = nn.functional.cross_entropy(model(x), y)
            grads = torch.autograd.grad(loss, params)
            with torch.no_grad():
                for p, v, g in zip(params, velocity, grads, strict=True):
                    v.mul_(0.9).add_(g)
                    p.sub_(lr * v)
            total += loss.item()
        losses.append(total / len(batches))
    return losses


def test_training_loop_reference_agrees_with_momentum_written_out():
    torch.manual_seed(3)
    net = nn.Sequential(nn.Linear(4, 3)).double()
    batches = [(torch.randn(5, 4, dtype=torch.float64), torch.randint(0, 3, (5,))) for _ in range(3)]
    mine, oracle = copy.deepcopy(net), copy.deepcopy(net)
    torch.testing.assert_close(
        torch.tensor(train_epochs(mine, batches, 4, 0.2)), torch.tensor(_by_hand(oracle, batches, 4, 0.2)),
        rtol=1e-12, atol=1e-12,
    )
    for a, b in zip(mine.parameters(), oracle.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    assert check_training_loop(_by_hand).passed


def _d2l_style(model, batches, epochs, lr):
    """A loss object, zero_grad after backward's neighbour step, sample-weighted 0-d tensors."""
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr, momentum=0.9)
    history = []
    for _ in range(epochs):
        model.train()
        total, count = 0.0, 0
        for x, y in batches:
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            total, count = total + loss.detach() * len(y), count + len(y)
        history.append(total / count)
    return history


def _numpy_mean(model, batches, epochs, lr):
    optimizer = torch.optim.SGD(params=model.parameters(), momentum=0.9, lr=lr)
    out = []
    for _ in range(epochs):
        losses = []
        for x, y in batches:
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        out.append(np.mean(losses))
    return out


@pytest.mark.parametrize("right", [train_epochs, _d2l_style, _numpy_mean], ids=["reference", "d2l", "numpy"])
def test_training_loop_accepts_right_loops_written_differently(right):
    result = check_training_loop(right)
    assert result.passed, result.message


def _learner_loop(zero="before", step=True, optimizer_at="start", momentum=0.9, record="mean",
                  loss=lambda s, y: nn.functional.cross_entropy(s, y)):
    """A learner's loop with one line moved, missing or changed."""

    def loop(model, batches, epochs, lr):
        def make():
            return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)

        opt, out = make(), []
        for _ in range(epochs):
            opt = make() if optimizer_at == "epoch" else opt
            losses = []
            for x, y in batches:
                opt = make() if optimizer_at == "batch" else opt
                if zero == "before":
                    opt.zero_grad()
                value = loss(model(x), y)
                value.backward()
                if zero == "between":
                    opt.zero_grad()
                if step:
                    opt.step()
                losses.append(value.item())
            out += losses if record == "batches" else [
                {"mean": sum(losses) / len(losses), "sum": sum(losses), "last": losses[-1]}[record]
            ]
        return out

    return loop


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (_learner_loop(zero="never"), "gradients add up"),
        (_learner_loop(step=False), "the weights never change"),
        (_learner_loop(zero="between"), "would wipe the gradients"),
        (_learner_loop(optimizer_at="epoch"), "a new torch.optim.SGD each epoch"),
        (_learner_loop(optimizer_at="batch"), "a new optimiser for every batch"),
        (_learner_loop(momentum=0.0), "momentum=0.9"),
        (_learner_loop(loss=lambda s, y: nn.functional.cross_entropy(torch.softmax(s, 1), y)), "softmax itself"),
        (_learner_loop(loss=lambda s, y: nn.functional.cross_entropy(s, y, reduction="sum")), "reduction='mean'"),
        (_learner_loop(record="sum"), "divide their sum"),
        (_learner_loop(record="last"), "last batch loss"),
        (_learner_loop(record="batches"), "one number per epoch"),
    ],
    ids=["no-zero-grad", "no-step", "zero-between", "optimizer-per-epoch", "optimizer-per-batch",
         "no-momentum", "softmax-first", "sum-reduction", "sum-of-losses", "last-loss",
         "per-batch"],  # fmt: skip
)
def test_training_loop_mistakes_fail_with_their_hint(wrong, hint):
    result = check_training_loop(wrong)
    assert result.status == "failed"
    assert hint in result.message, result.message


def test_training_loop_feedback_shows_the_losses_and_names_the_inputs():
    result = check_training_loop(_learner_loop(zero="never"))
    assert "batches=3 batches of (x (4, 6), y (4,)); epochs=3; lr=0.1" in result.message
    assert "expected [" in result.message and "got [" in result.message


@pytest.mark.parametrize("check", [check_lenet_sequential, check_lenet_28, check_training_loop])
def test_new_checks_report_an_untouched_stub_as_not_attempted(check):
    assert check(_stub).status == "not attempted"
