"""Lesson 08's augmentation experiments: when random changes of the training images help,
and when they destroy the very thing the labels are about.

* **Augmentation helps a small training set.** :func:`augmentation_experiment` trains
  LeNet-5 (:func:`course_lib.models.lenet5`) twice on the same few labelled digits
  (:func:`few_labels`: ``n_per_class`` of each class drawn from the 1,257 training
  digits of :func:`course_lib.data.load_digits`), with the same seed, recipe and initial
  weights, once on the images as they are and once on randomly cropped, rotated and
  shifted copies drawn afresh for every batch (:class:`course_lib.data.Augment`). Both
  are scored on the 360 untouched test digits. The claim: augmentation raises test
  accuracy by at least ``margin`` (3 points by default).
* **Augmentation can be wrong.** :func:`make_organ_scans` draws synthetic "chest scans":
  a grey body with a bright heart on one side and a larger, dimmer liver on the other.
  The label is the side of the heart (the image's right, as in a normal chest image
  read in the radiological convention, or its left, as in the rare mirrored anatomy
  *situs inversus*). A left-right flip turns one class into the other, so flipping the
  training images with probability 0.5 while keeping their labels gives the network
  contradictory examples. :func:`flip_harm_experiment` trains the same network with and
  without random flips; the claim: flipping costs at least ``margin`` (20 points by
  default) of test accuracy.

Every run is one :class:`course_lib.recipes.Recipe`; the functions take ``seed`` and
``num_threads`` (1 by default; None leaves torch's setting) and override the recipe's.

Source: lesson 08 ("Data augmentation and transfer learning"); Simard, Steinkraus and
Platt (2003), "Best practices for convolutional neural networks applied to visual
document analysis" (elastic and affine distortions of digits); Krizhevsky, Sutskever and
Hinton (2012), "ImageNet classification with deep convolutional neural networks"
(random crops, flips and colour changes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import TensorDataset

from course_lib.data import Augment, DataSplits, check_splits, load_digits
from course_lib.device import resolve_device, set_seed
from course_lib.models import lenet5
from course_lib.recipes import Recipe, train_with
from course_lib.validate import check_int, check_number, check_seed

__all__ = [
    "AUGMENT_RECIPE",
    "LESSON_AUGMENT",
    "ORGAN_CLASSES",
    "AugmentationResult",
    "FlipHarmResult",
    "augmentation_experiment",
    "few_labels",
    "flip_harm_experiment",
    "make_organ_scans",
    "organ_splits",
]

# Small crops (2-pixel padding), rotations up to 15 degrees, shifts up to 5% of the side.
LESSON_AUGMENT = Augment(crop=2, degrees=15.0, shift=0.05)
# Adam with a one-cycle schedule; 80 epochs of a 50-image set are 160 steps of 25.
AUGMENT_RECIPE = Recipe(epochs=80, lr=3e-3, batch_size=25, time_budget_s=None)
ORGAN_CLASSES = ("heart on the image's right", "heart on the image's left")


def _check_recipe(recipe) -> Recipe:
    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe is a {type(recipe).__name__}; expected a course_lib.recipes.Recipe")
    return recipe


def _threads(num_threads) -> int | None:
    if num_threads is None:
        return None
    return check_int("num_threads", num_threads, minimum=1, maximum=1024)


# --------------------------------------------------------------------------- data


def few_labels(dataset: TensorDataset, n_per_class: int, *, seed: int = 0) -> TensorDataset:
    """``n_per_class`` examples of every class in ``dataset`` (a ``TensorDataset(x, y)``),
    drawn without replacement by ``seed``, kept in their original order.

    A class with fewer than ``n_per_class`` examples raises ``ValueError``.
    """
    if not isinstance(dataset, TensorDataset) or len(dataset.tensors) != 2:
        raise TypeError(
            f"dataset is a {type(dataset).__name__}; expected a TensorDataset(x, y) of images "
            "and labels"
        )
    n_per_class = check_int("n_per_class", n_per_class, minimum=1)
    seed = check_seed("seed", seed)
    x, y = dataset.tensors
    labels = y.detach().cpu().numpy()
    rng = np.random.default_rng(seed)
    chosen = []
    for c in np.unique(labels):
        where = np.flatnonzero(labels == c)
        if len(where) < n_per_class:
            raise ValueError(
                f"n_per_class={n_per_class} is more than the {len(where)} examples of class {c}"
            )
        chosen.append(rng.choice(where, n_per_class, replace=False))
    idx = torch.from_numpy(np.sort(np.concatenate(chosen))).to(x.device)  # (n_per_class * K,)
    return TensorDataset(x[idx], y[idx.to(y.device)])


def make_organ_scans(
    n: int, *, size: int = 32, seed: int = 0, device: torch.device | str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` synthetic chest scans, images (n, 1, size, size) float32 in [0, 1] and
    labels (n,) int64 indexing :data:`ORGAN_CLASSES`.

    Each scan: a dim elliptical body (random size and position), a bright heart (a disc)
    on one side of the body's midline and a larger, dimmer liver (an ellipse) lower on
    the other side, plus Gaussian noise. Label 0: the heart is on the image's right;
    label 1: on its left. Mirroring a scan left-right gives a scan of the other class.
    Deterministic in (n, size, seed); the classes alternate 0, 1, 0, ... before shuffling.
    """
    n = check_int("n", n, minimum=1, what="a positive int (number of scans)")
    size = check_int("size", size, minimum=16, maximum=256, what="an int in [16, 256] (pixels)")
    seed = check_seed("seed", seed)
    device = resolve_device(device)
    rng = np.random.default_rng(seed)
    s = float(size)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5  # pixel centres, (S, S)
    labels = rng.permutation(np.arange(n) % 2)  # (n,) balanced classes
    cx = s / 2 + rng.uniform(-0.06, 0.06, n) * s  # body centre
    cy = s / 2 + rng.uniform(-0.06, 0.06, n) * s
    rx, ry = rng.uniform(0.36, 0.44, n) * s, rng.uniform(0.40, 0.47, n) * s  # body radii
    side = np.where(labels == 0, 1.0, -1.0)  # +1: heart on the image's right
    hx = cx + side * rng.uniform(0.12, 0.2, n) * s  # heart centre and radius
    hy = cy - rng.uniform(0.0, 0.12, n) * s
    hr = rng.uniform(0.09, 0.13, n) * s
    lx = cx - side * rng.uniform(0.1, 0.18, n) * s  # liver: the other side, lower
    ly = cy + rng.uniform(0.08, 0.2, n) * s
    lrx, lry = rng.uniform(0.14, 0.2, n) * s, rng.uniform(0.08, 0.12, n) * s

    def inside(ax, ay, bx, by):  # (n, S, S) ellipse masks
        return ((xx - ax[:, None, None]) / bx[:, None, None]) ** 2 + (
            (yy - ay[:, None, None]) / by[:, None, None]
        ) ** 2 <= 1.0

    body = inside(cx, cy, rx, ry)
    img = 0.05 + 0.25 * body  # (n, S, S)
    img = np.where(inside(lx, ly, lrx, lry) & body, rng.uniform(0.45, 0.6, n)[:, None, None], img)
    img = np.where(inside(hx, hy, hr, hr), rng.uniform(0.75, 0.95, n)[:, None, None], img)
    img = img + rng.normal(0.0, 0.06, img.shape)  # sensor noise
    x = torch.from_numpy(np.clip(img, 0.0, 1.0).astype(np.float32))[:, None]  # (n, 1, S, S)
    return x.to(device), torch.from_numpy(labels.astype(np.int64)).to(device)


