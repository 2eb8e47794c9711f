"""Lesson 11's experiments: a classifier convolutionalised, sliding windows, bilinear upsampling.

The claims are asserted on the notebook's seed (0, one run shared by a module fixture)
and on three other seeds (direct calls with the notebook's settings), each with its
margin: how far below the tolerance the measured differences are, and how much cheaper
the one pass is. The pieces (scene_tasks, sliding_window_scores, convolutionalise,
sliding_window_cost, conv_matrix) are checked against torch as the oracle in float64.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib import ops
from course_lib.experiments.base import ExperimentResult
from course_lib.experiments.dense_prediction import (
    BORDER_GAP,
    SAME_TOLERANCE,
    SceneTasks,
    bilinear_experiment,
    conv_matrix,
    convolutionalise,
    convolutionalised_experiment,
    digit_canvas,
    scene_tasks,
    sliding_window_cost,
    sliding_window_scores,
)
from course_lib.models import bilinear_upsampler, fc_to_conv, lenet5, vgg16
from course_lib.shapes import summary

F64 = {"rtol": 1e-12, "atol": 1e-12}
SEEDS = (1, 2, 3)  # beside the notebook's seed 0
MARGIN = 1e3  # differences at least this many times below the tolerance
COST_RATIO = 4.0  # the one pass at least this many times cheaper (measured 5.1x)


@pytest.fixture(scope="module")
def notebook_run():
    return convolutionalised_experiment(seed=0, device="cpu")


def _assert_claim(result) -> None:
    assert isinstance(result, ExperimentResult)
    assert result.claim_holds, result.sentence()
    assert result.tolerance == SAME_TOLERANCE and result.margin >= MARGIN, result.sentence()
    assert result.cost.ratio >= COST_RATIO, result.cost
    assert result.sentence().startswith("Experiment:") and "holds" in result.sentence()


def test_notebook_seed_claim_and_margin(notebook_run):
    _assert_claim(notebook_run)
    assert notebook_run.score_map_shape == (9, 17) == notebook_run.expected_map_shape
    assert notebook_run.test_accuracy >= 0.9


@pytest.mark.parametrize("seed", SEEDS)
def test_other_seeds_claim_and_margin(seed):
    _assert_claim(convolutionalised_experiment(seed=seed, device="cpu"))


def test_score_map_equals_torch_sliding_window(notebook_run):
    """Oracle: the trained LeNet-5 (torch's own layers) on every 32x32 crop, cut with slicing."""
    model, canvas = notebook_run.model, notebook_run.canvas.to(torch.float64)
    rows, cols = notebook_run.score_map_shape
    with torch.no_grad():
        crops = torch.stack([canvas[4 * r : 4 * r + 32, 4 * c : 4 * c + 32]
                             for r in range(rows) for c in range(cols)])[:, None]  # fmt: skip
        want = model(crops).T.reshape(10, rows, cols)
    torch.testing.assert_close(notebook_run.score_map, want, **F64)
    # a digit filling its window is scored as the classifier scores that digit alone
    for (r, c), guess in zip(notebook_run.cells, notebook_run.cell_predictions, strict=True):
        assert int(want[:, 8 * r, 8 * c].argmax()) == guess


def test_the_experiment_is_deterministic(notebook_run):
    again = convolutionalised_experiment(seed=0, device="cpu")
    assert again.sentence() == notebook_run.sentence()


def test_the_claim_fails_when_padding_breaks_the_equivalence():
    """A "same"-padded network is not exactly a sliding window: the comparison notices."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(2 * 4 * 4, 3)).double()  # fmt: skip
    conv = convolutionalise(nn.Sequential(net[:3], net[3:]), (2, 4, 4))
    x = torch.rand(1, 1, 16, 20, dtype=torch.float64)
    with torch.no_grad():
        one_pass = conv(x)
    windows = sliding_window_scores(net, x, window=8, stride=2)
    assert one_pass.shape == windows.shape == (1, 3, 5, 7)
    assert float((one_pass - windows).abs().max()) > 1e-3


def test_convolutionalise_vgg16_on_meta_gives_the_coarse_map_and_its_cost():
    with torch.device("meta"):
        vgg = vgg16(num_classes=21)
        conv = convolutionalise(vgg, (512, 7, 7))
        path = nn.Sequential(vgg.features, nn.ZeroPad2d(3), conv[1], bilinear_upsampler(21, 32))
    assert [type(m).__name__ for m in conv[1] if not isinstance(m, nn.ReLU | nn.Dropout2d)] == [
        "Conv2d", "Conv2d", "Conv2d"]  # fmt: skip
    assert [m.kernel_size for m in conv[1] if isinstance(m, nn.Conv2d)] == [(7, 7), (1, 1), (1, 1)]
    assert summary(conv, (3, 224, 224)).rows[-1].output_shape == (21, 1, 1)
    assert summary(conv, (3, 512, 512)).rows[-1].output_shape == (21, 10, 10)
    trace = summary(path, (3, 512, 512))
    assert [r.output_shape for r in trace.rows if r.kind == "MaxPool2d"][-1] == (512, 16, 16)
    assert trace.rows[-1].output_shape == (21, 512, 512)
    cost = sliding_window_cost(vgg, conv, (3, 224, 224), (512, 512), stride=32)
    assert cost.windows == (10, 10) and cost.per_window == summary(vgg, (3, 224, 224)).total_mults
    assert cost.sliding == 100 * cost.per_window and cost.ratio > 10


def test_fc_to_conv_matches_the_linear_head_and_slides_it():
    """Oracle: torch's Linear head on the flattened map, and on each crop of a larger map."""
    torch.manual_seed(1)
    head = nn.Sequential(nn.Flatten(), nn.Linear(3 * 2 * 4, 5), nn.ReLU(), nn.Dropout(0.3),
                         nn.Linear(5, 4)).double().eval()  # fmt: skip
    conv = fc_to_conv(head, (3, 2, 4)).eval()
    x = torch.randn(6, 3, 2, 4, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(conv(x)[:, :, 0, 0], head(x), **F64)
        big = torch.randn(2, 3, 5, 7, dtype=torch.float64)
        got = conv(big)  # (2, 4, 4, 4)
        crops = [head(big[:, :, i : i + 2, j : j + 4]) for i in range(4) for j in range(4)]
        want = torch.stack(crops, -1).reshape(2, 4, 4, 4)  # (N, out, rows, cols)
    torch.testing.assert_close(got, want, **F64)


def test_bilinear_claim_on_the_notebook_seed_and_three_others():
    for seed in (0, *SEEDS):
        result = bilinear_experiment(factor=4, seed=seed, device="cpu")
        assert isinstance(result, ExperimentResult)
        assert result.claim_holds, result.sentence()
        assert result.margin >= MARGIN, result.sentence()
        assert result.border == 2 and result.border_difference >= 100 * BORDER_GAP


@pytest.mark.parametrize("factor", [2, 3, 4, 8])
def test_bilinear_band_is_exactly_half_the_factor_wide(factor):
    """Oracle: F.interpolate; every pixel outside the band agrees, every border row differs."""
    x = torch.randn(1, 2, 5, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    out = ops.conv_transpose2d(x, ops.bilinear_kernel(2, factor, like=x), stride=factor,
                               padding=factor // 2)  # fmt: skip
    ref = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
    band = factor // 2
    torch.testing.assert_close(out[..., band:-band, band:-band], ref[..., band:-band, band:-band],
                               **F64)  # fmt: skip
    diff = (out - ref).abs()
    for i in range(band):
        assert float(diff[..., i, :].max()) > 1e-3 and float(diff[..., -1 - i, :].max()) > 1e-3
    result = bilinear_experiment(factor=factor, size=(5, 6), seed=7, device="cpu")
    assert result.claim_holds, result.sentence()


def test_conv_matrix_is_conv2d_and_its_transpose_is_conv_transpose2d():
    """Oracle: F.conv2d and F.conv_transpose2d, with stride and padding."""
    g = torch.Generator().manual_seed(3)
    w = torch.randn(2, 3, 3, 2, dtype=torch.float64, generator=g)
    x = torch.randn(1, 3, 5, 6, dtype=torch.float64, generator=g)
    c = conv_matrix(w, (5, 6), stride=2, padding=1)
    y = F.conv2d(x, w, stride=2, padding=1)
    assert c.shape == (y.numel(), x.numel())
    torch.testing.assert_close(c @ x.flatten(), y.flatten(), **F64)
    dy = torch.randn(y.shape, dtype=torch.float64, generator=g)
    back = F.conv_transpose2d(dy, w, stride=2, padding=1)  # 3x4 -> 5x6
    torch.testing.assert_close(c.T @ dy.flatten(), back.flatten(), **F64)
    as_numpy = conv_matrix(w.numpy(), (5, 6), stride=2, padding=1)
    assert isinstance(as_numpy, np.ndarray)
    np.testing.assert_allclose(as_numpy, c.numpy(), rtol=1e-12, atol=1e-12)


def test_conv_matrix_refuses_what_does_not_fit():
    with pytest.raises(ValueError, match="at most 4096"):
        conv_matrix(np.zeros((1, 1, 3, 3)), (70, 70))
    with pytest.raises(ValueError, match="larger than the padded input"):
        conv_matrix(np.zeros((1, 1, 5, 5)), (3, 3))
    with pytest.raises(TypeError, match="weight must be a numpy array"):
        conv_matrix([[1.0]], (3, 3))


def test_scene_tasks_reads_every_task_off_a_mask():
    mask = np.zeros((10, 12), dtype=np.int64)
    mask[1:4, 1:3] = 1  # a disc
    mask[6:9, 8:11] = 1  # another disc
    mask[2:5, 6:11] = 2  # a square, the largest object
    tasks = scene_tasks(mask)
    assert isinstance(tasks, SceneTasks) and tasks.n_objects == 3
    assert tasks.label == 2 and tasks.box == (6, 2, 11, 5)
    assert sorted(zip(tasks.box_labels, tasks.boxes, strict=True)) == [
        (1, (1, 1, 3, 4)), (1, (8, 6, 11, 9)), (2, (6, 2, 11, 5))]  # fmt: skip
    np.testing.assert_array_equal(tasks.semantic, mask)
    assert len(np.unique(tasks.instances)) == 4  # background and three objects
    assert len(np.unique(tasks.instances[mask == 1])) == 2  # two discs, two ids
    with pytest.raises(ValueError, match="no object"):
        scene_tasks(np.zeros((4, 4), dtype=np.int64))
    with pytest.raises(TypeError, match="integer class labels"):
        scene_tasks(np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"labels 7..7; expected labels in \[0, 5\)"):
        scene_tasks(np.full((4, 4), 7))


def test_digit_canvas_places_digits_on_the_grid():
    images = torch.rand(5, 1, 32, 32)
    labels = torch.arange(5)
    canvas, cells, digits = digit_canvas(images, labels, slots=(2, 3), fill=4, seed=2)
    assert canvas.shape == (1, 1, 64, 96) and len(cells) == len(digits) == 4
    for (r, c), d in zip(cells, digits, strict=True):
        torch.testing.assert_close(canvas[0, :, 32 * r : 32 * r + 32, 32 * c : 32 * c + 32],
                                   images[d])  # fmt: skip
    with pytest.raises(ValueError, match="fill=7"):
        digit_canvas(images, labels, slots=(2, 3), fill=7)


def test_sliding_window_scores_restores_training_mode_and_checks_sizes():
    net = lenet5().double().train()
    x = torch.rand(1, 1, 40, 36, dtype=torch.float64)
    scores = sliding_window_scores(net, x)
    assert scores.shape == (1, 10, 3, 2) and net.training
    with pytest.raises(ValueError, match="larger than the images"):
        sliding_window_scores(net, x, window=48)
    with pytest.raises(TypeError, match="torch tensor"):
        sliding_window_scores(net, x.numpy())
