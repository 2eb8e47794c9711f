"""Lesson 07's experiments: what batch normalization does to a network and to its training.

Three small facts, each a pure function returning its numbers:

* :func:`restore_identity_demo`: with ``gamma = sqrt(var + eps)`` and ``beta = mean``
  a training-mode batch norm gives back its input, so inserting it costs the network
  nothing it could represent before;
* :func:`bias_gradient_demo`: a convolution's bias right before a batch norm gets a
  zero gradient and changes nothing, since the batch mean removes it;
* :func:`fold_batch_norm` and :func:`folding_demo`: in inference mode batch norm is a
  fixed per-channel linear map, so it folds into the convolution before it.

Four training experiments on the course digits at 8x8 (:func:`course_lib.data.load_digits`
with ``size=8``: 1,257 training and 180 validation images), each comparing small networks
trained with the same seed, data order and SGD settings by :func:`course_lib.train.fit`:

* :func:`steps_to_target_experiment`: a small ReLU CNN (:func:`small_cnn`) with and without
  batch norm; the BN network reaches a target validation accuracy in at most
  ``1 / factor`` of the plain network's steps;
* :func:`learning_rate_experiment`: at a learning rate where the plain network's
  training breaks down (it ends at chance accuracy), the BN network trains;
* :func:`deep_sigmoid_experiment`: a deep fully connected sigmoid network
  (:func:`deep_mlp`) stays at chance without batch norm and trains with it;
* :func:`placement_experiment`: batch norm before the ReLU (the paper's choice) and after
  it, on the same network;
* :func:`activation_percentiles_experiment`: the 15th, 50th and 85th percentiles of one
  unit's input to its sigmoid over training, with and without batch norm (the idea of
  the batch-norm paper's Figure 1), trained with the course's own
  :class:`course_lib.layers.BatchNorm2d`. The claim: without batch norm the distribution
  moves at least ``factor`` times as far from where it started.

For speed the networks use ``torch.nn`` layers (convolutions, pooling, linear layers and,
except in the percentile experiment, batch norm); :func:`small_cnn` takes
``bn_layer="course"`` to use the course's batch norm instead. Each run uses one CPU
thread by default (``num_threads=1``) and runs unchanged on a GPU (``device=``).

Source: Ioffe and Szegedy (2015), "Batch normalization: accelerating deep network
training by reducing internal covariate shift", sections 3 and 4.1; lesson 07.
"""

from __future__ import annotations

import functools
import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from course_lib import layers as course_layers
from course_lib import ops
from course_lib.data import DataSplits, check_splits, load_digits
from course_lib.device import resolve_device, torch_threads
from course_lib.train import Callback, History, fit
from course_lib.validate import check_array, check_bool, check_choice, check_int, check_number

__all__ = [
    "ACTIVATIONS",
    "BATCH_NORM_PLACES",
    "BN_LAYERS",
    "BiasGradientResult",
    "DeepSigmoidResult",
    "FoldingResult",
    "LearningRateResult",
    "PercentilesResult",
    "PlacementResult",
    "RestoreIdentityResult",
    "StepsToTargetResult",
    "TrainingCurve",
    "activation_percentiles_experiment",
    "bias_gradient_demo",
    "deep_mlp",
    "deep_sigmoid_experiment",
    "fold_batch_norm",
    "folding_demo",
    "learning_rate_experiment",
    "placement_experiment",
    "restore_identity_demo",
    "small_cnn",
    "steps_to_target_experiment",
    "train_curve",
]

ACTIVATIONS = ("relu", "sigmoid")
BATCH_NORM_PLACES = ("none", "before", "after")  # relative to the activation
BN_LAYERS = ("torch", "course")
_PERCENTILES = (15.0, 50.0, 85.0)
_END_EVALS = 5  # "the end of training": the last five validation measurements
_MAX_SEED = 2**63 - 1  # torch's generators take 64-bit seeds
_MAX_LR = 100.0  # far beyond any rate that trains; larger ones overflow float32 in SGD


def _activation(name: str) -> nn.Module:
    return nn.ReLU() if name == "relu" else nn.Sigmoid()


def _batch_norm_class(bn_layer: str, dims: int) -> type[nn.Module]:
    lib = course_layers if bn_layer == "course" else nn
    return lib.BatchNorm2d if dims == 2 else lib.BatchNorm1d


# --------------------------------------------------------------------------- networks


