"""Lesson 08's checks: right answers pass, written several ways; the mistakes learners make
fail with their own feedback.

The reference solutions themselves are run from the notebook by tests/test_solutions.py;
here independent correct answers (indexing, a loop, numpy) stand in.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_lib.checks.lesson08 import check_crop_count, check_random_flip, check_top_params
from course_lib.data import random_flip
from course_lib.models import lenet5
from course_lib.validate import check_generator


def _stub(*args, **kwargs):
    raise NotImplementedError("Exercise 8.2")


# ---- Exercise 8.2: a random flip for a batch ------------------------------------------


def _by_where(x, p, generator):
    generator = check_generator("generator", generator)
    u = torch.rand(x.shape[0], generator=generator)  # (N,) one draw per image
    return torch.where((u < p)[:, None, None, None], x.flip(-1), x)


def _by_indexing(x, p, generator):
    g = check_generator("generator", generator)
    flip = torch.rand(len(x), generator=g) < p
    out = x.clone()
    out[flip] = out[flip].flip(3)
    return out.numpy()  # numpy is fine too


def _by_loop_in_numpy(x, p, generator):
    g = check_generator("generator", generator)
    u = torch.rand(x.shape[0], generator=g).numpy()
    a = x.numpy()
    return np.stack([a[i, :, :, ::-1] if u[i] < p else a[i] for i in range(len(a))])


def _in_float32(x, p, generator):
    return _by_where(x.float(), p, generator)


def _the_library(x, p, generator):
    return random_flip(x, p=p, generator=generator)


@pytest.mark.parametrize("right", [_by_where, _by_indexing, _by_loop_in_numpy, _in_float32,
                                   _the_library])  # fmt: skip
def test_flip_accepts_right_answers(right):
    result = check_random_flip(right)
    assert result.passed, result


def _draw(x, generator):
    return torch.rand(x.shape[0], generator=check_generator("generator", generator))


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (lambda x, p, g: torch.where((_draw(x, g) < p)[:, None, None, None], x.flip(-2), x),
         "upside down"),
        (lambda x, p, g: torch.where((_draw(x, g) < p)[:, None, None, None], x.flip(1), x),
         "reversed the channels"),
        (lambda x, p, g: torch.where((_draw(x, g) > p)[:, None, None, None], x.flip(-1), x),
         "probability 1 - p"),
        (lambda x, p, g: x.flip(-1), "whatever p says"),
        (lambda x, p, g: torch.where((_draw(x, g) > 1 - p)[:, None, None, None], x.flip(-1), x),
         "u > 1 - p flips each image with probability p too"),
        (lambda x, p, g: torch.where(_draw(x, g) < p, x.flip(-1), x), "reshape it to (N, 1, 1, 1)"),
        (lambda x, p, g: x.flip(-1) if float(_draw(x, g)[0]) < p else x.clone(),
         "one coin for the whole batch"),
        (lambda x, p, g: torch.where(
            torch.rand(x.shape, generator=check_generator("g", g)) < p, x.flip(-1), x),
         "one number per pixel"),
        (lambda x, p, g: torch.where((torch.rand(x.shape[0]) < p)[:, None, None, None],
                                     x.flip(-1), x), "the generator you are given"),
        (lambda x, p, g: torch.where(
            torch.from_numpy(np.random.default_rng(0).random(len(x)) < p)[:, None, None, None],
            x.flip(-1), x), "not np.random"),
    ],
)  # fmt: skip
def test_flip_mistakes_get_their_feedback(wrong, words):
    result = check_random_flip(wrong)
    assert result.status == "failed"
    assert words in result.message, result.message


def test_flip_cases_cover_shape_range_generator_and_deterministic_settings():
    cases = check_random_flip(_stub).cases
    ps = [c.args[1] for c in cases]
    assert 0.0 in ps and 1.0 in ps  # the deterministic cases
    for c in cases:
        x = c.args[0]
        n, ch, h, w = x.shape
        assert n != ch and h != w  # a transposed or swapped answer cannot pass
        assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
        flipped = [bool(np.allclose(c.expected[i], x[i].flip(-1).numpy())) for i in range(n)]
        if 0.0 < c.args[1] < 1.0:
            assert any(flipped) and not all(flipped), c.label  # some flip, some do not
    same_images = [c for c in cases if c.args[0].shape == (6, 1, 4, 5)]
    assert len(same_images) == 2  # the same batch under two seeds flips differently
    assert not np.allclose(same_images[0].expected, same_images[1].expected)


def test_flip_in_place_and_stub():
    def in_place(x, p, generator):
        u = _draw(x, generator)
        for i in range(len(x)):
            if u[i] < p:
                x[i] = x[i].flip(-1)
        return x

    result = check_random_flip(in_place)
    assert result.status == "failed" and "in place" in result.message
    assert check_random_flip(_stub).status == "not attempted"


# ---- Exercise 8.3: how many crops and flips -------------------------------------------


def test_crop_count_accepts_the_number_written_several_ways():
    positions = len(range(0, 2 * 4 + 1))
    for value in (162, positions**2 * 2, np.int64(162), torch.tensor(162), 162.0):
        assert check_crop_count(value).passed, value


def test_crop_count_matches_an_enumeration():
    """Oracle: every (row, column, flip) of a 32x32 crop of a 40x40 padded image, counted
    as distinct pictures of a random image (so no two coincide)."""
    img = np.random.default_rng(0).random((32, 32))
    padded = np.pad(img, 4)
    seen = {
        (crop[:, ::-1] if flip else crop).tobytes()
        for r in range(9) for c in range(9) for flip in (False, True)
        for crop in [padded[r:r + 32, c:c + 32]]
    }  # fmt: skip
    assert check_crop_count(len(seen)).passed


@pytest.mark.parametrize(
    ("wrong", "words"),
    [(81, "counts the crops only"), (128, "off by one"), (18, "both axes independently"),
     (3200, "fits 40 - 32 + 1"), (50, "both sides")],
)  # fmt: skip
def test_crop_count_mistakes_get_their_feedback(wrong, words):
    result = check_crop_count(wrong)
    assert result.status == "failed"
    assert words in result.message, result.message


# ---- Exercise 8.4: parameters trained by "fine-tune the top" ---------------------------


def test_top_params_accepts_a_count_from_a_real_network():
    net = lenet5(num_classes=5)
    for p in net.features.parameters():
        p.requires_grad_(False)
    counted = sum(p.numel() for p in net.parameters() if p.requires_grad)
    by_hand = (400 * 120 + 120) + (120 * 84 + 84) + (84 * 5 + 5)
    for value in (counted, by_hand, np.int64(by_hand), torch.tensor(by_hand)):
        assert check_top_params(value).passed, value


@pytest.mark.parametrize(
    ("wrong", "words"),
    [(58_500, "not the biases"), (425, "output layer alone"), (61_281, "conv layers too"),
     (59_134, "84 -> 5, not 84 -> 10")],
)  # fmt: skip
def test_top_params_mistakes_get_their_feedback(wrong, words):
    result = check_top_params(wrong)
    assert result.status == "failed"
    assert words in result.message, result.message


def test_each_check_names_the_notebooks_exercise():
    assert check_random_flip(_stub).exercise == "Exercise 8.2"
    assert check_crop_count(...).exercise == "Exercise 8.3"
    assert check_top_params(...).exercise == "Exercise 8.4"


def test_value_placeholders_are_not_attempted():
    assert check_crop_count(...).status == "not attempted"
    assert check_top_params(...).status == "not attempted"
