"""Lesson 06's experiments: overfitting, and what dropout does about it.

The network of the lesson is a small fully connected net on the original 8x8 digits,
with a dropout layer in front of each linear layer (:func:`build_dropout_net`):

    (N, 1, 8, 8) -> flatten (N, 64) -> drop0 -> fc1 (N, 256) -> relu1 -> drop1
    -> fc2 (N, 256) -> relu2 -> drop2 -> out (N, 10)

Its dropout layers are :class:`course_lib.layers.Dropout` (the course's inverted
dropout, :func:`course_lib.ops.dropout`), or, with ``forward_fn=`` and ``backward_fn=``,
a learner's own pair of functions wrapped in a tiny ``torch.autograd.Function``: the
mask is drawn exactly as the library layer draws it (by :func:`course_lib.ops.dropout`,
from torch's global generator), so with the same seed both networks see the same masks
and must end with the same weights.

The questions, each answered by a function that returns its numbers:

* **Overfitting, shown.** :func:`overfitting_experiment` trains the net without dropout
  on a small slice of the training digits (:func:`digits_slice`: 20 per class), once
  with correct labels and once with a quarter of them replaced by wrong ones. Train
  accuracy (measured in eval mode, on the labels the net was given) reaches 100% in
  both cases; test accuracy stays well below, and with wrong labels the net has learnt
  almost every one of them by heart.
* **Dropout narrows the gap.** :func:`dropout_gap_experiment` trains the same net, with
  the same initial weights and batches, without dropout and with ``p_drop`` on every
  dropout layer, on the slice with wrong labels. The claim: the final train/test
  accuracy gap shrinks by at least ``margin`` (10 percentage points by default).
  With all-correct labels (``label_noise=0``) the effect is much smaller, a couple of
  points either way (on seeds 0-4 it widened the gap on four): on a clean slice there
  is little to memorise that hurts.
* **Your dropout trains the same network.** :func:`same_as_library_experiment` trains
  the library's net and the one with the learner's functions from the same seed.
* **In expectation.** :func:`expectation_experiment` averages the learner's inverted
  and classic dropout over many masks and compares with their inference outputs.
* **Thinned networks.** :func:`thinned_layer_experiment` enumerates all ``2**n`` masks
  of one linear layer's ``n`` inputs: their probability-weighted average is exactly the
  full layer. :func:`thinned_average_experiment` averages many thinned versions of a
  trained net and watches the average approach the full (weight-scaled) network.

Every training run is one :class:`course_lib.recipes.Recipe`, :data:`DROPOUT_RECIPE`
by default: Adam at a constant 1e-3, 100 epochs of batches of 20, one CPU thread.

Source: lesson 06 ("Overfitting and dropout"); Srivastava, Hinton, Krizhevsky,
Sutskever and Salakhutdinov (2014), "Dropout: a simple way to prevent neural networks
from overfitting", JMLR 15.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.autograd.function import once_differentiable
from torch.utils.data import TensorDataset

from course_lib import layers, ops
from course_lib.data import DataSplits, load_digits
from course_lib.device import resolve_device, set_seed, torch_threads
from course_lib.recipes import Recipe
from course_lib.train import Callback, History, evaluate, fit
from course_lib.validate import (
    as_float_array,
    check_array,
    check_generator,
    check_int,
    check_number,
    check_probability,
)

__all__ = [
    "DROPOUT_RECIPE",
    "DigitsSlice",
    "DropoutGapResult",
    "ExpectationResult",
    "OverfittingResult",
    "SameAsLibraryResult",
    "ThinnedAverageResult",
    "ThinnedLayerResult",
    "TrainedNet",
    "build_dropout_net",
    "digits_slice",
    "dropout_gap_experiment",
    "expectation_experiment",
    "overfitting_experiment",
    "same_as_library_experiment",
    "thinned_average_experiment",
    "thinned_forward",
    "thinned_layer_experiment",
    "train_dropout_net",
]

DROPOUT_RECIPE = Recipe(
    epochs=100, lr=1e-3, optimizer="adam", scheduler=None, batch_size=20, time_budget_s=None
)
_DIGIT_PIXELS = 8 * 8  # the original scikit-learn digits, not upscaled
_MAX_ENUMERATED = 16  # thinned_layer_experiment lists 2**n masks: at most 65,536


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class DigitsSlice:
    """A small training set cut from the course digits, perhaps with some labels wrong.

    ``data.train`` holds the slice (8x8 images (n, 1, 8, 8) and the labels the network
    is given); ``data.val`` and ``data.test`` are the course's full validation and test
    digits, untouched. ``true_labels`` (n,) are the slice's correct labels;
    ``mislabelled`` (n,) bool marks the images whose given label is wrong.
    """

    data: DataSplits
    true_labels: torch.Tensor
    mislabelled: torch.Tensor
    label_noise: float

    @property
    def n_train(self) -> int:
        return len(self.data.train)

    @property
    def n_wrong(self) -> int:
        return int(self.mislabelled.sum())

    def __repr__(self) -> str:
        return (
            f"DigitsSlice({self.n_train} training digits, {self.n_wrong} of them mislabelled; "
            f"{len(self.data.test)} test digits)"
        )


def digits_slice(
    n_per_class: int = 20,
    label_noise: float = 0.25,
    *,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> DigitsSlice:
    """``n_per_class`` training digits of each class, a fraction ``label_noise`` mislabelled.

    The images are drawn at random (by ``seed``) from the 1,257 training digits of
    :func:`course_lib.data.load_digits` at their original 8x8 size; exactly
    ``round(label_noise * n)`` of the ``n = 10 * n_per_class`` labels, chosen at random,
    are replaced by a different class (each wrong class equally likely). The
    validation (180) and test (360) digits are the course's, with their correct labels.
    """
    n_per_class = check_int("n_per_class", n_per_class, minimum=1, maximum=100)
    label_noise = check_probability("label_noise", label_noise)
    seed = check_int("seed", seed, minimum=0, maximum=2**64 - 1)
    device = resolve_device(device)
    digits = load_digits(size=8, device="cpu")
    x, y = digits.train.tensors  # (1257, 1, 8, 8), (1257,)
    gen = torch.Generator().manual_seed(seed)
    picked = []
    for c in range(len(digits.classes)):
        where = torch.nonzero(y == c).flatten()
        if len(where) < n_per_class:
            raise ValueError(
                f"n_per_class={n_per_class} is more than the {len(where)} training digits of "
                f"class {c}"
            )
        picked.append(where[torch.randperm(len(where), generator=gen)[:n_per_class]])
    idx = torch.cat(picked).sort().values
    true = y[idx].clone()
    given = true.clone()
    n = len(idx)
    wrong = torch.zeros(n, dtype=torch.bool)
    flip = torch.randperm(n, generator=gen)[: round(label_noise * n)]
    wrong[flip] = True
    shift = torch.randint(1, len(digits.classes), (len(flip),), generator=gen)
    given[flip] = (true[flip] + shift) % len(digits.classes)  # never the true class

    def on_device(ds: TensorDataset) -> TensorDataset:
        return TensorDataset(*(t.to(device) for t in ds.tensors))

    train = TensorDataset(x[idx].to(device), given.to(device))
    data = DataSplits(train, on_device(digits.val), on_device(digits.test), digits.classes)
    return DigitsSlice(data, true.to(device), wrong.to(device), label_noise)


# --------------------------------------------------------------------------- the network


def _call_learner(fn: Callable, name: str, like: torch.Tensor, *args, **kwargs) -> torch.Tensor:
    """Run a learner's dropout function on numpy copies; its answer as a tensor like ``like``."""
    arrays = [
        a.detach().cpu().numpy().copy() if isinstance(a, torch.Tensor) else a for a in args
    ]
    out = fn(*arrays, **kwargs)
    if out is None:
        raise ValueError(f"{name} returned None; expected an array of shape {tuple(like.shape)}")
    if isinstance(out, list | tuple):
        raise TypeError(f"{name} returned a {type(out).__name__}; expected a numpy array")
    out = torch.as_tensor(np.asarray(out) if not isinstance(out, torch.Tensor) else out)
    if tuple(out.shape) != tuple(like.shape):
        raise ValueError(
            f"{name} returned shape {tuple(out.shape)}; expected {tuple(like.shape)}, the shape "
            "of its input"
        )
    return out.to(dtype=like.dtype, device=like.device)


