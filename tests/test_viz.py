"""Tests for course_lib.viz: plots return inspectable figures; interpretation tools find
what hand-built models are known to respond to.

Models here are tiny hand-built ``nn.Sequential`` nets (or one-line modules) whose
answers are known in closed form, so the tests do not depend on training.
"""

from __future__ import annotations

import inspect
import re
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import nn

from course_lib import viz
from course_lib.viz import embed, interpret, plots


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny models gain nothing from threads, and on a busy shared CPU torch's spinning
    worker threads made these tests ~15x slower; the setting is restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _axes_of(fig: Figure) -> list[Axes]:
    """The figure's axes without colour bars."""
    return [a for a in fig.axes if a.get_label() != "<colorbar>"]


def _new_ax() -> Axes:
    return Figure().add_subplot()


# ----------------------------------------------------------------------------- images


@pytest.mark.parametrize(
    ("img", "shape"),
    [
        (np.zeros((6, 7)), (6, 7)),
        (np.zeros((6, 7, 3)), (6, 7, 3)),
        (torch.rand(3, 6, 7), (6, 7, 3)),
        (torch.rand(1, 6, 7), (6, 7)),
        (torch.rand(1, 3, 6, 7), (6, 7, 3)),
        (np.zeros((1, 6, 7)), (6, 7)),
    ],
)
def test_show_image_reads_every_layout(img, shape):
    fig = viz.show_image(img, title="t")
    assert isinstance(fig, Figure)
    (ax,) = _axes_of(fig)
    assert len(ax.images) == 1
    assert ax.images[0].get_array().shape == shape
    assert ax.get_title() == "t"


def test_show_image_rescales_colour_floats_into_unit_range():
    img = torch.linspace(-2, 5, 3 * 4 * 4).reshape(3, 4, 4)
    arr = np.asarray(viz.show_image(img).axes[0].images[0].get_array())
    assert arr.min() == pytest.approx(0.0) and arr.max() == pytest.approx(1.0)


def test_show_image_draws_into_given_axes():
    ax = _new_ax()
    out = viz.show_image(np.eye(4), ax=ax)
    assert out is ax
    assert len(ax.images) == 1 and len(ax.figure.axes) == 1


@pytest.mark.parametrize(
    ("img", "err", "words"),
    [
        (np.zeros((2, 3, 5, 5)), ValueError, "show_images"),
        (np.zeros((5, 6, 7)), ValueError, "(5, 6, 7)"),
        (np.zeros(5), ValueError, "(5,)"),
        ("cat.png", TypeError, "str"),
    ],
)
def test_show_image_rejects_bad_input(img, err, words):
    with pytest.raises(err, match=re.escape(words)):
        viz.show_image(img)


def test_show_images_grid_titles_and_ax():
    batch = torch.rand(5, 3, 8, 8)
    fig = viz.show_images(batch, titles=list("abcde"), ncols=3)
    axes = _axes_of(fig)
    assert len(axes) == 5
    assert [a.get_title() for a in axes] == list("abcde")
    assert all(a.images[0].get_array().shape == (8, 8, 3) for a in axes)
    # geometry: 2 rows of 3 columns
    assert axes[3].get_subplotspec().rowspan.start == 1

    ax = _new_ax()
    assert viz.show_images([np.zeros((4, 4)), torch.ones(3, 4, 4)], ax=ax) is ax
    assert len(ax.child_axes) == 2


def test_show_images_reads_3d_batch_as_grey_images():
    fig = viz.show_images(np.zeros((4, 6, 6)), ncols=2)
    assert [a.images[0].get_array().shape for a in _axes_of(fig)] == [(6, 6)] * 4


def test_show_images_rejects_bad_input():
    with pytest.raises(ValueError, match="titles has 2 entries but imgs has 3"):
        viz.show_images(torch.rand(3, 1, 4, 4), titles=["a", "b"])
    with pytest.raises(ValueError, match="empty"):
        viz.show_images([])
    with pytest.raises(ValueError, match=r"\(4, 4\)"):
        viz.show_images(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="ncols=0"):
        viz.show_images(torch.rand(3, 1, 4, 4), ncols=0)


