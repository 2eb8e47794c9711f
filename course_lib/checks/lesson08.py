"""Checks for lesson 08 (data augmentation and transfer learning).

* Exercise 8.1 is interactive (the lesson's widget), unchecked.
* Exercise 8.2: :func:`check_random_flip`, ``random_hflip(x, p, generator)``: mirror each
  image of a batch (N, C, H, W) left-right with probability ``p``, drawing exactly one
  uniform number per image, ``u = torch.rand(N, generator=generator)``, and flipping
  image i where ``u[i] < p``. ``generator`` arrives as an int seed (the stub turns it
  into a ``torch.Generator`` with :func:`course_lib.validate.check_generator`), so each
  case's flips are fixed; the expected answers are those of
  :func:`course_lib.data.random_flip`, which draws the same way.
* Exercise 8.3: :func:`check_crop_count`, how many different training images random
  crops with ``padding`` 4 and flips make of one 32x32 image: (2 * 4 + 1)^2 * 2 = 162.
* Exercise 8.4: :func:`check_top_params`, how many parameters "fine-tune the top" trains
  in the lesson's LeNet-5 with a 5-class output layer: its three FC layers, 58,709.

The mistakes are the slips learners make, each with its own feedback.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from course_lib.checks import Case, CheckResult, Mistake, check_function, check_value
from course_lib.data import random_flip
from course_lib.models import lenet5
from course_lib.shapes import count_parameters

__all__ = ["CROP_IMAGE", "CROP_PADDING", "check_crop_count", "check_random_flip",
           "check_top_params"]  # fmt: skip

CROP_IMAGE = 32  # Exercise 8.3: a 32x32 image ...
CROP_PADDING = 4  # ... zero-padded by 4 on every side, then cut back to 32x32


# --------------------------------------------------------------------------- Exercise 8.2


def _batch(n: int, c: int, h: int, w: int, offset: float) -> torch.Tensor:
    """A batch of images in [0, 1] with values that are not whole numbers, float64."""
    k = torch.arange(n * c * h * w, dtype=torch.float64)
    return (0.5 + 0.45 * torch.sin(0.77 * k + offset)).reshape(n, c, h, w)


def _expected(x: torch.Tensor, p: float, seed: int) -> np.ndarray:
    return random_flip(x, p=p, generator=seed).numpy()


def _flip_cases() -> list[Case]:
    settings = [
        ("p = 0: no image flips (4 RGB images of 4x5)", (4, 3, 4, 5), 0.0, 5, 0.0),
        ("p = 1: every image flips (2 grey images of 3x6)", (2, 1, 3, 6), 1.0, 5, 1.0),
        ("p = 0.5, seed 1: 6 grey images of 4x5", (6, 1, 4, 5), 0.5, 1, 2.0),
        ("p = 0.5, the same images with seed 7", (6, 1, 4, 5), 0.5, 7, 2.0),
        ("p = 0.3, seed 11: 8 two-channel images of 3x7", (8, 2, 3, 7), 0.3, 11, 3.0),
    ]
    cases = []
    for label, shape, p, seed, offset in settings:
        x = _batch(*shape, offset)
        cases.append(Case(label, (x, p, seed), expected=_expected(x, p, seed)))
    return cases


def _draws(x: torch.Tensor, seed: int) -> torch.Tensor:
    return torch.rand(x.shape[0], generator=torch.Generator().manual_seed(seed))


def _where(flip: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.where(flip.reshape(-1, 1, 1, 1), a, b)


def _own_randomness(got: Any, expected: Any, x: Any, p: float, seed: int) -> bool:
    """Each image came back as itself or its mirror, but not the generator's choice."""
    if not 0.0 < p < 1.0 or not isinstance(got, torch.Tensor | np.ndarray):
        return False
    g = torch.as_tensor(np.asarray(got) if isinstance(got, np.ndarray) else got.detach().cpu())
    if tuple(g.shape) != tuple(x.shape):
        return False
    g = g.to(torch.float64)
    same = (g - x).abs().amax(dim=(1, 2, 3)) < 1e-6
    mirrored = (g - x.flip(-1)).abs().amax(dim=(1, 2, 3)) < 1e-6
    return bool((same | mirrored).all()) and not np.allclose(g.numpy(), expected)