class _YourDropoutFunction(torch.autograd.Function):
    """The learner's ``forward_fn(x, keep_mask, p_drop)`` with ``backward_fn`` as its gradient."""

    @staticmethod
    def forward(ctx, x, keep, p, forward_fn, backward_fn):
        ctx.save_for_backward(keep)
        ctx.p, ctx.backward_fn = p, backward_fn
        return _call_learner(forward_fn, "forward_fn", x, x, keep, p, training=True)

    @staticmethod
    @once_differentiable
    def backward(ctx, dout):
        (keep,) = ctx.saved_tensors
        dx = _call_learner(ctx.backward_fn, "backward_fn", dout, dout, keep, ctx.p)
        return dx, None, None, None, None


class _YourDropout(nn.Dropout):
    """``course_lib.layers.Dropout`` with the arithmetic done by a learner's two functions.

    The mask comes from :func:`course_lib.ops.dropout` on torch's global generator, as
    in the library layer, so one seed gives both layers the same masks. In eval mode the
    learner's forward runs with ``training=False`` (and a mask that keeps everything),
    outside autograd: evaluation needs no gradient.
    """

    def __init__(self, p: float, forward_fn: Callable, backward_fn: Callable) -> None:
        super().__init__(check_probability("p", p, allow_one=False))
        self.forward_fn, self.backward_fn = forward_fn, backward_fn

    def extra_repr(self) -> str:
        fns = (self.forward_fn, self.backward_fn)
        names = (getattr(f, "__name__", type(f).__name__) for f in fns)
        return "p={}, forward_fn={}, backward_fn={}".format(self.p, *names)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not self.training:  # no gradient flows through the learner's inference
            keep = torch.ones(input.shape, dtype=torch.bool, device=input.device)
            return _call_learner(self.forward_fn, "forward_fn", input, input, keep, float(self.p),
                                 training=False)  # fmt: skip
        if self.p == 0:  # the library layer returns its input and draws no mask
            return input
        _, keep = ops.dropout(input.detach(), float(self.p), training=True)  # the library's draw
        return _YourDropoutFunction.apply(
            input, keep, float(self.p), self.forward_fn, self.backward_fn
        )


