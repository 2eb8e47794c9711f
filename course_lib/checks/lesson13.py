"""Checks for lesson 13 (looking inside a CNN).

* Exercise 13.2: :func:`check_conv2_receptive_field`, how many input pixels across a unit
  of LeNet-5's second conv layer sees (5x5 conv, 2x2 pool with stride 2, 5x5 conv: 14).
* Exercise 13.3: :func:`check_occlusion`, ``occlusion(score, image, patch, stride, fill)``:
  the drop ``score(image) - score(image with a patch x patch square set to fill)`` for
  every position of the square, moved by ``stride``: an ``(H', W')`` array with
  ``H' = (H - patch) // stride + 1``.
* Exercise 13.5: :func:`check_ascent_step`, one step of gradient ascent on the sphere
  ``||x|| = rho``: ``rho * (x + lr * grad) / ||x + lr * grad||`` (the norm of the whole
  array).

The expected answers come from :func:`course_lib.viz.layer_receptive_field` and from
reference implementations that the tests compare with :func:`course_lib.viz.occlusion_map`
and with torch; the mistakes are the slips learners really make, each with its feedback.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from course_lib.checks import Case, CheckResult, Mistake, check_function, check_value
from course_lib.models import lenet5
from course_lib.viz import layer_receptive_field

__all__ = ["check_ascent_step", "check_conv2_receptive_field", "check_occlusion"]


# ----------------------------------------------------------------------------- Exercise 13.2


def _conv2_field() -> int:
    field = layer_receptive_field(lenet5(), "features.3", (1, 32, 32), device="cpu")
    return int(field.size[0])


RECEPTIVE_FIELD_MISTAKES = [
    Mistake(
        "5 + 5 = 10 adds the two kernels as if the second one moved over input pixels. It "
        "moves over pool1's cells, and each step between neighbouring cells is 2 input "
        "pixels: the second conv adds (5 - 1) x 2 = 8 pixels to conv1's 5, plus the pool's "
        "(2 - 1) x 1 = 1.",
        lambda: 10,
    ),
    Mistake(
        "5 + 5 - 1 = 9 would be two 5x5 convs stacked directly (lesson 02); the pool in "
        "between doubles the step of the second one: it adds (5 - 1) x 2 pixels, not 5 - 1.",
        lambda: 9,
    ),
    Mistake(
        "you forgot the pool's own window: after conv1 (5 pixels) the 2x2 pool adds "
        "(2 - 1) x 1 = 1 pixel, then conv2 adds (5 - 1) x 2 = 8.",
        lambda: 13,
    ),
    Mistake(
        "16 is the field after pool2, one layer further on. The question asks for a unit "
        "of conv2's output itself.",
        lambda: 16,
    ),
    Mistake(
        "5 is conv1's field. conv2's units see a 5x5 window of pool1's cells, and each cell "
        "covers input pixels of its own.",
        lambda: 5,
    ),
]


def check_conv2_receptive_field(value) -> CheckResult:
    """Exercise 13.2: the side, in input pixels, of a conv2 unit's receptive field (14)."""
    return check_value(
        "Exercise 13.2",
        value,
        _conv2_field(),
        mistakes=RECEPTIVE_FIELD_MISTAKES,
        label="the receptive field of a conv2 unit",
    )


# ----------------------------------------------------------------------------- Exercise 13.3


def _weights(shape: tuple[int, int], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape)


_W68, _V68 = _weights((6, 8), 1), _weights((6, 8), 2)
_W97 = _weights((9, 7), 3)


def linear_score(image: np.ndarray) -> float:
    """A template score: the sum of the 6x8 image times fixed weights, plus a bias."""
    return float(np.sum(_W68 * image) + 0.25)


def curved_score(image: np.ndarray) -> float:
    """A non-linear score of a 6x8 image (so that a drop is not a sum of pixel drops)."""
    return float(np.tanh(np.sum(_W68 * image)) + np.sum(_V68 * image**2))


