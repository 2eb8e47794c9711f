"""Lesson 10's app, driven headlessly: set control values, assert the picture and numbers change."""

from __future__ import annotations

import pytest
import torch

from course_lib.models import InceptionModule
from course_lib.shapes import count_parameters, summary
from course_lib.widgets.inception import MODULE_KINDS, draw_inception_module, inception_app

SIZES = {"c1": 64, "c3_reduce": 96, "c3": 128, "c5_reduce": 16, "c5": 32, "pool_proj": 32}


@pytest.mark.parametrize("kind", MODULE_KINDS)
def test_drawn_costs_are_those_of_the_torch_module(kind):
    """Oracle: the InceptionModule (no batch norm) on the meta device, counted as it runs."""
    _, cost = draw_inception_module(kind, 160, **SIZES, size=14)
    sizes = dict(SIZES)
    if kind == "naive":
        del sizes["c3_reduce"], sizes["c5_reduce"]
    with torch.device("meta"):
        module = InceptionModule(160, **sizes)
    table = summary(module, (160, 14, 14))
    assert cost.params == count_parameters(module)
    assert cost.mults == table.total_mults
    assert cost.out_channels == module.out_channels == 256
    assert table.rows[-1].output_shape[1:] == (14, 14)


def test_app_starts_on_googlenets_3a():
    app = inception_app()
    assert app.result.out_channels == 256
    assert app.result.mults == 128_049_152
    assert "28x28x192 -> 28x28x256" in app.message


def test_every_control_changes_the_picture_and_the_numbers():
    app = inception_app()
    for name, new in [("in_channels", 100), ("c1", 10), ("c3_reduce", 50), ("c3", 60),
                      ("c5_reduce", 4), ("c5", 8), ("pool_proj", 20), ("kind", "naive")]:  # fmt: skip
        png, mults = app.png, app.result.mults
        app.controls[name].value = new
        assert app.png != png, name
        assert app.result.mults != mults, name


def test_naive_module_disables_the_reduction_sliders_and_costs_more():
    app = inception_app()
    reduced = app.result.mults
    assert not app.controls["c3_reduce"].disabled
    app.controls["kind"].value = "naive"
    assert app.controls["c3_reduce"].disabled and app.controls["c5_reduce"].disabled
    assert app.result.naive and app.result.mults == 308_281_344 > reduced
    app.controls["kind"].value = "with dimension reduction"
    assert not app.controls["c5_reduce"].disabled and app.result.mults == reduced


def test_output_depth_follows_the_branch_sizes():
    app = inception_app()
    app.controls["c5"].value = 64
    assert app.result.out_channels == 64 + 128 + 64 + 32
    assert "output depth 288" not in app.message  # the title is in the picture
    assert "28x28x288" in app.message


def test_sliders_reach_only_valid_settings():
    app = inception_app()
    sliders = {name: c for name, c in app.controls.items() if name != "kind"}
    assert {(c.min, c.max) for c in sliders.values()} == {(1, 512)}
    for kind in MODULE_KINDS:
        for end in ("min", "max"):
            values = {name: getattr(c, end) for name, c in sliders.items()}
            _, cost = draw_inception_module(kind, **values)  # no ValueError at any corner
            assert cost.mults > 0


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"kind": "tiny"}, "kind='tiny'"),
        ({"c1": 0}, "c1=0"),
        ({"in_channels": 0}, "in_channels=0"),
    ],
)
def test_invalid_settings_raise_value_error_naming_them(kwargs, words):
    with pytest.raises(ValueError, match=words):
        draw_inception_module(**kwargs)
