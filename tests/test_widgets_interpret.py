"""Lesson 13's apps, driven headlessly: set control values, assert the picture and numbers change."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from course_lib.models import lenet5
from course_lib.viz import occlusion_map
from course_lib.widgets.interpret import (
    activation_maximization_app,
    draw_activation_maximization,
    draw_embedding,
    draw_occlusion,
    draw_top_patches,
    embedding_app,
    occlusion_app,
    top_patches_app,
)

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def model() -> nn.Module:
    torch.manual_seed(0)
    return lenet5().eval()


@pytest.fixture(scope="module")
def strong() -> nn.Module:
    """An untrained LeNet-5 with every weight tripled: scores large enough to climb."""
    torch.manual_seed(1)
    net = lenet5().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(3.0)
    return net


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    """Three well separated clusters of 20 points in 10 dimensions."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 20)
    return rng.normal(size=(60, 10)) * 0.3 + 4.0 * np.eye(10)[labels], labels


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    x = torch.zeros(6, 1, 32, 32)
    for k in range(6):  # a bright bar at a different place in each image
        x[k, 0, 4 * k : 4 * k + 8, 10:14] = 1.0
    return x


# ----------------------------------------------------------------------------- embeddings


def test_draw_embedding_scores_separated_clusters_highly(blobs):
    values, labels = blobs
    _, score = draw_embedding(values, labels, method="PCA")
    assert score == pytest.approx(1.0)
    _, shuffled = draw_embedding(values, np.random.default_rng(1).permutation(labels), method="PCA")
    assert shuffled < 0.6


def test_embedding_app_perplexity_changes_the_map_and_is_off_for_pca(blobs):
    values, labels = blobs
    app = embedding_app({"blobs": values, "noise": np.random.default_rng(2).normal(size=(60, 10))},
                        labels, perplexity=30)
    first = app.png
    assert app.result == pytest.approx(1.0, abs=0.05)
    app.controls["perplexity"].value = 3
    assert app.png != first
    app.controls["source"].value = "noise"
    assert app.result < 0.7  # noise does not separate
    assert app.controls["perplexity"].max == 59 and app.controls["perplexity"].min == 2
    app.controls["method"].value = "PCA"
    assert app.controls["perplexity"].disabled
    app.controls["method"].value = "t-SNE"
    assert not app.controls["perplexity"].disabled


def test_embedding_invalid_settings_raise_value_error(blobs):
    values, labels = blobs
    with pytest.raises(ValueError, match="perplexity"):
        draw_embedding(values, labels, perplexity=100)
    with pytest.raises(ValueError, match="method"):
        draw_embedding(values, labels, method="UMAP")


# ----------------------------------------------------------------------------- top patches


def test_top_patches_app_switches_layers(model, images):
    fig = draw_top_patches(model, images, "features.1", k=3, device=CPU)
    assert len(fig.axes) == 6 * 3  # six conv1 channels, three patches each
    app = top_patches_app(model, images, {"conv1": "features.1", "conv2": "features.4"}, k=3,
                          device=CPU)
    first = app.png
    app.controls["layer"].value = "conv2"
    assert app.png != first
    app.controls["k"].value = 2
    assert app.controls["k"].max == 6  # never more patches than images


# ----------------------------------------------------------------------------- occlusion


def test_draw_occlusion_shows_the_library_map_and_its_peak(model, images):
    _, view = draw_occlusion(model, images[2], 3, patch=6, stride=2, device=CPU)
    expected = occlusion_map(model, images[2], 3, patch=6, stride=2, device=CPU)
    torch.testing.assert_close(view.heat, expected, rtol=1e-6, atol=1e-7)
    i, j = view.peak
    assert float(view.heat[i, j]) == pytest.approx(float(expected.max()))
    assert view.centre == (i * 2 + 2.5, j * 2 + 2.5)
    assert "class 3" in str(view)


def test_occlusion_app_controls_change_the_map_and_stride_follows_patch(model, images):
    labels = torch.tensor([[0, 1], [2, 3], [4, 5], [6, 7], [8, 9], [1, 0]])
    app = occlusion_app(model, images, labels, patch=8, stride=2, device=CPU)
    assert app.controls["target"].value == 0  # the left digit's class
    first, shape = app.png, app.result.heat.shape
    app.controls["patch"].value = 4
    assert app.controls["stride"].max == 4 and app.result.heat.shape != shape
    app.controls["stride"].value = 3
    assert app.result.heat.shape == ((32 - 4) // 3 + 1,) * 2
    app.controls["target"].value = 5
    assert app.result.target == 5 and app.png != first
    app.controls["index"].value = 4
    assert app.controls["target"].value == 8  # follows the new image's (left) label
    app.controls["patch"].value = 2
    assert app.controls["stride"].value <= 2  # clipped by its new maximum


def test_occlusion_invalid_settings_raise(model, images):
    with pytest.raises(ValueError, match="patch"):
        draw_occlusion(model, images[0], 0, patch=40, device=CPU)
    with pytest.raises(TypeError, match="image"):
        draw_occlusion(model, images[0].numpy(), 0, device=CPU)
    with pytest.raises(ValueError, match="stride"):
        occlusion_app(model, images, torch.arange(6), patch=4, stride=5, device=CPU)


# ----------------------------------------------------------------------------- activation maximization


def test_draw_activation_maximization_beats_random_inputs(strong):
    _, view = draw_activation_maximization(strong, "classifier.5", 3, lr=1.0, steps=60, norm=8.0,
                                           device=CPU)
    assert view.reached > view.random_max and view.ratio > 3
    assert all(b >= a for a, b in zip(view.history, view.history[1:], strict=False))
    assert "steps" in str(view)


def test_activation_maximization_app_every_control_changes_the_outcome(strong):
    app = activation_maximization_app(strong, "classifier.5", units=10, unit=3, lr=1.0, steps=50,
                                      device=CPU)
    base = app.result
    app.controls["steps"].value = 10
    assert app.result.steps <= 10 and app.result.reached <= base.reached
    app.controls["lr"].value = 0.001
    small = app.result
    assert small.reached < base.reached
    app.controls["norm"].value = 20.0
    assert app.result.random_size != pytest.approx(small.random_size)
    app.controls["unit"].value = 7
    assert app.result.history[0] != pytest.approx(small.history[0])
    app.controls["lr"].value = 100.0
    app.controls["backtrack"].value = False
    jumped = app.result
    app.controls["backtrack"].value = True
    assert app.result.reached >= jumped.reached
    assert app.controls["lr"].min == -3 and app.controls["lr"].max == 2  # 10^-3 .. 10^2


def test_activation_maximization_invalid_settings_raise(model):
    with pytest.raises(ValueError, match="unit"):
        draw_activation_maximization(model, "classifier.5", 10, steps=1, device=CPU)
    with pytest.raises(ValueError, match="norm"):
        draw_activation_maximization(model, "classifier.5", 1, norm=0.0, device=CPU)
    with pytest.raises(ValueError, match="units"):
        activation_maximization_app(model, "classifier.5", units=0, device=CPU)