def _tiny_cnn() -> nn.Module:
    """A small CNN for 9x7 images with fixed float64 weights: the score of a real network."""
    net = nn.Sequential(
        nn.Conv2d(1, 3, 3),  # (1, 9, 7) -> (3, 7, 5)
        nn.ReLU(),
        nn.MaxPool2d(2),  # -> (3, 3, 2)
        nn.Flatten(),  # -> (18,)
        nn.Linear(18, 2),
    ).double()
    gen = torch.Generator().manual_seed(13)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64) * 0.5)
    return net.eval()


_CNN = _tiny_cnn()


@torch.no_grad()
def cnn_score(image: np.ndarray) -> float:
    """Class 1's score of a small fixed CNN on a 9x7 image."""
    x = torch.as_tensor(np.asarray(image, dtype=np.float64))[None, None]  # (1, 1, H, W)
    return float(_CNN(x)[0, 1])


def _occlude(score, image, patch, stride, fill, *, start_copy=True, step=None, last=True,
             sign=1.0, drop=True, positions_times_stride=True):
    """The reference (all defaults) and the variants the mistakes below produce."""
    image = np.asarray(image, dtype=np.float64)
    h, w = image.shape
    base = score(image)
    rows = range(0, h - patch + 1, stride) if last else range(0, h - patch, stride)
    cols = range(0, w - patch + 1, stride) if last else range(0, w - patch, stride)
    out = np.zeros((len(rows), len(cols)))
    shared = image.copy()
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            hidden = image.copy() if start_copy else shared
            top, left = (r, c) if positions_times_stride else (i, j)
            hidden[top : top + patch, left : left + patch] = fill
            value = score(hidden)
            out[i, j] = sign * (base - value) if drop else value
    return out


def occlusion_reference(score, image, patch, stride, fill=0.0) -> np.ndarray:
    """The answer: ``out[i, j] = score(image) - score(image with rows i*stride ..
    i*stride + patch - 1 and the same columns from j*stride set to fill)``."""
    return _occlude(score, image, patch, stride, fill)


def _occlusion_cases() -> list[Case]:
    rng = np.random.default_rng(13)
    a = rng.uniform(0.0, 1.0, size=(6, 8))
    b = rng.uniform(0.0, 1.0, size=(9, 7))
    settings = [
        ("a 6x8 image, a linear score, 3x3 square moved by 1", linear_score, a, 3, 1, 0.0),
        ("the same image, a curved score, 2x2 square moved by 2", curved_score, a, 2, 2, 0.0),
        ("a 6x8 image, 4x4 grey square (fill 0.5) moved by 2", curved_score, a, 4, 2, 0.5),
        ("a 9x7 image, a small CNN's score, 3x3 square moved by 2", cnn_score, b, 3, 2, 0.0),
        ("a 9x7 image, a small CNN, 2x2 square moved by 3", cnn_score, b, 2, 3, 0.25),
    ]
    return [
        Case(label, (fn, img, patch, stride), {"fill": fill},
             expected=occlusion_reference(fn, img, patch, stride, fill))
        for label, fn, img, patch, stride, fill in settings
    ]


OCCLUSION_MISTAKES = [
    Mistake(
        "the signs are reversed: the map holds score(image) - score(occluded), so hiding "
        "evidence for the class gives a positive drop.",
        lambda score, image, patch, stride, fill=0.0: _occlude(score, image, patch, stride, fill,
                                                               sign=-1.0),
    ),
    Mistake(
        "you returned the occluded image's score itself; the map is the drop, "
        "score(image) - score(occluded image).",
        lambda score, image, patch, stride, fill=0.0: _occlude(score, image, patch, stride, fill,
                                                               drop=False),
    ),
    Mistake(
        "every square was painted into the same copy of the image, so later positions "
        "also hide all the earlier squares. Copy the image afresh for every position "
        "(occluded = image.copy() inside the loops).",
        lambda score, image, patch, stride, fill=0.0: _occlude(score, image, patch, stride, fill,
                                                               start_copy=False),
    ),
    Mistake(
        "the square at map entry (i, j) starts at row i * stride and column j * stride: "
        "you placed it at row i, column j.",
        lambda score, image, patch, stride, fill=0.0: _occlude(
            score, image, patch, stride, fill, positions_times_stride=False),
    ),
    Mistake(
        "the last position is missing: the square fits at rows 0, stride, ..., up to "
        "H - patch inclusive, i.e. range(0, H - patch + 1, stride).",
        lambda score, image, patch, stride, fill=0.0: _occlude(score, image, patch, stride, fill,
                                                               last=False),
    ),
    Mistake(
        "the square was filled with 0 whatever `fill` says: set it to `fill`.",
        lambda score, image, patch, stride, fill=0.0: _occlude(score, image, patch, stride, 0.0),
    ),
    Mistake(
        "patch and stride are swapped: the square is patch x patch pixels and moves by stride.",
        lambda score, image, patch, stride, fill=0.0: _occlude(score, image, stride, patch, fill),
    ),
]


