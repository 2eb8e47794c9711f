"""The shape tracer: its sizes against a torch forward pass, the app driven headlessly."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from course_lib.widgets.shape_tracer import (
    INPUT_39,
    NETWORK_39,
    ConvStep,
    draw_shape_trace,
    shape_tracer_app,
    trace_shapes,
)


def _torch_net(layers, channels):
    mods = []
    for step in layers:
        mods.append(nn.Conv2d(channels, step.filters, step.f, stride=step.s, padding=step.p))
        channels = step.filters
    return nn.Sequential(*mods, nn.Flatten())


def test_trace_matches_torch_forward_shapes():
    """Oracle: torch. Each traced volume equals the shape torch's layers produce."""
    rows = trace_shapes()
    net = _torch_net(NETWORK_39, INPUT_39[2])
    x = torch.zeros(1, INPUT_39[2], INPUT_39[0], INPUT_39[1])  # (N, C, H, W)
    assert rows[0].shape == INPUT_39
    for row, layer in zip(rows[1:-1], net[:-1], strict=True):
        x = layer(x)
        assert row.shape == (x.shape[2], x.shape[3], x.shape[1])
    assert rows[-1].shape == (net[-1](x).shape[1],)
    assert [r.name for r in rows] == ["input", "conv1", "conv2", "conv3", "flatten"]


def test_receptive_fields_match_torch_gradient_support():
    """Oracle: torch. The input pixels with a nonzero gradient for one output value span the field."""
    rows = trace_shapes()
    net = _torch_net(NETWORK_39, 1)
    for conv in net[:-1]:
        nn.init.constant_(conv.weight, 1.0)
        nn.init.zeros_(conv.bias)
    x = torch.zeros(1, 1, 39, 39, requires_grad=True)
    out = x
    for k, conv in enumerate(net[:-1], start=1):
        out = conv(out)
        (grad,) = torch.autograd.grad(out[0, 0, 0, 0], x, retain_graph=True)
        nonzero = grad[0, 0].abs().sum(dim=0).nonzero()
        assert len(nonzero) == rows[k].receptive_field


def test_a_layer_that_does_not_fit_is_refused():
    with pytest.raises(ValueError, match="larger than the padded input"):
        trace_shapes((5, 5, 1), [ConvStep("big", f=7)])
    with pytest.raises(ValueError, match="H == W"):
        trace_shapes((5, 6, 1))
    with pytest.raises(ValueError, match="layer=9"):
        draw_shape_trace(9)


def test_app_walks_the_layers():
    app = shape_tracer_app()
    assert app.result.name == "input"
    seen = {app.png}
    for i, expected in enumerate([(37, 37, 10), (17, 17, 20), (7, 7, 40), (1960,)], start=1):
        app.controls["layer"].value = i
        assert app.result.shape == expected
        assert "x".join(map(str, expected)) in app.message
        seen.add(app.png)
    assert len(seen) == 5  # every stage draws a different picture