def build_dropout_net(
    p_drop: float = 0.2,
    *,
    hidden: int = 256,
    in_features: int = _DIGIT_PIXELS,
    num_classes: int = 10,
    forward_fn: Callable | None = None,
    backward_fn: Callable | None = None,
) -> nn.Sequential:
    """The lesson's net: dropout (``p_drop``) before each of three linear layers.

    ``(N, 1, 8, 8)`` (or any ``(N, ...)`` with ``in_features`` values) -> ``(N,
    num_classes)`` logits; module names ``flatten, drop0, fc1, relu1, drop1, fc2, relu2,
    drop2, out``. Layers come from :mod:`course_lib.layers`. With ``forward_fn`` and
    ``backward_fn`` (both or neither) the dropout layers run those functions instead of
    :func:`course_lib.ops.dropout`: ``forward_fn(x, keep_mask, p_drop, training=True)``
    and ``backward_fn(dout, keep_mask, p_drop)`` on numpy arrays, returning arrays of
    the same shape. ``p_drop = 0`` keeps the dropout layers, which then do nothing.
    """
    p_drop = check_probability("p_drop", p_drop, allow_one=False)
    hidden = check_int("hidden", hidden, minimum=1)
    in_features = check_int("in_features", in_features, minimum=1)
    num_classes = check_int("num_classes", num_classes, minimum=1)
    if (forward_fn is None) != (backward_fn is None):
        missing = "backward_fn" if backward_fn is None else "forward_fn"
        raise ValueError(
            f"{missing}=None: give both forward_fn and backward_fn (your dropout), or neither "
            "(the library's course_lib.layers.Dropout)"
        )
    for name, fn in (("forward_fn", forward_fn), ("backward_fn", backward_fn)):
        if fn is not None and not callable(fn):
            raise TypeError(f"{name}={fn!r} must be a function or None")

    def drop() -> nn.Module:
        if forward_fn is None:
            return layers.Dropout(p_drop)
        return _YourDropout(p_drop, forward_fn, backward_fn)

    return nn.Sequential(OrderedDict([
        ("flatten", nn.Flatten()),  # (N, 1, 8, 8) -> (N, 64)
        ("drop0", drop()),
        ("fc1", layers.Linear(in_features, hidden)),
        ("relu1", layers.ReLU()),
        ("drop1", drop()),
        ("fc2", layers.Linear(hidden, hidden)),
        ("relu2", layers.ReLU()),
        ("drop2", drop()),
        ("out", layers.Linear(hidden, num_classes)),
    ]))  # fmt: skip


# --------------------------------------------------------------------------- one run


class _AccuracyCurves(Callback):
    """Eval-mode accuracy on the training and the test data after every epoch."""

    def __init__(self, train: TensorDataset, test: TensorDataset, device: torch.device) -> None:
        self.train, self.test, self.device = train, test, device
        self.train_accuracy: list[float] = []
        self.test_accuracy: list[float] = []

    def on_epoch_end(self, epoch: int, model: nn.Module, history: History) -> None:
        self.train_accuracy.append(evaluate(model, self.train, device=self.device)["accuracy"])
        self.test_accuracy.append(evaluate(model, self.test, device=self.device)["accuracy"])


@dataclass(frozen=True)
class TrainedNet:
    """One trained net and its accuracy curves (one value per epoch, eval mode).

    ``train_accuracy`` is measured on the labels the net was trained on (wrong ones
    included), ``test_accuracy`` on the 360 test digits. ``memorised`` is the fraction
    of mislabelled training digits for which the final net predicts the wrong label it
    was given (NaN without wrong labels); ``final_predictions`` (n_test,) its test
    predictions; ``step_loss`` the training loss of every step.
    """

    p_drop: float
    model: nn.Module
    train_accuracy: tuple[float, ...]
    test_accuracy: tuple[float, ...]
    memorised: float
    final_predictions: torch.Tensor
    step_loss: tuple[float, ...]
    seed: int

    @property
    def epochs(self) -> int:
        return len(self.train_accuracy)

    @property
    def final_train(self) -> float:
        return self.train_accuracy[-1]

    @property
    def final_test(self) -> float:
        return self.test_accuracy[-1]

    @property
    def gap(self) -> float:
        """Train minus test accuracy after the last epoch."""
        return self.final_train - self.final_test

    @property
    def gap_curve(self) -> tuple[float, ...]:
        return tuple(a - b for a, b in zip(self.train_accuracy, self.test_accuracy, strict=True))

    def as_history(self) -> dict[str, list[float]]:
        """The curves as ``{"train_accuracy": [...], "test_accuracy": [...]}``, for
        :func:`course_lib.viz.plot_history` with ``splits=("train", "test")``."""
        return {"train_accuracy": list(self.train_accuracy),
                "test_accuracy": list(self.test_accuracy)}  # fmt: skip

    def __str__(self) -> str:
        text = (
            f"p_drop = {self.p_drop:g}: train accuracy {100 * self.final_train:.1f}%, test "
            f"{100 * self.final_test:.1f}%, gap {100 * self.gap:.1f} points after "
            f"{self.epochs} epochs"
        )
        if not math.isnan(self.memorised):
            text += f"; reproduces {100 * self.memorised:.0f}% of the wrong training labels"
        return text


def _check_rate(name: str, value) -> float:
    """A drop rate in (0, 1): dropout that drops something and keeps something."""
    return check_number(name, value, positive=True, below=1.0, what="a probability in (0, 1)")


def _check_slice(data) -> DigitsSlice:
    if not isinstance(data, DigitsSlice):
        raise TypeError(
            f"data is a {type(data).__name__}; expected a DigitsSlice (from digits_slice(...))"
        )
    return data


def _check_recipe(recipe) -> Recipe:
    if not isinstance(recipe, Recipe):
        raise TypeError(
            f"recipe is a {type(recipe).__name__}; expected a course_lib.recipes.Recipe"
        )
    return recipe


