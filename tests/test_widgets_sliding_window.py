"""The sliding-window widget: pure parts against torch, the app driven headlessly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_lib.shapes import conv_output_size
from course_lib.widgets.sliding_window import (
    coverage_counts,
    draw_sliding_window,
    sliding_window_app,
    window_for_cell,
)


@pytest.mark.parametrize(("n", "f", "p", "s"), [(6, 3, 0, 1), (7, 3, 0, 3), (5, 3, 1, 2), (8, 4, 2, 3)])
def test_coverage_counts_match_torch(n, f, p, s):
    """Oracle: torch. The gradient of sum(conv(x, ones)) w.r.t. x counts the windows reading each cell."""
    x = torch.zeros(1, 1, n, n, dtype=torch.float64, requires_grad=True)
    F.conv2d(x, torch.ones(1, 1, f, f, dtype=torch.float64), stride=s, padding=p).sum().backward()
    np.testing.assert_allclose(coverage_counts(n, f, p, s), x.grad[0, 0].numpy())


@pytest.mark.parametrize(("n", "f", "p", "s", "cell"), [(7, 3, 0, 2, 5), (6, 3, 1, 1, 0), (9, 5, 2, 3, 8)])
def test_window_is_the_patch_torch_reads(n, f, p, s, cell):
    """Oracle: torch. Output cell `cell` of conv(x, ones) sums exactly the cells of its window."""
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(1, 1, n, n, dtype=torch.float64, generator=gen)
    y = F.conv2d(x, torch.ones(1, 1, f, f, dtype=torch.float64), stride=s, padding=p)
    view = window_for_cell(n, f, p, s, cell)
    padded = F.pad(x, (p, p, p, p))[0, 0]
    patch = padded[view.rows.start : view.rows.stop, view.cols.start : view.cols.stop]
    torch.testing.assert_close(y[0, 0, view.row, view.col], patch.sum())
    assert view.out == y.shape[-1]


def test_window_view_states_the_formula_with_numbers():
    view = window_for_cell(7, 3, 0, 3, 0)
    assert "floor((7 + 2*0 - 3) / 3) + 1" in str(view) and view.out == 2
    assert view.unused == 7 * 7 - 6 * 6  # last row and column never read
    assert "never read" in str(view)


def test_bad_cells_and_types_are_refused():
    with pytest.raises(ValueError, match="cell=9"):
        window_for_cell(7, 3, 0, 2, 9)
    with pytest.raises(TypeError, match=r"n \(input size\)=7.0"):
        window_for_cell(7.0, 3, 0, 1, 0)
    with pytest.raises(TypeError, match="cell=None"):
        window_for_cell(7, 3, 0, 1, None)
    with pytest.raises(ValueError, match="more than the 64"):
        draw_sliding_window(n=70, f=3)
    with pytest.raises(ValueError, match="more than the 4096"):
        coverage_counts(10, 3, p=2**40)
    assert window_for_cell(np.int64(7), 3, torch.tensor(0), 2, np.int32(1)) == window_for_cell(
        7, 3, 0, 2, 1
    )
    with pytest.raises(ValueError, match="kernel"):
        draw_sliding_window(n=3, f=5, p=0, s=1, cell=0)


def test_app_redraws_when_sliders_move():
    app = sliding_window_app()
    first_png, first = app.png, app.result
    assert first.out == 5 and app.message.startswith("output 5x5")
    app.controls["s"].value = 2
    assert app.result.out == 3 and app.png != first_png
    assert "floor(4 / 2) + 1 = 3" in app.message
    before = app.png
    app.controls["cell"].value = 4
    assert (app.result.row, app.result.col) == (1, 1) and app.png != before


def test_app_keeps_the_cell_inside_a_shrinking_output():
    app = sliding_window_app(n=7, f=3, p=0, s=1)
    app.controls["cell"].value = 24  # last cell of 5x5
    app.controls["s"].value = 3  # output 2x2: cells 0..3
    assert app.controls["cell"].max == 3
    assert app.result is not None and app.result.out == 2 and app.result.row * 2 + app.result.col == 3


def test_app_sliders_reach_only_valid_settings():
    app = sliding_window_app(n=7, f=7, p=0, s=1)
    assert app.controls["s"].min == 1 and app.controls["f"].max == 7
    app.controls["n"].value = 3  # the kernel slider stops at n + 2p and moves f back
    assert app.controls["f"].max == 3 and app.controls["f"].value == 3
    assert app.result is not None and app.result.out == conv_output_size(3, 3) and not app.message.startswith("kernel")
    app.controls["p"].value = 2  # padding makes room again: n + 2p = 7
    assert app.controls["f"].max == 7
    app.controls["f"].value = 7
    assert app.result.out == conv_output_size(3, 7, p=2)
    with pytest.raises(ValueError, match=r"s=0 must be an int in \[1, 4\]"):
        sliding_window_app(s=0)
    with pytest.raises(ValueError, match=r"f=7 must be an int in \[1, 3\]"):
        sliding_window_app(n=3, f=7)
    with pytest.raises(ValueError, match="stride"):
        draw_sliding_window(n=7, f=3, p=0, s=0, cell=0)  # the draw function still says why
