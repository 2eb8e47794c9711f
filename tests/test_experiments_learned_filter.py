"""Lesson 01's experiment: gradient descent recovers an edge filter from examples."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_lib.experiments.learned_filter import (
    cosine_similarity,
    learn_filter,
    make_edge_pairs,
    patch_covariance_eigenvalues,
)
from course_lib.filters import kernel


def test_sobel_is_recovered_from_random_start_quickly():
    start = time.perf_counter()
    result = learn_filter("sobel_horizontal", device="cpu")
    elapsed = time.perf_counter() - start
    assert result.cosine > 0.9, result.sentence()
    assert result.cosines[0] < 0.9, "the random start must not already be the answer"
    assert result.losses[-1] < 1e-2 * result.losses[0]
    assert result.max_abs_error < 0.2
    assert len(result.losses) == len(result.cosines) == result.steps + 1
    assert elapsed < 30, f"took {elapsed:.1f} s"  # a few seconds normally; shared CI is slower
    assert "cosine similarity with sobel_horizontal" in result.sentence()


def test_deterministic_for_a_seed():
    a = learn_filter("sobel_vertical", steps=50, device="cpu", seed=3)
    b = learn_filter("sobel_vertical", steps=50, device="cpu", seed=3)
    np.testing.assert_allclose(a.learned, b.learned, rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.losses, b.losses, rtol=0, atol=1e-12)
    c = learn_filter("sobel_vertical", steps=50, device="cpu", seed=4)
    assert not np.allclose(a.initial, c.initial)


@pytest.mark.parametrize("seed", [1, 2])
def test_other_seeds_and_targets(seed):
    result = learn_filter("scharr_vertical", device="cpu", seed=seed)
    assert result.cosine > 0.9, result.sentence()


def test_pairs_are_conv_of_crops_with_the_target():
    """torch's conv2d is the oracle for the edge maps."""
    x, y = make_edge_pairs(kernel("sobel_vertical"), n_pairs=4, crop_size=10, device="cpu")
    assert x.shape == (4, 1, 10, 10) and y.shape == (4, 1, 8, 8)
    torch.testing.assert_close(
        y, F.conv2d(x, torch.from_numpy(kernel("sobel_vertical"))[None, None])
    )
    torch.testing.assert_close(
        x.mean(dim=(2, 3)), torch.zeros(4, 1, dtype=x.dtype), atol=1e-12, rtol=0
    )


def test_photos_pin_the_kernel_down_stripes_do_not():
    """Uniqueness: all 9 patch-covariance eigenvalues positive for photos, 6 zero for stripes."""
    x, _ = make_edge_pairs(kernel("sobel_horizontal"), device="cpu")
    eig = patch_covariance_eigenvalues(x)
    assert eig.min() > 1e-3
    xs, _ = make_edge_pairs(kernel("sobel_horizontal"), data="stripes", device="cpu")
    eig_s = patch_covariance_eigenvalues(xs)
    assert (np.abs(eig_s) < 1e-9).sum() == 6
    stripes = learn_filter("sobel_horizontal", data="stripes", device="cpu")
    assert stripes.losses[-1] < 1e-3 * stripes.losses[0]  # fits the data ...
    assert stripes.cosine < 0.95  # ... without finding Sobel
    # Only the row sums were learned: they match Sobel's (4, 0, -4).
    np.testing.assert_allclose(stripes.learned.sum(axis=1), [4, 0, -4], atol=0.05)


def test_cosine_similarity_and_errors():
    assert cosine_similarity(
        kernel("sobel_vertical"), 2 * kernel("sobel_vertical")
    ) == pytest.approx(1.0)
    assert cosine_similarity(kernel("sobel_vertical"), kernel("sobel_horizontal")) == pytest.approx(
        0.0
    )
    with pytest.raises(ValueError, match="a is all zero"):
        cosine_similarity(np.zeros((3, 3)), np.ones((3, 3)))
    with pytest.raises(ValueError, match=r"a has shape \(3,\) but b has shape \(3, 3\)"):
        cosine_similarity(np.ones(3), np.ones((3, 3)))
    with pytest.raises(TypeError, match="b must be a numpy array or a torch tensor, not str"):
        cosine_similarity(np.ones((3, 3)), "fuzz")
    with pytest.raises(ValueError, match="data='noise'"):
        make_edge_pairs(kernel("identity"), data="noise")
    with pytest.raises(ValueError, match="steps=0"):
        learn_filter(steps=0)
    with pytest.raises(ValueError, match=r"shape \(2, 2\)"):
        make_edge_pairs(np.ones((2, 2)))


def test_learned_filter_arguments_are_checked_by_name():
    with pytest.raises(ValueError, match="target='no-such-kernel' is not one of"):
        learn_filter("no-such-kernel", steps=1)
    with pytest.raises(ValueError, match="init_scale=0.0 must be a finite number > 0"):
        learn_filter(steps=1, init_scale=0.0)
    with pytest.raises(TypeError, match="seed=None must be an int seed"):
        make_edge_pairs(kernel("identity"), seed=None)
    x, _ = make_edge_pairs(kernel("identity"), n_pairs=2, crop_size=8, seed=np.int64(1))
    y, _ = make_edge_pairs(kernel("identity"), n_pairs=2, crop_size=8, seed=1)
    torch.testing.assert_close(x, y, rtol=0, atol=0)
    with pytest.raises(ValueError, match=r"size=9 must be an int in \[1, 8\]"):
        patch_covariance_eigenvalues(x, size=9)
    with pytest.raises(TypeError, match="images must be a numpy array or a torch tensor"):
        patch_covariance_eigenvalues(None)