def small_cnn(
    *,
    batch_norm: str = "none",
    activation: str = "relu",
    bn_layer: str = "torch",
    widths: Sequence[int] = (8, 16),
    image_size: int = 8,
    in_channels: int = 1,
    num_classes: int = 10,
) -> nn.Sequential:
    """Two conv stages and a linear classifier for (N, in_channels, image_size, image_size).

    Each stage is a 3x3 same convolution -> activation -> 2x2 max pool, with a batch norm
    ``"before"`` or ``"after"`` the activation (``"none"``: no batch norm). A convolution
    followed by batch norm has no bias (the norm's beta takes its place). Modules are
    named ``conv1, bn1, act1, pool1, conv2, ..., flatten, fc``; ``bn_layer`` chooses
    torch's ``BatchNorm2d`` or the course's (:class:`course_lib.layers.BatchNorm2d`).

        (N, C, S, S) -> conv1 -> (N, w1, S, S) -> pool1 -> (N, w1, S/2, S/2)
        -> conv2 -> (N, w2, S/2, S/2) -> pool2 -> (N, w2, S/4, S/4) -> fc -> (N, classes)
    """
    batch_norm = check_choice("batch_norm", batch_norm, BATCH_NORM_PLACES)
    activation = check_choice("activation", activation, ACTIVATIONS)
    bn_layer = check_choice("bn_layer", bn_layer, BN_LAYERS)
    if isinstance(widths, str) or not isinstance(widths, Sequence):
        raise TypeError(f"widths={widths!r} must be two channel counts (w1, w2)")
    if len(widths) != 2:
        raise ValueError(f"widths={tuple(widths)!r} must be two channel counts (w1, w2)")
    w1, w2 = (check_int("widths", w, minimum=1, maximum=4096) for w in widths)
    image_size = check_int("image_size", image_size, minimum=4, maximum=1024)
    if image_size % 4:
        raise ValueError(
            f"image_size={image_size} must be a multiple of 4 (two 2x2 poolings halve it twice)"
        )
    in_channels = check_int("in_channels", in_channels, minimum=1, maximum=4096)
    num_classes = check_int("num_classes", num_classes, minimum=1, maximum=100_000)
    bn_cls = _batch_norm_class(bn_layer, 2)
    parts: list[tuple[str, nn.Module]] = []
    for i, (c_in, c_out) in enumerate(((in_channels, w1), (w1, w2)), start=1):
        parts.append((f"conv{i}", nn.Conv2d(c_in, c_out, 3, padding=1, bias=batch_norm == "none")))
        if batch_norm == "before":
            parts.append((f"bn{i}", bn_cls(c_out)))
        parts.append((f"act{i}", _activation(activation)))
        if batch_norm == "after":
            parts.append((f"bn{i}", bn_cls(c_out)))
        parts.append((f"pool{i}", nn.MaxPool2d(2)))
    side = image_size // 4
    parts += [("flatten", nn.Flatten()), ("fc", nn.Linear(w2 * side * side, num_classes))]
    return nn.Sequential(OrderedDict(parts))


def deep_mlp(
    depth: int = 8,
    width: int = 32,
    *,
    batch_norm: bool = False,
    activation: str = "sigmoid",
    in_features: int = 64,
    num_classes: int = 10,
) -> nn.Sequential:
    """A fully connected net: flatten -> ``depth`` x (linear -> [BN] -> activation) -> linear.

    (N, ...) inputs with ``in_features`` values each (8x8 digits: 64) -> (N, num_classes).
    With ``batch_norm=True`` every hidden linear layer is followed by ``BatchNorm1d`` and
    has no bias. torch's default initialisation. Modules: ``flatten, fc1, bn1, act1, ...,
    out``.
    """
    depth = check_int("depth", depth, minimum=1, maximum=200)
    width = check_int("width", width, minimum=1, maximum=4096)
    batch_norm = check_bool("batch_norm", batch_norm)
    activation = check_choice("activation", activation, ACTIVATIONS)
    in_features = check_int("in_features", in_features, minimum=1, maximum=1_000_000)
    num_classes = check_int("num_classes", num_classes, minimum=1, maximum=100_000)
    parts: list[tuple[str, nn.Module]] = [("flatten", nn.Flatten())]
    fan_in = in_features
    for i in range(1, depth + 1):
        parts.append((f"fc{i}", nn.Linear(fan_in, width, bias=not batch_norm)))
        if batch_norm:
            parts.append((f"bn{i}", nn.BatchNorm1d(width)))
        parts.append((f"act{i}", _activation(activation)))
        fan_in = width
    parts.append(("out", nn.Linear(fan_in, num_classes)))
    return nn.Sequential(OrderedDict(parts))


# --------------------------------------------------------------------------- training


@dataclass(frozen=True)
class TrainingCurve:
    """One training run, step by step.

    ``step_loss``: the training loss of each step (1 to ``steps``); ``eval_steps``: the
    steps after which the validation accuracy was measured (every ``eval_every``-th),
    ``val_accuracy`` those accuracies on the ``n_val`` validation images (model in eval
    mode, so batch norm uses its running statistics).
    """

    name: str
    step_loss: tuple[float, ...]
    eval_steps: tuple[int, ...]
    val_accuracy: tuple[float, ...]
    n_val: int
    eval_every: int

    @property
    def steps(self) -> int:
        return len(self.step_loss)

    @property
    def final_accuracy(self) -> float:
        """The last validation accuracy measured."""
        return self.val_accuracy[-1] if self.val_accuracy else math.nan

    @property
    def end_accuracy(self) -> float:
        """The mean of the last five validation accuracies (the end of training, with less
        of one batch's luck in it than the single last value)."""
        return float(np.mean(self.val_accuracy[-_END_EVALS:])) if self.val_accuracy else math.nan

    @property
    def best_accuracy(self) -> float:
        """The highest validation accuracy measured during the run."""
        return max(self.val_accuracy) if self.val_accuracy else math.nan

    @property
    def peak_loss_step(self) -> int:
        """The step (from 1) with the largest training loss."""
        losses = np.asarray(self.step_loss, dtype=np.float64)
        return int(np.argmax(np.where(np.isfinite(losses), losses, np.inf))) + 1

    @property
    def peak_loss(self) -> float:
        """The largest training loss of any step (inf if a loss was not finite)."""
        losses = np.asarray(self.step_loss, dtype=np.float64)
        return float(np.max(np.where(np.isfinite(losses), losses, np.inf)))

    def steps_to(self, target: float) -> int | None:
        """The first evaluated step with validation accuracy >= ``target``; None if never."""
        target = check_number("target", target, minimum=0.0, maximum=1.0, what="a fraction in [0, 1]")
        for step, acc in zip(self.eval_steps, self.val_accuracy, strict=True):
            if acc >= target:
                return step
        return None


