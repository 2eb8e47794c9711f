"""Training recipes: every setting of a training run in one small, frozen dataclass.

A :class:`Recipe` is what the lessons mean by "the same recipe": epochs, optimiser,
learning rate and its schedule, batch size, augmentation, time budget, seed and
thread count, with their defaults in one place. :func:`train_with` runs one on a model
and a :class:`~course_lib.data.DataSplits`, and reports the test accuracy. Change one
setting with ``recipe.replace(lr=0.03)``; the rest stay as they were.

:data:`LENET_RECIPE` is lesson 05's: Adam with a one-cycle schedule peaking at 3e-3,
30 epochs, batches of 64, small random rotations and shifts, a 60 s budget, one
thread (on a shared 2-core machine two threads per process wait on each other).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import torch
from torch import nn

from course_lib.data import Augment, DataSplits
from course_lib.device import resolve_device, torch_threads
from course_lib.train import History, evaluate, fit
from course_lib.validate import check_choice, check_int, check_number

__all__ = ["LENET_RECIPE", "OPTIMIZERS", "SCHEDULERS", "Recipe", "train_with"]

OPTIMIZERS = ("adam", "sgd")
SCHEDULERS = ("onecycle", "cosine", None)


@dataclass(frozen=True)
class Recipe:
    """How to train: every field is checked when the recipe is made.

    ``optimizer`` "adam" or "sgd" (SGD uses ``momentum``); ``scheduler`` "onecycle"
    (peaking at ``lr``), "cosine" or None; ``augment`` is applied to each training
    batch; ``time_budget_s`` (None for no budget) stops training after the step that
    crosses it; ``seed`` seeds the shuffling and dropout; ``num_threads`` torch
    intra-op threads during training (None: leave torch's setting).
    """

    epochs: int = 30
    lr: float = 3e-3
    optimizer: str = "adam"
    momentum: float = 0.9
    weight_decay: float = 0.0
    scheduler: str | None = "onecycle"
    batch_size: int = 64
    augment: Augment | None = None
    time_budget_s: float | None = 60.0
    seed: int = 0
    num_threads: int | None = 1

    def __post_init__(self) -> None:
        fix = functools.partial(object.__setattr__, self)  # frozen: normalise once, here
        fix("epochs", check_int("epochs", self.epochs, minimum=1))
        fix("lr", check_number("lr", self.lr, positive=True))
        fix("optimizer", check_choice("optimizer", self.optimizer, OPTIMIZERS))
        fix("momentum", check_number("momentum", self.momentum, minimum=0, below=1))
        fix("weight_decay", check_number("weight_decay", self.weight_decay, minimum=0))
        if self.scheduler is not None:
            check_choice("scheduler", self.scheduler, SCHEDULERS[:2])
        fix("batch_size", check_int("batch_size", self.batch_size, minimum=1))
        if self.augment is not None and not callable(self.augment):
            raise TypeError(f"augment={self.augment!r} must be None or a callable batch -> batch")
        if self.time_budget_s is not None:
            fix("time_budget_s", check_number("time_budget_s", self.time_budget_s, positive=True))
        fix("seed", check_int("seed", self.seed, minimum=0))
        if self.num_threads is not None:
            fix("num_threads", check_int("num_threads", self.num_threads, minimum=1))

    def replace(self, **changes) -> Recipe:
        """A copy with some settings changed, e.g. ``recipe.replace(optimizer="sgd", lr=0.03)``."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise TypeError(
                f"{sorted(unknown)} are not Recipe settings; expected some of "
                f"{[f.name for f in dataclasses.fields(self)]}"
            )
        return dataclasses.replace(self, **changes)

    def describe(self) -> str:
        """The optimiser in words, e.g. "Adam" or "SGD with momentum 0.9"."""
        return "Adam" if self.optimizer == "adam" else f"SGD with momentum {self.momentum:g}"

    def fit_kwargs(self) -> dict:
        """The recipe as :func:`course_lib.train.fit`'s keyword arguments:
        ``fit(model, train, val, **recipe.fit_kwargs(), device=...)``."""
        return {
            "epochs": self.epochs,
            "optimizer": self.make_optimizer,
            "scheduler": self.scheduler,
            "batch_size": self.batch_size,
            "transform": self.augment,
            "time_budget_s": self.time_budget_s,
            "seed": self.seed,
        }

    def make_optimizer(self, params) -> torch.optim.Optimizer:
        if self.optimizer == "adam":
            return torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)
        return torch.optim.SGD(
            params, lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay
        )


# Small random rotations and shifts of each training batch (lesson 08 explains why
# this helps); the test digits are never changed.
LENET_RECIPE = Recipe(augment=Augment(degrees=10.0, shift=0.08))


def train_with(
    model: nn.Module,
    data: DataSplits,
    recipe: Recipe = Recipe(),  # noqa: B008 -- frozen, so one shared default is safe
    *,
    device: torch.device | str | None = None,
    progress: bool = False,
) -> tuple[History, float]:
    """Train ``model`` in place by ``recipe`` on ``data.train``, validated on ``data.val``.

    Returns the :class:`~course_lib.train.History` and the accuracy on ``data.test``.
    Initialise the model (after ``set_seed``) before calling.
    """
    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe is a {type(recipe).__name__}; expected a course_lib.recipes.Recipe")
    if not isinstance(data, DataSplits):
        raise TypeError(f"data is a {type(data).__name__}; expected a course_lib.data.DataSplits")
    device = resolve_device(device)
    with torch_threads(recipe.num_threads):
        history = fit(
            model, data.train, data.val, **recipe.fit_kwargs(), device=device, progress=progress
        )
        test = evaluate(model, data.test, device=device)
    return history, test["accuracy"]
