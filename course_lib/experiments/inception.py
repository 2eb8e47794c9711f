"""Lesson 10's experiments: what 1x1 convolutions save, and two of GoogLeNet's tricks.

Three questions, each answered by a pure function that returns its numbers:

* **What does a 1x1 bottleneck save?** :func:`inception_module_cost` counts, branch by
  branch, the output depth, parameters and multiplications of an inception module
  (naive, or with dimension reduction) from the formulas of lesson 10, through
  :func:`course_lib.shapes.conv_mults`. :func:`multiplication_experiment` checks the
  lesson's two figures: 28x28x192 into 32 filters of 5x5 (same padding) makes
  120,422,400 multiplications; a 16-channel 1x1 conv first brings it to
  2,408,448 + 10,035,200 = 12,443,648. The counter must agree with the figures and with
  the multiplications of the torch layers that really run (counted by
  :func:`course_lib.shapes.summary`'s hooks).
* **Global average pooling instead of big FC layers.** :func:`gap_experiment` trains the
  same small CNN (:func:`gap_or_fc_net`) with two heads: global average pooling into
  one linear layer, and flatten into a hidden FC layer and the output layer. The claim:
  the GAP head has at least ``min_ratio`` times fewer parameters, and the GAP network's
  test accuracy is at most ``max_drop`` below the FC network's.
* **Auxiliary classifiers.** :func:`aux_heads_experiment` trains
  :func:`course_lib.models.googlenet_small` with and without its two auxiliary heads by
  the same recipe and seed (the auxiliary losses weighted 0.3, as in the paper). GoogLeNet's
  authors report a modest regularising effect on ImageNet; on the course digits the
  difference is within a point or so either way, so the claim asserted is only the one
  that holds across seeds: the network with auxiliary heads trains to ``target`` test
  accuracy, and its main head's accuracy is within ``band`` of the network without.

Every training run uses one intra-op CPU thread by default (``num_threads=1``; None
leaves torch's setting), and runs unchanged on a GPU (``device=``).

Source: lesson 10; Szegedy et al. (2015), "Going deeper with convolutions"; Lin, Chen and
Yan (2014), "Network in network".
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from course_lib.data import DataSplits, check_splits, load_digits
from course_lib.device import resolve_device, set_seed, torch_threads
from course_lib.models import googlenet_small
from course_lib.recipes import Recipe, train_with
from course_lib.shapes import conv_mults, count_parameters, summary
from course_lib.train import fit, predict
from course_lib.validate import (
    check_choice,
    check_int,
    check_number,
    check_seed,
    check_shape,
)

__all__ = [
    "GAP_HEADS",
    "AuxHeadsResult",
    "BranchCost",
    "GapResult",
    "ModuleCost",
    "MultiplicationResult",
    "aux_heads_experiment",
    "gap_experiment",
    "gap_or_fc_net",
    "inception_module_cost",
    "multiplication_experiment",
]

GAP_HEADS = ("global average pool", "flatten + FC")


# --------------------------------------------------------------------------- costs


@dataclass(frozen=True)
class BranchCost:
    """One branch of an inception module: its layers in words, output channels, costs."""

    name: str
    layers: str
    out_channels: int
    params: int
    mults: int


@dataclass(frozen=True)
class ModuleCost:
    """An inception module's cost, per branch and in total (one input, no batch axis).

    ``in_shape`` is (C, H, W); the output is (out_channels, H, W). Parameters count
    weights and biases; multiplications those of the convolutions (pooling has none).
    """

    in_shape: tuple[int, int, int]
    naive: bool
    branches: tuple[BranchCost, ...]

    @property
    def out_channels(self) -> int:
        return sum(b.out_channels for b in self.branches)

    @property
    def params(self) -> int:
        return sum(b.params for b in self.branches)

    @property
    def mults(self) -> int:
        return sum(b.mults for b in self.branches)

    def table(self) -> str:
        """One line per branch, then the total."""
        c, h, w = self.in_shape
        lines = [f"{'branch':<9}{'layers':<34}{'channels':>9}{'parameters':>12}{'multiplications':>17}"]
        for b in self.branches:
            lines.append(
                f"{b.name:<9}{b.layers:<34}{b.out_channels:>9,}{b.params:>12,}{b.mults:>17,}"
            )
        total = f"{h}x{w}x{c} -> {h}x{w}x{self.out_channels}"
        lines.append(
            f"{'total':<9}{total:<34}{self.out_channels:>9,}{self.params:>12,}{self.mults:>17,}"
        )
        return "\n".join(lines)

    def __str__(self) -> str:
        c, h, w = self.in_shape
        kind = "naive module" if self.naive else "module with dimension reduction"
        return (
            f"{kind}: {h}x{w}x{c} -> {h}x{w}x{self.out_channels}, {self.params:,} parameters, "
            f"{self.mults:,} multiplications"
        )


def _conv(in_shape: tuple[int, int, int], out: int, f: int) -> tuple[int, int]:
    """(parameters, multiplications) of a same-padded, stride-1 f x f conv with biases."""
    c = in_shape[0]
    return (f * f * c + 1) * out, conv_mults(in_shape, out, f, p="same")


def inception_module_cost(
    in_shape: tuple[int, int, int] = (192, 28, 28),
    *,
    c1: int,
    c3: int,
    c5: int,
    pool_proj: int | None = None,
    c3_reduce: int | None = None,
    c5_reduce: int | None = None,
) -> ModuleCost:
    """Output depth, parameters and multiplications of an inception module, per branch.

    The same arguments as :class:`course_lib.models.InceptionModule` (without batch
    norm): ``in_shape`` (C, H, W); 1x1 -> ``c1``; (1x1 -> ``c3_reduce``, then) 3x3 ->
    ``c3``; (1x1 -> ``c5_reduce``, then) 5x5 -> ``c5``; 3x3 max pool (then 1x1 ->
    ``pool_proj``; None: the pool passes all C channels through, naive module only).
    Give both reductions (module with dimension reduction) or neither (naive).

    >>> inception_module_cost(c1=64, c3=128, c5=32, pool_proj=32).out_channels  # naive
    256
    """
    c, h, w = check_shape("in_shape", in_shape, length=3, layout="(C, H, W)")
    c1, c3, c5 = (check_int(n, v, minimum=1) for n, v in (("c1", c1), ("c3", c3), ("c5", c5)))
    optional = (("pool_proj", pool_proj), ("c3_reduce", c3_reduce), ("c5_reduce", c5_reduce))
    pool_proj, c3_reduce, c5_reduce = (
        None if v is None else check_int(n, v, minimum=1) for n, v in optional
    )
    if (c3_reduce is None) != (c5_reduce is None):
        raise ValueError(
            f"c3_reduce={c3_reduce!r} and c5_reduce={c5_reduce!r}: give both (module with "
            "dimension reduction) or neither (naive module)"
        )
    naive = c3_reduce is None
    if pool_proj is None and not naive:
        raise ValueError("pool_proj=None: the module with reduction needs pool_proj")
    shape = (c, h, w)
    branches = [BranchCost("1x1", f"1x1 conv {c1}", c1, *_conv(shape, c1, 1))]
    for name, f, out, reduce in (("3x3", 3, c3, c3_reduce), ("5x5", 5, c5, c5_reduce)):
        if reduce is None:
            branches.append(BranchCost(name, f"{f}x{f} conv {out}", out, *_conv(shape, out, f)))
        else:
            p1, m1 = _conv(shape, reduce, 1)
            p2, m2 = _conv((reduce, h, w), out, f)
            layers = f"1x1 conv {reduce} -> {f}x{f} conv {out}"
            branches.append(BranchCost(name, layers, out, p1 + p2, m1 + m2))
    if pool_proj is None:
        branches.append(BranchCost("pool", "3x3 max pool (all channels)", c, 0, 0))
    else:
        layers = f"3x3 max pool -> 1x1 conv {pool_proj}"
        branches.append(BranchCost("pool", layers, pool_proj, *_conv(shape, pool_proj, 1)))
    return ModuleCost((c, h, w), naive, tuple(branches))


# --------------------------------------------------------------------------- experiment 1


NAIVE_5X5 = 120_422_400
BOTTLENECK_5X5 = 12_443_648


@dataclass(frozen=True)
class MultiplicationResult:
    """The counter's figures for the 5x5 branch on 28x28x192 -> 28x28x32, and torch's.

    ``counted_*``: :func:`course_lib.shapes.conv_mults`; ``torch_*``: the same layers
    built as ``nn.Conv2d`` and counted by :func:`course_lib.shapes.summary` as they run.
    """

    counted_naive: int
    counted_reduce: int
    counted_after: int
    torch_naive: int
    torch_bottleneck: int
    output_shape: tuple[int, ...]

    @property
    def counted_bottleneck(self) -> int:
        return self.counted_reduce + self.counted_after

    @property
    def ratio(self) -> float:
        return self.counted_naive / self.counted_bottleneck

    @property
    def claim_holds(self) -> bool:
        return (
            self.counted_naive == NAIVE_5X5
            and self.counted_bottleneck == BOTTLENECK_5X5
            and self.torch_naive == self.counted_naive
            and self.torch_bottleneck == self.counted_bottleneck
            and self.output_shape == (32, 28, 28)
        )

    def sentence(self) -> str:
        verdict = "holds" if self.claim_holds else "does NOT hold"
        return (
            f"Experiment: 28x28x192 -> 28x28x32 by 32 filters of 5x5 takes "
            f"{self.counted_naive:,} multiplications; with a 16-channel 1x1 bottleneck first, "
            f"{self.counted_reduce:,} + {self.counted_after:,} = {self.counted_bottleneck:,} "
            f"({self.ratio:.1f} times fewer). The torch layers, counted as they run, make "
            f"{self.torch_naive:,} and {self.torch_bottleneck:,}; the claim (the counter gives "
            f"{NAIVE_5X5:,} and {BOTTLENECK_5X5:,}, as torch does) {verdict}."
        )


def _threads(num_threads) -> int | None:
    if num_threads is None:
        return None
    return check_int("num_threads", num_threads, minimum=1, maximum=1024)


def multiplication_experiment(
    *,
    seed: int = 0,
    device: torch.device | str | None = None,
    num_threads: int | None = 1,
) -> MultiplicationResult:
    """Count the 5x5 branch's multiplications with the library's formula and with torch.

    The torch layers (random weights from ``seed``; the count does not depend on them)
    run once on a zero input of shape (1, 192, 28, 28) on ``device``.
    """
    seed = check_seed("seed", seed)
    device = resolve_device(device)
    num_threads = _threads(num_threads)
    shape = (192, 28, 28)
    counted_naive = conv_mults(shape, 32, 5, p="same")
    counted_reduce = conv_mults(shape, 16, 1)
    counted_after = conv_mults((16, 28, 28), 32, 5, p="same")
    torch.manual_seed(seed)
    naive = nn.Conv2d(192, 32, 5, padding=2).to(device)
    bottleneck = nn.Sequential(nn.Conv2d(192, 16, 1), nn.Conv2d(16, 32, 5, padding=2)).to(device)
    with torch_threads(num_threads):
        naive_table = summary(naive, shape)
        bottleneck_table = summary(bottleneck, shape)
    return MultiplicationResult(
        counted_naive=counted_naive,
        counted_reduce=counted_reduce,
        counted_after=counted_after,
        torch_naive=naive_table.total_mults,
        torch_bottleneck=bottleneck_table.total_mults,
        output_shape=bottleneck_table.rows[-1].output_shape,
    )


# --------------------------------------------------------------------------- experiment 2


def gap_or_fc_net(
    head: str, *, in_channels: int = 1, num_classes: int = 10, width: int = 16, hidden: int = 128
) -> nn.Sequential:
    """The same small CNN for (N, C, 32, 32) inputs with one of two heads; returns logits.

    Features (shared): conv 3x3 ``width`` -> BN -> ReLU -> max pool 2 -> conv 3x3
    ``2 width`` -> BN -> ReLU -> max pool 2 -> conv 3x3 ``4 width`` -> BN -> ReLU, giving
    (N, 4 width, 8, 8). Heads (:data:`GAP_HEADS`):

    - "global average pool": average each map to one number, (N, 4 width), then one
      linear layer to ``num_classes``;
    - "flatten + FC": flatten to (N, 4 width * 64), FC ``hidden`` -> ReLU -> FC
      ``num_classes``.
    """
    head = check_choice("head", head, GAP_HEADS)
    in_channels = check_int("in_channels", in_channels, minimum=1)
    num_classes = check_int("num_classes", num_classes, minimum=1)
    w = check_int("width", width, minimum=1)
    hidden = check_int("hidden", hidden, minimum=1)

    def block(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

    features = nn.Sequential(
        *block(in_channels, w), nn.MaxPool2d(2),  # (N, w, 16, 16)
        *block(w, 2 * w), nn.MaxPool2d(2),  # (N, 2w, 8, 8)
        *block(2 * w, 4 * w),  # (N, 4w, 8, 8)
    )  # fmt: skip
    if head == GAP_HEADS[0]:
        classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * w, num_classes)  # (N, 4w)
        )
    else:
        classifier = nn.Sequential(
            nn.Flatten(),  # (N, 4w * 8 * 8)
            nn.Linear(4 * w * 8 * 8, hidden), nn.ReLU(), nn.Linear(hidden, num_classes),
        )  # fmt: skip
    return nn.Sequential(features, classifier)


@dataclass(frozen=True)
class GapResult:
    """Per head (:data:`GAP_HEADS`): parameters of the head and of the whole network,
    train and test accuracy after the same training."""

    head_params: dict[str, int]
    params: dict[str, int]
    train_accuracy: dict[str, float]
    test_accuracy: dict[str, float]
    epochs: int
    n_test: int
    min_ratio: float
    max_drop: float

    @property
    def ratio(self) -> float:
        """How many times more parameters the FC head has than the GAP head."""
        return self.head_params[GAP_HEADS[1]] / self.head_params[GAP_HEADS[0]]

    @property
    def drop(self) -> float:
        """Test accuracy of the FC network minus the GAP network's (negative: GAP better)."""
        return self.test_accuracy[GAP_HEADS[1]] - self.test_accuracy[GAP_HEADS[0]]

    @property
    def claim_holds(self) -> bool:
        return self.ratio >= self.min_ratio and self.drop <= self.max_drop

    def table(self) -> str:
        lines = [f"{'head':<21}{'head params':>12}{'all params':>12}{'train acc':>11}{'test acc':>10}"]
        for h in GAP_HEADS:
            lines.append(
                f"{h:<21}{self.head_params[h]:>12,}{self.params[h]:>12,}"
                f"{100 * self.train_accuracy[h]:>10.1f}%{100 * self.test_accuracy[h]:>9.1f}%"
            )
        return "\n".join(lines)

    def sentence(self) -> str:
        verdict = "holds" if self.claim_holds else "does NOT hold"
        gap, fc = GAP_HEADS
        return (
            f"Experiment: after the same {self.epochs} epochs, the CNN with a global-average-"
            f"pooling head ({self.head_params[gap]:,} head parameters) scored "
            f"{100 * self.test_accuracy[gap]:.1f}% on {self.n_test} test digits, the one with "
            f"flatten + FC ({self.head_params[fc]:,} head parameters, {self.ratio:.0f} times "
            f"more) {100 * self.test_accuracy[fc]:.1f}%; the claim (at least "
            f"{self.min_ratio:.0f} times fewer head parameters, and at most "
            f"{100 * self.max_drop:.0f} points lower accuracy, for GAP) {verdict}."
        )


