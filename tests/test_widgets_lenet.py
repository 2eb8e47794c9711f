"""Lesson 05's LeNet-5 apps, driven headlessly: set a control, check what changed.

Torch is the oracle for the feature maps (running the model's own layers up to the
chosen one) and scikit-learn for the confusion matrix.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from course_lib.models import lenet5
from course_lib.train import History
from course_lib.widgets.lenet import (
    LENET_LAYERS,
    confusion_app,
    draw_confusion,
    draw_feature_maps,
    draw_training_curves,
    feature_maps,
    feature_maps_app,
    lenet_layer_names,
    training_curves_app,
)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return lenet5().eval()


@pytest.fixture(scope="module")
def digits():
    g = torch.Generator().manual_seed(1)
    return torch.rand(12, 1, 32, 32, generator=g), torch.arange(12) % 10


def test_layer_names_cover_lenet_stages(model):
    names = lenet_layer_names(model)
    assert tuple(names) == LENET_LAYERS
    assert names["pool2"] == "features.5"


@pytest.mark.parametrize(
    ("layer", "depth"), list(zip(LENET_LAYERS, [1, 2, 3, 4, 5, 6], strict=True))
)
def test_feature_maps_equal_running_the_first_layers(model, digits, layer, depth):
    """Oracle: torch's own forward through model.features[:depth]."""
    x = digits[0][3]
    got = feature_maps(model, x, layer, device="cpu")
    with torch.no_grad():
        want = model.features[:depth](x[None])[0]
    torch.testing.assert_close(got, want)


def test_feature_view_reports_the_lesson_shapes(model, digits):
    expected = {
        "conv1": (28, 28, 6),
        "pool1": (14, 14, 6),
        "conv2": (10, 10, 16),
        "pool2": (5, 5, 16),
    }
    for layer, shape in expected.items():
        _, view = draw_feature_maps(model, *digits, index=0, layer=layer, device="cpu")
        assert view.shape == shape
        assert view.size == int(np.prod(shape))
    with torch.no_grad():
        probs = torch.softmax(model(digits[0][:1]), 1)[0]
    assert view.prediction == int(probs.argmax())
    assert view.probability == pytest.approx(float(probs.max()))
    assert view.label == 0


def test_feature_app_redraws_when_the_controls_move(model, digits):
    app = feature_maps_app(model, *digits, device="cpu")
    first_png, first = app.png, app.result
    assert "conv1 output 28x28x6 = 4,704 values" in app.message
    app.controls["layer"].value = "pool2"
    assert app.png != first_png
    assert app.result.shape == (5, 5, 16) and "5x5x16 = 400" in app.message
    png = app.png
    app.controls["index"].value = 7
    assert app.png != png
    assert app.result.index == 7 and app.result.label == 7
    assert first.index == 0


def test_feature_maps_reject_bad_settings(model, digits):
    with pytest.raises(ValueError, match="index=99"):
        draw_feature_maps(model, *digits, index=99, device="cpu")
    with pytest.raises(ValueError, match="layer='fc1'"):
        draw_feature_maps(model, *digits, layer="fc1", device="cpu")
    with pytest.raises(ValueError, match=r"labels has shape \(3,\) but images has 12 images"):
        feature_maps_app(model, digits[0], digits[1][:3])
    with pytest.raises(TypeError, match="images must be a torch tensor"):
        draw_feature_maps(model, None, device="cpu")
    with pytest.raises(TypeError, match="index=1.0 must be"):
        draw_feature_maps(model, *digits, index=1.0, device="cpu")
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        feature_maps_app(None, *digits)


def _history(acc: list[float]) -> History:
    h = History()
    h.train_accuracy, h.val_accuracy = acc, [a - 0.05 for a in acc]
    h.train_loss, h.val_loss = [1 - a for a in acc], [1.1 - a for a in acc]
    return h


def test_training_curves_app_switches_metric_and_run():
    runs = {"A": _history([0.5, 0.8, 0.9]), "B": _history([0.3, 0.4, 0.6])}
    app = training_curves_app(runs)
    assert "A: after 3 epochs, train 90.0%, validation 85.0%" in app.message
    assert "B:" in app.message
    png = app.png
    app.controls["metric"].value = "loss"
    assert app.png != png and "train 0.100" in app.message
    app.controls["run"].value = "B"
    assert "A:" not in app.message and "train 0.400" in app.message
    single = training_curves_app({"A": runs["A"]})  # "all" would be the same picture
    assert "run" not in single.controls and "A: after 3 epochs" in single.message


def test_training_curves_reject_unknown_settings():
    with pytest.raises(ValueError, match="metric='f1'"):
        draw_training_curves({"A": _history([0.5])}, metric="f1")
    with pytest.raises(ValueError, match="run='C'"):
        draw_training_curves({"A": _history([0.5])}, run="C")


def test_confusion_matches_sklearn_and_names_the_commonest_mistake():
    """Oracle: sklearn.metrics.confusion_matrix."""
    rng = np.random.default_rng(0)
    target = torch.as_tensor(rng.integers(0, 10, 200))
    pred = target.clone()
    pred[:7] = torch.where(target[:7] == 3, 5, 3)  # a few deliberate mistakes
    pred[7:10] = (target[7:10] + 1) % 10
    _, view = draw_confusion({"net": pred}, target, class_names=[str(i) for i in range(10)])
    want = sk_confusion_matrix(target.numpy(), pred.numpy(), labels=range(10))
    np.testing.assert_array_equal(view.matrix, want)
    off = want - np.diag(np.diag(want))
    assert view.worst[2] == off.max() and off[view.worst[0], view.worst[1]] == off.max()
    assert view.accuracy == pytest.approx(np.trace(want) / 200)


def test_confusion_app_switches_run_and_normalisation():
    target = torch.arange(20) % 4
    runs = {"perfect": target.clone(), "shifted": (target + 1) % 4}
    app = confusion_app(runs, target, class_names=list("abcd"))
    assert "accuracy 100.0%" in app.message and "no mistakes" in app.message
    png = app.png
    app.controls["normalize"].value = True
    assert app.png != png
    app.controls["run"].value = "shifted"
    assert "accuracy 0.0%" in app.message
    assert "(5 times)" in app.message
    single = confusion_app({"perfect": target.clone()}, target)  # one option: no dropdown
    assert list(single.controls) == ["normalize"] and "accuracy 100.0%" in single.message
