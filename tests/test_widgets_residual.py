"""Lesson 09's pictures, driven headlessly: set control values, assert the picture and numbers change."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_lib.experiments.residual import DegradationResult, gradient_norms_by_depth
from course_lib.train import History
from course_lib.widgets.residual import depth_gradients_app, draw_degradation, draw_depth_gradients

CPU = torch.device("cpu")


def test_depth_gradients_figure_shows_both_nets_on_a_log_scale():
    fig, result = draw_depth_gradients(20, device=CPU)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    lines = ax.get_lines()
    assert [line.get_label().split()[0] for line in lines] == ["plain", "residual"]
    assert len(lines[0].get_xdata()) == 19
    np.testing.assert_allclose(lines[1].get_ydata(), result.residual, rtol=1e-12)
    np.testing.assert_allclose(result.plain, gradient_norms_by_depth(20, device=CPU).plain)


def test_zero_gradients_are_drawn_on_the_floor_and_said_so():
    fig, result = draw_depth_gradients(56, batch_norm=False, device=CPU)
    assert (result.plain == 0).any()
    plain = fig.axes[0].get_lines()[0]
    assert plain.get_ydata().min() == pytest.approx(1e-30)
    assert "exactly 0" in plain.get_label()


def test_app_depth_and_batch_norm_both_change_the_picture():
    app = depth_gradients_app(depth=8)
    first_png, shallow = app.png, app.result
    assert first_png.startswith(b"\x89PNG") and shallow.depth == 8
    app.controls["depth"].value = 56
    deep = app.result
    assert app.png != first_png and deep.depth == 56
    assert deep.spread("plain") > 10 * shallow.spread("plain")  # the plain net tilts with depth
    assert deep.spread("residual") < deep.spread("plain") / 10
    before = app.png
    app.controls["batch_norm"].value = False
    assert app.png != before and not app.result.batch_norm
    assert "without batch norm" in app.message


def test_the_depth_slider_reaches_only_valid_depths():
    slider = depth_gradients_app().controls["depth"]
    depths = range(slider.min, slider.max + 1, slider.step)
    assert list(depths) == [8, 14, 20, 26, 32, 38, 44, 50, 56]
    assert all((d - 2) % 6 == 0 for d in depths)
    with pytest.raises(ValueError, match="6n"):
        draw_depth_gradients(10, device=CPU)
    with pytest.raises(ValueError, match="6n"):
        depth_gradients_app(depth=12)


def test_degradation_curves_draw_each_network_step_by_step():
    names = ("plain-8", "plain-14", "residual-14")
    steps = {n: [2.0, 1.8, 1.5, 1.4, 1.0, 0.9] for n in names}
    histories = {n: History(train_loss=[1.5, 1.0], step_loss=steps[n]) for n in names}
    result = DegradationResult(8, 14, 2, 2, 0.1, dict.fromkeys(names, 1.0),
                               dict.fromkeys(names, 0.5), dict.fromkeys(names, 10), histories, 40)
    fig = draw_degradation(result, smooth=3)
    lines = fig.axes[0].get_lines()
    assert [line.get_label().split(":")[0] for line in lines] == list(names)
    np.testing.assert_allclose(lines[0].get_ydata(), np.convolve(steps["plain-8"], np.ones(3) / 3,
                                                                 mode="valid"))
    with pytest.raises(TypeError, match="DegradationResult"):
        draw_degradation("not a result")