class _ValidationEvery(Callback):
    """Validation accuracy every ``every`` steps, kept on the device until the fit ends."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, every: int) -> None:
        self.x, self.y, self.every = x, y, every
        self.steps: list[int] = []
        self._hits: list[torch.Tensor] = []

    def on_step_end(self, step: int, model: nn.Module, loss: torch.Tensor) -> None:
        done = step + 1  # optimisation steps completed
        if done % self.every:
            return
        model.eval()
        with torch.no_grad():
            x = self.x.to(next(model.parameters()).device)
            hits = (model(x).argmax(1) == self.y.to(x.device)).double().mean()
        model.train()
        self.steps.append(done)
        self._hits.append(hits)

    def accuracies(self) -> list[float]:
        return torch.stack(self._hits).cpu().tolist() if self._hits else []


def train_curve(
    model: nn.Module,
    data: DataSplits,
    *,
    epochs: int = 8,
    lr: float = 0.01,
    momentum: float = 0.9,
    batch_size: int = 32,
    eval_every: int = 10,
    seed: int = 0,
    name: str = "",
    callbacks: Sequence[Callback] = (),
    device: torch.device | str | None = None,
    num_threads: int | None = 1,
) -> TrainingCurve:
    """Train ``model`` in place on ``data.train`` with SGD (``lr``, ``momentum``), no schedule.

    :func:`course_lib.train.fit` runs the loop (``seed`` fixes the batch order); the
    validation accuracy on ``data.val`` is measured every ``eval_every`` steps.
    ``callbacks`` are passed on to ``fit``. Initialise the model before calling.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model is a {type(model).__name__}; expected a torch.nn.Module")
    data = check_splits("data", data)
    epochs = check_int("epochs", epochs, minimum=1, maximum=10_000)
    lr = _lr(lr)
    momentum = check_number("momentum", momentum, minimum=0.0, below=1.0)
    batch_size = check_int("batch_size", batch_size, minimum=2)
    eval_every = check_int("eval_every", eval_every, minimum=1)
    seed = _seed(seed)
    if not isinstance(name, str):
        raise TypeError(f"name={name!r} must be a string")
    num_threads = _threads(num_threads)
    if not isinstance(callbacks, Sequence) or isinstance(callbacks, str) or not all(
        isinstance(c, Callback) for c in callbacks
    ):
        raise TypeError(f"callbacks={callbacks!r} must be a list of Callback objects")
    device = resolve_device(device)
    n_train = len(data.train)
    if n_train % batch_size == 1 and any(isinstance(m, nn.BatchNorm1d) for m in model.modules()):
        raise ValueError(
            f"batch_size={batch_size} leaves the last batch of data.train ({n_train} examples) "
            "with a single example, and a BatchNorm1d in training mode needs at least 2 values "
            "per unit; expected a batch size that does not leave 1 example over"
        )
    x_val, y_val = data.val.tensors
    validation = _ValidationEvery(x_val, y_val, eval_every)
    sgd = functools.partial(torch.optim.SGD, lr=lr, momentum=momentum)
    with torch_threads(num_threads):
        history: History = fit(
            model, data.train, epochs=epochs, optimizer=sgd, batch_size=batch_size,
            callbacks=[validation, *callbacks], seed=seed, device=device, progress=False,
        )  # fmt: skip
    return TrainingCurve(
        name=name,
        step_loss=tuple(history.step_loss),
        eval_steps=tuple(validation.steps),
        val_accuracy=tuple(validation.accuracies()),
        n_val=len(x_val),
        eval_every=eval_every,
    )


def _digits(data: DataSplits | None, device: torch.device) -> DataSplits:
    return load_digits(size=8, device=device) if data is None else check_splits("data", data)


def _seed(seed) -> int:
    return check_int("seed", seed, minimum=0, maximum=_MAX_SEED, what="an int seed in [0, 2**63)")


def _lr(lr) -> float:
    return check_number("lr", lr, positive=True, maximum=_MAX_LR,
                        what=f"a positive learning rate up to {_MAX_LR:g}")  # fmt: skip


def _threads(num_threads) -> int | None:
    if num_threads is None:
        return None
    return check_int("num_threads", num_threads, minimum=1, maximum=1024)


def _settings(*, epochs, lr, batch_size, eval_every, seed, num_threads, device) -> dict:
    """The training settings every experiment shares, checked before anything runs."""
    return {
        "epochs": check_int("epochs", epochs, minimum=1, maximum=10_000),
        "lr": _lr(lr),
        "batch_size": check_int("batch_size", batch_size, minimum=2),
        "eval_every": check_int("eval_every", eval_every, minimum=1),
        "seed": _seed(seed),
        "num_threads": _threads(num_threads),
        "device": device,
    }


def _cnn(data: DataSplits, **options) -> functools.partial:
    """:func:`small_cnn` for ``data``'s images (square, side a multiple of 4) and classes."""
    x = data.train.tensors[0]
    if x.ndim != 4 or x.shape[-1] != x.shape[-2]:
        raise ValueError(
            f"data has images of shape {tuple(x.shape[1:])}; expected square (C, S, S) images"
        )
    return functools.partial(small_cnn, image_size=x.shape[-1], in_channels=x.shape[1],
                             num_classes=len(data.classes), **options)  # fmt: skip


def _run(build, data, *, seed, name, **settings) -> TrainingCurve:
    torch.manual_seed(seed)  # the same initial weights for the same architecture
    model = build()
    return train_curve(model, data, seed=seed, name=name, **settings)


def _fraction(name: str, value) -> float:
    return check_number(name, value, minimum=0.0, maximum=1.0, what="a fraction in [0, 1]")


def _steps_text(steps: int | None, budget: int) -> str:
    return f"after {steps} steps" if steps is not None else f"not within {budget} steps"