FLIP_MISTAKES = [
    Mistake(
        "you flipped upside down (along H, dim -2). A left-right mirror reverses the columns: "
        "x.flip(-1) (or torch.flip(x, dims=[3])).",
        lambda x, p, seed: _where(_draws(x, seed) < p, x.flip(-2), x),
    ),
    Mistake(
        "you reversed the channels (dim 1), not the columns: a left-right mirror is "
        "x.flip(-1); the last dimension is W.",
        lambda x, p, seed: _where(_draws(x, seed) < p, x.flip(1), x),
    ),
    Mistake(
        "your flips happen with probability 1 - p: flip image i where u[i] < p (u uniform "
        "in [0, 1)), not where u[i] >= p or u[i] > p. With p = 0 nothing may flip.",
        lambda x, p, seed: _where(_draws(x, seed) >= p, x.flip(-1), x),
    ),
    Mistake(
        "u > 1 - p flips each image with probability p too, but not the images this "
        "exercise fixes: flip where u < p, as the library's random_flip does, so that one "
        "seed gives the same flips in every implementation.",
        lambda x, p, seed: _where(_draws(x, seed) > 1 - p, x.flip(-1), x),
    ),
    Mistake(
        "the mask u < p has shape (N,), and broadcasting lines it up with the LAST axis "
        "(W), not with the images: reshape it to (N, 1, 1, 1) first "
        "(flip = (u < p).reshape(-1, 1, 1, 1)).",
        lambda x, p, seed: torch.where(_draws(x, seed) < p, x.flip(-1), x),
    ),
    Mistake(
        "you flipped every image whatever p says: draw u = torch.rand(N, generator=generator) "
        "and flip only where u < p.",
        lambda x, p, seed: x.flip(-1),
    ),
    Mistake(
        "one coin for the whole batch: either all images flipped or none. Each image gets "
        "its own draw: u = torch.rand(N, generator=generator), one number per image.",
        lambda x, p, seed: x.flip(-1) if _draws(x[:1], seed)[0] < p else x.clone(),
    ),
    Mistake(
        "you drew one number per pixel, so each image became a patchwork of itself and its "
        "mirror. Draw one number per image: torch.rand(N, generator=generator), then reshape "
        "it to (N, 1, 1, 1) to broadcast.",
        lambda x, p, seed: torch.where(
            torch.rand(x.shape, generator=torch.Generator().manual_seed(seed)) < p, x.flip(-1), x
        ),
    ),
    Mistake(
        "each image is either itself or its mirror, but not the ones the generator picks: "
        "draw with the generator you are given (torch.rand(N, generator=generator)), once, "
        "and nothing else: not torch.rand without it, not np.random, not a second draw first.",
        matches=_own_randomness,
    ),
]


def check_random_flip(fn) -> CheckResult:
    """Exercise 8.2: ``fn(x, p, generator)`` flips each image left-right where ``u < p``."""
    return check_function("Exercise 8.2", fn, _flip_cases(), mistakes=FLIP_MISTAKES)


# --------------------------------------------------------------------------- Exercise 8.3


def _crop_mistakes() -> list[Mistake]:
    n, pad = CROP_IMAGE, CROP_PADDING
    pos = 2 * pad + 1
    return [
        Mistake(
            f"that counts the crops only: each of the {pos * pos} crops can also be flipped or "
            "not, which doubles the count.",
            lambda: pos * pos,
        ),
        Mistake(
            f"off by one: with padding {pad} the window's top-left corner can move from 0 to "
            f"2 * {pad} = {2 * pad}, that is {pos} positions per axis, not {2 * pad}.",
            lambda: (2 * pad) ** 2 * 2,
        ),
        Mistake(
            f"the crop moves along both axes independently: {pos} rows times {pos} columns, "
            f"not {pos} positions in all.",
            lambda: pos * 2,
        ),
        Mistake(
            f"the padded image is {n + 2 * pad} pixels wide, but the crop is {n} pixels, so it "
            f"fits {n + 2 * pad} - {n} + 1 = {pos} times per axis (the n - f + 1 of lesson 02), "
            f"not {n + 2 * pad}.",
            lambda: (n + 2 * pad) ** 2 * 2,
        ),
        Mistake(
            f"the padding is added on both sides, so the window has {pos} positions per axis "
            f"(0 to {2 * pad}), not {pad + 1}.",
            lambda: (pad + 1) ** 2 * 2,
        ),
    ]


def check_crop_count(value) -> CheckResult:
    """Exercise 8.3: different images from random crops (padding 4) and flips of a 32x32 image."""
    pos = 2 * CROP_PADDING + 1
    return check_value(
        "Exercise 8.3", value, pos * pos * 2, mistakes=_crop_mistakes(),
        label="the number of different augmented images",
    )  # fmt: skip


# --------------------------------------------------------------------------- Exercise 8.4


def _top_mistakes() -> list[Mistake]:
    net = lenet5(num_classes=5)
    fcs = [m for m in net.classifier if isinstance(m, torch.nn.Linear)]
    weights = sum(m.weight.numel() for m in fcs)
    last = fcs[-1].weight.numel() + fcs[-1].bias.numel()
    ten = lenet5(num_classes=10)
    return [
        Mistake(
            "you counted the weights but not the biases: each FC layer also has one bias per "
            "output unit (120 + 84 + 5 of them).",
            lambda: weights,
        ),
        Mistake(
            f"that is the output layer alone ({last}): 'frozen features'. 'Fine-tune the top' "
            "trains all three FC layers.",
            lambda: last,
        ),
        Mistake(
            "that counts every parameter, the conv layers too: 'fine-tune all'. The convs are "
            "frozen here.",
            lambda: count_parameters(net),
        ),
        Mistake(
            "the target task has 5 classes (the digits 5-9), so the new output layer is "
            "84 -> 5, not 84 -> 10.",
            lambda: sum(p.numel() for p in ten.classifier.parameters()),
        ),
    ]


def check_top_params(value) -> CheckResult:
    """Exercise 8.4: parameters trained by "fine-tune the top" (LeNet-5's FC layers, 5 classes)."""
    net = lenet5(num_classes=5)
    expected = sum(p.numel() for p in net.classifier.parameters())
    return check_value(
        "Exercise 8.4", value, expected, mistakes=_top_mistakes(),
        label="the number of parameters trained",
    )  # fmt: skip