def _recipe_and_data(data, epochs, lr, batch_size, seed, num_threads, device):
    """Both training experiments' recipe, their data (the course digits by default) and
    its number of input channels."""
    recipe = Recipe(
        epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, time_budget_s=None,
        num_threads=_threads(num_threads),
    )  # fmt: skip
    data = load_digits(device=device) if data is None else data
    return recipe, data, data.train.tensors[0].shape[1]


def _train_accuracy(model: nn.Module, data: DataSplits, device: torch.device) -> float:
    x, y = data.train.tensors
    scores = predict(model, x, device=device)  # (N, classes)
    return float((scores.argmax(1) == y.to(scores.device)).double().mean())


def gap_experiment(
    data: DataSplits | None = None,
    *,
    width: int = 16,
    hidden: int = 128,
    epochs: int = 4,
    lr: float = 0.01,
    batch_size: int = 32,
    min_ratio: float = 50.0,
    max_drop: float = 0.02,
    seed: int = 0,
    device: torch.device | str | None = None,
    num_threads: int | None = 1,
) -> GapResult:
    """Train :func:`gap_or_fc_net` with each head by the same recipe and seed.

    ``data`` defaults to :func:`course_lib.data.load_digits` on ``device``. Adam with a
    one-cycle schedule peaking at ``lr``; every network initialised after
    ``set_seed(seed)``.
    """
    check_splits("data", data, allow_none=True)
    device = resolve_device(device)
    min_ratio = check_number("min_ratio", min_ratio, minimum=1.0)
    max_drop = check_number("max_drop", max_drop, minimum=0.0, below=1.0, what="a fraction in [0, 1)")
    seed = check_seed("seed", seed)
    recipe, data, in_channels = _recipe_and_data(
        data, epochs, lr, batch_size, seed, num_threads, device
    )
    head_params, params, train_acc, test_acc = {}, {}, {}, {}
    for head in GAP_HEADS:
        set_seed(seed)
        model = gap_or_fc_net(
            head, in_channels=in_channels, num_classes=len(data.classes), width=width,
            hidden=hidden,
        )  # fmt: skip
        _, test_acc[head] = train_with(model, data, recipe, device=device)
        with torch_threads(recipe.num_threads):
            train_acc[head] = _train_accuracy(model, data, device)
        head_params[head], params[head] = count_parameters(model[1]), count_parameters(model)
    return GapResult(
        head_params=head_params,
        params=params,
        train_accuracy=train_acc,
        test_accuracy=test_acc,
        epochs=recipe.epochs,
        n_test=len(data.test),
        min_ratio=min_ratio,
        max_drop=max_drop,
    )


