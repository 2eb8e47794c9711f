"""Lesson 03's apps, driven headlessly: set control values, check what the app shows.

Oracle for the numbers: torch's F.conv2d / F.max_pool2d / F.lp_pool2d in float64.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_lib.widgets.volumes import (
    DEMO_FILTERS,
    channel_mix_app,
    demo_volume,
    draw_channel_mix,
    draw_pooling,
    draw_volume_conv,
    photo_crop,
    pooling_app,
    volume_conv_app,
    volume_conv_step,
)


def _torch_conv(volume, kernel, bias):
    x = torch.as_tensor(volume).permute(2, 0, 1)[None]  # (1, 3, H, W)
    w = torch.as_tensor(np.array(kernel))[None]  # (1, 3, f, f)
    return F.conv2d(x, w, torch.tensor([float(bias)], dtype=torch.float64))[0, 0].numpy()


def test_demo_volume_is_6x6x3_small_whole_numbers():
    v = demo_volume()
    assert v.shape == (6, 6, 3)
    assert np.allclose(v, np.rint(v)) and v.min() >= 0 and v.max() <= 9


@pytest.mark.parametrize("name", list(DEMO_FILTERS))
def test_volume_conv_step_matches_torch_everywhere(name):
    volume = demo_volume()
    z = _torch_conv(volume, DEMO_FILTERS[name], 2.0)
    for row in range(4):
        for col in range(4):
            step = volume_conv_step(row, col, name, 2.0, device="cpu")
            assert step.out_shape == (4, 4)
            assert step.z == pytest.approx(z[row, col])
            assert sum(step.channel_sums) + 2.0 == pytest.approx(step.z)
            assert step.a == pytest.approx(max(z[row, col], 0.0))


def test_volume_conv_app_reacts_to_position_filter_and_bias():
    app = volume_conv_app(device="cpu")
    first_png, first = app.png, app.result
    app.controls["col"].value = 3
    assert app.png != first_png and app.result.col == 3
    assert app.result.z != first.z  # the demo volume has different edges at (0, 0) and (0, 3)
    before = app.result.z
    app.controls["bias"].value = -5
    assert app.result.z == pytest.approx(before - 5)
    app.controls["filter_name"].value = "horizontal edge, all channels"
    assert app.result.filter_name == "horizontal edge, all channels"
    assert "ReLU" in app.message


def test_volume_conv_draw_returns_the_same_numbers():
    _, step = draw_volume_conv(1, 2, "vertical edge, red only", -3.0, device="cpu")
    assert step == volume_conv_step(1, 2, "vertical edge, red only", -3.0, device="cpu")


def test_volume_conv_rejects_a_position_outside_the_output():
    with pytest.raises(ValueError, match="outside the 4x4 output"):
        draw_volume_conv(4, 0, device="cpu")
    with pytest.raises(ValueError, match="filter_name"):
        draw_volume_conv(0, 0, "sharpen", device="cpu")


@pytest.mark.parametrize(("kind", "size", "stride"), [("max", 2, 2), ("avg", 3, 1), ("l2", 4, 3)])
def test_pooling_shapes_follow_the_formula(kind, size, stride):
    _, view = draw_pooling(kind, size, stride, device="cpu")
    out = (128 - size) // stride + 1
    assert view.in_shape == (128, 128, 3)
    assert view.out_shape == (out, out, 3)
    assert "0 parameters" in str(view)


def test_pooling_values_match_torch():
    """The picture is drawn from the op's output; check that output against torch."""
    from course_lib.ops import l2_pool2d, max_pool2d

    image = photo_crop()
    x = torch.as_tensor(image).permute(2, 0, 1)[None]
    torch.testing.assert_close(max_pool2d(x, 3, stride=2), F.max_pool2d(x, 3, stride=2))
    torch.testing.assert_close(l2_pool2d(x, 2), F.lp_pool2d(x, 2, 2))


def test_pooling_app_changes_picture_and_reports_bad_settings():
    app = pooling_app(device="cpu")
    png = app.png
    assert app.result.out_shape == (64, 64, 3)
    app.controls["kind"].value = "avg"
    assert app.png != png and app.result.kind == "avg"
    app.controls["size"].value = 4
    app.controls["stride"].value = 4
    assert app.result.out_shape == (32, 32, 3)
    small = pooling_app(image=np.zeros((8, 8, 3)), device="cpu")
    small.controls["size"].value = 9  # the window slider stops at the image's side
    assert small.controls["size"].max == 8 and small.result.out_shape == (1, 1, 3)
    with pytest.raises(ValueError, match="does not fit"):
        draw_pooling(size=9, image=np.zeros((8, 8, 3)), device="cpu")


def test_pooling_rejects_unknown_kind():
    with pytest.raises(ValueError, match="kind"):
        draw_pooling("median", device="cpu")


def test_channel_mix_matches_a_weighted_sum():
    image = np.random.default_rng(0).random((5, 7, 3))
    _, mix = draw_channel_mix(0.5, -1.0, 2.0, -0.25, False, image=image, device="cpu")
    expected = image @ np.array([0.5, -1.0, 2.0]) - 0.25
    assert mix.out_shape == (5, 7, 1)
    assert mix.out_min == pytest.approx(expected.min())
    assert mix.out_max == pytest.approx(expected.max())
    _, mixed_relu = draw_channel_mix(0.5, -1.0, 2.0, -0.25, True, image=image, device="cpu")
    assert mixed_relu.out_min == pytest.approx(max(expected.min(), 0.0))
    assert mixed_relu.zero_fraction == pytest.approx(np.mean(expected <= 0))


def test_channel_mix_app_reacts_to_sliders():
    app = channel_mix_app(device="cpu")
    png, before = app.png, app.result
    app.controls["w_blue"].value = 1.5
    assert app.png != png and app.result.weights[2] == pytest.approx(1.5)
    assert app.result.out_max > before.out_max
    app.controls["relu_on"].value = False
    assert app.result.out_min < 0