def train_dropout_net(
    data: DigitsSlice,
    p_drop: float = 0.2,
    recipe: Recipe = DROPOUT_RECIPE,
    *,
    forward_fn: Callable | None = None,
    backward_fn: Callable | None = None,
    device: torch.device | str | None = None,
) -> TrainedNet:
    """Train a fresh :func:`build_dropout_net` on ``data`` by ``recipe``.

    The weights are initialised after ``set_seed(recipe.seed)`` and ``fit`` reseeds
    with it, so runs with the same seed and different ``p_drop`` start from the same
    weights and see the same batches; runs with the same seed and ``p_drop`` see the
    same dropout masks (the library's or your ``forward_fn``/``backward_fn``).
    """
    data = _check_slice(data)
    p_drop = check_probability("p_drop", p_drop, allow_one=False)
    recipe = _check_recipe(recipe)
    device = resolve_device(device)
    x_train = data.data.train.tensors[0]
    set_seed(recipe.seed)
    model = build_dropout_net(
        p_drop,
        in_features=math.prod(x_train.shape[1:]),
        num_classes=len(data.data.classes),
        forward_fn=forward_fn,
        backward_fn=backward_fn,
    )
    curves = _AccuracyCurves(data.data.train, data.data.test, device)
    with torch_threads(recipe.num_threads):
        history = fit(
            model, data.data.train, None, **recipe.fit_kwargs(), device=device,
            progress=False, callbacks=[curves],
        )  # fmt: skip
        model.eval()
        with torch.no_grad():
            given = data.data.train.tensors[1]
            train_pred = model(x_train.to(device)).argmax(1)  # (n_train,)
            test_pred = model(data.data.test.tensors[0].to(device)).argmax(1).cpu()  # (n_test,)
    wrong = data.mislabelled.to(train_pred.device)
    memorised = (
        float((train_pred[wrong] == given.to(train_pred.device)[wrong]).double().mean())
        if bool(wrong.any()) else math.nan
    )  # fmt: skip
    return TrainedNet(
        p_drop=p_drop,
        model=model,
        train_accuracy=tuple(curves.train_accuracy),
        test_accuracy=tuple(curves.test_accuracy),
        memorised=memorised,
        final_predictions=test_pred,
        step_loss=tuple(history.step_loss),
        seed=recipe.seed,
    )


# --------------------------------------------------------------------------- 1. overfitting


@dataclass(frozen=True)
class OverfittingResult:
    """The net without dropout on a clean slice and on the same slice with wrong labels.

    Claim: train accuracy reaches at least ``min_train`` on both; the gap is at least
    ``min_gap`` on the clean slice and at least ``min_gap_noisy`` with wrong labels,
    where the net also reproduces at least ``min_memorised`` of the wrong labels.
    """

    clean: TrainedNet
    noisy: TrainedNet
    n_train: int
    n_wrong: int
    min_train: float = 0.98
    min_gap: float = 0.03
    min_gap_noisy: float = 0.15
    min_memorised: float = 0.9

    @property
    def claim_holds(self) -> bool:
        return (
            min(self.clean.final_train, self.noisy.final_train) >= self.min_train
            and self.clean.gap >= self.min_gap
            and self.noisy.gap >= self.min_gap_noisy
            and self.noisy.memorised >= self.min_memorised
        )

    def sentence(self) -> str:
        verdict = "holds" if self.claim_holds else "does NOT hold"
        return (
            f"Experiment: without dropout, on {self.n_train} training digits the net reached "
            f"{100 * self.clean.final_train:.1f}% train accuracy but "
            f"{100 * self.clean.final_test:.1f}% test accuracy (a gap of "
            f"{100 * self.clean.gap:.1f} points); with {self.n_wrong} of "
            f"their labels wrong it still reached {100 * self.noisy.final_train:.1f}% on the "
            f"training labels, reproducing {100 * self.noisy.memorised:.0f}% of the wrong ones, "
            f"and {100 * self.noisy.final_test:.1f}% on the test digits (a gap of "
            f"{100 * self.noisy.gap:.1f} points); the claim (train >= {100 * self.min_train:.0f}%, "
            f"gaps >= {100 * self.min_gap:.0f} and >= {100 * self.min_gap_noisy:.0f} points, "
            f">= {100 * self.min_memorised:.0f}% of wrong labels learnt) {verdict}."
        )


def overfitting_experiment(
    recipe: Recipe = DROPOUT_RECIPE,
    *,
    n_per_class: int = 20,
    label_noise: float = 0.25,
    device: torch.device | str | None = None,
) -> OverfittingResult:
    """Train the net without dropout on a clean slice and on the slice with wrong labels.

    Both slices hold the same images (drawn by ``recipe.seed``); the second has a
    fraction ``label_noise`` of its labels wrong.
    """
    recipe = _check_recipe(recipe)
    device = resolve_device(device)
    clean = digits_slice(n_per_class, 0.0, seed=recipe.seed, device=device)
    noisy = digits_slice(n_per_class, label_noise, seed=recipe.seed, device=device)
    return OverfittingResult(
        clean=train_dropout_net(clean, 0.0, recipe, device=device),
        noisy=train_dropout_net(noisy, 0.0, recipe, device=device),
        n_train=noisy.n_train,
        n_wrong=noisy.n_wrong,
    )


# --------------------------------------------------------------------------- 2. the gap


