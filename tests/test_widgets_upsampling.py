"""Lesson 11's pictures and app, driven headlessly: set control values, assert the picture
and the numbers change, and that the arrays shown are torch's upsamplings."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from course_lib.data import make_shapes_segmentation
from course_lib.experiments.dense_prediction import scene_tasks
from course_lib.widgets.upsampling import (
    METHODS,
    SOURCES,
    draw_score_map,
    draw_task_kinds,
    draw_upsampling,
    upsampling_app,
    upsampling_view,
)

F64 = {"rtol": 1e-12, "atol": 1e-12}


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("stride", [2, 3, 4])
def test_view_matches_torch_for_every_method(source, stride):
    """Oracle: F.max_pool2d + F.interpolate(nearest) / F.max_unpool2d / F.conv_transpose2d."""
    view = upsampling_view(source, stride, "random", 5, seed=3)
    x = torch.from_numpy(view.original)[None, None]
    pooled, idx = F.max_pool2d(x, stride, return_indices=True)
    torch.testing.assert_close(torch.from_numpy(view.pooled), pooled[0, 0], **F64)
    want = {
        "nearest neighbour": F.interpolate(pooled, scale_factor=stride, mode="nearest"),
        "max unpooling": F.max_unpool2d(pooled, idx, stride, output_size=x.shape[2:]),
    }
    for name, ref in want.items():
        torch.testing.assert_close(torch.from_numpy(view.outputs[name]), ref[0, 0], **F64)
    nails = view.outputs["bed of nails"]
    np.testing.assert_array_equal(nails[::stride, ::stride], view.pooled)
    assert np.count_nonzero(nails) <= view.pooled.size
    for name in METHODS:
        assert view.outputs[name].shape == view.original.shape, name


def test_bilinear_transposed_conv_is_bilinear_interpolation_inside():
    """Oracle: F.interpolate(mode="bilinear", align_corners=False), away from the border."""
    for stride in (2, 3, 4):
        view = upsampling_view("image", stride, "bilinear")
        pooled = torch.from_numpy(view.pooled)[None, None]
        ref = F.interpolate(pooled, scale_factor=stride, mode="bilinear", align_corners=False)
        band = stride // 2
        inner = (slice(band, -band), slice(band, -band))
        torch.testing.assert_close(torch.from_numpy(view.outputs["transposed conv"][inner]),
                                   ref[0, 0][inner], **F64)  # fmt: skip
        assert view.kernel == 2 * stride - stride % 2


def test_random_kernel_sizes_all_give_the_full_size():
    for stride in (2, 3, 4):
        for kernel in range(1, 9):
            view = upsampling_view("feature map", stride, "random", kernel)
            assert view.outputs["transposed conv"].shape == (12, 12), (stride, kernel)


def test_app_controls_change_the_picture_and_message():
    app = upsampling_app()
    first_png, first_message = app.png, app.message
    assert app.controls["kernel"].disabled and app.controls["kernel"].value == 4
    app.controls["stride"].value = 3
    assert app.png != first_png and app.message != first_message
    assert app.controls["kernel"].value == 5  # the bilinear kernel for stride 3: 2 * 3 - 1
    png = app.png
    app.controls["init"].value = "random"
    assert not app.controls["kernel"].disabled and app.png != png
    png, message = app.png, app.message
    app.controls["kernel"].value = 3
    assert app.png != png and app.message != message
    png = app.png
    app.controls["source"].value = "image"
    assert app.png != png and "image 96x144" in app.message


def test_sliders_reach_only_valid_settings():
    app = upsampling_app()
    stride, kernel = app.controls["stride"], app.controls["kernel"]
    assert (stride.min, stride.max, kernel.min, kernel.max) == (2, 4, 1, 8)
    app.controls["init"].value = "random"
    for s, k in ((4, 1), (4, 8), (2, 8), (2, 1)):  # the corners; every value: the test above
        stride.value, kernel.value = s, k
        assert app.message.startswith("feature map"), (s, k, app.message)


def test_invalid_settings_are_named():
    with pytest.raises(ValueError, match="stride=5"):
        upsampling_view("image", 5)
    with pytest.raises(ValueError, match="source='photo'"):
        upsampling_view("photo")
    with pytest.raises(TypeError, match="kernel=2.5"):
        upsampling_view("image", 2, "random", 2.5)


def test_draw_upsampling_returns_a_figure_and_the_view():
    fig, view = draw_upsampling("feature map", 2, "bilinear")
    assert isinstance(fig, Figure) and len(fig.axes) == 6
    assert "max pool 2x2 -> 6x6" in str(view)


def test_draw_task_kinds_and_score_map():
    images, masks = make_shapes_segmentation(12, size=64, seed=11, device="cpu")  # the lesson's
    tasks = scene_tasks(masks[0])
    fig = draw_task_kinds(images[0], tasks)
    assert isinstance(fig, Figure) and len(fig.axes) == 5
    assert tasks.n_objects == 4 and "4 boxes" in fig.axes[2].get_title()
    with pytest.raises(TypeError, match="SceneTasks"):
        draw_task_kinds(images[0], masks[0])
    scores = torch.randn(10, 3, 5, dtype=torch.float64)
    fig = draw_score_map(torch.rand(24, 40), scores)
    assert isinstance(fig, Figure) and "3x5 map" in fig.axes[1].get_title()
    with pytest.raises(ValueError, match="class_names"):
        draw_score_map(torch.rand(24, 40), scores, class_names=["a"])