# --------------------------------------------------------------------------- experiment 3


@dataclass(frozen=True)
class AuxHeadsResult:
    """GoogLeNet-small with and without auxiliary heads, the same recipe and seed.

    Accuracies of the main head (train and test); ``aux_test_accuracy`` holds the test
    accuracy of each auxiliary head of the network that has them ("aux1" after module
    a1, "aux2" after module b), read in eval mode.
    """

    train_accuracy: dict[str, float]
    test_accuracy: dict[str, float]
    final_train_loss: dict[str, float]
    aux_test_accuracy: dict[str, float]
    params: dict[str, int]
    epochs: int
    n_test: int
    target: float
    band: float

    @property
    def difference(self) -> float:
        """Test accuracy with auxiliary heads minus without (positive: the heads helped)."""
        return self.test_accuracy["with aux"] - self.test_accuracy["without aux"]

    def gap(self, name: str) -> float:
        """Train minus test accuracy of one network: how much it overfits."""
        return self.train_accuracy[name] - self.test_accuracy[name]

    @property
    def claim_holds(self) -> bool:
        return self.test_accuracy["with aux"] >= self.target and abs(self.difference) <= self.band

    def table(self) -> str:
        lines = [f"{'network':<13}{'parameters':>11}{'train loss':>12}{'train acc':>11}{'test acc':>10}"]
        for name in ("with aux", "without aux"):
            lines.append(
                f"{name:<13}{self.params[name]:>11,}{self.final_train_loss[name]:>12.3f}"
                f"{100 * self.train_accuracy[name]:>10.1f}%{100 * self.test_accuracy[name]:>9.1f}%"
            )
        return "\n".join(lines)

    def sentence(self) -> str:
        verdict = "holds" if self.claim_holds else "does NOT hold"
        sign = "+" if self.difference >= 0 else "-"
        return (
            f"Experiment: after the same {self.epochs} epochs, the small GoogLeNet with "
            f"auxiliary heads scored {100 * self.test_accuracy['with aux']:.1f}% on "
            f"{self.n_test} test digits (its auxiliary heads alone "
            f"{100 * self.aux_test_accuracy['aux1']:.1f}% and "
            f"{100 * self.aux_test_accuracy['aux2']:.1f}%), the one without "
            f"{100 * self.test_accuracy['without aux']:.1f}%, a difference of {sign}"
            f"{100 * abs(self.difference):.1f} points; the claim (with heads at least "
            f"{100 * self.target:.0f}%, and within {100 * self.band:.0f} points of without) "
            f"{verdict}."
        )