@dataclass(frozen=True)
class DropoutGapResult:
    """Runs without dropout and with ``p_drop`` (and any extra ``runs``) on one slice.

    Claim: ``narrowing = runs[0].gap - runs[p_drop].gap >= margin``.
    """

    p_drop: float
    runs: dict[float, TrainedNet]
    n_train: int
    n_wrong: int
    n_test: int
    margin: float

    @property
    def baseline(self) -> TrainedNet:
        return self.runs[0.0]

    @property
    def dropped(self) -> TrainedNet:
        return self.runs[self.p_drop]

    @property
    def narrowing(self) -> float:
        """How much smaller the final train/test gap is with dropout (a fraction)."""
        return self.baseline.gap - self.dropped.gap

    @property
    def claim_holds(self) -> bool:
        return self.narrowing >= self.margin

    def table(self) -> str:
        """One line per drop rate: train and test accuracy, gap, wrong labels reproduced."""
        lines = [f"{'p_drop':>7}{'train':>9}{'test':>9}{'gap':>9}{'wrong labels learnt':>22}"]
        for p in sorted(self.runs):
            r = self.runs[p]
            mem = "-" if math.isnan(r.memorised) else f"{100 * r.memorised:.0f}%"
            lines.append(
                f"{p:>7g}{100 * r.final_train:>8.1f}%{100 * r.final_test:>8.1f}%"
                f"{100 * r.gap:>6.1f} pt{mem:>22}"
            )
        return "\n".join(lines)

    def sentence(self) -> str:
        verdict = "holds" if self.claim_holds else "does NOT hold"
        b, d = self.baseline, self.dropped
        return (
            f"Experiment: on {self.n_train} training digits ({self.n_wrong} mislabelled), "
            f"after {b.epochs} epochs from the same initial weights, the train/test accuracy gap "
            f"was {100 * b.gap:.1f} points without dropout ({100 * b.final_train:.1f}% vs "
            f"{100 * b.final_test:.1f}%) and {100 * d.gap:.1f} points with p_drop = "
            f"{self.p_drop:g} ({100 * d.final_train:.1f}% vs {100 * d.final_test:.1f}%): "
            f"dropout narrowed it by "
            f"{100 * self.narrowing:.1f} points; the claim (at least {100 * self.margin:.0f} "
            f"points) {verdict}."
        )


def dropout_gap_experiment(
    data: DigitsSlice | None = None,
    recipe: Recipe = DROPOUT_RECIPE,
    *,
    p_drop: float = 0.2,
    margin: float = 0.10,
    extra_rates: Sequence[float] = (),
    device: torch.device | str | None = None,
) -> DropoutGapResult:
    """Train without dropout and with ``p_drop`` (and each of ``extra_rates``) on one slice.

    ``data`` defaults to :func:`digits_slice` (200 digits, 50 mislabelled) drawn by
    ``recipe.seed``. Every run starts from the same weights (``set_seed(recipe.seed)``)
    and sees the same batches. ``extra_rates`` adds runs for the lesson's widget; they
    play no part in the claim.
    """
    recipe = _check_recipe(recipe)
    p_drop = _check_rate("p_drop", p_drop)
    margin = check_number("margin", margin, minimum=0.0, below=1.0, what="a fraction in [0, 1)")
    if isinstance(extra_rates, str) or not isinstance(extra_rates, Sequence):
        raise TypeError(f"extra_rates={extra_rates!r} must be a sequence of drop rates")
    rates = [0.0, p_drop] + [
        check_probability(f"extra_rates[{i}]", r, allow_one=False)
        for i, r in enumerate(extra_rates)
    ]
    device = resolve_device(device)
    if data is None:
        data = digits_slice(seed=recipe.seed, device=device)
    data = _check_slice(data)
    runs = {}
    for p in rates:
        if p not in runs:
            runs[p] = train_dropout_net(data, p, recipe, device=device)
    return DropoutGapResult(
        p_drop=p_drop,
        runs=dict(sorted(runs.items())),
        n_train=data.n_train,
        n_wrong=data.n_wrong,
        n_test=len(data.data.test),
        margin=margin,
    )


# --------------------------------------------------------------------------- 3. yours = library's


@dataclass(frozen=True)
class SameAsLibraryResult:
    """The library's net and the net with your dropout functions, trained from one seed.

    Claim: every weight agrees within ``tolerance`` (float32 rounding: dividing by
    p_keep and multiplying by 1/p_keep can differ in the last bit) and the two nets
    predict the same class for every test digit.
    """

    library: TrainedNet
    yours: TrainedNet
    max_weight_difference: float
    max_loss_difference: float
    tolerance: float

    @property
    def same_predictions(self) -> bool:
        return bool(torch.equal(self.library.final_predictions, self.yours.final_predictions))

    @property
    def claim_holds(self) -> bool:
        return self.max_weight_difference <= self.tolerance and self.same_predictions

    def sentence(self) -> str:
        verdict = "holds" if self.claim_holds else "does NOT hold"
        same = "the same" if self.same_predictions else "NOT the same"
        return (
            f"Experiment: trained from the same seed for {self.library.epochs} epochs with "
            f"p_drop = {self.library.p_drop:g}, the net with your dropout functions and the net "
            f"with course_lib.layers.Dropout ended with weights that differ by at most "
            f"{self.max_weight_difference:.1e} (training losses by at most "
            f"{self.max_loss_difference:.1e}), test accuracy {100 * self.yours.final_test:.1f}% "
            f"vs {100 * self.library.final_test:.1f}%, and {same} prediction for every test "
            f"digit; the claim (weights within {self.tolerance:.0e}, same predictions) {verdict}."
        )


