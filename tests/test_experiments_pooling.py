"""Lesson 03's experiments: conv vs fully connected parameter counts; pooling under a shift.

Oracles: the parameter formulas (f*f*C + 1) * K and (n*n*C + 1) * outputs computed by
hand here, and torch's own F.max_pool2d / F.avg_pool2d for the shift fractions.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_lib.data import load_photo
from course_lib.experiments.pooling import (
    conv_vs_fc_params,
    format_param_table,
    shift_unchanged_fractions,
    shifted_crop_pairs,
)

# ---- Experiment 1 ----------------------------------------------------------------------


def test_conv_count_is_280_at_every_size_and_fc_grows():
    result = conv_vs_fc_params((6, 16, 32, 224, 1000))
    rows = result.rows
    assert result.conv_is_constant and result.fc_is_increasing
    assert [r.conv for r in rows] == [280] * 5
    for r in rows:
        n, out = r.size, r.size - 2
        assert r.out_shape == (out, out, 10)
        assert r.fc == (n * n * 3 + 1) * (out * out * 10)
    fcs = [r.fc for r in rows]
    assert fcs == sorted(fcs) and len(set(fcs)) == len(fcs)
    assert rows[-1].ratio > 1e11


def test_other_layer_settings_follow_the_formula():
    (row,) = conv_vs_fc_params((37,), in_channels=10, n_filters=20, f=5).rows
    assert row.conv == (5 * 5 * 10 + 1) * 20
    assert row.out_shape == (33, 33, 20)


def test_param_table_lists_every_size():
    result = conv_vs_fc_params((6, 32))
    table = format_param_table(result.rows)
    assert table == result.table()
    assert "6x6x3" in table and "32x32x3" in table and "27,657,000" in table
    assert result.sentence().startswith("Experiment:") and "280 parameters" in result.sentence()


@pytest.mark.parametrize(
    ("kwargs", "error", "word"),
    [
        ({"sizes": (2,)}, ValueError, "size"),
        ({"f": 0}, ValueError, "f="),
        ({"sizes": ()}, ValueError, "sizes"),
        ({"n_filters": 1.5}, TypeError, "n_filters"),
        ({"sizes": 32}, TypeError, "sizes"),
    ],
)
def test_param_experiment_rejects_bad_settings(kwargs, error, word):
    with pytest.raises(error, match=word):
        conv_vs_fc_params(**kwargs)


# ---- Experiment 2 ----------------------------------------------------------------------


def test_pairs_are_one_pixel_translations():
    image = np.random.default_rng(0).random((40, 50, 3))
    a, b = shifted_crop_pairs(image, n=20, size=8, seed=1, device="cpu")
    assert a.shape == b.shape == (20, 3, 8, 8)
    for x, y in zip(a, b, strict=True):
        right = torch.equal(x[:, :, 1:], y[:, :, :-1])
        down = torch.equal(x[:, 1:, :], y[:, :-1, :])
        assert right != down  # shifted by one pixel, in exactly one direction


def test_fractions_agree_with_torch_pooling():
    """Oracle: torch's F.max_pool2d / F.avg_pool2d on the same crop pairs."""
    image = load_photo("flower")
    out = shift_unchanged_fractions(image, source="flower", n=40, size=16, seed=3, device="cpu")
    a, b = shifted_crop_pairs(image, n=40, size=16, seed=3, device="cpu")
    for kind, pool in (("max", F.max_pool2d), ("avg", F.avg_pool2d)):
        expected = float(((pool(a, 2) - pool(b, 2)).abs() <= 1e-9).double().mean())
        assert out.fractions[kind] == pytest.approx(expected, abs=1e-12)
    assert out.n_outputs["max"] == 40 * 3 * 8 * 8
    assert out.n_outputs["none"] == 40 * 3 * 16 * 16


def test_noise_gives_one_third_for_max_and_nothing_else():
    """On i.i.d. noise the max of the 2x3 block must sit in the shared column: p = 2/6."""
    noise = np.random.default_rng(7).random((200, 200, 3))
    out = shift_unchanged_fractions(noise, source="noise", n=150, size=32, seed=0, device="cpu")
    assert out.fractions["max"] == pytest.approx(1 / 3, abs=0.02)
    for kind in ("avg", "l2", "none"):
        assert out.fractions[kind] < 0.01


@pytest.mark.parametrize("name", ["china", "flower"])
def test_on_photos_max_pooling_keeps_most(name):
    out = shift_unchanged_fractions(load_photo(name), source=name, n=150, seed=0, device="cpu")
    f = out.fractions
    assert f["max"] > 0.40
    assert f["max"] > f["avg"] + 0.2 and f["max"] > f["l2"] + 0.2
    assert f["max"] > f["none"] + 0.1
    assert out.sentence().startswith("Experiment:")


def test_same_seed_same_outcome():
    image = load_photo("china")
    one = shift_unchanged_fractions(image, source="china", n=30, seed=5, device="cpu")
    two = shift_unchanged_fractions(image, source="china", n=30, seed=5, device="cpu")
    assert one == two


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [({"size": 1000}, "size"), ({"n": 0}, "n="), ({"kernel": 0}, "kernel")],
)
def test_shift_experiment_rejects_bad_settings(kwargs, word):
    image = np.zeros((50, 50, 3))
    with pytest.raises(ValueError, match=word):
        shift_unchanged_fractions(image, source="zeros", device="cpu", **kwargs)


def test_shift_experiment_rejects_a_grey_image():
    with pytest.raises(ValueError, match="image"):
        shifted_crop_pairs(np.zeros((50, 50)), n=1, size=8, seed=0)


def test_pooling_experiment_arguments_are_checked_by_name():
    image = load_photo("china")
    plain = shift_unchanged_fractions(image, source="a", n=2, size=8, seed=1, device="cpu")
    odd = shift_unchanged_fractions(image, source="a", n=np.int64(2), size=torch.tensor(8),
                                    seed=np.int64(1), device="cpu")  # fmt: skip
    assert odd == plain and type(odd.n_pairs) is int and type(odd.size) is int
    with pytest.raises(TypeError, match="size='8'"):
        shift_unchanged_fractions(image, source="a", size="8")
    with pytest.raises(ValueError, match="seed=-1 must be a non-negative int"):
        shifted_crop_pairs(image, n=2, size=8, seed=-1)
    with pytest.raises(TypeError, match="rows must be a list or tuple of ParamRow"):
        format_param_table([1, 2])