# --------------------------------------------------------------------------- experiment 1


@dataclass(frozen=True)
class StepsToTargetResult:
    """Steps each network needed to reach ``target`` validation accuracy.

    ``curves``: {"plain": ..., "with BN": ...}. The claim: the BN network reached the
    target, in at most ``1 / factor`` of the plain network's steps (the plain network
    missing the target within the budget counts as needing more than the budget).
    """

    curves: dict[str, TrainingCurve]
    target: float
    factor: float
    lr: float

    @property
    def steps_plain(self) -> int | None:
        return self.curves["plain"].steps_to(self.target)

    @property
    def steps_bn(self) -> int | None:
        return self.curves["with BN"].steps_to(self.target)

    @property
    def speedup(self) -> float:
        """Plain steps / BN steps (a lower bound, budget + 1 steps, if plain never got there)."""
        if self.steps_bn is None:
            return 0.0
        plain = self.steps_plain or self.curves["plain"].steps + 1
        return plain / self.steps_bn

    @property
    def claim_holds(self) -> bool:
        return self.steps_bn is not None and self.speedup >= self.factor

    def sentence(self) -> str:
        budget = self.curves["plain"].steps
        verdict = "holds" if self.claim_holds else "does NOT hold"
        ratio = f"{self.speedup:.1f} times as many" if self.steps_plain else "more than budget"
        return (
            f"Experiment: with SGD at learning rate {self.lr:g}, the small CNN with batch "
            f"norm reached {100 * self.target:.0f}% accuracy on the "
            f"{self.curves['plain'].n_val} validation digits "
            f"{_steps_text(self.steps_bn, budget)}, the same CNN without it "
            f"{_steps_text(self.steps_plain, budget)} ({ratio}); the claim (at most "
            f"1/{self.factor:g} of the plain network's steps) {verdict}."
        )


def steps_to_target_experiment(
    data: DataSplits | None = None,
    *,
    lr: float = 0.01,
    target: float = 0.9,
    factor: float = 2.0,
    epochs: int = 8,
    batch_size: int = 32,
    eval_every: int = 10,
    seed: int = 0,
    device: torch.device | str | None = None,
    num_threads: int | None = 1,
) -> StepsToTargetResult:
    """Train :func:`small_cnn` (ReLU) without and with batch norm (before the ReLU).

    ``data`` defaults to the 8x8 course digits. Both networks get the same seed, batch
    order, learning rate and budget (``epochs`` passes of ``batch_size`` images; 320
    steps by default). The claim: the BN network needs at most ``1 / factor`` of the plain
    network's steps to reach ``target`` validation accuracy.
    """
    device = resolve_device(device)
    settings = _settings(epochs=epochs, lr=lr, batch_size=batch_size, eval_every=eval_every,
                         seed=seed, num_threads=num_threads, device=device)  # fmt: skip
    target = _fraction("target", target)
    factor = check_number("factor", factor, minimum=1.0)
    data = _digits(data, device)
    curves = {
        name: _run(_cnn(data, batch_norm=place), data, name=name, **settings)
        for name, place in (("plain", "none"), ("with BN", "before"))
    }
    return StepsToTargetResult(curves=curves, target=target, factor=factor, lr=settings["lr"])


# --------------------------------------------------------------------------- experiment 2


@dataclass(frozen=True)
class LearningRateResult:
    """Both networks at one (large) learning rate: how each run ended.

    Accuracies at the end are :attr:`TrainingCurve.end_accuracy` (the mean of the last
    five validation measurements). The claim: the plain network ends at most at
    ``failed_ceiling`` (its training broke down), the BN network at ``trained_floor`` or
    better.
    """

    curves: dict[str, TrainingCurve]
    lr: float
    failed_ceiling: float
    trained_floor: float

    @property
    def claim_holds(self) -> bool:
        return (
            self.curves["plain"].end_accuracy <= self.failed_ceiling
            and self.curves["with BN"].end_accuracy >= self.trained_floor
        )

    def sentence(self) -> str:
        plain, bn = self.curves["plain"], self.curves["with BN"]
        verdict = "holds" if self.claim_holds else "does NOT hold"
        return (
            f"Experiment: at learning rate {self.lr:g}, the plain CNN got up to "
            f"{100 * plain.best_accuracy:.1f}% validation accuracy, then its training loss "
            f"shot up to {plain.peak_loss:.2f} (step {plain.peak_loss_step}) and it ended at "
            f"{100 * plain.end_accuracy:.1f}% over its last {_END_EVALS * plain.eval_every} "
            f"steps; with batch norm it ended at {100 * bn.end_accuracy:.1f}%. The claim "
            f"(plain at most {100 * self.failed_ceiling:.0f}%, BN at least "
            f"{100 * self.trained_floor:.0f}% at the end) {verdict}."
        )


def learning_rate_experiment(
    data: DataSplits | None = None,
    *,
    lr: float = 0.3,
    failed_ceiling: float = 0.5,
    trained_floor: float = 0.7,
    epochs: int = 8,
    batch_size: int = 32,
    eval_every: int = 10,
    seed: int = 0,
    device: torch.device | str | None = None,
    num_threads: int | None = 1,
) -> LearningRateResult:
    """:func:`small_cnn` without and with batch norm, trained at a large learning rate.

    The same settings as :func:`steps_to_target_experiment` but ``lr`` (0.3, thirty times
    its default). The claim: at the end of training (the last five validation
    measurements) the plain network is at ``failed_ceiling`` or below, far from the 90% and
    more it reaches at a small learning rate, and the BN network at ``trained_floor`` or
    better.
    """
    device = resolve_device(device)
    settings = _settings(epochs=epochs, lr=lr, batch_size=batch_size, eval_every=eval_every,
                         seed=seed, num_threads=num_threads, device=device)  # fmt: skip
    failed_ceiling = _fraction("failed_ceiling", failed_ceiling)
    trained_floor = _fraction("trained_floor", trained_floor)
    data = _digits(data, device)
    curves = {
        name: _run(_cnn(data, batch_norm=place), data, name=name, **settings)
        for name, place in (("plain", "none"), ("with BN", "before"))
    }
    return LearningRateResult(curves, settings["lr"], failed_ceiling, trained_floor)