def test_show_kernels_one_cell_per_kernel_on_a_symmetric_scale():
    conv = nn.Conv2d(1, 6, 5)
    fig = viz.show_kernels(conv)
    axes = _axes_of(fig)
    assert len(axes) == 6
    m = conv.weight.detach().abs().max().item()
    for a in axes:
        lo, hi = a.images[0].get_clim()
        assert lo == pytest.approx(-m) and hi == pytest.approx(m)
    # multi-channel: one row per filter, one column per input channel
    w = torch.randn(4, 3, 3, 3)
    assert len(_axes_of(viz.show_kernels(w))) == 12
    assert len(_axes_of(viz.show_kernels(w, channel=1))) == 4
    rgb = _axes_of(viz.show_kernels(w, as_rgb=True))
    assert len(rgb) == 4 and rgb[0].images[0].get_array().shape == (3, 3, 3)
    ax = _new_ax()
    assert viz.show_kernels(w, channel=0, ax=ax) is ax and len(ax.child_axes) == 4


def test_show_kernels_rejects_bad_input():
    with pytest.raises(ValueError, match=r"\(F, C, KH, KW\)"):
        viz.show_kernels(torch.randn(3, 3, 3))
    with pytest.raises(ValueError, match="channel=3"):
        viz.show_kernels(torch.randn(2, 3, 3, 3), channel=3)
    with pytest.raises(ValueError, match="as_rgb=True needs 3 input channels"):
        viz.show_kernels(torch.randn(2, 2, 3, 3), as_rgb=True)
    with pytest.raises(ValueError, match="max_cells"):
        viz.show_kernels(torch.randn(64, 64, 3, 3))


def test_show_feature_maps_per_channel():
    maps = torch.randn(1, 5, 7, 7)
    axes = _axes_of(viz.show_feature_maps(maps, ncols=4))
    assert [a.get_title() for a in axes] == [f"ch {i}" for i in range(5)]
    np.testing.assert_allclose(
        np.asarray(axes[2].images[0].get_array()), maps[0, 2].numpy(), rtol=1e-6
    )
    assert len(_axes_of(viz.show_feature_maps(torch.randn(9, 3, 3), max_maps=4))) == 4
    with pytest.raises(ValueError, match="one sample"):
        viz.show_feature_maps(torch.randn(2, 5, 7, 7))
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        viz.show_feature_maps(torch.randn(7, 7))


def test_plot_heatmap_overlays_map_on_image():
    ax = _new_ax()
    out = viz.plot_heatmap(torch.rand(1, 12, 12), torch.rand(3, 3), ax=ax)
    assert out is ax and len(ax.images) == 2
    assert ax.images[1].get_extent() == [-0.5, 11.5, 11.5, -0.5]
    with pytest.raises(ValueError, match="heat"):
        viz.plot_heatmap(torch.rand(12, 12), torch.rand(3))


# ----------------------------------------------------------------------------- curves


def test_plot_history_several_runs_on_one_axis():
    a = {
        "train_loss": [1.0, 0.5, 0.25],
        "val_loss": [1.1, 0.7, 0.6],
        "val_accuracy": [0.5, 0.6, 0.7],
    }
    b = SimpleNamespace(train_loss=torch.tensor([2.0, 1.0]), val_loss=[2.1, 1.5])
    c = {"train_loss": np.array([3.0, 2.0, 1.0, 0.5]), "val_loss": []}  # no validation data
    fig = viz.plot_history([a, b, c], labels=["adam", "sgd", "plain"])
    (ax,) = fig.axes
    assert len(ax.lines) == 5
    labels = [line.get_label() for line in ax.lines]
    assert labels == ["adam train", "adam val", "sgd train", "sgd val", "plain train"]
    np.testing.assert_allclose(ax.lines[3].get_ydata(), [2.1, 1.5])
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [1, 2, 3])
    assert ax.lines[0].get_color() == ax.lines[1].get_color() != ax.lines[2].get_color()
    assert len(ax.get_legend().get_texts()) == 5

    target = _new_ax()
    out = viz.plot_history({"first": a, "second": b}, metric="loss", ax=target)
    assert out is target and [ln.get_label() for ln in target.lines][:2] == [
        "first train",
        "first val",
    ]
    acc = viz.plot_history(a, metric="accuracy").axes[0]
    assert [ln.get_label() for ln in acc.lines] == ["val"]
    steps = viz.plot_history({"step_loss": [3.0, 2.0, 2.5, 1.0]}, splits=("step",)).axes[0]
    assert steps.get_xlabel() == "step" and len(steps.lines) == 1