def same_as_library_experiment(
    forward_fn: Callable,
    backward_fn: Callable,
    data: DigitsSlice | None = None,
    recipe: Recipe = DROPOUT_RECIPE.replace(epochs=30),  # noqa: B008 -- frozen, shared safely
    *,
    p_drop: float = 0.2,
    tolerance: float = 1e-4,
    device: torch.device | str | None = None,
) -> SameAsLibraryResult:
    """Train :func:`build_dropout_net` twice from ``recipe.seed``: library dropout, then yours.

    ``forward_fn(x, keep_mask, p_drop, training=True)`` and ``backward_fn(dout,
    keep_mask, p_drop)`` get numpy arrays (float32 activations, a bool mask) and return
    arrays of the same shape. ``data`` defaults to :func:`digits_slice` by ``recipe.seed``.
    """
    if not callable(forward_fn) or not callable(backward_fn):
        bad = "forward_fn" if not callable(forward_fn) else "backward_fn"
        value = forward_fn if bad == "forward_fn" else backward_fn
        raise TypeError(f"{bad}={value!r} must be a function")
    recipe = _check_recipe(recipe)
    p_drop = _check_rate("p_drop", p_drop)
    tolerance = check_number("tolerance", tolerance, positive=True)
    device = resolve_device(device)
    if data is None:
        data = digits_slice(seed=recipe.seed, device=device)
    data = _check_slice(data)
    library = train_dropout_net(data, p_drop, recipe, device=device)
    yours = train_dropout_net(
        data, p_drop, recipe, forward_fn=forward_fn, backward_fn=backward_fn, device=device
    )
    lib_state, your_state = library.model.state_dict(), yours.model.state_dict()
    weight_diff = max(
        float((lib_state[k].double() - your_state[k].double()).abs().max()) for k in lib_state
    )
    loss_diff = max(abs(a - b) for a, b in zip(library.step_loss, yours.step_loss, strict=True))
    return SameAsLibraryResult(library, yours, weight_diff, loss_diff, tolerance)


# --------------------------------------------------------------------------- 4. expectation


def _keep_masks(x: np.ndarray, p_drop: float, n: int, generator) -> np.ndarray:
    """``n`` masks like ``x`` (n, *x.shape), drawn by the library's dropout."""
    g = check_generator("generator", generator)
    stack = np.broadcast_to(x, (n, *x.shape)).copy()  # (n, *x.shape)
    return np.asarray(ops.dropout(torch.from_numpy(stack), p_drop, generator=g)[1])


@dataclass(frozen=True)
class ExpectationResult:
    """Both dropout variants averaged over ``n_masks`` masks, next to their inference outputs.

    Inverted dropout (scale by 1/p_keep in training, identity at inference) and the
    classic variant (no scaling in training, scale by p_keep at inference) must each
    have a training mean equal to their inference output: ``z_inverted``/``z_classic``
    are the largest deviations in standard errors. For every mask, inverted = classic
    / p_keep (``max_ratio_error``).
    """

    x: np.ndarray
    p_drop: float
    n_masks: int
    mean_inverted: np.ndarray
    inference_inverted: np.ndarray
    mean_classic: np.ndarray
    inference_classic: np.ndarray
    z_inverted: float
    z_classic: float
    max_ratio_error: float
    max_z: float = 4.0

    @property
    def claim_holds(self) -> bool:
        return (
            self.z_inverted <= self.max_z
            and self.z_classic <= self.max_z
            and self.max_ratio_error <= 1e-12
        )

    def sentence(self) -> str:
        verdict = "holds" if self.claim_holds else "does NOT hold"

        def show(a: np.ndarray) -> str:
            return "[" + ", ".join(f"{v:.3f}" for v in np.ravel(a)[:6]) + (
                ", ...]" if a.size > 6 else "]")

        return (
            f"Experiment: averaged over {self.n_masks:,} masks with p_drop = {self.p_drop:g}, "
            f"inverted dropout gave {show(self.mean_inverted)} (its inference output: "
            f"{show(self.inference_inverted)}) and the classic variant "
            f"{show(self.mean_classic)} (its inference output: {show(self.inference_classic)}); "
            f"largest deviations {self.z_inverted:.1f} and {self.z_classic:.1f} standard errors, "
            f"and inverted = classic / p_keep for every mask to {self.max_ratio_error:.0e}; "
            f"the claim (within {self.max_z:g} standard errors) {verdict}."
        )


def _as_output(fn: Callable, name: str, like: np.ndarray, *args, **kwargs) -> np.ndarray:
    out = fn(*args, **kwargs)
    if isinstance(out, torch.Tensor):
        out = out.detach().cpu().numpy()
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} returned {type(out).__name__}; expected a numpy array")
    if out.shape != like.shape:
        raise ValueError(f"{name} returned shape {out.shape}; expected {like.shape}")
    return out.astype(np.float64)


def expectation_experiment(
    inverted_fn: Callable,
    classic_fn: Callable,
    x=None,
    p_drop: float = 0.2,
    *,
    n_masks: int = 20_000,
    generator=0,
) -> ExpectationResult:
    """Average ``inverted_fn`` and ``classic_fn`` over ``n_masks`` library-drawn masks.

    Both functions are called as ``fn(x, keep_mask, p_drop, training=...)`` on numpy
    float64 arrays: once in training on all masks at once (``x`` stacked to
    ``(n_masks, *x.shape)``, elementwise code handles that), once at inference. ``x``
    defaults to the lesson's d = (1, 2, 3, 4, 5).
    """
    for name, fn in (("inverted_fn", inverted_fn), ("classic_fn", classic_fn)):
        if not callable(fn):
            raise TypeError(f"{name}={fn!r} must be a function")
    x = np.arange(1.0, 6.0) if x is None else as_float_array("x", check_array("x", x))
    if x.size == 0:
        raise ValueError("x is empty; expected at least one value")
    p_drop = _check_rate("p_drop", p_drop)
    n_masks = check_int("n_masks", n_masks, minimum=2, maximum=1_000_000)
    masks = _keep_masks(x, p_drop, n_masks, generator)  # (n_masks, *x.shape)
    stack = np.broadcast_to(x, masks.shape).copy()  # one row per mask: elementwise ops apply
    inv = _as_output(inverted_fn, "inverted_fn", stack, stack.copy(), masks, p_drop, training=True)
    cls = _as_output(classic_fn, "classic_fn", stack, stack.copy(), masks, p_drop, training=True)
    ones = np.ones(x.shape, dtype=bool)
    inf_inv = _as_output(inverted_fn, "inverted_fn", x, x.copy(), ones, p_drop, training=False)
    inf_cls = _as_output(classic_fn, "classic_fn", x, x.copy(), ones, p_drop, training=False)

    def z(samples: np.ndarray, target: np.ndarray) -> float:
        se = samples.std(axis=0, ddof=1) / math.sqrt(n_masks)
        dev = np.abs(samples.mean(axis=0) - target)
        safe = np.where(se > 0, se, np.inf)
        out = np.where(se > 0, dev / safe, np.where(dev > 1e-12, np.inf, 0.0))
        return float(out.max())

    p_keep = 1.0 - p_drop
    ratio = float(np.max(np.abs(inv - cls / p_keep)) / max(1.0, float(np.max(np.abs(inv)))))
    return ExpectationResult(
        x=x,
        p_drop=p_drop,
        n_masks=n_masks,
        mean_inverted=inv.mean(axis=0),
        inference_inverted=inf_inv,
        mean_classic=cls.mean(axis=0),
        inference_classic=inf_cls,
        z_inverted=z(inv, inf_inv),
        z_classic=z(cls, inf_cls),
        max_ratio_error=ratio,
    )


