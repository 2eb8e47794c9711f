"""Named kernels, the flip, and filter_image; torch's conv2d (float64) is the oracle."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.filters import (
    KERNEL_NAMES,
    filter_image,
    flip_kernel,
    gradient_magnitude,
    kernel,
    kernel_name_of,
)


def oracle(image, weights, padding=0):
    x = torch.as_tensor(np.asarray(image), dtype=torch.float64)[None, None]
    w = torch.as_tensor(np.asarray(weights), dtype=torch.float64)[None, None]
    return F.conv2d(x, w, padding=padding)[0, 0].numpy()


def test_edge_kernels_are_the_lesson_ones():
    np.testing.assert_array_equal(kernel("vertical_edge"), [[1, 0, -1]] * 3)
    np.testing.assert_array_equal(kernel("sobel_horizontal"), [[1, 2, 1], [0, 0, 0], [-1, -2, -1]])
    np.testing.assert_array_equal(kernel("scharr_vertical"), [[3, 0, -3], [10, 0, -10], [3, 0, -3]])
    for family in ("sobel", "scharr", "prewitt"):
        np.testing.assert_array_equal(
            kernel(f"{family}_horizontal"), kernel(f"{family}_vertical").T
        )
    for name in ("box_blur", "gaussian_blur", "identity", "sharpen"):
        assert np.isclose(kernel(name).sum(), 1.0), name  # keep average brightness


def test_kernel_returns_a_fresh_copy_and_names_round_trip():
    k = kernel("sobel_vertical")
    k[0, 0] = 99
    assert kernel("sobel_vertical")[0, 0] == 1
    for name in KERNEL_NAMES:
        assert np.allclose(kernel(kernel_name_of(kernel(name))), kernel(name))
    assert kernel_name_of(np.ones((3, 3))) is None
    with pytest.raises(ValueError, match="name='sobel' is not one of"):
        kernel("sobel")
    with pytest.raises(TypeError, match="name=3 must be one of"):
        kernel(3)
    with pytest.raises(TypeError, match="weights must be a numpy array"):
        kernel_name_of(None)


def test_worked_example_6x6():
    image = np.array([[10.0, 10, 10, 0, 0, 0]] * 6)
    out = filter_image(image, kernel("vertical_edge"))
    np.testing.assert_allclose(out, [[0, 30, 30, 0]] * 4)
    # dark-to-bright: the same edge with the sides swapped gives the negative
    np.testing.assert_allclose(
        filter_image(image[:, ::-1], kernel("vertical_edge")), [[0, -30, -30, 0]] * 4
    )


@settings(max_examples=25, deadline=None)
@given(
    h=st.integers(3, 9),
    w=st.integers(3, 9),
    kh=st.integers(1, 3),
    kw=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_valid_mode_matches_torch(h, w, kh, kw, seed):
    rng = np.random.default_rng(seed)
    image, weights = rng.normal(size=(h, w)), rng.normal(size=(kh, kw))
    np.testing.assert_allclose(
        filter_image(image, weights), oracle(image, weights), rtol=1e-10, atol=1e-12
    )


@pytest.mark.parametrize(("mode", "padding", "shape"), [("same", 1, (7, 9)), ("full", 2, (9, 11))])
def test_same_and_full_modes(mode, padding, shape):
    rng = np.random.default_rng(3)
    image, weights = rng.normal(size=(7, 9)), rng.normal(size=(3, 3))
    out = filter_image(image, weights, mode=mode)
    assert out.shape == shape
    np.testing.assert_allclose(out, oracle(image, weights, padding), rtol=1e-10, atol=1e-12)


def test_flip_is_true_convolution():
    """flip=True is convolution: checked against a direct sum with the flipped indices."""
    rng = np.random.default_rng(4)
    image, weights = rng.normal(size=(5, 6)), rng.normal(size=(3, 2))
    out = filter_image(image, weights, flip=True)
    direct = np.zeros((3, 5))
    for i in range(3):
        for j in range(5):
            for u in range(3):
                for v in range(2):
                    direct[i, j] += image[i + u, j + v] * weights[2 - u, 1 - v]
    np.testing.assert_allclose(out, direct, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(flip_kernel(weights), weights[::-1, ::-1])
    # Antisymmetric Sobel: flipping only changes the sign; symmetric blur: nothing.
    np.testing.assert_allclose(
        filter_image(image, kernel("sobel_vertical"), flip=True),
        -filter_image(image, kernel("sobel_vertical")),
    )
    np.testing.assert_allclose(
        filter_image(image, kernel("gaussian_blur"), flip=True),
        filter_image(image, kernel("gaussian_blur")),
    )


def test_flip_kernel_torch_and_batches():
    w = torch.arange(18.0).reshape(2, 3, 3)
    torch.testing.assert_close(flip_kernel(w), torch.flip(w, dims=(-2, -1)))
    assert flip_kernel(np.arange(4.0).reshape(2, 2)).tolist() == [[3.0, 2.0], [1.0, 0.0]]
    with pytest.raises(ValueError, match="at least 2 axes"):
        flip_kernel(np.ones(3))


def test_torch_image_stays_torch():
    image = torch.rand(6, 7, dtype=torch.float64)
    out = filter_image(image, kernel("sobel_vertical"))
    assert isinstance(out, torch.Tensor) and out.shape == (4, 5)
    torch.testing.assert_close(out, torch.from_numpy(oracle(image, kernel("sobel_vertical"))))


def test_gradient_magnitude():
    rng = np.random.default_rng(5)
    image = rng.random((8, 8))
    gx = oracle(image, kernel("sobel_vertical"))
    gy = oracle(image, kernel("sobel_horizontal"))
    np.testing.assert_allclose(gradient_magnitude(image), np.hypot(gx, gy), rtol=1e-10)
    with pytest.raises(ValueError, match="family='canny'"):
        gradient_magnitude(image, family="canny")


@pytest.mark.parametrize(
    ("image", "weights", "kwargs", "error", "match"),
    [
        (np.ones((4, 4, 3)), np.ones((3, 3)), {}, ValueError, "grey=True"),
        (np.ones((4, 4)), np.ones((3, 3, 1)), {}, ValueError, "2-D kernel"),
        (np.ones((2, 5)), np.ones((3, 3)), {}, ValueError, "larger than the padded image 2x5"),
        (np.ones((5, 5)), np.ones((2, 2)), {"mode": "same"}, ValueError, "weights of odd size"),
        (np.ones((5, 5)), np.ones((0, 0)), {}, ValueError, "weights has shape"),
        (np.ones((5, 5)), np.ones((3, 3)), {"mode": "wrap"}, ValueError, "mode='wrap'"),
        (np.ones((5, 5)), np.full((3, 3), np.nan), {}, ValueError, "nan or inf"),
        (np.ones((5, 5)), np.ones((3, 3)), {"flip": "yes"}, TypeError, "flip='yes'"),
        ("photo", np.ones((3, 3)), {}, TypeError, "image must be a numpy array"),
        (None, np.ones((3, 3)), {}, TypeError, "image must be a numpy array"),
        (np.ones((5, 5)), None, {}, TypeError, "weights must be a numpy array"),
        (np.ones((5, 5)), np.ones((3, 3)), {"mode": 1}, TypeError, "mode=1"),
    ],
)
def test_bad_input_is_explained(image, weights, kwargs, error, match):
    with pytest.raises(error, match=match):
        filter_image(image, weights, **kwargs)