def test_plot_history_rejects_bad_input():
    with pytest.raises(ValueError, match="has none of"):
        viz.plot_history({"train_loss": [1.0]}, metric="accuracy")
    with pytest.raises(ValueError, match="labels has 1 entries but there are 2"):
        viz.plot_history([{"train_loss": [1.0]}, {"train_loss": [2.0]}], labels=["x"])
    with pytest.raises(ValueError, match="empty"):
        viz.plot_history([])


def test_activation_percentiles_match_numpy_and_plot_two_runs():
    gen = torch.Generator().manual_seed(1)
    plain = [torch.randn(32, 4, generator=gen) * (1 + t) for t in range(6)]
    bn = [torch.randn(32, 4, generator=gen) for _ in range(6)]
    table = viz.activation_percentiles(plain)
    expected = np.stack([np.percentile(a.numpy().astype(np.float64), [15, 50, 85]) for a in plain])
    np.testing.assert_allclose(table, expected, rtol=1e-12)

    fig = viz.plot_activation_percentiles({"no BN": plain, "BN": viz.activation_percentiles(bn)})
    (ax,) = fig.axes
    assert len(ax.lines) == 6
    np.testing.assert_allclose(ax.lines[1].get_ydata(), expected[:, 1])
    assert ax.lines[0].get_color() != ax.lines[3].get_color()
    assert len(ax.collections) == 2  # one shaded 15-85 band per run
    with pytest.raises(ValueError, match=r"expected \(T, 3\)"):
        viz.plot_activation_percentiles({"x": np.zeros((5, 2))})
    with pytest.raises(ValueError, match="steps has 3 values"):
        viz.plot_activation_percentiles({"x": np.zeros((5, 3))}, steps=[1, 2, 3])


# ----------------------------------------------------------------------------- classes


def test_plot_segmentation_overlays_and_legend():
    image = torch.rand(3, 16, 16)
    mask = torch.zeros(16, 16, dtype=torch.long)
    mask[2:6, 2:6] = 1
    mask[9:14, 9:14] = 2
    pred = mask.clone()
    pred[9:14, 9:14] = 3
    names = ["background", "disc", "square", "triangle"]
    fig = viz.plot_segmentation(image, mask, pred, class_names=names)
    axes = _axes_of(fig)
    assert len(axes) == 3
    assert [a.get_title() for a in axes] == ["image", "ground truth", "prediction"]
    overlay = np.asarray(axes[1].images[1].get_array())  # (H, W, 4)
    assert overlay[0, 0, 3] == 0.0  # background stays transparent
    np.testing.assert_allclose(overlay[3, 3, :3], overlay[4, 4, :3])
    assert not np.allclose(overlay[3, 3, :3], overlay[10, 10, :3])
    legend = axes[-1].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["disc", "square", "triangle"]

    ax = _new_ax()
    assert viz.plot_segmentation(image, mask, ax=ax) is ax and len(ax.child_axes) == 2


def test_plot_segmentation_rejects_bad_input():
    with pytest.raises(ValueError, match=r"mask has shape \(8, 8\) but image is 16x16"):
        viz.plot_segmentation(torch.rand(16, 16), torch.zeros(8, 8, dtype=torch.long))
    with pytest.raises(ValueError, match="class_names has 2 names"):
        viz.plot_segmentation(torch.rand(4, 4), torch.full((4, 4), 2), class_names=["a", "b"])
    with pytest.raises(ValueError, match="integer class indices"):
        viz.plot_segmentation(torch.rand(4, 4), torch.full((4, 4), 0.5))


def test_plot_confusion_matrix_counts_and_normalised():
    cm = np.array([[5, 1, 0], [2, 3, 0], [0, 0, 0]])
    fig = viz.plot_confusion_matrix(cm, class_names=["a", "b", "c"])
    ax = _axes_of(fig)[0]
    assert len(ax.texts) == 9 and ax.texts[1].get_text() == "1"
    assert ax.get_xlabel() == "predicted" and ax.get_ylabel() == "true"
    target = _new_ax()
    assert viz.plot_confusion_matrix(cm, normalize=True, ax=target) is target
    shown = np.asarray(target.images[0].get_array())
    np.testing.assert_allclose(shown.sum(axis=1), [1.0, 1.0, 0.0])  # an absent class keeps zeros
    np.testing.assert_allclose(shown[0], [5 / 6, 1 / 6, 0.0])
    with pytest.raises(ValueError, match=r"square \(K, K\)"):
        viz.plot_confusion_matrix(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="class_names has 1 names"):
        viz.plot_confusion_matrix(cm, class_names=["a"])