def check_occlusion(fn) -> CheckResult:
    """Exercise 13.3: ``fn(score, image, patch, stride, fill=0.0)`` -> ``(H', W')`` drops."""
    return check_function("Exercise 13.3", fn, _occlusion_cases(), mistakes=OCCLUSION_MISTAKES)


# ----------------------------------------------------------------------------- Exercise 13.5


def ascent_step_reference(x: np.ndarray, grad: np.ndarray, lr: float, rho: float) -> np.ndarray:
    """``rho * (x + lr * grad) / ||x + lr * grad||``, the norm over every entry."""
    stepped = np.asarray(x, dtype=np.float64) + lr * np.asarray(grad, dtype=np.float64)
    return rho * stepped / np.linalg.norm(stepped)


def _on_sphere(shape: tuple[int, ...], rho: float, rng: np.random.Generator) -> np.ndarray:
    x = rng.normal(size=shape)
    return rho * x / np.linalg.norm(x)


def _ascent_cases() -> list[Case]:
    rng = np.random.default_rng(4)
    settings = [
        ("a 2x3 x on the sphere of radius 1, lr 0.5", (2, 3), 1.0, 0.5),
        ("a 1x4x5 image on the sphere of radius 3, lr 0.1", (1, 4, 5), 3.0, 0.1),
        ("a 3x2 x, radius 8, a large step (lr 2)", (3, 2), 8.0, 2.0),
    ]
    cases = []
    for label, shape, rho, lr in settings:
        x, grad = _on_sphere(shape, rho, rng), rng.normal(size=shape)
        cases.append(Case(label, (x, grad, lr, rho),
                          expected=ascent_step_reference(x, grad, lr, rho)))
    return cases


def _rowwise(x: Any, grad: Any, lr: float, rho: float) -> np.ndarray:
    s = np.asarray(x) + lr * np.asarray(grad)
    return rho * s / np.linalg.norm(s, axis=-1, keepdims=True)


ASCENT_MISTAKES = [
    Mistake(
        "you took the step but did not project back onto the sphere: divide x + lr * grad "
        "by its norm and multiply by rho, so that ||x|| = rho again.",
        lambda x, grad, lr, rho: x + lr * grad,
    ),
    Mistake(
        "your result has norm 1: after dividing by the norm, multiply by rho.",
        lambda x, grad, lr, rho: (x + lr * grad) / np.linalg.norm(x + lr * grad),
    ),
    Mistake(
        "x - lr * grad is a step of gradient *descent*: it lowers the unit's activation. "
        "Ascent adds the gradient: x + lr * grad.",
        lambda x, grad, lr, rho: ascent_step_reference(x, -grad, lr, rho),
    ),
    Mistake(
        "you normalised the gradient (x + lr * grad / ||grad||) instead of the stepped "
        "point; the constraint is on x: project x + lr * grad onto ||x|| = rho.",
        lambda x, grad, lr, rho: x + lr * grad / np.linalg.norm(grad),
    ),
    Mistake(
        "you normalised each row separately (axis=-1); ||x|| is the norm of the whole "
        "array: np.linalg.norm(s) or np.sqrt(np.sum(s ** 2)), without an axis.",
        _rowwise,
    ),
]


def check_ascent_step(fn) -> CheckResult:
    """Exercise 13.5: ``fn(x, grad, lr, rho)`` is one projected gradient-ascent step."""
    return check_function("Exercise 13.5", fn, _ascent_cases(), mistakes=ASCENT_MISTAKES)