# --------------------------------------------------------------------------- experiment 3


@dataclass(frozen=True)
class DeepSigmoidResult:
    """A deep sigmoid MLP without and with batch norm: validation accuracy at the end.

    The claim: at the end of the same number of steps (:attr:`TrainingCurve.end_accuracy`)
    at most ``chance_ceiling`` without batch norm, ``trained_floor`` or better with it.
    """

    curves: dict[str, TrainingCurve]
    depth: int
    width: int
    lr: float
    chance_ceiling: float
    trained_floor: float

    @property
    def claim_holds(self) -> bool:
        return (
            self.curves["plain"].end_accuracy <= self.chance_ceiling
            and self.curves["with BN"].end_accuracy >= self.trained_floor
        )

    def sentence(self) -> str:
        plain, bn = self.curves["plain"], self.curves["with BN"]
        verdict = "holds" if self.claim_holds else "does NOT hold"
        return (
            f"Experiment: a fully connected network with {self.depth} hidden sigmoid layers of "
            f"{self.width} units, trained for {plain.steps} steps at learning rate {self.lr:g}, "
            f"ended at {100 * plain.end_accuracy:.1f}% validation accuracy without batch norm "
            f"and {100 * bn.end_accuracy:.1f}% with it; the claim (at most "
            f"{100 * self.chance_ceiling:.0f}% without, at least "
            f"{100 * self.trained_floor:.0f}% with) {verdict}."
        )


def deep_sigmoid_experiment(
    data: DataSplits | None = None,
    *,
    depth: int = 8,
    width: int = 32,
    lr: float = 0.1,
    chance_ceiling: float = 0.2,
    trained_floor: float = 0.7,
    epochs: int = 8,
    batch_size: int = 32,
    eval_every: int = 10,
    seed: int = 0,
    device: torch.device | str | None = None,
    num_threads: int | None = 1,
) -> DeepSigmoidResult:
    """:func:`deep_mlp` (sigmoid, torch's default initialisation) without and with batch norm.

    ``data`` defaults to the 8x8 course digits (64 pixels per image). The claim: the plain
    network ends no better than ``chance_ceiling``, the BN network at ``trained_floor``
    or better.
    """
    device = resolve_device(device)
    settings = _settings(epochs=epochs, lr=lr, batch_size=batch_size, eval_every=eval_every,
                         seed=seed, num_threads=num_threads, device=device)  # fmt: skip
    chance_ceiling = _fraction("chance_ceiling", chance_ceiling)
    trained_floor = _fraction("trained_floor", trained_floor)
    depth = check_int("depth", depth, minimum=1, maximum=200)
    width = check_int("width", width, minimum=1, maximum=4096)
    data = _digits(data, device)
    in_features = math.prod(data.train.tensors[0].shape[1:])
    curves = {
        name: _run(functools.partial(deep_mlp, depth, width, batch_norm=bn,
                                     in_features=in_features, num_classes=len(data.classes)),
                   data, name=name, **settings)  # fmt: skip
        for name, bn in (("plain", False), ("with BN", True))
    }
    return DeepSigmoidResult(curves, depth, width, settings["lr"], chance_ceiling, trained_floor)


# --------------------------------------------------------------------------- experiment 4


@dataclass(frozen=True)
class PlacementResult:
    """Batch norm before vs after the ReLU on the same CNN, with the plain CNN for reference.

    ``curves``: {"plain", "BN before ReLU", "BN after ReLU"}. The claim: both placements
    reach ``target`` in at most ``1 / factor`` of the plain network's steps, and their
    accuracies at the end differ by at most ``max_gap`` (the placement matters much less
    than having batch norm at all).
    """

    curves: dict[str, TrainingCurve]
    target: float
    factor: float
    max_gap: float
    lr: float

    def steps(self, name: str) -> int | None:
        return self.curves[name].steps_to(self.target)

    @property
    def gap(self) -> float:
        """|end accuracy before - after| (:attr:`TrainingCurve.end_accuracy`)."""
        return abs(
            self.curves["BN before ReLU"].end_accuracy
            - self.curves["BN after ReLU"].end_accuracy
        )

    @property
    def claim_holds(self) -> bool:
        plain = self.steps("plain") or self.curves["plain"].steps + 1
        fast = all(
            (s := self.steps(name)) is not None and plain >= self.factor * s
            for name in ("BN before ReLU", "BN after ReLU")
        )
        return fast and self.gap <= self.max_gap

    def sentence(self) -> str:
        budget = self.curves["plain"].steps
        before, after, plain = (
            f"{_steps_text(self.steps(name), budget)} (at the end "
            f"{100 * self.curves[name].end_accuracy:.1f}%)"
            for name in ("BN before ReLU", "BN after ReLU", "plain")
        )
        verdict = "holds" if self.claim_holds else "does NOT hold"
        return (
            f"Experiment: on the same small CNN at learning rate {self.lr:g}, "
            f"{100 * self.target:.0f}% validation accuracy was reached with BN before the "
            f"ReLU {before}, with BN after it {after}, and without batch norm {plain}. The claim "
            f"(both placements need at most 1/{self.factor:g} of the plain network's steps "
            f"and end within {100 * self.max_gap:.0f} points of each other) {verdict}."
        )