@torch.no_grad()
def _aux_accuracy(model: nn.Module, data: DataSplits, device: torch.device) -> dict[str, float]:
    """Test accuracy of each auxiliary head, in eval mode (GoogLeNet skips them there)."""
    was_training = model.training
    model.eval()
    try:
        x, y = (t.to(device) for t in data.test.tensors)
        a = model.stage_a(model.stem(x))  # features after module a1
        b = model.stage_b(a)  # after module b and its pool
        y = y.to(device)
        return {
            "aux1": float((model.aux1(a).argmax(1) == y).double().mean()),
            "aux2": float((model.aux2(b).argmax(1) == y).double().mean()),
        }
    finally:
        model.train(was_training)


def aux_heads_experiment(
    data: DataSplits | None = None,
    *,
    width: int = 8,
    epochs: int = 4,
    lr: float = 0.01,
    batch_size: int = 32,
    aux_weight: float = 0.3,
    target: float = 0.95,
    band: float = 0.02,
    seed: int = 0,
    device: torch.device | str | None = None,
    num_threads: int | None = 1,
) -> AuxHeadsResult:
    """Train :func:`course_lib.models.googlenet_small` with and without auxiliary heads.

    Both networks are initialised after ``set_seed(seed)`` and trained by the same recipe
    (Adam, one-cycle schedule peaking at ``lr``); the one with heads minimises
    loss(main) + ``aux_weight`` * (loss(aux1) + loss(aux2)). ``data`` defaults to
    :func:`course_lib.data.load_digits` on ``device``.
    """
    check_splits("data", data, allow_none=True)
    device = resolve_device(device)
    width = check_int("width", width, minimum=1)
    aux_weight = check_number("aux_weight", aux_weight, minimum=0.0)
    target = check_number("target", target, minimum=0.0, maximum=1.0, what="a fraction in [0, 1]")
    band = check_number("band", band, minimum=0.0, maximum=1.0, what="a fraction in [0, 1]")
    seed = check_seed("seed", seed)
    recipe, data, in_channels = _recipe_and_data(
        data, epochs, lr, batch_size, seed, num_threads, device
    )
    train_acc, test_acc, loss, params, aux_acc = {}, {}, {}, {}, {}
    for name, aux in (("with aux", True), ("without aux", False)):
        set_seed(seed)
        model = googlenet_small(
            in_channels=in_channels, num_classes=len(data.classes), aux_logits=aux, width=width
        )
        with torch_threads(recipe.num_threads):
            history = _fit(model, data, recipe, aux_weight, device)
            test_acc[name] = _test_accuracy(model, data, device)
            train_acc[name] = _train_accuracy(model, data, device)
            if aux:
                aux_acc = _aux_accuracy(model, data, device)
        loss[name], params[name] = history.train_loss[-1], count_parameters(model)
    return AuxHeadsResult(
        train_accuracy=train_acc,
        test_accuracy=test_acc,
        final_train_loss=loss,
        aux_test_accuracy=aux_acc,
        params=params,
        epochs=recipe.epochs,
        n_test=len(data.test),
        target=target,
        band=band,
    )


def _fit(model, data: DataSplits, recipe: Recipe, aux_weight: float, device):
    """``train_with`` plus the auxiliary-loss weight, which a Recipe does not carry."""
    return fit(
        model, data.train, data.val, **recipe.fit_kwargs(), aux_weight=aux_weight,
        device=device, progress=False,
    )  # fmt: skip


def _test_accuracy(model: nn.Module, data: DataSplits, device: torch.device) -> float:
    x, y = data.test.tensors
    scores = predict(model, x, device=device)  # (N, classes)
    return float((scores.argmax(1) == y.to(scores.device)).double().mean())
