"""Lesson 08's transfer-learning experiment: features learnt on one task, reused on another.

Both tasks use the course digits placed at a random (fixed, seeded) spot on a 32x32
canvas (:func:`course_lib.data.load_digits_anywhere`), so a network has to find a
digit's strokes wherever they are:

* the **source task**: tell apart the digits 0-4, with every training image of them
  (about 630) labelled; LeNet-5 (:func:`course_lib.models.lenet5`, five outputs) is
  trained on it by :data:`SOURCE_RECIPE`;
* the **target task**: tell apart the digits 5-9, with only ``n_per_class`` labelled
  images of each (25 by default); scored on every test image of 5-9.

:func:`transfer_experiment` trains the target network four ways (:data:`STRATEGIES`),
each by :data:`TARGET_RECIPE` from the same seed:

- ``"from scratch"``: random weights, every layer trained;
- ``"frozen features"``: the source network with a new output layer (84 -> 5); only
  that layer is trained (the rest keeps ``requires_grad=False``);
- ``"fine-tune the top"``: the conv layers frozen, the three FC layers trained;
- ``"fine-tune all"``: every layer trained, starting from the source weights.

The claim: frozen features beat training from scratch by at least ``margin`` (5 points
by default) of test accuracy. The other two rows are tabulated, not claimed.

With ImageNet-pretrained weights the recipe is the same; this course runs offline and
never downloads them. With internet access they would come from torchvision's weights
API, e.g. ``torchvision.models.resnet18(weights=torchvision.models.ResNet18_Weights.DEFAULT)``.

Source: lesson 08; Yosinski, Clune, Bengio and Lipson (2014), "How transferable are
features in deep neural networks?" (a split of one dataset's classes into two tasks, and
which layers to freeze); CS231n's notes on transfer learning.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import TensorDataset

from course_lib.data import DataSplits, check_splits, load_digits_anywhere
from course_lib.device import resolve_device, set_seed
from course_lib.experiments.augmentation import few_labels
from course_lib.models import lenet5
from course_lib.models.lenet import LeNet5
from course_lib.recipes import Recipe, train_with
from course_lib.validate import check_choice, check_int, check_number, check_seed

__all__ = [
    "SOURCE_RECIPE",
    "STRATEGIES",
    "TARGET_RECIPE",
    "TransferResult",
    "class_subset",
    "prepare_for_target",
    "trainable_parameters",
    "transfer_experiment",
]

STRATEGIES = ("from scratch", "frozen features", "fine-tune the top", "fine-tune all")
SOURCE_RECIPE = Recipe(epochs=25, lr=3e-3, batch_size=64, time_budget_s=None)
TARGET_RECIPE = Recipe(epochs=100, lr=3e-3, batch_size=25, scheduler=None, time_budget_s=None)
SOURCE_CLASSES = (0, 1, 2, 3, 4)
TARGET_CLASSES = (5, 6, 7, 8, 9)


def class_subset(dataset: TensorDataset, classes: tuple[int, ...]) -> TensorDataset:
    """The examples of ``dataset`` whose label is in ``classes``, relabelled 0, 1, ...
    in the order of ``classes`` (so digits 5-9 become classes 0-4)."""
    if not isinstance(dataset, TensorDataset) or len(dataset.tensors) != 2:
        raise TypeError(
            f"dataset is a {type(dataset).__name__}; expected a TensorDataset(x, y)"
        )
    if not isinstance(classes, tuple | list) or not classes:
        raise TypeError(f"classes={classes!r} must be a non-empty tuple of class labels")
    classes = tuple(check_int("classes", c, minimum=0) for c in classes)
    if len(set(classes)) != len(classes):
        raise ValueError(f"classes={classes!r} names a class twice")
    x, y = dataset.tensors
    new = torch.full_like(y, -1)
    for i, c in enumerate(classes):
        new[y == c] = i
    keep = new >= 0  # (N,) examples of the chosen classes
    return TensorDataset(x[keep], new[keep])


def prepare_for_target(
    source: nn.Module | None, strategy: str, *, num_classes: int = 5, in_channels: int = 1
) -> LeNet5:
    """The network a strategy starts the target task from (a new module; ``source`` is
    not changed).

    ``source`` is a trained :class:`~course_lib.models.lenet.LeNet5` (ignored, and may be
    None, for ``"from scratch"``). Its output layer is replaced by a fresh
    ``Linear(84, num_classes)`` and parameters the strategy freezes get
    ``requires_grad=False``. Seed with ``set_seed`` first: new layers are random.
    """
    strategy = check_choice("strategy", strategy, STRATEGIES)
    num_classes = check_int("num_classes", num_classes, minimum=1)
    in_channels = check_int("in_channels", in_channels, minimum=1)
    if strategy == "from scratch":
        return lenet5(in_channels=in_channels, num_classes=num_classes)
    if not isinstance(source, LeNet5):
        raise TypeError(
            f"source is a {type(source).__name__}; expected the trained LeNet-5 of the source task"
        )
    model = copy.deepcopy(source)
    last = model.classifier[-1]
    model.classifier[-1] = nn.Linear(last.in_features, num_classes).to(last.weight.device)
    trained = {
        "frozen features": ("classifier.5.",),  # the new output layer only
        "fine-tune the top": ("classifier.",),  # the FC layers, not the convs
        "fine-tune all": ("",),
    }[strategy]
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith(trained))
    return model


def trainable_parameters(model: nn.Module) -> int:
    """How many of ``model``'s parameters have ``requires_grad=True`` (are trained)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model is a {type(model).__name__}; expected a torch nn.Module")
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@dataclass(frozen=True)
class TransferResult:
    """Per strategy: target test accuracy and the number of parameters trained; plus the
    source network's accuracy on its own task."""

    accuracy: dict[str, float]
    trained_params: dict[str, int]
    source_accuracy: float
    n_labels: int
    n_test: int
    margin: float
    seed: int

    @property
    def gain(self) -> float:
        """Frozen features' test accuracy minus training from scratch's."""
        return self.accuracy["frozen features"] - self.accuracy["from scratch"]

    @property
    def claim_holds(self) -> bool:
        return self.gain >= self.margin

    def table(self) -> str:
        """One line per strategy: parameters trained, test accuracy, against scratch."""
        lines = [f"{'strategy':<19}{'trained params':>15}{'test accuracy':>15}{'vs scratch':>12}"]
        for name in STRATEGIES:
            diff = self.accuracy[name] - self.accuracy["from scratch"]
            lines.append(
                f"{name:<19}{self.trained_params[name]:>15,}{100 * self.accuracy[name]:>14.1f}%"
                f"{100 * diff:>+8.1f} pts"
            )
        return "\n".join(lines)

    def sentence(self) -> str:
        verdict = "holds" if self.claim_holds else "does NOT hold"
        return (
            f"Experiment: with only {self.n_labels} labelled images of the digits 5-9 "
            f"(seed {self.seed}), features learnt on the digits 0-4 (source accuracy "
            f"{100 * self.source_accuracy:.1f}%) and frozen scored "
            f"{100 * self.accuracy['frozen features']:.1f}% on {self.n_test} test images, "
            f"against {100 * self.accuracy['from scratch']:.1f}% for the same network "
            f"trained from scratch: a gain of {100 * self.gain:.1f} points; the claim (at "
            f"least {100 * self.margin:.0f} points) {verdict}."
        )