def placement_experiment(
    data: DataSplits | None = None,
    *,
    lr: float = 0.01,
    target: float = 0.9,
    factor: float = 2.0,
    max_gap: float = 0.03,
    epochs: int = 8,
    batch_size: int = 32,
    eval_every: int = 10,
    seed: int = 0,
    device: torch.device | str | None = None,
    num_threads: int | None = 1,
) -> PlacementResult:
    """:func:`small_cnn` (ReLU) with batch norm before and after the ReLU, and without it.

    Same settings as :func:`steps_to_target_experiment`. The claim: both placements reach
    ``target`` in at most ``1 / factor`` of the plain network's steps and end within
    ``max_gap`` of each other in validation accuracy.
    """
    device = resolve_device(device)
    settings = _settings(epochs=epochs, lr=lr, batch_size=batch_size, eval_every=eval_every,
                         seed=seed, num_threads=num_threads, device=device)  # fmt: skip
    target = _fraction("target", target)
    factor = check_number("factor", factor, minimum=1.0)
    max_gap = _fraction("max_gap", max_gap)
    data = _digits(data, device)
    curves = {
        name: _run(_cnn(data, batch_norm=place), data, name=name, **settings)
        for name, place in (
            ("plain", "none"), ("BN before ReLU", "before"), ("BN after ReLU", "after")
        )
    }
    return PlacementResult(curves, target, factor, max_gap, settings["lr"])


# --------------------------------------------------------------------------- experiment 5


