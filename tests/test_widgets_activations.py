"""Lesson 04's apps, driven headlessly: set control values, assert the picture and numbers change."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_lib import ops
from course_lib.widgets.activations import (
    ACTIVATIONS,
    activation_app,
    activation_view,
    draw_activation,
    draw_gradient_norms,
    gradient_norms_app,
)

CPU = torch.device("cpu")


def test_sigmoid_view_marks_the_maximum_slope_quarter_at_zero():
    view = activation_view("sigmoid", (-6, 6))
    assert np.isclose(view.max_slope, 0.25, rtol=1e-12)
    assert view.argmax_x == 0.0
    assert "largest slope 0.25 at x = 0" in str(view)


def test_zero_is_on_the_grid_even_when_the_spacing_misses_it():
    view = activation_view("sigmoid", (-5, 6), points=100)
    assert np.any(view.x == 0.0)
    assert np.isclose(view.max_slope, 0.25)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_view_uses_the_library_functions(name):
    """The curves are course_lib.ops' functions, checked here against torch autograd."""
    view = activation_view(name, (-4, 4), slope=0.2, points=41)
    x = torch.tensor(view.x[view.x != 0], dtype=torch.float64, requires_grad=True)
    torch_fn = {
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "leaky_relu": lambda t: torch.nn.functional.leaky_relu(t, 0.2),
        "softplus": torch.nn.functional.softplus,
    }[name]
    y = torch_fn(x)
    (dy,) = torch.autograd.grad(y.sum(), x)
    keep = view.x != 0
    np.testing.assert_allclose(view.y[keep], y.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(view.dy[keep], dy.numpy(), rtol=1e-10, atol=1e-12)


def test_saturation_and_dead_zone_fractions():
    assert activation_view("sigmoid", (-1, 1)).flat_fraction == 0.0
    assert activation_view("sigmoid", (-20, 20)).flat_fraction > 0.5  # |x| > 4.6
    relu = activation_view("relu", (-6, 6))
    assert 0.45 < relu.flat_fraction < 0.55  # slope 0 for every negative input
    assert activation_view("leaky_relu", (-6, 6), slope=0.1).flat_fraction == 0.0
    assert "kink" in str(relu)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"name": "swish"}, "name='swish'"),
        ({"x_range": (3, 3)}, "is empty"),
        ({"x_range": (5, -5)}, "is empty"),
        ({"slope": -0.5}, "slope=-0.5"),
        ({"slope": 1.0}, "slope=1.0"),
    ],
)
def test_invalid_settings_raise_value_error_naming_them(kwargs, words):
    with pytest.raises(ValueError, match=words):
        draw_activation(**kwargs)


def test_activation_app_redraws_when_controls_change():
    app = activation_app()
    first_png, first = app.png, app.result
    assert first_png.startswith(b"\x89PNG") and np.isclose(first.max_slope, 0.25)

    app.controls["name"].value = "tanh"
    assert app.png != first_png
    assert app.result.name == "tanh" and np.isclose(app.result.max_slope, 1.0)

    app.controls["name"].value = "leaky_relu"
    app.controls["x_range"].value = (-4.0, 2.0)
    before = app.png
    app.controls["slope"].value = 0.3
    assert app.png != before
    assert app.result.slope == 0.3
    np.testing.assert_allclose(app.result.dy[app.result.x < 0], 0.3)
    assert app.result.x[0] == -4.0 and app.result.x[-1] == 2.0
    assert "leaky_relu on [-4, 2]" in app.message


def test_activation_app_range_cannot_close_and_slope_is_only_for_leaky_relu():
    app = activation_app()
    app.controls["x_range"].value = (2.0, 2.0)  # the slider opens itself to one step
    assert app.controls["x_range"].value == (2.0, 2.5) and app.result is not None
    app.controls["x_range"].value = (20.0, 20.0)
    assert app.controls["x_range"].value == (19.5, 20.0) and app.result is not None
    assert app.controls["slope"].disabled  # the sigmoid has no slope to set
    app.controls["name"].value = "leaky_relu"
    assert not app.controls["slope"].disabled
    app.controls["name"].value = "relu"
    assert app.controls["slope"].disabled
    with pytest.raises(ValueError, match="is empty"):
        draw_activation("sigmoid", (2.0, 2.0))  # the draw function still says why


def test_gradient_norms_figure_and_result():
    fig, result = draw_gradient_norms(10, device=CPU)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert [line.get_label() for line in ax.get_lines()] == ["sigmoid", "tanh", "relu"]
    assert len(ax.get_lines()[0].get_xdata()) == 10
    assert result.ratio >= 1000
    assert str(result).startswith("Experiment:")


def test_gradient_norms_app_depth_slider_changes_the_outcome():
    app = gradient_norms_app(depth=3)
    shallow_png, shallow = app.png, app.result
    app.controls["depth"].value = 15
    deep = app.result
    assert app.png != shallow_png
    assert deep.depth == 15 and len(deep.norms["sigmoid"]) == 15
    assert deep.ratio > 100 * shallow.ratio  # deeper nets: sigmoid's gradient vanishes further
    app.controls["init"].value = "torch_default"
    assert app.result.init == "torch_default"
    assert "15-layer" in app.message


def test_gradient_norms_rejects_a_net_without_activations():
    with pytest.raises(ValueError, match="depth=1"):
        draw_gradient_norms(1, device=CPU)


def test_library_softplus_grad_is_the_sigmoid():
    """Sanity of what the app plots: softplus' slope curve is the sigmoid curve."""
    x = np.linspace(-8, 8, 33)
    np.testing.assert_allclose(ops.softplus_grad(x), ops.sigmoid(x), rtol=1e-12)