def test_plot_embedding_one_colour_per_class():
    emb = np.random.default_rng(0).normal(size=(30, 2))
    labels = np.repeat([0, 1, 2], 10)
    fig = viz.plot_embedding(emb, labels, class_names=["zero", "one", "two"])
    ax = fig.axes[0]
    assert len(ax.collections) == 3
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["zero", "one", "two"]
    np.testing.assert_allclose(ax.collections[1].get_offsets(), emb[10:20])
    with pytest.raises(ValueError, match=r"expected \(N, 2\)"):
        viz.plot_embedding(np.zeros((30, 3)), labels)
    with pytest.raises(ValueError, match="labels has 29 entries"):
        viz.plot_embedding(emb, labels[:29])


def test_no_pyplot_anywhere():
    for module in (plots, interpret, embed):
        source = inspect.getsource(module)
        assert "matplotlib.pyplot" not in source and "import pyplot" not in source


# ----------------------------------------------------------------------------- embeddings


def _clusters(separated: bool, n_per: int = 20, dim: int = 60, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, dim)) * (6.0 if separated else 0.0)
    x = np.concatenate([c + rng.normal(size=(n_per, dim)) for c in centres])
    return x, np.repeat(np.arange(3), n_per)


def test_tsne_is_deterministic_for_a_seed():
    x, _ = _clusters(True)
    a = viz.tsne_embed(x, seed=3, perplexity=10, max_iter=500)
    b = viz.tsne_embed(torch.from_numpy(x), seed=3, perplexity=10, max_iter=500)
    assert a.shape == (60, 2)
    np.testing.assert_allclose(a, b)
    with pytest.raises(ValueError, match="perplexity=60"):
        viz.tsne_embed(x, perplexity=60)


def test_pca_embed_matches_numpy_svd():
    """numpy's SVD is the oracle: the projection onto the top 2 right singular vectors."""
    x, _ = _clusters(True, dim=8)
    got = viz.pca_embed(x)
    centred = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    want = centred @ vt[:2].T
    np.testing.assert_allclose(np.abs(got), np.abs(want), rtol=1e-8, atol=1e-8)


def test_embedding_separation_ranks_separated_above_mixed():
    sep, y = _clusters(True)
    mixed, _ = _clusters(False)
    good = viz.embedding_separation(viz.tsne_embed(sep, perplexity=10, max_iter=500), y)
    bad = viz.embedding_separation(viz.tsne_embed(mixed, perplexity=10, max_iter=500), y)
    assert good > 0.95
    assert bad < 0.6
    with pytest.raises(ValueError, match="single class"):
        viz.embedding_separation(sep[:, :2], np.zeros(60))
    with pytest.raises(ValueError, match="labels has 59 entries"):
        viz.embedding_separation(sep[:, :2], y[:59])


# ----------------------------------------------------------------------------- interpretation


class SquareScore(nn.Module):
    """Score = sum of the pixels inside a known square [top:top+size, left:left+size]."""

    def __init__(self, top: int, left: int, size: int) -> None:
        super().__init__()
        self.top, self.left, self.size = top, left, size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, le, s = self.top, self.left, self.size
        return x[:, :, t : t + s, le : le + s].sum(dim=(1, 2, 3)).unsqueeze(1)  # (N, 1)


def test_occlusion_map_peaks_on_the_object():
    """The expected map is the overlap area of occluder and square, computed by hand."""
    model = SquareScore(top=10, left=4, size=4)
    image = torch.ones(1, 20, 20)
    heat = viz.occlusion_map(model, image, target=0, patch=4, stride=2)
    assert heat.shape == (9, 9)
    rows = np.arange(0, 17, 2)
    overlap_r = np.clip(np.minimum(rows + 4, 14) - np.maximum(rows, 10), 0, None)
    overlap_c = np.clip(np.minimum(rows + 4, 8) - np.maximum(rows, 4), 0, None)
    np.testing.assert_allclose(heat.numpy(), np.outer(overlap_r, overlap_c), atol=1e-5)
    i, j = np.unravel_index(heat.argmax().item(), heat.shape)
    assert (rows[i], rows[j]) == (10, 4)
    # fill="mean" on a constant image hides nothing; a callable target works too
    flat = viz.occlusion_map(model, image, lambda out: out[:, 0], patch=4, stride=4, fill="mean")
    np.testing.assert_allclose(flat.numpy(), 0.0, atol=1e-5)


