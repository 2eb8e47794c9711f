"""Lesson 06's app, driven headlessly: set control values, assert the picture and numbers change.

The runs are built by hand (untrained nets and made-up curves), so the tests take no
training time; the notebook passes the runs of ``dropout_gap_experiment``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from course_lib import ops
from course_lib.experiments.dropout import TrainedNet, build_dropout_net
from course_lib.widgets.dropout import draw_dropout, dropout_app, dropout_view

CPU = torch.device("cpu")
RATES = (0.0, 0.2, 0.5)


def _run(p: float) -> TrainedNet:
    torch.manual_seed(int(10 * p))
    epochs = 6
    train = tuple(min(1.0, 0.5 + 0.1 * e * (1 - p)) for e in range(epochs))
    test = tuple(0.4 + 0.05 * e + 0.1 * p for e in range(epochs))
    return TrainedNet(p_drop=p, model=build_dropout_net(p), train_accuracy=train,
                      test_accuracy=test, memorised=math.nan,
                      final_predictions=torch.zeros(3, dtype=torch.int64), step_loss=(1.0,),
                      seed=0)  # fmt: skip


@pytest.fixture(scope="module")
def runs() -> dict[float, TrainedNet]:
    return {p: _run(p) for p in RATES}


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(0))


def test_view_is_the_layer_output_and_the_librarys_mask(runs, images):
    view = dropout_view(runs, images, 0.5, mask_seed=3, index=2, device=CPU)
    model = runs[0.5].model.eval()
    with torch.no_grad():
        h = model.relu1(model.fc1(model.flatten(images[2:3]))).double().numpy()[0]  # (256,)
    np.testing.assert_allclose(view.activations, h, rtol=1e-6, atol=1e-7)
    thinned, keep = ops.dropout(h, 0.5, generator=3)
    np.testing.assert_array_equal(view.keep, keep)
    np.testing.assert_allclose(view.thinned, thinned, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(view.thinned, np.where(keep, 2.0 * h, 0.0), rtol=1e-12, atol=1e-12)
    assert view.kept == int(keep.sum()) and view.run is runs[0.5]
    assert "p_drop = 0.5 (p_keep = 0.5)" in str(view) and f"{view.kept} of 256" in str(view)


def test_p_zero_keeps_every_unit(runs, images):
    view = dropout_view(runs, images, 0.0, device=CPU)
    assert view.kept == 256
    np.testing.assert_array_equal(view.thinned, view.activations)


def test_figure_panels_and_curves(runs, images):
    fig, view = draw_dropout(runs, images, 0.2, 1, 0, device=CPU)
    assert len(fig.axes) == 4
    curve = fig.axes[3]
    labels = [line.get_label() for line in curve.get_lines()]
    assert "train (given labels)" in labels and "no dropout: train" in labels
    solid = next(line for line in curve.get_lines() if line.get_label() == "test")
    np.testing.assert_allclose(solid.get_ydata(), runs[0.2].test_accuracy)
    assert "final gap" in curve.get_title()
    # the crosses mark exactly the dropped units
    crosses = next(line for line in fig.axes[2].get_lines())
    assert len(crosses.get_xdata()) == 256 - view.kept


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"p_drop": 0.3}, "p_drop=0.3 has no trained net"),
        ({"p_drop": 1.0}, "p_drop=1.0"),
        ({"index": 5}, "index=5"),
        ({"mask_seed": -1}, "mask_seed=-1"),
    ],
)
def test_invalid_settings_raise_value_error_naming_them(runs, images, kwargs, words):
    settings = {"p_drop": 0.2, **kwargs}
    with pytest.raises(ValueError, match=words):
        draw_dropout(runs, images, device=CPU, **settings)


def test_wrong_inputs_raise_type_error(runs, images):
    with pytest.raises(TypeError, match="runs"):
        draw_dropout({0.2: "run"}, images, 0.2)
    with pytest.raises(TypeError, match="images"):
        draw_dropout(runs, images.numpy(), 0.2)


def test_app_redraws_when_each_control_changes(runs, images):
    app = dropout_app(runs, images, p_drop=0.2, device=CPU)
    assert app.png.startswith(b"\x89PNG") and app.result.p_drop == 0.2
    assert sorted(app.controls["p_drop"].options) == sorted((f"{p:g}", p) for p in RATES)

    before, keep = app.png, app.result.keep
    app.controls["mask_seed"].value = 7
    assert app.png != before and app.result.mask_seed == 7
    assert not np.array_equal(app.result.keep, keep), "another mask drops other units"

    before = app.png
    app.controls["p_drop"].value = 0.5
    assert app.png != before and app.result.run is runs[0.5]
    assert "p_drop = 0.5" in app.message

    before = app.png
    app.controls["index"].value = 4
    assert app.png != before and app.result.index == 4
    assert app.controls["index"].max == len(images) - 1  # the slider cannot leave the images


def test_app_starts_at_a_middle_rate_and_refuses_an_untrained_one(runs, images):
    assert dropout_app(runs, images, device=CPU).result.p_drop == 0.2
    with pytest.raises(ValueError, match="no trained net"):
        dropout_app(runs, images, p_drop=0.9, device=CPU)
