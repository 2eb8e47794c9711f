"""Lesson 05's experiments: train LeNet-5 on digits, then take it apart ("deep or not").

Two questions, each answered by a pure function that returns its numbers:

* **Does LeNet-5 learn digits quickly on a CPU?** :func:`train_lenet` trains
  :func:`course_lib.models.lenet5` on the course digits (scikit-learn's 1,797
  handwritten digits upscaled to 32x32, a fixed split, see
  :func:`course_lib.data.load_digits`) by lesson 05's recipe
  (:data:`course_lib.recipes.LENET_RECIPE`) under a time budget, and measures accuracy on the held-out test digits. The claim: at
  least 97% within 60 s of CPU training.
* **Which layers matter: convolutions or hidden fully connected layers?** The claim
  tested: removing a CNN's convolutional layers costs much accuracy, while removing
  its fully connected (MLP) layers costs little.
  :func:`deep_or_not_experiment` trains three networks (:data:`VARIANTS`,
  built by :func:`build_variant`) with the same recipe, data and seed:

  - ``"LeNet-5"``: conv 6@5x5 -> ReLU -> max pool -> conv 16@5x5 -> ReLU -> max pool
    -> FC 120 -> ReLU -> FC 84 -> ReLU -> FC 10 (61,706 parameters);
  - ``"no hidden FC"``: the same two conv/pool stages, then the 400 features go
    straight into the FC 10 output layer (FC 120 and FC 84 removed; 6,582 parameters);
  - ``"no conv"``: both conv/pool stages removed; the 32x32 = 1,024 pixels go into
    FC 120 -> FC 84 -> FC 10 (134,014 parameters, more than twice LeNet-5's).

  The data are the same digits, shrunk to 16x16 and placed at a random (fixed,
  seeded) position on a 32x32 canvas (:func:`course_lib.data.place_anywhere`), so the network
  cannot rely on a digit always covering the same pixels. The claim: the "no conv"
  network loses at least ``margin`` (5 percentage points by default) more test
  accuracy than the "no hidden FC" network.

Every setting of a run is one :class:`course_lib.recipes.Recipe`: Adam with a
one-cycle learning-rate schedule by default (``recipe.replace(optimizer="sgd",
lr=0.03)`` gives SGD with momentum 0.9 instead): on a 60 s budget Adam is the less
fussy choice about the learning rate. Each run uses one intra-op CPU thread by default
(``num_threads=1``): on a shared 2-core machine, two threads per process wait on each
other and a training step can take ten times longer.

Source: lesson 05 ("Building and training a CNN"); LeCun et al. (1998), "Gradient-based learning applied to document recognition".
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from course_lib.data import DataSplits, check_splits, load_digits, load_digits_anywhere
from course_lib.device import resolve_device, set_seed, torch_threads
from course_lib.models import lenet5
from course_lib.recipes import LENET_RECIPE, Recipe, train_with
from course_lib.shapes import count_parameters
from course_lib.train import History, predict
from course_lib.validate import check_bool, check_number

__all__ = [
    "VARIANTS",
    "DeepOrNotResult",
    "LeNetRun",
    "build_variant",
    "deep_or_not_experiment",
    "train_lenet",
]

VARIANTS = ("LeNet-5", "no hidden FC", "no conv")


# --------------------------------------------------------------------------- experiment 1


@dataclass(frozen=True)
class LeNetRun:
    """Experiment 1's outcome: a trained LeNet-5 and what it scored.

    ``train_seconds`` is ``fit``'s wall time (training plus the per-epoch validation);
    ``test_predictions`` (N,) are the predicted labels of ``data.test`` in order.
    """

    model: nn.Module
    history: History
    test_accuracy: float
    test_predictions: torch.Tensor
    n_test: int
    train_seconds: float
    time_budget_s: float
    target_accuracy: float
    optimizer: str

    @property
    def within_budget(self) -> bool:
        # fit stops after the step that crosses the budget, so allow one step's overshoot
        return self.train_seconds <= self.time_budget_s + 1.0

    @property
    def claim_holds(self) -> bool:
        return self.test_accuracy >= self.target_accuracy and self.within_budget

    def sentence(self) -> str:
        """The outcome as one sentence; no timings, so a rerun prints the same line."""
        stop = ", stopped by the time budget" if self.history.stopped_early else ""
        budget = "within" if self.within_budget else "NOT within"
        verdict = "meets" if self.claim_holds else "does NOT meet"
        return (
            f"Experiment: LeNet-5 reached {100 * self.test_accuracy:.1f}% accuracy on "
            f"{self.n_test} held-out test digits after {self.history.epochs} epochs of CPU "
            f"training ({self.optimizer}{stop}), {budget} the {self.time_budget_s:.0f} s "
            f"budget; this {verdict} the claim of at least "
            f"{100 * self.target_accuracy:.0f}% within {self.time_budget_s:.0f} s."
        )

    def timing(self) -> str:
        """How long training took (varies from run to run and machine to machine)."""
        per_epoch = self.train_seconds / max(self.history.epochs, 1)
        return (
            f"training took {self.train_seconds:.1f} s of the {self.time_budget_s:.0f} s budget "
            f"({per_epoch:.2f} s per epoch, validation included)"
        )


def train_lenet(
    data: DataSplits | None = None,
    recipe: Recipe = LENET_RECIPE,
    *,
    target_accuracy: float = 0.97,
    device: torch.device | str | None = None,
    progress: bool = False,
) -> LeNetRun:
    """Experiment 1: train a fresh LeNet-5 (seeded by ``recipe.seed``) on digits by ``recipe``.

    ``data`` defaults to :func:`course_lib.data.load_digits` (1,257 train, 180
    validation, 360 test images of shape (1, 32, 32)); ``recipe`` to lesson 05's
    :data:`~course_lib.recipes.LENET_RECIPE`. The claim: ``target_accuracy`` within the
    recipe's time budget. Deterministic for a given seed as long as the budget does not
    cut training short.
    """
    device = resolve_device(device)
    target_accuracy = check_number(
        "target_accuracy", target_accuracy, positive=True, maximum=1.0, what="a fraction in (0, 1]"
    )
    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe is a {type(recipe).__name__}; expected a course_lib.recipes.Recipe")
    if recipe.time_budget_s is None:
        raise ValueError("recipe.time_budget_s=None: the claim is about a time budget; set one")
    check_splits("data", data, allow_none=True)
    progress = check_bool("progress", progress)
    if data is None:
        data = load_digits(device=device)
    in_channels = data.train.tensors[0].shape[1]
    set_seed(recipe.seed)
    model = lenet5(in_channels=in_channels, num_classes=len(data.classes))
    history, accuracy = train_with(model, data, recipe, device=device, progress=progress)
    x_test = data.test.tensors[0]
    with torch_threads(recipe.num_threads):
        predictions = predict(model, x_test, device=device).argmax(1).cpu()  # (N,)
    return LeNetRun(
        model=model,
        history=history,
        test_accuracy=accuracy,
        test_predictions=predictions,
        n_test=len(x_test),
        train_seconds=history.wall_time,
        time_budget_s=recipe.time_budget_s,
        target_accuracy=target_accuracy,
        optimizer=recipe.describe(),
    )


# --------------------------------------------------------------------------- experiment 2


def build_variant(name: str, *, in_channels: int = 1, num_classes: int = 10) -> nn.Module:
    """One of :data:`VARIANTS` for (N, in_channels, 32, 32) inputs; returns logits.

    All three are ``nn.Sequential(features, classifier)`` built from the same layers
    as :func:`course_lib.models.lenet5`, so ``summary`` tables line up:

    - "LeNet-5": the full network (its conv stages, then FC 120 -> FC 84 -> FC 10);
    - "no hidden FC": the conv stages, then flatten (400) -> FC ``num_classes``;
    - "no conv": flatten (in_channels * 1024) -> FC 120 -> FC 84 -> FC ``num_classes``.
    """
    if name not in VARIANTS:
        raise ValueError(f"name={name!r} is not one of {VARIANTS}")
    full = lenet5(in_channels=in_channels, num_classes=num_classes)
    if name == "LeNet-5":
        return nn.Sequential(full.features, full.classifier)
    if name == "no hidden FC":
        head = nn.Sequential(nn.Flatten(), nn.Linear(16 * 5 * 5, num_classes))  # (N, 400) -> (N, K)
        return nn.Sequential(full.features, head)
    mlp = nn.Sequential(
        nn.Flatten(),  # (N, C, 32, 32) -> (N, C * 1024)
        nn.Linear(in_channels * 32 * 32, 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, num_classes),
    )
    return nn.Sequential(nn.Identity(), mlp)


@dataclass(frozen=True)
class DeepOrNotResult:
    """Experiment 2's outcome, per variant: test accuracy, parameters, seconds, history,
    and the predicted labels (N,) of the test images (for a confusion matrix)."""

    accuracy: dict[str, float]
    params: dict[str, int]
    seconds: dict[str, float]
    histories: dict[str, History]
    predictions: dict[str, torch.Tensor]
    epochs: int
    n_test: int
    margin: float
    data_name: str

    @property
    def cost_of_removing_conv(self) -> float:
        return self.accuracy["LeNet-5"] - self.accuracy["no conv"]

    @property
    def cost_of_removing_fc(self) -> float:
        return self.accuracy["LeNet-5"] - self.accuracy["no hidden FC"]

    @property
    def difference(self) -> float:
        """How much more removing the conv layers costs than removing the hidden FC layers."""
        return self.cost_of_removing_conv - self.cost_of_removing_fc

    @property
    def claim_holds(self) -> bool:
        return self.difference >= self.margin

    def table(self) -> str:
        """One line per variant: parameters, test accuracy, cost against LeNet-5, seconds."""
        lines = [
            f"{'network':<14}{'parameters':>12}{'test accuracy':>15}{'cost':>9}{'seconds':>9}",
        ]
        for name in VARIANTS:
            cost = self.accuracy["LeNet-5"] - self.accuracy[name]
            lines.append(
                f"{name:<14}{self.params[name]:>12,}{100 * self.accuracy[name]:>14.1f}%"
                f"{100 * cost:>6.1f} pts{self.seconds[name]:>9.1f}"
            )
        return "\n".join(lines)

    def sentence(self) -> str:
        verdict = "holds" if self.claim_holds else "does NOT hold"
        return (
            f"Experiment: on {self.n_test} held-out {self.data_name}, after the same "
            f"{self.epochs} epochs of training, LeNet-5 scored "
            f"{100 * self.accuracy['LeNet-5']:.1f}%; without its hidden FC layers "
            f"{100 * self.accuracy['no hidden FC']:.1f}% (a cost of "
            f"{100 * self.cost_of_removing_fc:.1f} points); without its conv layers "
            f"{100 * self.accuracy['no conv']:.1f}% (a cost of "
            f"{100 * self.cost_of_removing_conv:.1f} points). Removing the conv layers cost "
            f"{100 * self.difference:.1f} points more than removing the hidden FC layers; "
            f"the claim (at least {100 * self.margin:.0f} points more) {verdict}."
        )


def deep_or_not_experiment(
    data: DataSplits | None = None,
    recipe: Recipe = Recipe(),  # noqa: B008 -- frozen, so one shared default is safe
    *,
    margin: float = 0.05,
    device: torch.device | str | None = None,
    progress: bool = False,
    data_name: str | None = None,
) -> DeepOrNotResult:
    """Experiment 2: train each variant with the same recipe and seed; compare test accuracy.

    ``data`` defaults to :func:`course_lib.data.load_digits_anywhere` (16x16 digits
    anywhere on a 32x32 canvas, placed by ``recipe.seed``). Every variant is initialised
    after ``set_seed(recipe.seed)`` and trained by the same ``recipe`` (its time budget
    applies per variant; the default recipe has no augmentation). ``data_name``
    describes the test images in the summary sentence.
    """
    device = resolve_device(device)
    margin = check_number("margin", margin, minimum=0.0, below=1.0, what="a fraction in [0, 1)")
    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe is a {type(recipe).__name__}; expected a course_lib.recipes.Recipe")
    check_splits("data", data, allow_none=True)
    progress = check_bool("progress", progress)
    if data_name is not None and not isinstance(data_name, str):
        raise TypeError(f"data_name={data_name!r} must be a str or None")
    if data_name is None:
        data_name = "digits placed anywhere on a 32x32 canvas" if data is None else "test images"
    if data is None:
        data = load_digits_anywhere(seed=recipe.seed, device=device)
    in_channels = data.train.tensors[0].shape[1]
    accuracy, params, seconds, histories, predictions = {}, {}, {}, {}, {}
    for name in VARIANTS:
        set_seed(recipe.seed)
        model = build_variant(name, in_channels=in_channels, num_classes=len(data.classes))
        history, acc = train_with(model, data, recipe, device=device, progress=progress)
        accuracy[name], params[name] = acc, count_parameters(model)
        seconds[name], histories[name] = history.wall_time, history
        with torch_threads(recipe.num_threads):
            scores = predict(model, data.test.tensors[0], device=device)  # (N, classes)
        predictions[name] = scores.argmax(1).cpu()
    return DeepOrNotResult(
        accuracy=accuracy,
        params=params,
        seconds=seconds,
        histories=histories,
        predictions=predictions,
        epochs=recipe.epochs,
        n_test=len(data.test),
        margin=margin,
        data_name=data_name,
    )