def test_occlusion_map_rejects_bad_input():
    model = SquareScore(0, 0, 2)
    with pytest.raises(ValueError, match="patch 9x9 is larger than the image 8x8"):
        viz.occlusion_map(model, torch.ones(1, 8, 8), 0, patch=9)
    with pytest.raises(ValueError, match=r"^target=3 must be an int in \[0, 1\)"):
        viz.occlusion_map(model, torch.ones(1, 8, 8), 3, patch=2)
    with pytest.raises(ValueError, match="stride=0"):
        viz.occlusion_map(model, torch.ones(1, 8, 8), 0, stride=0)
    with pytest.raises(ValueError, match="one image"):
        viz.occlusion_map(model, torch.ones(2, 1, 8, 8), 0)


def test_activation_maximization_reaches_the_sphere_optimum_of_a_linear_unit():
    """For a linear unit w.x the maximum over ||x|| = rho is rho * ||w|| (at x = rho w/||w||)."""
    conv = nn.Conv2d(1, 2, 5, bias=False)
    model = nn.Sequential(conv)
    image, history = viz.activation_maximization(
        model, conv, 1, input_shape=(1, 9, 9), norm=3.0, lr=0.5, steps=200, tol=1e-7
    )
    assert image.shape == (1, 9, 9)
    torch.testing.assert_close(image.norm().item(), 3.0, rtol=1e-5, atol=0)
    best = 3.0 * conv.weight[1].norm().item()
    assert max(history) == pytest.approx(best, rel=1e-3)
    assert len(history) < 201  # stopped on tol, before running out of steps


def test_activation_maximization_beats_random_inputs_of_the_same_norm():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 3, 3), nn.ReLU())
    rho = 4.0
    image, history = viz.activation_maximization(
        model, "2", 0, input_shape=(1, 9, 9), norm=rho, lr=0.2, steps=150, seed=1
    )
    torch.testing.assert_close(image.norm().item(), rho, rtol=1e-5, atol=0)
    with torch.no_grad():
        x = torch.randn(256, 1, 9, 9)
        x = x * (rho / x.flatten(1).norm(dim=1)).view(-1, 1, 1, 1)
        values = model[:3](x)[:, 0, 2, 2]  # the centre unit of the 5x5 maps
        reached = model[:3](image.unsqueeze(0))[0, 0, 2, 2]
    assert reached.item() == pytest.approx(max(history), rel=1e-5)
    assert reached > values.mean() + 4 * values.std()
    assert reached > values.max()


def test_interpretation_restores_mode_and_removes_hooks_even_on_error():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU())
    model.train()
    model[1].eval()  # a mixed state must come back exactly
    with pytest.raises(ValueError, match="channel=5"):
        viz.activation_maximization(model, "1", 5, input_shape=(1, 6, 6))
    viz.activation_maximization(model, model[1], 0, input_shape=(1, 6, 6), steps=3, device="cpu")
    assert model.training and model[0].training and not model[1].training
    assert all(not m._forward_hooks for m in model.modules())
    with pytest.raises(ValueError, match="not a submodule"):
        viz.layer_output(model, nn.ReLU(), torch.rand(1, 1, 6, 6))
    with pytest.raises(ValueError, match=r"layer='9'.*0, 1, 2"):
        viz.layer_output(model, "9", torch.rand(1, 1, 6, 6))
    with pytest.raises(ValueError, match="norm=-1"):
        viz.activation_maximization(model, "0", 0, input_shape=(1, 6, 6), norm=-1)


