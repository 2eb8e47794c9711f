"""Lesson 07's apps, driven headlessly: set control values, assert the picture and numbers change.

The numbers the normalisation app shows are checked against torch's own layer, group,
instance and batch norm (float64), so the picture cannot teach a wrong formula.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from course_lib.experiments.batch_norm import (
    PercentilesResult,
    TrainingCurve,
    activation_percentiles_experiment,
)
from course_lib.widgets.normalization import (
    DEMO_SHAPE,
    NORMALIZATIONS,
    draw_normalization,
    draw_percentiles,
    draw_training_curves,
    normalization_app,
    normalization_members,
    normalization_view,
    training_curves_app,
)

N, C, H, W = DEMO_SHAPE


@pytest.mark.parametrize(
    ("scheme", "groups", "count"),
    [("batch", 1, N * H * W), ("layer", 1, C * H * W), ("instance", 1, H * W),
     ("group", 2, C // 2 * H * W), ("group", 3, C // 3 * H * W)],
)
def test_each_scheme_averages_over_its_axes(scheme, groups, count):
    view = normalization_view(scheme, 1, 3, groups=groups)
    assert view.count == count
    members = normalization_members(scheme, DEMO_SHAPE, 1, 3, groups=groups)
    assert members[1, 3], "the chosen value is always in its own set"
    np.testing.assert_array_equal(members, view.members)


def test_the_sets_follow_the_chosen_value_as_each_scheme_says():
    shape = DEMO_SHAPE
    batch = [normalization_members("batch", shape, n, 2) for n in range(N)]
    assert all(np.array_equal(batch[0], b) for b in batch), "batch norm: n does not matter"
    assert batch[0][:, 2].all() and batch[0].sum() == N
    layer = [normalization_members("layer", shape, 1, c) for c in range(C)]
    assert all(np.array_equal(layer[0], m) for m in layer), "layer norm: c does not matter"
    assert layer[0][1].all() and layer[0].sum() == C
    assert normalization_members("instance", shape, 2, 4).sum() == 1
    group = normalization_members("group", shape, 0, 4, groups=3)  # channels 4, 5
    assert group[0, 4:6].all() and group.sum() == 2


def _torch_reference(scheme: str, groups: int, block: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(block)
    if scheme == "batch":
        return F.batch_norm(x, None, None, training=True, eps=1e-5).numpy()
    if scheme == "layer":
        return F.layer_norm(x, x.shape[1:], eps=1e-5).numpy()
    if scheme == "instance":
        return F.instance_norm(x, eps=1e-5).numpy()
    return F.group_norm(x, groups, eps=1e-5).numpy()


@pytest.mark.parametrize("label", list(NORMALIZATIONS))
@pytest.mark.parametrize(("n", "c"), [(0, 0), (3, 5), (2, 1)])
def test_the_worked_value_agrees_with_torch(label, n, c):
    scheme, groups = NORMALIZATIONS[label]
    view = normalization_view(scheme, n, c, groups=groups)
    expected = _torch_reference(scheme, groups, view.block)[n, c, 0, 0]
    assert view.xhat == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert view.library_xhat == pytest.approx(expected, rel=1e-9, abs=1e-12)
    members = view.block[view.members]
    assert view.mean == pytest.approx(members.mean()) and view.var == pytest.approx(members.var())
    assert view.value == view.block[n, c, 0, 0]


def test_the_block_is_fixed_and_printable():
    a, b = normalization_view().block, normalization_view().block
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a, np.round(a, 1))  # one decimal: what the picture prints
    assert not np.array_equal(a, normalization_view(seed=1).block)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"scheme": "weight"}, "scheme='weight'"),
        ({"scheme": "group", "groups": 4}, "groups=4 does not divide"),
        ({"n": 4}, "n=4"),
        ({"c": -1}, "c=-1"),
        ({"shape": (9, 6, 2, 2)}, "too large"),
        ({"shape": (1, 6, 1, 1)}, "one value per channel"),
    ],
)
def test_invalid_settings_raise_value_error_naming_them(kwargs, words):
    with pytest.raises(ValueError, match=words):
        draw_normalization(**kwargs)


def test_draw_normalization_returns_a_figure_and_its_view():
    fig, view = draw_normalization("group", 2, 3, groups=3)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert "group norm (3 groups)" in str(view) and "8 values" in str(view)


def test_normalization_app_redraws_when_controls_change():
    app = normalization_app("batch norm", n=1, c=2)
    first_png, first = app.png, app.result
    assert first_png.startswith(b"\x89PNG") and first.scheme == "batch" and first.count == 16

    app.controls["n"].value = 3  # batch norm: the same set, another value worked through
    assert app.png != first_png
    assert app.result.n == 3 and app.result.count == 16
    np.testing.assert_array_equal(app.result.members, first.members)
    assert app.result.value != first.value

    app.controls["normalization"].value = "instance norm"
    assert app.result.scheme == "instance" and app.result.count == H * W
    before = app.png
    app.controls["c"].value = 5
    assert app.png != before and app.result.members[3, 5] and app.result.members.sum() == 1

    app.controls["normalization"].value = "group norm, 3 groups"
    assert app.result.groups == 3 and app.result.count == 2 * H * W
    app.controls["normalization"].value = "group norm, 2 groups"
    assert app.result.groups == 2 and app.result.count == 3 * H * W
    assert "group norm (2 groups)" in app.message


def test_normalization_app_sliders_stay_inside_the_block():
    app = normalization_app()
    assert (app.controls["n"].min, app.controls["n"].max) == (0, N - 1)
    assert (app.controls["c"].min, app.controls["c"].max) == (0, C - 1)
    app.controls["n"].value = 99  # ipywidgets clamps to the slider's range
    assert app.result.n == N - 1 and app.message
    with pytest.raises(ValueError, match="scheme='batch'"):
        normalization_app("batch")  # the app takes the dropdown's labels


# --------------------------------------------------------------------------- training runs


def _curve(name: str, accs, losses) -> TrainingCurve:
    steps = tuple(10 * (i + 1) for i in range(len(accs)))
    return TrainingCurve(name, tuple(losses), steps, tuple(accs), n_val=10, eval_every=10)


CURVES = {
    "plain": _curve("plain", [0.1, 0.3, 0.5], [2.3] * 15 + [float("nan")] + [2.0] * 14),
    "with BN": _curve("with BN", [0.5, 0.9, 0.95], list(np.linspace(2.3, 0.2, 30))),
}


def test_draw_training_curves_plots_one_line_per_run_and_the_target():
    fig = draw_training_curves(CURVES, target=0.9, title="t")
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["plain", "with BN", "target 90%"]
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), [50, 90, 95])
    loss = draw_training_curves(CURVES, "training loss").axes[0]
    assert loss.get_yscale() == "log" and len(loss.get_lines()[1].get_xdata()) == 21
    with pytest.raises(ValueError, match="metric='accuracy'"):
        draw_training_curves(CURVES, "accuracy")
    with pytest.raises(ValueError, match="curves is empty"):
        draw_training_curves({})
    with pytest.raises(ValueError, match="target=2"):
        draw_training_curves(CURVES, target=2)
    with pytest.raises(TypeError, match="ax"):
        draw_training_curves(CURVES, ax="left")


def test_training_curves_app_switches_experiment_and_metric():
    other = {"only": _curve("only", [0.2, 0.2, 0.2], [1.0] * 30)}
    app = training_curves_app({"first": CURVES, "second": other})
    first = app.png
    app.controls["experiment"].value = "second"
    assert app.png != first
    second = app.png
    app.controls["metric"].value = "training loss"
    assert app.png != second
    with pytest.raises(TypeError, match=r"experiments\['bad'\]"):
        training_curves_app({"bad": {"x": 1}})


def test_draw_percentiles_shows_both_runs_on_one_scale():
    result = activation_percentiles_experiment(epochs=1, batch_size=64, device="cpu")
    assert isinstance(result, PercentilesResult)
    fig = draw_percentiles(result)
    left, right = fig.axes
    assert left.get_ylim() == right.get_ylim()
    assert len(left.get_lines()) == 3 and len(right.get_lines()) == 3
    assert "plain" in left.get_title() and "with BN" in right.get_title()
    with pytest.raises(TypeError, match="result"):
        draw_percentiles({"plain": None})