def transfer_experiment(
    data: DataSplits | None = None,
    source_recipe: Recipe = SOURCE_RECIPE,
    target_recipe: Recipe = TARGET_RECIPE,
    *,
    n_per_class: int = 5,
    margin: float = 0.05,
    seed: int = 0,
    device: torch.device | str | None = None,
    num_threads: int | None = 1,
) -> TransferResult:
    """Pretrain on the digits 0-4, then train the four :data:`STRATEGIES` on 5-9.

    ``data`` defaults to :func:`course_lib.data.load_digits_anywhere` (by ``seed``); it
    must hold labels 0-9. The source network trains on every 0-4 image of ``data.train``
(validated on two per class of ``data.val``, scored on the 0-4 of ``data.test``);
    each strategy on ``n_per_class`` images of each of 5-9 (:func:`few_labels`, by
    ``seed``), validated on one per class of ``data.val`` and scored on all 5-9 of
    ``data.test``. Recipes run with ``seed`` and ``num_threads``.
    """
    for name, r in (("source_recipe", source_recipe), ("target_recipe", target_recipe)):
        if not isinstance(r, Recipe):
            raise TypeError(f"{name} is a {type(r).__name__}; expected a course_lib.recipes.Recipe")
    check_splits("data", data, allow_none=True)
    n_per_class = check_int("n_per_class", n_per_class, minimum=1)
    margin = check_number("margin", margin, minimum=0.0, below=1.0, what="a fraction in [0, 1)")
    seed = check_seed("seed", seed)
    if num_threads is not None:
        num_threads = check_int("num_threads", num_threads, minimum=1, maximum=1024)
    device = resolve_device(device)
    if data is None:
        data = load_digits_anywhere(seed=seed, device=device)
    k = len(SOURCE_CLASSES)
    # validation only draws the curves (nothing is chosen by it): a few images per class
    source_data = DataSplits(
        class_subset(data.train, SOURCE_CLASSES),
        few_labels(class_subset(data.val, SOURCE_CLASSES), 2, seed=seed),
        class_subset(data.test, SOURCE_CLASSES),
        tuple(str(c) for c in SOURCE_CLASSES),
    )
    target_data = DataSplits(
        few_labels(class_subset(data.train, TARGET_CLASSES), n_per_class, seed=seed),
        few_labels(class_subset(data.val, TARGET_CLASSES), 1, seed=seed),
        class_subset(data.test, TARGET_CLASSES),
        tuple(str(c) for c in TARGET_CLASSES),
    )
    in_channels = data.train.tensors[0].shape[1]
    set_seed(seed)
    source = lenet5(in_channels=in_channels, num_classes=k)
    run = source_recipe.replace(seed=seed, num_threads=num_threads)
    _, source_accuracy = train_with(source, source_data, run, device=device)
    run = target_recipe.replace(seed=seed, num_threads=num_threads)
    accuracy, trained = {}, {}
    for strategy in STRATEGIES:
        set_seed(seed)
        model = prepare_for_target(source, strategy, num_classes=len(TARGET_CLASSES),
                                   in_channels=in_channels)  # fmt: skip
        trained[strategy] = trainable_parameters(model)
        _, accuracy[strategy] = train_with(model, target_data, run, device=device)
    return TransferResult(
        accuracy=accuracy,
        trained_params=trained,
        source_accuracy=source_accuracy,
        n_labels=len(target_data.train),
        n_test=len(target_data.test),
        margin=margin,
        seed=seed,
    )