# --------------------------------------------------------------------------- 5. thinned networks


@dataclass(frozen=True)
class ThinnedLayerResult:
    """All ``2**n`` thinned versions of one linear layer ``y = W (m * x) / p_keep + b``.

    ``weight`` (out, n), ``bias`` (out,) and ``x`` (n,) are the layer and its input;
    ``exact_mean`` (out,) is the thinned layers' average weighted by each mask's
    probability ``p_keep**k p_drop**(n - k)`` (k = units kept); ``full`` (out,) the layer
    without dropout, ``W x + b``. Claim: they agree to rounding (``max_difference`` <= 1e-9).
    """

    weight: np.ndarray
    bias: np.ndarray
    x: np.ndarray
    n_inputs: int
    n_thinned: int
    p_drop: float
    exact_mean: np.ndarray
    full: np.ndarray
    max_difference: float
    total_probability: float

    @property
    def claim_holds(self) -> bool:
        return self.max_difference <= 1e-9 and abs(self.total_probability - 1.0) <= 1e-9

    def sentence(self) -> str:
        verdict = "holds" if self.claim_holds else "does NOT hold"
        return (
            f"Experiment: a linear layer with {self.n_inputs} dropped-out inputs has "
            f"2^{self.n_inputs} = {self.n_thinned:,} thinned versions, all sharing its weights; "
            f"their average, each weighted by its probability (p_drop = {self.p_drop:g}), equals "
            f"the full layer's output to within {self.max_difference:.1e}; the claim (equal to "
            f"rounding) {verdict}."
        )


def thinned_layer_experiment(
    n_inputs: int = 10,
    n_outputs: int = 3,
    p_drop: float = 0.2,
    *,
    seed: int = 0,
) -> ThinnedLayerResult:
    """Enumerate every mask of a random linear layer's ``n_inputs`` inputs (float64, numpy).

    With inverted dropout a thinned layer computes ``W (m * x) / p_keep + b``; the
    probability-weighted mean over all masks is ``W x + b`` exactly, because each input
    is kept with probability p_keep: E[m_i / p_keep] = 1.
    """
    n_inputs = check_int("n_inputs", n_inputs, minimum=1, maximum=_MAX_ENUMERATED)
    n_outputs = check_int("n_outputs", n_outputs, minimum=1, maximum=1000)
    p_drop = _check_rate("p_drop", p_drop)
    seed = check_int("seed", seed, minimum=0)
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((n_outputs, n_inputs)) / math.sqrt(n_inputs)  # (out, n)
    b = rng.standard_normal(n_outputs) * 0.1  # (out,)
    x = rng.uniform(0.0, 2.0, n_inputs)  # (n,) non-negative, like ReLU outputs
    codes = np.arange(2**n_inputs)[:, None]  # (2^n, 1)
    masks = (codes >> np.arange(n_inputs)) & 1  # (2^n, n): every keep pattern once
    kept = masks.sum(axis=1)  # (2^n,)
    p_keep = 1.0 - p_drop
    prob = p_keep**kept * p_drop ** (n_inputs - kept)  # (2^n,)
    outputs = (masks * x / p_keep) @ w.T + b  # (2^n, out): one row per thinned layer
    exact = prob @ outputs  # (out,)
    full = w @ x + b
    return ThinnedLayerResult(
        weight=w,
        bias=b,
        x=x,
        n_inputs=n_inputs,
        n_thinned=2**n_inputs,
        p_drop=p_drop,
        exact_mean=exact,
        full=full,
        max_difference=float(np.max(np.abs(exact - full))),
        total_probability=float(prob.sum()),
    )


def _check_model(model) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model is a {type(model).__name__}; expected a torch.nn.Module")
    return model


@torch.no_grad()
def thinned_forward(model: nn.Module, x: torch.Tensor, *, generator=None) -> torch.Tensor:
    """One pass of ``x`` (N, ...) through a randomly thinned version of ``model``.

    ``model`` is a ``nn.Sequential`` (such as :func:`build_dropout_net`); every
    ``nn.Dropout`` in it draws its own mask per example from ``generator`` (via
    :func:`course_lib.ops.dropout`), every other module runs in eval mode. Returns the
    logits (N, classes); the model's mode is left as it was.
    """
    model = _check_model(model)
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"model is a {type(model).__name__}; expected an nn.Sequential")
    x = _check_inputs(model, x)
    g = check_generator("generator", generator)
    was_training = model.training
    model.eval()
    try:
        out = x
        for name, module in model.named_children():
            if isinstance(module, nn.Dropout):
                out = ops.dropout(out, float(module.p), generator=g)[0]
            else:
                out = _fits(module, out, name, x)
    finally:
        model.train(was_training)
    return out