def test_layer_receptive_field_matches_autograd_support():
    """Autograd is the oracle: with positive weights and inputs (no cancellation), the
    input pixels with a non-zero gradient of one output unit are its receptive field."""
    model = nn.Sequential(
        nn.Conv2d(1, 1, 3, padding=1),
        nn.Conv2d(1, 1, 5, stride=2, padding=2),
        nn.Conv2d(1, 1, 3, dilation=2),
        nn.AvgPool2d(2),
    )
    for p in model.parameters():
        nn.init.constant_(p, 0.1)
    rf = viz.layer_receptive_field(model, "3", (1, 24, 24))
    assert rf == viz.ReceptiveField(size=(17, 17), stride=(4, 4), start=(-3, -3))
    x = torch.rand(1, 1, 24, 24, dtype=torch.float64, requires_grad=True) + 0.5
    out = model.double()(x)  # (1, 1, 4, 4)
    for i, j in [(0, 0), (2, 1), (3, 3)]:
        (grad,) = torch.autograd.grad(out[0, 0, i, j], x, retain_graph=True)
        rows, cols = torch.nonzero(grad[0, 0] != 0, as_tuple=True)
        top, left, bottom, right = rf.box(i, j)
        assert (rows.min().item(), rows.max().item() + 1) == (max(top, 0), min(bottom, 24))
        assert (cols.min().item(), cols.max().item() + 1) == (max(left, 0), min(right, 24))


def test_layer_receptive_field_refuses_branching_networks():
    class Shortcut(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 3, stride=2, padding=1)
            self.skip = nn.Conv2d(1, 1, 1, stride=2)

        def forward(self, x):
            return self.conv(x) + self.skip(x)

    with pytest.raises(ValueError, match="cannot trace the receptive field"):
        viz.layer_receptive_field(Shortcut(), "", (1, 8, 8))


PLUS = torch.tensor([[0.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 0.0]])


def _plus_detector() -> nn.Sequential:
    conv1 = nn.Conv2d(1, 2, 3, padding=1, bias=False)
    conv2 = nn.Conv2d(2, 1, 3, padding=1, bias=False)
    with torch.no_grad():
        conv1.weight[0, 0] = PLUS - PLUS.mean()  # matched filter for the plus sign
        conv1.weight[1, 0] = -(PLUS - PLUS.mean())
        conv2.weight.zero_()
        conv2.weight[0, 0] = 0.5
        conv2.weight[0, 0, 1, 1] = 1.0
    return nn.Sequential(conv1, nn.ReLU(), nn.MaxPool2d(2), conv2)


def test_top_activating_patches_are_the_ones_with_the_pattern():
    gen = torch.Generator().manual_seed(0)
    images = 0.2 * torch.rand(30, 1, 16, 16, generator=gen)
    with_plus = [3, 7, 11, 19, 25]
    where = {}
    for n in with_plus:
        r, c = torch.randint(0, 14, (2,), generator=gen).tolist()
        images[n, 0, r : r + 3, c : c + 3] += PLUS
        where[n] = (r, c)
    model = _plus_detector()
    result = viz.top_activating_patches(model, "3", images, channel=0, k=5)
    assert sorted(result.image_index.tolist()) == with_plus
    assert result.patches.shape == (5, 1, 8, 8)  # RF: 3 -> pool 4 -> conv 4 + 2*2 = 8
    assert torch.all(result.activations[:-1] >= result.activations[1:])
    maps = model(images)  # (30, 1, 8, 8): the layer is the last one here
    for m in range(5):
        n = int(result.image_index[m])
        i, j = result.position[m].tolist()
        torch.testing.assert_close(result.activations[m], maps[n, 0, i, j])
        top, left, bottom, right = result.box[m].tolist()
        r, c = where[n]
        assert top <= r and r + 3 <= bottom and left <= c and c + 3 <= right
        padded = F.pad(images[n], (8, 8, 8, 8))  # zeros where the field leaves the image
        torch.testing.assert_close(
            result.patches[m], padded[:, top + 8 : bottom + 8, left + 8 : right + 8]
        )
    # weakest patches (reverse) should not all be pattern images: sanity of ranking
    many = viz.top_activating_patches(model, model[3], images, channel=0, k=40, one_per_image=False)
    assert many.patches.shape[0] == 40 and many.image_index[0].item() in with_plus


def test_top_activating_patches_rejects_bad_input():
    model = _plus_detector()
    images = torch.rand(4, 1, 8, 8)
    with pytest.raises(ValueError, match="k=5 is more than the 4 images"):
        viz.top_activating_patches(model, "3", images, 0, k=5)
    with pytest.raises(ValueError, match="channel=1"):
        viz.top_activating_patches(model, "3", images, 1, k=2)
    with pytest.raises(ValueError, match=r"images has shape \(8, 8\)"):
        viz.top_activating_patches(model, "3", torch.rand(8, 8), 0)
    flat = nn.Sequential(nn.Flatten(), nn.Linear(64, 3))
    with pytest.raises(ValueError, match=r"expected \(N, C, H, W\) maps"):
        viz.top_activating_patches(flat, "1", images, 0, k=2)


