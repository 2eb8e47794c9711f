"""Lesson 08's app, driven headlessly: set control values, assert the picture and numbers change."""

from __future__ import annotations

import pytest
import torch

from course_lib.data import random_crop, random_flip, to_grey
from course_lib.widgets.augmentation import (
    AUGMENTATIONS,
    PARAMETER,
    augmentation_app,
    augmented_copies,
    draw_augmentations,
)

SLIDERS = ("p", "padding", "strength", "shift", "degrees")


def test_copies_are_the_library_augmentations_with_one_generator():
    original, out = augmented_copies("flower", "flip", p=0.5, copies=5, seed=3)
    batch = original.expand(5, *original.shape).contiguous()
    expected = random_flip(batch, p=0.5, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    _, crops = augmented_copies("china", "random crop", padding=6, copies=4, seed=1)
    original, _ = augmented_copies("china", "flip", copies=1)
    batch = original.expand(4, *original.shape).contiguous()
    torch.testing.assert_close(crops, random_crop(batch, padding=6, generator=1), rtol=0, atol=0)


def test_each_copy_gets_fresh_randomness_and_a_seed_repeats_them():
    _, a = augmented_copies("china", "rotation", degrees=30, copies=4, seed=0)
    _, b = augmented_copies("china", "rotation", degrees=30, copies=4, seed=0)
    _, c = augmented_copies("china", "rotation", degrees=30, copies=4, seed=1)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert not torch.equal(a[0], a[1])  # two copies, two angles


def test_greyscale_with_probability_p_and_the_parameter_limits():
    original, out = augmented_copies("flower", "greyscale", p=1.0, copies=2)
    torch.testing.assert_close(out, to_grey(original[None]).expand(2, -1, -1, -1), rtol=0,
                               atol=0)  # fmt: skip
    _, none = augmented_copies("flower", "greyscale", p=0.0, copies=2)
    assert torch.equal(none, original.expand(2, *original.shape))
    _, cast = augmented_copies("digit", "colour cast", strength=0.3, copies=3, seed=2)
    assert float(cast.min()) >= 0.0 and float(cast.max()) <= 1.0


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"augmentation": "blur"}, "augmentation='blur'"),
        ({"image": "cat"}, "image='cat'"),
        ({"p": 1.5}, "p=1.5"),
        ({"padding": 40}, "padding=40"),
        ({"shift": 1.0}, "shift=1.0"),
        ({"degrees": -5.0}, "degrees=-5.0"),
        ({"copies": 0}, "copies=0"),
    ],
)
def test_invalid_settings_raise_value_error_naming_them(kwargs, words):
    with pytest.raises(ValueError, match=words):
        draw_augmentations(**kwargs)


def test_view_counts_unchanged_copies():
    _, view = draw_augmentations("china", "flip", p=0.0, copies=3)
    assert view.unchanged == 3 and "3 left unchanged" in str(view)
    _, view = draw_augmentations("china", "flip", p=1.0, copies=3)
    assert view.unchanged == 0 and min(view.change) > 0.05


def test_app_enables_only_the_slider_the_augmentation_uses():
    app = augmentation_app()
    for name in AUGMENTATIONS:
        app.controls["augmentation"].value = name
        enabled = {s for s in SLIDERS if not app.controls[s].disabled}
        assert enabled == {PARAMETER[name]}, name
        assert name in app.message


def test_greyscale_of_the_grey_digit_offers_no_slider():
    app = augmentation_app(image="digit", augmentation="greyscale")
    assert all(app.controls[s].disabled for s in SLIDERS)
    app.controls["image"].value = "flower"
    assert not app.controls["p"].disabled


@pytest.mark.parametrize(
    ("control", "value"),
    [("image", "flower"), ("seed", 7), ("copies", 3), ("p", 0.9)],
)
def test_every_control_changes_the_picture(control, value):
    app = augmentation_app()
    before = app.png
    app.controls[control].value = value
    assert app.png != before and not app.message.startswith("⚠")


@pytest.mark.parametrize(
    ("augmentation", "slider", "value"),
    [("random crop", "padding", 20), ("colour cast", "strength", 0.4), ("translation", "shift", 0.3),
     ("rotation", "degrees", 60.0), ("greyscale", "p", 1.0)],
)  # fmt: skip
def test_each_parameter_slider_changes_its_augmentation(augmentation, slider, value):
    app = augmentation_app(augmentation=augmentation)
    before, result = app.png, app.result
    app.controls[slider].value = value
    assert app.png != before and app.result.change != result.change


def test_sliders_cannot_reach_invalid_values():
    app = augmentation_app()
    c = app.controls
    assert c["p"].min == 0.0 and c["p"].max == 1.0
    assert c["padding"].min == 0 and c["padding"].max <= 32
    assert c["shift"].max < 1.0 and c["degrees"].max <= 180 and c["copies"].min >= 1
    for slider in ("padding", "shift", "degrees", "strength", "p", "copies"):
        app.controls[slider].value = app.controls[slider].max
        assert app.result is not None, (slider, app.message)