class _UnitPercentiles(Callback):
    """Percentiles of one channel of a module's input, for every training batch."""

    def __init__(self, module: nn.Module, unit: int, percentiles: Sequence[float]) -> None:
        self.unit, self.q = unit, torch.tensor(percentiles, dtype=torch.float64) / 100
        self._rows: list[torch.Tensor] = []
        self._handle = module.register_forward_hook(self._hook)

    def _hook(self, module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        if not module.training:  # validation passes are not part of the picture
            return
        values = inputs[0].detach()[:, self.unit].reshape(-1).double()  # (N * H * W,)
        self._rows.append(torch.quantile(values, self.q.to(values.device)))

    def on_fit_end(self, model: nn.Module, history: History) -> None:
        self._handle.remove()

    def table(self) -> np.ndarray:
        return torch.stack(self._rows).cpu().numpy()  # (steps, percentiles)


@dataclass(frozen=True)
class PercentilesResult:
    """One unit's input to its sigmoid over training, without and with batch norm.

    ``percentiles[name]``: (steps, 3) array of the 15th, 50th and 85th percentiles of the
    unit's input over each training batch (N x H x W values), one row per step.
    ``drift[name]``: how far the distribution moved from where it started, the mean over
    steps and the three percentiles of |p(t) - p(step 1)|. The claim: the plain network's
    drift is at least ``factor`` times the BN network's.
    """

    percentiles: dict[str, np.ndarray]
    drift: dict[str, float]
    accuracy: dict[str, float]
    unit: int
    layer: int
    factor: float
    lr: float

    @property
    def ratio(self) -> float:
        bn = self.drift["with BN"]
        return self.drift["plain"] / bn if bn > 0 else math.inf

    @property
    def claim_holds(self) -> bool:
        return self.ratio >= self.factor

    @property
    def steps(self) -> np.ndarray:
        return np.arange(1, len(self.percentiles["plain"]) + 1)

    def sentence(self) -> str:
        verdict = "holds" if self.claim_holds else "does NOT hold"
        n = len(self.percentiles["plain"])
        return (
            f"Experiment: over {n} training steps at learning rate {self.lr:g}, the input to "
            f"sigmoid unit {self.unit} of conv layer {self.layer} moved on average "
            f"{self.drift['plain']:.2f} from its first-step percentiles without batch norm and "
            f"{self.drift['with BN']:.2f} with the course's BatchNorm2d ({self.ratio:.1f} times "
            f"less); validation accuracy {100 * self.accuracy['plain']:.1f}% without, "
            f"{100 * self.accuracy['with BN']:.1f}% with. The claim (at least "
            f"{self.factor:g} times less drift with BN) {verdict}."
        )


def activation_percentiles_experiment(
    data: DataSplits | None = None,
    *,
    lr: float = 0.1,
    unit: int = 0,
    layer: int = 2,
    factor: float = 1.5,
    epochs: int = 8,
    batch_size: int = 32,
    seed: int = 0,
    device: torch.device | str | None = None,
    num_threads: int | None = 1,
) -> PercentilesResult:
    """:func:`small_cnn` with sigmoids, without and with the course's ``BatchNorm2d``.

    Records, for every training step, the 15th/50th/85th percentiles of the input to the
    sigmoid of channel ``unit`` in conv stage ``layer`` (1 or 2): the convolution's output
    without batch norm, the batch norm's output with it. Validation accuracy is measured
    every 10 steps. The claim: without batch norm that distribution drifts at least
    ``factor`` times as far from its first-step position.
    """
    device = resolve_device(device)
    settings = _settings(epochs=epochs, lr=lr, batch_size=batch_size, eval_every=10, seed=seed,
                         num_threads=num_threads, device=device)  # fmt: skip
    layer = check_int("layer", layer, minimum=1, maximum=2)
    factor = check_number("factor", factor, minimum=1.0)
    widths = (8, 16)
    unit = check_int("unit", unit, minimum=0, maximum=widths[layer - 1] - 1,
                     what=f"a channel in [0, {widths[layer - 1] - 1}] of conv layer {layer}")
    data = _digits(data, device)
    build = _cnn(data, activation="sigmoid", bn_layer="course", widths=widths)
    percentiles, drift, accuracy = {}, {}, {}
    for name, place in (("plain", "none"), ("with BN", "before")):
        torch.manual_seed(settings["seed"])
        model = build(batch_norm=place)
        recorder = _UnitPercentiles(getattr(model, f"act{layer}"), unit, _PERCENTILES)
        curve = train_curve(model, data, name=name, callbacks=[recorder], **settings)
        table = recorder.table()  # (steps, 3)
        percentiles[name] = table
        drift[name] = float(np.mean(np.abs(table - table[:1])))
        accuracy[name] = curve.end_accuracy
    return PercentilesResult(percentiles, drift, accuracy, unit, layer, factor, settings["lr"])


# --------------------------------------------------------------------------- demonstrations


def _demo_dtype(device: torch.device) -> torch.dtype:
    return torch.float32 if device.type == "mps" else torch.float64  # MPS has no float64


def _rounding(dtype: str) -> float:
    """What "equal up to rounding" allows for values of size 1: 1000 machine epsilons."""
    return 1000 * torch.finfo(getattr(torch, dtype)).eps


def _demo_input(seed: int, shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """An (N, C, H, W) batch whose channels have different means and spreads (float64, or
    float32 on Apple MPS)."""
    gen = torch.Generator().manual_seed(seed)
    c = shape[1]
    x = torch.randn(shape, generator=gen, dtype=torch.float64)
    scale = torch.linspace(0.5, 3.0, c, dtype=torch.float64).reshape(1, c, 1, 1)
    shift = torch.linspace(-2.0, 4.0, c, dtype=torch.float64).reshape(1, c, 1, 1)
    return (x * scale + shift).to(device, _demo_dtype(device))


def _dtype_name(t: torch.Tensor) -> str:
    return str(t.dtype).removeprefix("torch.")


@dataclass(frozen=True)
class RestoreIdentityResult:
    """Batch norm with gamma = sqrt(var + eps), beta = mean, against its own input.

    ``max_abs_difference`` between output and input, ``scale`` the largest |input|; the
    claim: equal up to rounding in ``dtype``.
    """

    max_abs_difference: float
    scale: float
    shape: tuple[int, ...]
    dtype: str

    @property
    def claim_holds(self) -> bool:
        return self.max_abs_difference <= _rounding(self.dtype) * max(1.0, self.scale)

    def sentence(self) -> str:
        verdict = "holds" if self.claim_holds else "does NOT hold"
        return (
            f"Experiment: on a batch of shape {self.shape}, batch norm with gamma = "
            f"sqrt(batch variance + eps) and beta = batch mean returned its input to within "
            f"{self.max_abs_difference:.1e} ({self.dtype}); the claim (the identity, up to "
            f"rounding) {verdict}."
        )


def restore_identity_demo(
    *, seed: int = 0, device: torch.device | str | None = None
) -> RestoreIdentityResult:
    """:func:`course_lib.ops.batch_norm` (training mode) with the batch's own statistics as
    gamma and beta, on an (8, 3, 4, 5) float64 batch (float32 on Apple MPS): the output is
    the input."""
    seed = _seed(seed)
    device = resolve_device(device)
    shape = (8, 3, 4, 5)
    x = _demo_input(seed, shape, device)
    eps = 1e-5
    mean = x.mean(dim=(0, 2, 3))  # (C,)
    var = x.var(dim=(0, 2, 3), unbiased=False)  # (C,) biased, as the normalisation uses
    out, _, _ = ops.batch_norm(x, torch.sqrt(var + eps), mean, None, None, training=True, eps=eps)
    return RestoreIdentityResult(float((out - x).abs().max()), float(x.abs().max()), shape,
                                 _dtype_name(x))  # fmt: skip


@dataclass(frozen=True)
class BiasGradientResult:
    """A convolution with a bias, then the course's batch norm in training mode.

    ``bias_grad_max``: the largest |dL/db| of the conv bias; ``weight_grad_norm``: the
    norm of dL/dW, for scale; ``output_change``: the largest change of the BN output when
    every bias is shifted by 1, ``output_scale`` the largest |output|. The claim: both are
    0 up to rounding in ``dtype``.
    """

    bias_grad_max: float
    weight_grad_norm: float
    output_change: float
    output_scale: float
    dtype: str

    @property
    def claim_holds(self) -> bool:
        tol = _rounding(self.dtype)
        return (
            self.bias_grad_max <= tol * max(1.0, self.weight_grad_norm)
            and self.output_change <= tol * max(1.0, self.output_scale)
        )

    def sentence(self) -> str:
        verdict = "holds" if self.claim_holds else "does NOT hold"
        return (
            f"Experiment: for a convolution followed by batch norm (training mode), the "
            f"bias's gradient is at most {self.bias_grad_max:.1e} while the weights' gradient "
            f"has norm {self.weight_grad_norm:.3g}, and shifting every bias by 1 changed the "
            f"output by at most {self.output_change:.1e} ({self.dtype}); the claim (the bias "
            f"gets no gradient and does nothing) {verdict}."
        )


def bias_gradient_demo(
    *, seed: int = 0, device: torch.device | str | None = None
) -> BiasGradientResult:
    """Conv (3 -> 4 channels, 3x3, with bias) -> course ``BatchNorm2d`` -> a random linear loss.

    float64 (float32 on Apple MPS), on a (6, 3, 7, 5) batch. The gradients come from the
    course's ``batch_norm_backward`` (through :class:`course_lib.layers.BatchNorm2d`).
    """
    seed = _seed(seed)
    device = resolve_device(device)
    x = _demo_input(seed, (6, 3, 7, 5), device)
    torch.manual_seed(seed)
    conv = nn.Conv2d(3, 4, 3, padding=1, bias=True).to(device, x.dtype)
    with torch.no_grad():
        conv.bias.uniform_(-2.0, 2.0)  # a bias far from 0, to make the point
    bn = course_layers.BatchNorm2d(4).to(device, x.dtype)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 2.0)
        bn.bias.uniform_(-1.0, 1.0)
    gen = torch.Generator().manual_seed(seed + 1)
    upstream = torch.randn((6, 4, 7, 5), generator=gen, dtype=torch.float64).to(device, x.dtype)
    out = bn(conv(x))  # (6, 4, 7, 5)
    loss = (out * upstream).sum()  # dL/dout = upstream
    loss.backward()
    with torch.no_grad():
        conv.bias += 1.0
        shifted = bn(conv(x))
    return BiasGradientResult(
        bias_grad_max=float(conv.bias.grad.abs().max()),
        weight_grad_norm=float(conv.weight.grad.norm()),
        output_change=float((shifted - out.detach()).abs().max()),
        output_scale=float(out.detach().abs().max()),
        dtype=_dtype_name(x),
    )


def _xp(a):
    return torch if isinstance(a, torch.Tensor) else np


def fold_batch_norm(weight, bias, gamma, beta, running_mean, running_var, *, eps: float = 1e-5):
    """Fold an inference-mode batch norm into the convolution before it.

    weight (F, C, KH, KW), bias (F,) or None (treated as 0); gamma, beta, running_mean,
    running_var (F,). Returns ``(folded_weight, folded_bias)`` such that
    ``conv(x, folded_weight, folded_bias) == bn_eval(conv(x, weight, bias))``:

        s = gamma / sqrt(running_var + eps)          (one factor per output channel)
        folded_weight[f] = s[f] * weight[f]
        folded_bias      = s * (bias - running_mean) + beta

    numpy arrays or torch tensors (all of one kind); nothing is modified.
    """
    xp = _xp(weight)
    check_array("weight", weight, ndim=4, layout="(F, C, KH, KW)", floating=True,
                allow_empty=False)  # fmt: skip
    f = weight.shape[0]
    named = {"gamma": gamma, "beta": beta, "running_mean": running_mean, "running_var": running_var}
    if bias is not None:
        named = {"bias": bias, **named}
    for name, v in named.items():
        check_array(name, v, ndim=1, layout=f"({f},), one per output channel", floating=True)
        if _xp(v) is not xp:
            raise TypeError(
                f"{name} is a {type(v).__name__} but weight is a {type(weight).__name__}; "
                "expected all numpy arrays or all torch tensors"
            )
        if v.shape[0] != f:
            raise ValueError(
                f"{name} has shape {tuple(v.shape)}; expected ({f},), one per filter of weight"
            )
    eps = check_number("eps", eps, positive=True, what="a positive finite number")
    if bool((running_var < 0).any()):
        raise ValueError("running_var has negative entries; a variance is >= 0")
    scale = gamma / xp.sqrt(running_var + eps)  # (F,)
    folded_weight = weight * scale.reshape(f, 1, 1, 1)  # (F, C, KH, KW)
    shift = -running_mean if bias is None else bias - running_mean
    return folded_weight, shift * scale + beta


@dataclass(frozen=True)
class FoldingResult:
    """Conv -> BN (eval) against the single folded conv, on one batch; the claim: the same
    outputs up to rounding in ``dtype``."""

    max_abs_difference: float
    output_scale: float
    dtype: str

    @property
    def claim_holds(self) -> bool:
        return self.max_abs_difference <= _rounding(self.dtype) * max(1.0, self.output_scale)

    def sentence(self) -> str:
        verdict = "holds" if self.claim_holds else "does NOT hold"
        return (
            f"Experiment: a convolution followed by an inference-mode batch norm and the single "
            f"folded convolution gave outputs (up to {self.output_scale:.3g} in size) that differ "
            f"by at most {self.max_abs_difference:.1e} ({self.dtype}); the claim (one linear map: "
            f"the same outputs) {verdict}."
        )


def folding_demo(*, seed: int = 0, device: torch.device | str | None = None) -> FoldingResult:
    """Fold a torch ``BatchNorm2d`` (eval mode, random running statistics) into the
    ``Conv2d`` before it with :func:`fold_batch_norm`; compare outputs on one batch
    (float64, or float32 on Apple MPS)."""
    seed = _seed(seed)
    device = resolve_device(device)
    x = _demo_input(seed, (4, 3, 9, 7), device)
    torch.manual_seed(seed)
    conv = nn.Conv2d(3, 5, (3, 2), padding=1, bias=True).to(device, x.dtype)
    bn = nn.BatchNorm2d(5).to(device, x.dtype).eval()
    with torch.no_grad():
        bn.weight.uniform_(0.5, 2.0)
        bn.bias.uniform_(-1.0, 1.0)
        bn.running_mean.uniform_(-1.0, 1.0)
        bn.running_var.uniform_(0.2, 3.0)
        expected = bn(conv(x))  # (4, 5, H', W')
        w, b = fold_batch_norm(conv.weight, conv.bias, bn.weight, bn.bias, bn.running_mean,
                               bn.running_var, eps=bn.eps)  # fmt: skip
        folded = nn.functional.conv2d(x, w, b, padding=1)
    return FoldingResult(
        max_abs_difference=float((folded - expected).abs().max()),
        output_scale=float(expected.abs().max()),
        dtype=_dtype_name(x),
    )
