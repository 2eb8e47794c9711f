"""course_lib.layers against their torch.nn twins (the oracle), in float64.

Each case builds the torch layer and the course layer, loads the torch layer's
state_dict into the course one and compares the forward output, the input gradient
and every parameter gradient; then the Functions pass torch.autograd.gradcheck.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from torch import nn

from course_lib import layers, ops
from course_lib.data import load_digits
from course_lib.device import set_seed
from course_lib.models import lenet5
from course_lib.recipes import LENET_RECIPE, train_with
from course_lib.shapes import summary

DT = torch.float64


def tight(actual, expected) -> None:
    """float64: the same sums in another order agree to about 1e-12 relative."""
    torch.testing.assert_close(actual, expected, rtol=1e-10, atol=1e-12)


# (course class, args, kwargs, input shape); the torch twin has the same name in torch.nn
CASES = [
    pytest.param(layers.Conv2d, (3, 4, 3), {}, (2, 3, 7, 6), id="conv"),
    pytest.param(
        layers.Conv2d,
        (3, 4, (3, 2)),
        {"stride": (2, 1), "padding": (1, 0)},
        (2, 3, 7, 6),
        id="conv-nonsquare-strided-padded",
    ),
    pytest.param(
        layers.Conv2d, (2, 3, 3), {"padding": "same", "bias": False}, (2, 2, 5, 4), id="conv-same"
    ),
    pytest.param(layers.Conv2d, (2, 3, 2), {"padding": "valid"}, (1, 2, 5, 4), id="conv-valid"),
    pytest.param(
        layers.ConvTranspose2d, (3, 2, 4), {"stride": 2, "padding": 1}, (2, 3, 4, 5), id="convT"
    ),
    pytest.param(
        layers.ConvTranspose2d,
        (2, 3, (3, 2)),
        {"stride": (2, 3), "padding": (1, 0), "output_padding": (1, 2), "bias": False},
        (2, 2, 3, 4),
        id="convT-nonsquare-output-padding",
    ),
    pytest.param(layers.MaxPool2d, (2,), {}, (2, 3, 6, 5), id="maxpool"),
    pytest.param(
        layers.MaxPool2d,
        ((3, 2),),
        {"stride": (1, 2), "padding": 1},
        (2, 3, 6, 5),
        id="maxpool-overlapping-padded",
    ),
    pytest.param(layers.AvgPool2d, (3,), {"stride": 2, "padding": 1}, (2, 3, 7, 6), id="avgpool"),
    pytest.param(layers.AvgPool2d, ((2, 3),), {}, (2, 3, 6, 7), id="avgpool-nonsquare"),
    pytest.param(layers.ReLU, (), {}, (3, 4, 5), id="relu"),
    pytest.param(layers.Tanh, (), {}, (3, 4, 5), id="tanh"),
    pytest.param(layers.Sigmoid, (), {}, (3, 4, 5), id="sigmoid"),
    pytest.param(layers.Linear, (5, 3), {}, (4, 5), id="linear"),
    pytest.param(layers.Linear, (5, 3), {"bias": False}, (2, 4, 5), id="linear-3d-no-bias"),
    pytest.param(layers.BatchNorm2d, (3,), {}, (4, 3, 3, 2), id="bn2d"),
    pytest.param(layers.BatchNorm2d, (3,), {"affine": False}, (4, 3, 3, 2), id="bn2d-no-affine"),
    pytest.param(layers.BatchNorm2d, (3,), {"bias": False}, (4, 3, 3, 2), id="bn2d-no-bias"),
    pytest.param(
        layers.BatchNorm2d, (3,), {"track_running_stats": False}, (4, 3, 3, 2), id="bn2d-no-stats"
    ),
    pytest.param(layers.BatchNorm1d, (4,), {"momentum": None}, (5, 4), id="bn1d"),
]


def twin_of(course_cls) -> type:
    return getattr(nn, course_cls.__name__)


def build_pair(course_cls, args, kwargs, *, seed: int = 0):
    """(course layer, torch layer) in float64, the torch one with non-trivial weights
    (BatchNorm's weight 1 and bias 0 made random) and the course one loaded from it."""
    torch.manual_seed(seed)
    theirs = twin_of(course_cls)(*args, **kwargs).to(DT)
    with torch.no_grad():
        for p in theirs.parameters():
            p.add_(0.3 * torch.randn_like(p))
    ours = course_cls(*args, **kwargs).to(DT)
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def forward_and_grads(layer, x, dout_seed: int = 1):
    """Output, input gradient and {name: gradient} of sum(layer(x) * dout)."""
    x = x.detach().clone().requires_grad_(True)
    out = layer(x)
    g = torch.Generator().manual_seed(dout_seed)
    dout = torch.randn(out.shape, dtype=DT, generator=g).to(out.device)
    out.backward(dout)
    grads = {name: p.grad for name, p in layer.named_parameters()}
    return out.detach(), x.grad, grads


@pytest.mark.parametrize(("cls", "args", "kwargs", "shape"), CASES)
@pytest.mark.parametrize("training", [True, False])
def test_layer_matches_its_torch_twin(cls, args, kwargs, shape, training):
    """Oracle: the torch.nn layer with the same state_dict: output, dx and every dparam."""
    ours, theirs = build_pair(cls, args, kwargs)
    ours.train(training)
    theirs.train(training)
    if isinstance(theirs, nn.modules.batchnorm._BatchNorm) and theirs.track_running_stats:
        with torch.no_grad():  # non-trivial running statistics for eval mode
            theirs.running_mean.uniform_(-1, 1)
            theirs.running_var.uniform_(0.5, 2)
        ours.load_state_dict(theirs.state_dict())
    x = torch.randn(shape, dtype=DT) * 2 + 0.5
    out, dx, grads = forward_and_grads(ours, x)
    ref, ref_dx, ref_grads = forward_and_grads(theirs, x)
    tight(out, ref)
    tight(dx, ref_dx)
    assert grads.keys() == ref_grads.keys()
    for name in ref_grads:
        tight(grads[name], ref_grads[name])
    for name, buffer in theirs.named_buffers():  # running statistics after one step
        tight(dict(ours.named_buffers())[name], buffer)


@pytest.mark.parametrize(("cls", "args", "kwargs", "shape"), CASES)
def test_seeded_layer_starts_like_torch_and_has_its_state_dict_keys(cls, args, kwargs, shape):
    torch.manual_seed(3)
    theirs = twin_of(cls)(*args, **kwargs)
    torch.manual_seed(3)
    ours = cls(*args, **kwargs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for name, ref in theirs.state_dict().items():
        value = ours.state_dict()[name]
        assert value.dtype == ref.dtype and value.shape == ref.shape, name
        torch.testing.assert_close(value, ref, rtol=0, atol=0)
    assert repr(ours) == repr(theirs)


LAYER_CLASSES = [
    layers.Conv2d,
    layers.ConvTranspose2d,
    layers.MaxPool2d,
    layers.AvgPool2d,
    layers.BatchNorm1d,
    layers.BatchNorm2d,
    layers.Dropout,
    layers.ReLU,
    layers.Tanh,
    layers.Sigmoid,
    layers.Linear,
]


def _signature(cls):
    return [(p.name, p.kind, p.default) for p in inspect.signature(cls).parameters.values()]


@pytest.mark.parametrize("cls", LAYER_CLASSES, ids=lambda c: c.__name__)
def test_constructor_signature_is_torchs(cls):
    """Argument names, order, kinds and defaults as in torch.nn (not the annotations)."""
    assert _signature(cls) == _signature(twin_of(cls))
    assert issubclass(cls, twin_of(cls))


def test_conv_layers_count_in_the_network_summary_like_torchs():
    """shapes.summary counts a course conv's and linear layer's multiplications."""

    def net(lib):
        return nn.Sequential(lib.Conv2d(1, 4, 3), lib.ReLU(), nn.Flatten(), lib.Linear(144, 2))

    ours, theirs = summary(net(layers), (1, 8, 8)), summary(net(nn), (1, 8, 8))
    expected = (4 * 9 + 4 + 144 * 2 + 2, 6 * 6 * 4 * 9 + 144 * 2)
    assert (ours.total_params, ours.total_mults) == (theirs.total_params, theirs.total_mults)
    assert (ours.total_params, ours.total_mults) == expected


# --------------------------------------------------------------------------- batch norm


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
@pytest.mark.parametrize("cls", [layers.BatchNorm2d, layers.BatchNorm1d])
def test_batch_norm_running_statistics_follow_torch_over_training_steps(cls, momentum):
    """Oracle: torch's layer through 4 training steps (momentum=None: cumulative average),
    then eval output and gradients with the running statistics."""
    shape = (6, 3, 4, 2) if cls is layers.BatchNorm2d else (6, 3)
    ours, theirs = build_pair(cls, (3,), {"momentum": momentum})
    g = torch.Generator().manual_seed(2)
    for step in range(4):
        x = torch.randn(shape, dtype=DT, generator=g) * (step + 1) + step
        out, dx, grads = forward_and_grads(ours, x, dout_seed=step)
        ref, ref_dx, ref_grads = forward_and_grads(theirs, x, dout_seed=step)
        tight(out, ref)
        tight(dx, ref_dx)
        for name in ref_grads:
            tight(grads[name], ref_grads[name])
    tight(ours.running_mean, theirs.running_mean)
    tight(ours.running_var, theirs.running_var)
    assert int(ours.num_batches_tracked) == int(theirs.num_batches_tracked) == 4
    ours.eval()
    theirs.eval()
    x = torch.randn(shape, dtype=DT, generator=g)
    for a, b in zip(forward_and_grads(ours, x)[:2], forward_and_grads(theirs, x)[:2], strict=True):
        tight(a, b)
    stats = ours.running_mean.clone()
    ours(x)
    assert torch.equal(ours.running_mean, stats)  # eval leaves the statistics alone


def test_batch_norm_without_running_statistics_normalises_with_the_batch_in_eval():
    ours, theirs = build_pair(layers.BatchNorm2d, (3,), {"track_running_stats": False})
    ours.eval()
    theirs.eval()
    x = torch.randn(4, 3, 2, 2, dtype=DT)
    tight(ours(x), theirs(x))
    assert ours.running_mean is None and "running_mean" not in ours.state_dict()


@pytest.mark.parametrize(
    ("make", "exc", "pattern"),
    [
        (lambda: layers.BatchNorm2d(3, eps=float("nan")), ValueError, r"eps=nan"),
        (lambda: layers.BatchNorm2d(3, eps=0), ValueError, r"eps=0"),
        (lambda: layers.BatchNorm2d(3, momentum=1.5), ValueError, r"momentum=1.5"),
        (lambda: layers.BatchNorm1d(3, momentum="0.1"), TypeError, r"momentum='0.1'"),
    ],
)
def test_batch_norm_refuses_bad_settings(make, exc, pattern):
    with pytest.raises(exc, match=pattern):
        make()


def test_batch_norm_refuses_inputs_the_op_cannot_normalise():
    with pytest.raises(ValueError, match=r"expected 4D input"):
        layers.BatchNorm2d(3)(torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"takes \(N, D\) only"):
        layers.BatchNorm1d(3)(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match=r"only 1 value per channel"):
        layers.BatchNorm2d(3)(torch.zeros(1, 3, 1, 1))


# --------------------------------------------------------------------------- dropout


def test_dropout_p0_and_eval_are_the_identity_and_p1_drops_everything():
    x = torch.randn(4, 5, dtype=DT, requires_grad=True)
    assert torch.equal(layers.Dropout(0.0)(x), x)
    assert torch.equal(layers.Dropout(0.7).eval()(x), x)
    out = layers.Dropout(1.0)(x)
    ref = nn.Dropout(1.0)(x)
    assert torch.equal(out, ref) and not out.any()
    out.sum().backward()
    assert torch.equal(x.grad, torch.zeros_like(x))


def test_dropout_statistics_and_backward_uses_the_forward_mask():
    """About p of the values dropped (within 5 standard deviations), survivors scaled
    by 1 / (1 - p), and the gradient flows through exactly the survivors."""
    p, n = 0.3, 200_000
    x = torch.ones(n, dtype=DT, requires_grad=True)
    torch.manual_seed(5)
    out = layers.Dropout(p)(x)
    kept = out != 0
    dropped = 1 - kept.double().mean().item()
    assert abs(dropped - p) < 5 * np.sqrt(p * (1 - p) / n)
    tight(out[kept], torch.full_like(out[kept], 1 / (1 - p)))
    dout = torch.randn(n, dtype=DT)
    out.backward(dout)
    tight(x.grad, dout * kept / (1 - p))
    torch.manual_seed(5)
    assert torch.equal(layers.Dropout(p)(x.detach()), out.detach())  # seeded: repeatable


def test_dropout_refuses_what_the_op_cannot_do():
    with pytest.raises(ValueError, match=r"p=1.5 must be a probability"):
        layers.Dropout(1.5)
    with pytest.raises(ValueError, match=r"inplace=True is not supported"):
        layers.Dropout(0.5, inplace=True)


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("make", "pattern"),
    [
        (lambda: layers.Conv2d(1, 2, 3, dilation=2), r"Conv2d: dilation=2 is not supported"),
        (lambda: layers.Conv2d(2, 2, 3, groups=2), r"Conv2d: groups=2"),
        (lambda: layers.Conv2d(1, 2, 3, padding_mode="reflect"), r"padding_mode='reflect'"),
        (lambda: layers.Conv2d(1, 2, 4, padding="same"), r"padding='same'.*odd kernel"),
        (lambda: layers.ConvTranspose2d(2, 2, 3, groups=2), r"ConvTranspose2d: groups=2"),
        (lambda: layers.ConvTranspose2d(1, 2, 3, dilation=(1, 2)), r"dilation=\(1, 2\)"),
        (lambda: layers.MaxPool2d(2, dilation=2), r"MaxPool2d: dilation=2"),
        (lambda: layers.MaxPool2d(2, ceil_mode=True), r"MaxPool2d: ceil_mode=True"),
        (lambda: layers.AvgPool2d(2, ceil_mode=True), r"AvgPool2d: ceil_mode=True"),
        (lambda: layers.AvgPool2d(2, count_include_pad=False), r"count_include_pad=False"),
        (lambda: layers.AvgPool2d(2, divisor_override=3), r"divisor_override=3"),
        (lambda: layers.ReLU(inplace=True), r"ReLU: inplace=True"),
    ],
)
def test_arguments_the_course_ops_do_not_support_are_named(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()


# --------------------------------------------------------------------------- extras


def test_max_pool_layer_returns_torchs_indices():
    x = torch.randn(2, 3, 6, 5, dtype=DT)
    out, idx = layers.MaxPool2d(3, stride=2, padding=1, return_indices=True)(x)
    ref, ref_idx = nn.MaxPool2d(3, stride=2, padding=1, return_indices=True)(x)
    tight(out, ref)
    assert torch.equal(idx, ref_idx)


@pytest.mark.parametrize("size", [(9, 11), (2, 2, 10, 12)])
def test_conv_transpose_output_size_picks_the_output_padding_like_torch(size):
    ours, theirs = build_pair(layers.ConvTranspose2d, (2, 2, 3), {"stride": 2, "padding": 1})
    x = torch.randn(2, 2, 5, 6, dtype=DT)
    tight(ours(x, output_size=size), theirs(x, output_size=size))
    with pytest.raises(ValueError, match=r"H=12 is not reachable"):
        ours(x, output_size=(12, 11))


def test_activation_gradient_is_zero_where_the_slope_is_zero_even_for_inf():
    """Oracle: torch's ReLU backward; inf * 0 would be NaN."""
    x = torch.tensor([-1.0, 2.0, 0.0], dtype=DT, requires_grad=True)
    dout = torch.tensor([float("inf"), 3.0, float("inf")], dtype=DT)
    layers.ReLU()(x).backward(dout)
    y = x.detach().clone().requires_grad_(True)
    nn.ReLU()(y).backward(dout)
    assert torch.equal(x.grad, y.grad)


# --------------------------------------------------------------------------- gradcheck


def _r(*shape, positive=False):
    t = torch.randn(*shape, dtype=DT)
    return (t.abs() + 0.5 if positive else t).requires_grad_(True)


EVAL_STATS = (torch.tensor([0.3, -0.2], dtype=DT), torch.tensor([0.5, 2.0], dtype=DT))
GRADCHECKS = [
    pytest.param(
        lambda x, w, b: layers.Conv2dFunction.apply(x, w, b, (2, 1), (1, 0)),
        lambda: (_r(2, 2, 5, 4), _r(3, 2, 3, 2), _r(3)),
        id="conv2d",
    ),
    pytest.param(
        lambda x, w, b: layers.ConvTranspose2dFunction.apply(x, w, b, (2, 1), (1, 0), (1, 0)),
        lambda: (_r(2, 2, 3, 4), _r(2, 3, 3, 2), _r(3)),
        id="conv_transpose2d",
    ),
    pytest.param(
        lambda x: layers.MaxPool2dFunction.apply(x, (3, 2), (2, 1), (1, 0), False),
        lambda: (_r(2, 2, 5, 4),),
        id="max_pool2d",
    ),
    pytest.param(
        lambda x: layers.AvgPool2dFunction.apply(x, (3, 2), (2, 1), (1, 1)),
        lambda: (_r(2, 2, 5, 4),),
        id="avg_pool2d",
    ),
    pytest.param(
        lambda x, g, b: layers.BatchNormFunction.apply(x, g, b, None, None, True, 0.1, 1e-5)[0],
        lambda: (_r(3, 2, 2, 3), _r(2), _r(2)),
        id="batch_norm-training",
    ),
    pytest.param(
        lambda x, g, b: layers.BatchNormFunction.apply(x, g, b, *EVAL_STATS, False, 0.1, 1e-5)[0],
        lambda: (_r(3, 2, 2, 3), _r(2), _r(2)),
        id="batch_norm-eval",
    ),
    pytest.param(
        lambda x: layers.DropoutFunction.apply(x, 0.4, torch.Generator().manual_seed(0)),
        lambda: (_r(3, 4),),
        id="dropout",
    ),
    pytest.param(
        lambda x: layers.ActivationFunction.apply(x, ops.tanh, ops.tanh_grad),
        lambda: (_r(3, 4),),
        id="tanh",
    ),
    pytest.param(
        lambda x: layers.ActivationFunction.apply(x, ops.relu, ops.relu_grad),
        lambda: (_r(3, 4),),
        id="relu",
    ),
    pytest.param(
        lambda x, w, b: layers.LinearFunction.apply(x, w, b),
        lambda: (_r(2, 3, 4), _r(5, 4), _r(5)),
        id="linear",
    ),
]


@pytest.mark.parametrize(("fn", "inputs"), GRADCHECKS)
def test_functions_pass_torch_gradcheck(fn, inputs):
    """Oracle: torch.autograd.gradcheck's finite differences in float64. Max pooling and
    relu are not differentiable at ties and at 0: random inputs avoid them; dropout
    draws the same mask at every call from its freshly seeded generator."""
    torch.manual_seed(0)
    assert torch.autograd.gradcheck(fn, inputs(), eps=1e-6, atol=1e-7, rtol=1e-6)


@pytest.mark.gpu
@pytest.mark.parametrize(("cls", "args", "kwargs", "shape"), CASES[::3])
def test_layer_matches_its_torch_twin_on_cuda(cls, args, kwargs, shape):
    ours, theirs = build_pair(cls, args, kwargs)
    ours, theirs = ours.cuda(), theirs.cuda()
    x = (torch.randn(shape, dtype=DT) * 2).cuda()
    for a, b in zip(forward_and_grads(ours, x)[:2], forward_and_grads(theirs, x)[:2], strict=True):
        tight(a, b)


# --------------------------------------------------------------------------- a whole network


def test_lenet5_from_course_layers_is_torchs_lenet5_with_the_same_weights():
    """The same module names and state_dict keys; loaded with torch's weights it
    computes the same logits and gradients (float64), in training and eval mode."""
    for kwargs in ({}, {"batch_norm": True, "activation": "tanh", "pool": "avg"}):
        torch.manual_seed(0)
        theirs = lenet5(**kwargs).to(DT)
        torch.manual_seed(0)
        ours = lenet5(layers="course", **kwargs).to(DT)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        ours.load_state_dict(theirs.state_dict())
        x = torch.rand(6, 1, 32, 32, dtype=DT)
        for training in (True, False):
            ours.train(training)
            theirs.train(training)
            out, dx, grads = forward_and_grads(ours, x)
            ref, ref_dx, ref_grads = forward_and_grads(theirs, x)
            tight(out, ref)
            tight(dx, ref_dx)
            for name in ref_grads:
                tight(grads[name], ref_grads[name])


def test_lenet5_layers_must_be_torch_or_course():
    with pytest.raises(ValueError, match=r"layers='numpy' is not one of \('torch', 'course'\)"):
        lenet5(layers="numpy")
    with pytest.raises(TypeError, match=r"layers=1"):
        lenet5(layers=1)


@pytest.mark.slow
def test_lenet5_from_course_layers_learns_digits_to_97_percent():
    """Lesson 05's recipe (LENET_RECIPE, without its time budget so that a busy machine
    cannot cut it short) trains the course-layer LeNet-5 to >= 97% test accuracy."""
    data = load_digits(device="cpu")
    set_seed(LENET_RECIPE.seed)
    model = lenet5(layers="course")
    assert isinstance(model.features[0], layers.Conv2d)
    _, accuracy = train_with(model, data, LENET_RECIPE.replace(time_budget_s=None), device="cpu")
    assert accuracy >= 0.97, f"test accuracy {accuracy:.3f}"


@pytest.mark.parametrize(
    ("make", "exc", "pattern"),
    [
        (lambda: layers.Conv2d(None, 3, 3), TypeError, "in_channels=None must be a positive int"),
        (lambda: layers.Conv2d(2, -1, 3), ValueError, "out_channels=-1 must be a positive int"),
        (lambda: layers.Conv2d(2, 3, (3, 2.5)), TypeError, r"kernel_size=\(3, 2.5\)"),
        (lambda: layers.Conv2d(2, 3, 3, stride=0), ValueError, "stride=0 must be positive"),
        (lambda: layers.Conv2d(2, 3, 3, padding="fuzz"), ValueError, "padding='fuzz' is not one"),
        (lambda: layers.Conv2d(2, 3, 3, bias=1), TypeError, "bias=1 must be True or False"),
        (lambda: layers.Conv2d(2, 3, 3, device="fuzz"), ValueError, "device='fuzz'"),
        (lambda: layers.Conv2d(2, 3, 3, dtype="float"), TypeError, "dtype='float' must be a"),
        (lambda: layers.ConvTranspose2d(2, 3, 4, stride=2, output_padding=2), ValueError,
         r"output_padding=\(2, 2\) must be smaller than stride=\(2, 2\)"),
        (lambda: layers.Linear(4.0, 3), TypeError, "in_features=4.0 must be a positive int"),
        (lambda: layers.Linear(4, 0), ValueError, "out_features=0 must be a positive int"),
        (lambda: layers.Linear(4, 3, dtype=torch.int64), ValueError, "dtype=torch.int64 must be"),
        (lambda: layers.BatchNorm2d(-1), ValueError, "num_features=-1 must be a positive int"),
        (lambda: layers.BatchNorm1d(4, affine=None), TypeError, "affine=None must be True"),
        (lambda: layers.BatchNorm2d(4, track_running_stats="yes"), TypeError,
         "track_running_stats='yes'"),
    ],
)
def test_constructor_arguments_are_checked_before_torch_sees_them(make, exc, pattern):
    with pytest.raises(exc, match=pattern):
        make()


def test_numpy_and_0d_torch_arguments_build_the_same_layer():
    pairs = [
        (layers.Conv2d(2, 3, (3, 2), stride=2, padding=1),
         layers.Conv2d(np.int64(2), torch.tensor(3), (np.int64(3), 2), stride=torch.tensor(2),
                       padding=np.int64(1), dilation=torch.tensor(1), bias=np.bool_(True))),
        (layers.ConvTranspose2d(2, 3, 4, stride=2, padding=1),
         layers.ConvTranspose2d(2, 3, torch.tensor(4), stride=np.int64(2), padding=torch.tensor(1),
                                output_padding=torch.tensor(0))),
        (layers.Linear(4, 3), layers.Linear(np.int64(4), torch.tensor(3))),
        (layers.BatchNorm2d(4, eps=1e-3, momentum=0.2),
         layers.BatchNorm2d(np.int64(4), eps=np.float64(1e-3),
                            momentum=torch.tensor(0.2, dtype=torch.float64))),
    ]  # fmt: skip
    for plain, odd in pairs:
        assert repr(odd) == repr(plain)
        assert [(k, v.shape) for k, v in odd.state_dict().items()] == [
            (k, v.shape) for k, v in plain.state_dict().items()
        ]
    bn = pairs[-1][1]
    assert type(bn.eps) is float and type(bn.momentum) is float and type(bn.num_features) is int