def test_layer_output_stops_at_the_layer_and_batches():
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 36, 2))
    x = torch.rand(10, 1, 8, 8)
    got = viz.layer_output(model, "1", x, batch_size=4)
    torch.testing.assert_close(got, model[:2](x))


@pytest.mark.gpu
def test_interpretation_on_cuda_gives_cpu_results_and_leaves_the_model_in_place():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(2, 1, 3)
    )
    images = torch.rand(6, 1, 12, 12)
    cpu = viz.top_activating_patches(model, "3", images, 0, k=3)
    gpu = viz.top_activating_patches(model, "3", images, 0, k=3, device="cuda")
    torch.testing.assert_close(gpu.activations, cpu.activations, rtol=1e-4, atol=1e-5)
    assert gpu.patches.device.type == "cpu"
    score = nn.Sequential(nn.Flatten(), nn.Linear(144, 2))
    heat_cpu = viz.occlusion_map(score, images[0], 1, patch=4, stride=4)
    heat_gpu = viz.occlusion_map(score, images[0].cuda(), 1, patch=4, stride=4, device="cuda")
    torch.testing.assert_close(heat_gpu, heat_cpu, rtol=1e-4, atol=1e-5)
    image, _ = viz.activation_maximization(
        model, "3", 0, input_shape=(1, 12, 12), steps=5, device="cuda"
    )
    assert image.device.type == "cpu"
    assert all(p.device.type == "cpu" for p in model.parameters())


def test_activation_maximization_backtracking_never_lowers_the_unit():
    """A learning rate far too large: without backtracking the first step overshoots and the
    run stops; with it, steps that lower h are refused and the rate halved until one helps."""
    torch.manual_seed(3)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 2, 3))
    kwargs = dict(input_shape=(1, 9, 9), norm=2.0, lr=1e4, steps=80, tol=1e-6, seed=2)
    _, plain = viz.activation_maximization(model, "2", 1, **kwargs)
    image, backtracked = viz.activation_maximization(model, "2", 1, backtrack=True, **kwargs)
    assert all(b >= a for a, b in zip(backtracked, backtracked[1:], strict=False))
    assert max(backtracked) > max(plain) + 1e-3
    torch.testing.assert_close(image.norm().item(), 2.0, rtol=1e-5, atol=0)
    with torch.no_grad():
        reached = model(image[None])[0, 1, 2, 2].item()
    assert reached == pytest.approx(max(backtracked), rel=1e-5)


def test_activation_maximization_starts_from_the_given_image_scaled_to_rho():
    conv = nn.Conv2d(1, 1, 3, bias=False)
    model = nn.Sequential(conv)
    start = torch.rand(1, 5, 5, generator=torch.Generator().manual_seed(0))
    _, history = viz.activation_maximization(model, conv, 0, input_shape=(1, 5, 5), norm=3.0,
                                             steps=0, start=start)
    with torch.no_grad():
        expected = conv(3.0 * start[None] / start.norm())[0, 0, 1, 1].item()
    assert history == [pytest.approx(expected, rel=1e-6)]
    with pytest.raises(ValueError, match="start"):
        viz.activation_maximization(model, conv, 0, input_shape=(1, 5, 5), start=torch.zeros(1, 5, 5))
    with pytest.raises(ValueError, match="start"):
        viz.activation_maximization(model, conv, 0, input_shape=(1, 5, 5), start=torch.ones(1, 4, 5))


def test_occlusion_map_keeps_a_float64_models_precision_and_refuses_an_overflowing_fill():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(72, 2)).double()
    image = torch.rand(1, 8, 8, dtype=torch.float64)
    heat = viz.occlusion_map(model, image, 1, patch=3, stride=2, fill=0.5)
    assert heat.dtype == torch.float64
    with torch.no_grad():
        hidden = image.clone()
        hidden[:, 2:5, 4:7] = 0.5
        expected = model(image[None])[0, 1] - model(hidden[None])[0, 1]
    torch.testing.assert_close(heat[1, 2], expected, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="fill"):
        viz.occlusion_map(model.float(), image.float(), 1, fill=1e300)
