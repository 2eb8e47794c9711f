"""Lesson 00/01 widgets driven headlessly: change a control, the picture and result follow."""

from __future__ import annotations

import numpy as np
import pytest

from course_lib.filters import kernel
from course_lib.widgets.intro import draw_patch, patch_app
from course_lib.widgets.kernels import (
    CUSTOM,
    correlation_step_app,
    draw_correlation_step,
    draw_filtered,
    kernel_explorer_app,
)

SMALL = np.linspace(0, 1, 40 * 30).reshape(40, 30)


@pytest.fixture(scope="module")
def app():
    return kernel_explorer_app(crop=60)


def test_preset_fills_the_boxes_and_redraws(app):
    app.controls["preset"].value = "vertical_edge"
    before = app.png
    app.controls["preset"].value = "sobel_horizontal"
    np.testing.assert_array_equal(app.kernel(), kernel("sobel_horizontal"))
    assert app.png != before
    assert app.result.kernel_name == "sobel_horizontal" and app.message.startswith(
        "sobel_horizontal"
    )


def test_editing_a_box_makes_it_custom_and_changes_the_result(app):
    app.controls["preset"].value = "identity"
    identity_range = (app.result.minimum, app.result.maximum)
    app.controls["k00"].value = 1.0
    assert app.controls["preset"].value == CUSTOM
    assert (app.result.minimum, app.result.maximum) != identity_range
    app.controls["k00"].value = 0.0  # back to the identity numbers: the name comes back
    assert app.controls["preset"].value == "identity"


def test_abs_toggle_folds_negative_responses(app):
    app.controls["preset"].value = "vertical_edge"
    app.controls["absolute"].value = False
    signed = app.result
    assert signed.minimum < 0 < signed.maximum
    app.controls["absolute"].value = True
    folded = app.result
    assert folded.minimum >= 0 and folded.maximum == pytest.approx(
        max(-signed.minimum, signed.maximum)
    )
    app.controls["absolute"].value = False


def test_photo_choice_changes_the_picture(app):
    app.controls["photo"].value = "china"
    before = app.png
    app.controls["photo"].value = "flower"
    assert app.png != before


def test_invalid_entry_gives_a_message_and_keeps_the_picture(app):
    app.controls["preset"].value = "sharpen"
    good = app.png
    app.controls["k12"].value = float("nan")
    assert "row 2 column 3" in app.message and "not a finite number" in app.message
    assert app.result is None and app.png == good
    app.controls["k12"].value = -1.0
    assert app.controls["preset"].value == "sharpen" and app.result is not None


def test_draw_filtered_is_pure_and_summarises():
    fig, summary = draw_filtered(SMALL, kernel("vertical_edge"))
    assert len(fig.axes) >= 4
    # a left-to-right brightening ramp: dark-to-bright, so the inside responses are negative
    assert summary.minimum < 0 and summary.positive_fraction < 0.5
    with pytest.raises(ValueError, match="nan or inf"):
        draw_filtered(SMALL, np.full((3, 3), np.inf))


def test_correlation_step_app_shows_each_output_number():
    app = correlation_step_app()
    assert app.result == pytest.approx(0.0)
    first = app.png
    app.controls["col"].value = 1
    assert app.result == pytest.approx(30.0) and app.png != first
    fig, value = draw_correlation_step(SMALL[:5, :5], np.ones((2, 2)), row=3, col=3)
    assert value == pytest.approx(SMALL[3:5, 3:5].sum())
    with pytest.raises(ValueError, match="row=4 is outside"):
        draw_correlation_step(SMALL[:5, :5], np.ones((2, 2)), row=4, col=0)


def test_patch_app_moves_and_keeps_the_square_on_the_photo():
    app = patch_app(SMALL, size=4)
    before = app.result
    app.controls["row"].value = 0
    assert app.result != before and "4x4 square at row 0" in app.result
    app.controls["row"].value = 39  # the slider stops where the square still fits: 40 - 4
    assert app.controls["row"].value == 36 and "4x4 square at row 36" in app.result
    app.controls["size"].value = 10  # a larger square moves the row back first
    assert app.controls["row"].value == 30 and "10x10 square at row 30" in app.result
    assert app.controls["size"].max == 12  # MAX_SIZE, less than the 30-pixel side
    with pytest.raises(ValueError, match="does not fit"):
        draw_patch(SMALL, row=39, col=0, size=4)  # the draw function still says why
    fig, sentence = draw_patch(SMALL, row=0, col=0, size=2)
    assert f"{SMALL[:2, :2].mean():.2f}" in sentence
