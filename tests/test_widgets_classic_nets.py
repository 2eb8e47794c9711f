"""Lesson 05's classic-network tables and profile app.

The oracle for parameters and memory is the arithmetic of each layer, written out here
from the architectures' published layouts, independently of torch and of
``shapes.summary``.
"""

from __future__ import annotations

import pytest

from course_lib.models import vgg16
from course_lib.shapes import summary
from course_lib.widgets.classic_nets import (
    activation_memory,
    draw_net_profile,
    net_profile_app,
    net_summary,
)

VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


def _vgg16_by_hand():
    """(parameters, stored values per image, ReLU values) of VGG-16 on 224x224x3."""
    c, side, params, stored, relu = 3, 224, 0, 3 * 224 * 224, 0
    for item in VGG16:
        if item == "M":
            side //= 2
        else:
            params += 3 * 3 * c * item + item
            c = item
            relu += c * side * side
        stored += c * side * side
    for n_in, n_out in ((512 * 7 * 7, 4096), (4096, 4096), (4096, 1000)):
        params += n_in * n_out + n_out
        stored += n_out
    relu += 4096 * 2
    return params, stored, relu


def test_parameter_counts_of_the_classic_nets():
    lenet = (
        (5 * 5 * 3 * 6 + 6)
        + (5 * 5 * 6 * 16 + 16)
        + (400 * 120 + 120)
        + (120 * 84 + 84)
        + (84 * 10 + 10)
    )
    assert net_summary("LeNet-5").total_params == lenet == 62_006
    assert net_summary("VGG-16").total_params == _vgg16_by_hand()[0]
    assert 60e6 < net_summary("AlexNet").total_params < 62e6  # "about 60M"


def test_vgg16_memory_per_image_adds_up_layer_by_layer():
    params, stored, relu = _vgg16_by_hand()
    memory = activation_memory(net_summary("VGG-16"))
    assert memory.values == stored
    assert memory.megabytes == pytest.approx(stored * 4 / 1e6)
    assert memory.activation_values == relu
    assert memory.early_fraction > 0.5  # most memory sits in the early layers
    assert activation_memory(net_summary("VGG-16"), bytes_per_value=2).megabytes == pytest.approx(
        stored * 2 / 1e6
    )


def test_meta_summary_equals_a_real_forward_pass_for_lenet():
    from course_lib.models import lenet5

    real = summary(lenet5(in_channels=3), (3, 32, 32))
    assert net_summary("LeNet-5") == real


def test_summary_shows_h_w_c_per_row_and_filters_by_kind():
    table = net_summary("LeNet-5")
    sizes = {row.name: row.activations for row in table.rows}
    assert sizes["features.0"] == 28 * 28 * 6 == 4704
    assert sizes["features.5"] == 5 * 5 * 16
    assert "4,704" in str(table) and "<table>" in table._repr_html_()
    only = table.only("Conv2d")
    assert [r.kind for r in only.rows] == ["Conv2d", "Conv2d"]
    assert only.total_params == table.total_params  # totals still describe the whole net
    with pytest.raises(ValueError, match="match no row"):
        table.only("LSTM")


def test_bad_inputs_say_what_was_expected():
    with pytest.raises(ValueError, match="name='ResNet'"):
        net_summary("ResNet")
    with pytest.raises(TypeError, match="shapes.Summary"):
        activation_memory(vgg16)
    with pytest.raises(ValueError, match="bytes_per_value=0"):
        activation_memory(net_summary("LeNet-5"), bytes_per_value=0)
    with pytest.raises(ValueError, match="quantity='flops'"):
        draw_net_profile("LeNet-5", "flops")


def test_profile_app_redraws_for_each_network_and_quantity():
    app = net_profile_app("LeNet-5")
    assert "LeNet-5: 62,006 parameters" in app.message
    png = app.png
    app.controls["quantity"].value = "parameters"
    assert app.png != png
    assert "parameters of the FC layers" in app.message
    app.controls["net"].value = "VGG-16"
    assert "138,357,544 parameters" in app.message
    assert "MB per image" in app.message