def _check_inputs(model: nn.Module, x) -> torch.Tensor:
    """``x`` (N, ...) as a floating tensor in the model's dtype."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch tensor (N, ...), not {type(x).__name__}")
    check_array("x", x, ndim=(2, 3, 4), layout="(N, features) or (N, C, H, W)", floating=True,
                allow_empty=False)  # fmt: skip
    param = next(model.parameters(), None)
    return x if param is None or not param.is_floating_point() else x.to(param.dtype)


def _fits(module: nn.Module, inputs: torch.Tensor, name: str, x: torch.Tensor) -> torch.Tensor:
    """``module(inputs)``; a failure there means that the caller's ``x`` does not fit."""
    try:
        return module(inputs)
    except RuntimeError as exc:
        raise ValueError(
            f"x of shape {tuple(x.shape)} does not fit the model (at {name!r}: {exc})"
        ) from None


@dataclass(frozen=True)
class ThinnedAverageResult:
    """Averages of ``counts[i]`` thinned nets' class probabilities against the full net's.

    ``distance[i]``: mean absolute difference (over digits and classes) between the
    average of the first ``counts[i]`` thinned nets' softmax outputs and the full net's
    (eval mode: the weight-scaled network); ``agreement[i]``: fraction of digits where
    both pick the same class; ``accuracy[i]`` that average's accuracy on ``y`` and
    ``full_accuracy`` the full net's. Claim: the largest average picks the full net's
    class for at least ``min_agreement`` of the digits and at least ``min_gain`` more
    often than a single thinned net does. The distance stops falling at some point: with
    ReLUs between the dropout layers the scaled network is close to the average of
    the thinned networks, not equal to it.
    """

    counts: tuple[int, ...]
    distance: tuple[float, ...]
    agreement: tuple[float, ...]
    accuracy: tuple[float, ...]
    full_accuracy: float
    n_digits: int
    min_agreement: float = 0.90
    min_gain: float = 0.10

    @property
    def claim_holds(self) -> bool:
        return (
            self.agreement[-1] >= self.min_agreement
            and self.agreement[-1] - self.agreement[0] >= self.min_gain
        )

    def sentence(self) -> str:
        verdict = "holds" if self.claim_holds else "does NOT hold"
        steps = ", ".join(
            f"{100 * a:.1f}% (K = {k:,})" for k, a in zip(self.counts, self.agreement, strict=True)
        )
        return (
            f"Experiment: the average of K thinned networks picked the same class as the full "
            f"(weight-scaled) network on {steps} of {self.n_digits} test digits; its "
            f"accuracy went from {100 * self.accuracy[0]:.1f}% to {100 * self.accuracy[-1]:.1f}% "
            f"(full network: {100 * self.full_accuracy:.1f}%); the claim (at least "
            f"{100 * self.min_agreement:.0f}% agreement for the largest K, at least "
            f"{100 * self.min_gain:.0f} points more than one thinned network) {verdict}."
        )


def thinned_average_experiment(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    counts: Sequence[int] = (1, 10, 100, 1000),
    generator=0,
    num_threads: int | None = 1,
    device: torch.device | str | None = None,
) -> ThinnedAverageResult:
    """Average the softmax outputs of up to ``max(counts)`` thinned versions of ``model``.

    ``x`` (N, ...) are the inputs and ``y`` (N,) their labels (e.g. the test digits);
    each thinned pass draws fresh masks (:func:`thinned_forward`). ``counts`` are
    increasing positive ints (at most 10,000); the running average after each is
    compared with the full net in eval mode. ``num_threads``: torch intra-op threads for
    the passes (None: leave torch's setting); one is fastest on a shared small machine.
    """
    model = _check_model(model)
    x = _check_inputs(model, x)
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"y must be a torch tensor of class labels, not {type(y).__name__}")
    check_array("y", y, ndim=1, layout="(N,): one class label per input")
    if y.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8):
        raise TypeError(f"y has dtype {y.dtype}; expected integer class labels")
    if len(y) != len(x):
        raise ValueError(f"y has {len(y)} labels; expected {len(x)}, one per input in x")
    if isinstance(counts, str) or not isinstance(counts, Sequence) or not counts:
        raise TypeError(f"counts={counts!r} must be a non-empty sequence of ints")
    counts = tuple(
        check_int(f"counts[{i}]", k, minimum=1, maximum=10_000) for i, k in enumerate(counts)
    )
    if any(b <= a for a, b in zip(counts, counts[1:], strict=False)):
        raise ValueError(f"counts={counts} must be strictly increasing")
    g = check_generator("generator", generator)
    if num_threads is not None:
        num_threads = check_int("num_threads", num_threads, minimum=1, maximum=1024)
    device = resolve_device(device)
    model.to(device)
    x, y = x.to(device), y.to(device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), torch_threads(num_threads):
            full = torch.softmax(_fits(model, x, "the full model", x), dim=1)  # (N, K)
    finally:
        model.train(was_training)
    total = torch.zeros_like(full)
    distance, agreement, accuracy = [], [], []
    done = 0
    with torch_threads(num_threads):
        for k in counts:
            for _ in range(k - done):
                total += torch.softmax(thinned_forward(model, x, generator=g), dim=1)
            done = k
            mean = total / k
            distance.append(float((mean - full).abs().mean()))
            agreement.append(float((mean.argmax(1) == full.argmax(1)).double().mean()))
            accuracy.append(float((mean.argmax(1) == y).double().mean()))
    full_accuracy = float((full.argmax(1) == y).double().mean())
    return ThinnedAverageResult(
        counts, tuple(distance), tuple(agreement), tuple(accuracy), full_accuracy, len(x)
    )