def organ_splits(
    n_train: int = 200,
    n_test: int = 400,
    *,
    size: int = 32,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> DataSplits:
    """Train, validation (a twentieth of ``n_test``, at least 2) and test scans of
    :func:`make_organ_scans`, each part drawn from its own seed derived from ``seed``."""
    n_train = check_int("n_train", n_train, minimum=2)
    n_test = check_int("n_test", n_test, minimum=2)
    seed = check_seed("seed", seed)
    device = resolve_device(device)
    base = 3 * (seed % (2**30))  # three disjoint seeds per lesson seed

    def part(n: int, k: int) -> TensorDataset:
        return TensorDataset(*make_organ_scans(n, size=size, seed=base + k, device=device))

    return DataSplits(part(n_train, 0), part(max(2, n_test // 20), 1), part(n_test, 2),
                      ORGAN_CLASSES)  # fmt: skip


# --------------------------------------------------------------------------- experiment 1


@dataclass(frozen=True)
class AugmentationResult:
    """Test accuracy of the same network trained on ``n_train`` images without and with
    augmentation (``augment`` describes the steps), and the margin the claim asks for."""

    accuracy_plain: float
    accuracy_augmented: float
    n_train: int
    n_test: int
    epochs: int
    augment: str
    margin: float
    seed: int

    @property
    def gain(self) -> float:
        return self.accuracy_augmented - self.accuracy_plain

    @property
    def claim_holds(self) -> bool:
        return self.gain >= self.margin

    def sentence(self) -> str:
        verdict = "holds" if self.claim_holds else "does NOT hold"
        return (
            f"Experiment: trained on only {self.n_train} labelled digits for {self.epochs} "
            f"epochs (seed {self.seed}), LeNet-5 scored {100 * self.accuracy_plain:.1f}% on "
            f"{self.n_test} test digits without augmentation and "
            f"{100 * self.accuracy_augmented:.1f}% with it ({self.augment}): a gain of "
            f"{100 * self.gain:.1f} points; the claim (at least {100 * self.margin:.0f} "
            f"points) {verdict}."
        )


def _describe(augment: Augment) -> str:
    parts = []
    if augment.flip:
        parts.append(f"flips with p = {augment.flip:g}")
    if augment.crop:
        parts.append(f"crops with {augment.crop}-pixel padding")
    if augment.degrees:
        parts.append(f"rotations up to {augment.degrees:g} degrees")
    if augment.shift:
        parts.append(f"shifts up to {100 * augment.shift:g}% of the side")
    if augment.colour:
        parts.append(f"colour casts up to {augment.colour:g}")
    return ", ".join(parts) if parts else "no steps"


def augmentation_experiment(
    data: DataSplits | None = None,
    recipe: Recipe = AUGMENT_RECIPE,
    *,
    augment: Augment = LESSON_AUGMENT,
    n_per_class: int = 5,
    margin: float = 0.03,
    seed: int = 0,
    device: torch.device | str | None = None,
    num_threads: int | None = 1,
) -> AugmentationResult:
    """Train LeNet-5 on ``n_per_class`` digits of each class, without and with ``augment``.

    ``data`` defaults to :func:`course_lib.data.load_digits` (split by ``seed``); the
    training images are :func:`few_labels` of ``data.train`` (by ``seed``), the
    validation images one per class of ``data.val``; the test part is used whole. Both runs start from the same weights
    (``set_seed(seed)``) and follow ``recipe`` with ``seed`` and ``num_threads``.
    """
    recipe = _check_recipe(recipe)
    data = check_splits("data", data, allow_none=True)
    if not isinstance(augment, Augment):
        raise TypeError(f"augment is a {type(augment).__name__}; expected a course_lib.data.Augment")
    n_per_class = check_int("n_per_class", n_per_class, minimum=1)
    margin = check_number("margin", margin, minimum=0.0, below=1.0, what="a fraction in [0, 1)")
    seed = check_seed("seed", seed)
    num_threads = _threads(num_threads)
    device = resolve_device(device)
    if data is None:
        data = load_digits(seed=seed, device=device)
    # validation only draws the curves (nothing is chosen by it): one image per class will do
    small = DataSplits(few_labels(data.train, n_per_class, seed=seed),
                       few_labels(data.val, 1, seed=seed), data.test, data.classes)  # fmt: skip
    in_channels = small.train.tensors[0].shape[1]
    accuracy = {}
    for name, steps in (("plain", None), ("augmented", augment)):
        set_seed(seed)
        model = lenet5(in_channels=in_channels, num_classes=len(data.classes))
        run = recipe.replace(augment=steps, seed=seed, num_threads=num_threads)
        _, accuracy[name] = train_with(model, small, run, device=device)
    return AugmentationResult(
        accuracy_plain=accuracy["plain"],
        accuracy_augmented=accuracy["augmented"],
        n_train=len(small.train),
        n_test=len(small.test),
        epochs=recipe.epochs,
        augment=_describe(augment),
        margin=margin,
        seed=seed,
    )


# --------------------------------------------------------------------------- experiment 2

FLIP_RECIPE = Recipe(epochs=15, lr=3e-3, batch_size=25, time_budget_s=None)


@dataclass(frozen=True)
class FlipHarmResult:
    """Test accuracy on the organ-side task without and with random left-right flips."""

    accuracy_plain: float
    accuracy_flipped: float
    n_train: int
    n_test: int
    epochs: int
    margin: float
    seed: int

    @property
    def harm(self) -> float:
        return self.accuracy_plain - self.accuracy_flipped

    @property
    def claim_holds(self) -> bool:
        return self.harm >= self.margin

    def sentence(self) -> str:
        verdict = "holds" if self.claim_holds else "does NOT hold"
        return (
            f"Experiment: on {self.n_test} synthetic test scans where the label is the side "
            f"of the heart, LeNet-5 trained on {self.n_train} scans for {self.epochs} epochs "
            f"(seed {self.seed}) scored {100 * self.accuracy_plain:.1f}% without flips and "
            f"{100 * self.accuracy_flipped:.1f}% with random left-right flips (p = 0.5): "
            f"flipping cost {100 * self.harm:.1f} points; the claim (at least "
            f"{100 * self.margin:.0f} points) {verdict}."
        )


def flip_harm_experiment(
    data: DataSplits | None = None,
    recipe: Recipe = FLIP_RECIPE,
    *,
    margin: float = 0.2,
    seed: int = 0,
    device: torch.device | str | None = None,
    num_threads: int | None = 1,
) -> FlipHarmResult:
    """Train LeNet-5 on the organ-side task without and with ``Augment(flip=0.5)``.

    ``data`` defaults to :func:`organ_splits` (200 train, 20 validation and 400 test
    scans, by ``seed``). Both runs start from the same weights and follow ``recipe``
    with ``seed`` and ``num_threads``.
    """
    recipe = _check_recipe(recipe)
    data = check_splits("data", data, allow_none=True)
    margin = check_number("margin", margin, minimum=0.0, below=1.0, what="a fraction in [0, 1)")
    seed = check_seed("seed", seed)
    num_threads = _threads(num_threads)
    device = resolve_device(device)
    if data is None:
        data = organ_splits(seed=seed, device=device)
    in_channels = data.train.tensors[0].shape[1]
    accuracy = {}
    for name, steps in (("plain", None), ("flipped", Augment(flip=0.5))):
        set_seed(seed)
        model = lenet5(in_channels=in_channels, num_classes=len(data.classes))
        run = recipe.replace(augment=steps, seed=seed, num_threads=num_threads)
        _, accuracy[name] = train_with(model, data, run, device=device)
    return FlipHarmResult(
        accuracy_plain=accuracy["plain"],
        accuracy_flipped=accuracy["flipped"],
        n_train=len(data.train),
        n_test=len(data.test),
        epochs=recipe.epochs,
        margin=margin,
        seed=seed,
    )
