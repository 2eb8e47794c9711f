"""Lesson 09's experiments: why deep plain networks degrade, and what a skip connection fixes.

* **Degradation in miniature.** He et al. (2016, Fig. 1) saw a 56-layer plain network end
  with a *higher training* error than a 20-layer one: not overfitting (the training error
  itself is worse) but an optimisation difficulty. :func:`degradation_experiment` trains
  :func:`course_lib.models.plain_net` at a shallow and a deep depth and
  :func:`course_lib.models.resnet_small` (the same layers plus identity / projection
  shortcuts) at the deep one, all with one recipe and seed on the course digits, and
  measures each network's mean cross-entropy on its own training images after training.
  The claim: the deep plain net's training loss exceeds the shallow plain net's by at
  least ``margin`` (nats), while the deep residual net's is no higher than the shallow
  plain net's.
* **Why the identity is easy.** A block computes ``a[l+2] = g(z[l+2] + a[l])`` with
  ``z[l+2] = W[l+2] a[l+1] + b[l+2]``. With every weight and bias at zero,
  ``a[l+2] = g(a[l])``, which is ``a[l]`` itself for a ReLU output ``a[l] >= 0``; the
  plain block gives 0. :func:`zero_weights_demo` builds both and measures it.
* **Gradients by depth.** :func:`gradient_norms_by_depth` backpropagates one fixed batch
  through a fresh plain and a fresh residual net of the same depth and returns the norm
  of every 3x3 conv layer's weight gradient, layer 1 (the stem) first.
* **Layouts.** :func:`stage_table` groups :func:`course_lib.shapes.summary`'s rows of a
  :class:`course_lib.models.ResNet` by stage (ResNet-34's 3, 4, 6, 3 blocks).

Source: lesson 09 ("Residual networks"); He, Zhang, Ren and Sun (2016), "Deep residual
learning for image recognition", section 4.1 and Fig. 1, 4 and 6.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from course_lib.data import DataSplits, check_splits, load_digits
from course_lib.device import resolve_device, set_seed, torch_threads
from course_lib.models import ResidualBlock, ResNet, plain_net, resnet_small
from course_lib.recipes import Recipe, train_with
from course_lib.shapes import count_parameters, summary
from course_lib.train import History, evaluate
from course_lib.validate import check_bool, check_int, check_number, check_shape

__all__ = [
    "DegradationResult",
    "GradientNorms",
    "StageRow",
    "ZeroWeights",
    "degradation_experiment",
    "gradient_norms_by_depth",
    "stage_table",
    "zero_weights_demo",
]

_DEPTH_RULE = "6n + 2 with n >= 1 (8, 14, 20, 26, 32, 38, 44, 50, 56, ...)"


def _check_depth(name: str, depth) -> int:
    depth = check_int(name, depth, minimum=8, maximum=200, what=f"a depth {_DEPTH_RULE}, <= 200")
    if (depth - 2) % 6:
        raise ValueError(f"{name}={depth} must be {_DEPTH_RULE}")
    return depth


def _check_threads(num_threads) -> int | None:
    return None if num_threads is None else check_int("num_threads", num_threads, minimum=1,
                                                      maximum=1024)


# --------------------------------------------------------------------------- degradation


@dataclass(frozen=True)
class DegradationResult:
    """The degradation experiment's numbers, per network (keys of :attr:`names`).

    ``train_loss`` is the mean cross-entropy (nats) on the training images after
    training, measured in eval mode; ``test_accuracy`` the fraction of test images right;
    ``histories`` the training curves; ``params`` the parameter counts.
    """

    shallow: int
    deep: int
    width: int
    epochs: int
    margin: float
    train_loss: dict[str, float]
    test_accuracy: dict[str, float]
    params: dict[str, int]
    histories: dict[str, History]
    n_train: int

    @property
    def names(self) -> tuple[str, str, str]:
        """("plain-20", "plain-56", "residual-56") for the default depths."""
        return f"plain-{self.shallow}", f"plain-{self.deep}", f"residual-{self.deep}"

    @property
    def degradation(self) -> float:
        """Deep plain net's training loss minus the shallow plain net's (> 0: it degrades)."""
        shallow, deep, _ = self.names
        return self.train_loss[deep] - self.train_loss[shallow]

    @property
    def residual_gap(self) -> float:
        """Shallow plain net's training loss minus the deep residual net's (>= 0: no degradation)."""
        shallow, _, residual = self.names
        return self.train_loss[shallow] - self.train_loss[residual]

    @property
    def claim_holds(self) -> bool:
        return self.degradation >= self.margin and self.residual_gap >= 0.0

    def table(self) -> str:
        """One line per network: parameters, training loss, test accuracy."""
        lines = [f"{'network':<14}{'parameters':>12}{'training loss':>15}{'test accuracy':>15}"]
        for name in self.names:
            lines.append(
                f"{name:<14}{self.params[name]:>12,}{self.train_loss[name]:>15.3f}"
                f"{100 * self.test_accuracy[name]:>14.1f}%"
            )
        return "\n".join(lines)

    def sentence(self) -> str:
        shallow, deep, residual = self.names
        verdict = "holds" if self.claim_holds else "does NOT hold"
        below = "below" if self.residual_gap >= 0 else "ABOVE"
        return (
            f"Experiment: after the same {self.epochs} epochs on {self.n_train:,} training "
            f"digits, the {self.deep}-layer plain net ended with training loss "
            f"{self.train_loss[deep]:.3f}, {self.degradation:.3f} above the {self.shallow}-layer "
            f"plain net's {self.train_loss[shallow]:.3f}, while the {self.deep}-layer residual "
            f"net ended at {self.train_loss[residual]:.3f}, {abs(self.residual_gap):.3f} {below} "
            f"the {self.shallow}-layer plain net; the claim "
            f"(the deeper plain net worse by at least {self.margin:g}, the residual net of "
            f"that depth not worse) {verdict}."
        )


def degradation_experiment(
    data: DataSplits | None = None,
    *,
    shallow: int = 20,
    deep: int = 56,
    width: int = 8,
    epochs: int = 3,
    lr: float = 0.01,
    margin: float = 0.25,
    seed: int = 0,
    device: torch.device | str | None = None,
    num_threads: int | None = 1,
    progress: bool = False,
) -> DegradationResult:
    """Train plain-``shallow``, plain-``deep`` and residual-``deep`` by one recipe; compare.

    ``data`` defaults to :func:`course_lib.data.load_digits` at 8x8 (1,257 training
    images of shape (1, 8, 8)). Each net is built after ``set_seed(seed)`` with batch
    norm (as in the paper) and trained by ``Recipe(epochs, lr, seed=seed)`` (Adam,
    one-cycle schedule, batches of 64, no time budget, ``num_threads`` torch threads).
    About 10 s on one CPU thread with the defaults.
    """
    device = resolve_device(device)
    check_splits("data", data, allow_none=True)
    shallow = _check_depth("shallow", shallow)
    deep = _check_depth("deep", deep)
    if deep <= shallow:
        raise ValueError(f"deep={deep} must be larger than shallow={shallow}")
    width = check_int("width", width, minimum=1, maximum=256)
    epochs = check_int("epochs", epochs, minimum=1, maximum=1000)
    lr = check_number("lr", lr, positive=True, maximum=10.0)
    margin = check_number("margin", margin, minimum=0.0, maximum=10.0)
    seed = check_int("seed", seed, minimum=0, maximum=2**32 - 1)
    num_threads = _check_threads(num_threads)
    progress = check_bool("progress", progress)
    if data is None:
        data = load_digits(size=8, seed=0, device=device)
    in_channels = data.train.tensors[0].shape[1]
    recipe = Recipe(epochs=epochs, lr=lr, time_budget_s=None, seed=seed, num_threads=num_threads)
    builds = (
        (f"plain-{shallow}", plain_net, shallow),
        (f"plain-{deep}", plain_net, deep),
        (f"residual-{deep}", resnet_small, deep),
    )
    train_loss, accuracy, params, histories = {}, {}, {}, {}
    for name, build, depth in builds:
        set_seed(seed)
        model = build(depth, in_channels=in_channels, num_classes=len(data.classes), width=width)
        history, acc = train_with(model, data, recipe, device=device, progress=progress)
        with torch_threads(num_threads):
            train_loss[name] = evaluate(model, data.train, device=device)["loss"]
        accuracy[name], params[name], histories[name] = acc, count_parameters(model), history
    return DegradationResult(
        shallow=shallow,
        deep=deep,
        width=width,
        epochs=epochs,
        margin=margin,
        train_loss=train_loss,
        test_accuracy=accuracy,
        params=params,
        histories=histories,
        n_train=len(data.train),
    )


# --------------------------------------------------------------------------- zero weights


@dataclass(frozen=True)
class ZeroWeights:
    """A block with every weight and bias set to 0, on an input ``a[l] = relu(noise)``.

    ``residual_vs_input``: largest |a[l+2] - a[l]| of the residual block (0: identity);
    ``plain_output``: largest |a[l+2]| of the same block without its shortcut (0: the
    signal is gone); ``bn_residual_vs_input``: the same as the first for the block with
    batch norm whose last scale gamma is 0 (the other weights random).
    """

    shape: tuple[int, ...]
    residual_vs_input: float
    plain_output: float
    input_max: float
    bn_residual_vs_input: float

    def __str__(self) -> str:
        return (
            f"a[l] of shape {self.shape} (values up to {self.input_max:.3f}): with all weights 0 "
            f"the residual block returns it unchanged (largest difference "
            f"{self.residual_vs_input:.1e}), the plain block returns zeros (largest value "
            f"{self.plain_output:.1e}); with batch norm and gamma = 0 in the last BN, the "
            f"largest difference is {self.bn_residual_vs_input:.1e}"
        )


def zero_weights_demo(
    channels: int = 4,
    *,
    size: tuple[int, int] = (5, 6),
    seed: int = 0,
    device: torch.device | str | None = None,
) -> ZeroWeights:
    """Show ``a[l+2] = g(a[l]) = a[l]`` for a residual block whose weights are all 0."""
    device = resolve_device(device)
    channels = check_int("channels", channels, minimum=1, maximum=512)
    h, w = check_shape("size", size, length=2, layout="(H, W)")
    if h * w > 4096:
        raise ValueError(f"size={size!r} has {h * w} pixels; expected at most 4096 (a demo)")
    seed = check_int("seed", seed, minimum=0, maximum=2**32 - 1)
    gen = torch.Generator().manual_seed(seed)
    a = torch.relu(torch.randn(2, channels, h, w, generator=gen, dtype=torch.float64))
    a = a.to(device)  # (N, C, H, W), a ReLU output: a >= 0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        residual = ResidualBlock(channels, channels, batch_norm=False)
        plain = ResidualBlock(channels, channels, skip=False, batch_norm=False)
        with_bn = ResidualBlock(channels, channels)
    for block in (residual, plain):
        for p in block.parameters():
            nn.init.zeros_(p)
    nn.init.zeros_(with_bn.bn2.weight)  # "zero-init residual": BN's last gamma at 0
    results = []
    with torch.no_grad():
        for block in (residual, plain, with_bn):
            block = block.to(device=device, dtype=torch.float64).eval()
            results.append(block(a))
    return ZeroWeights(
        shape=tuple(a.shape),
        residual_vs_input=float((results[0] - a).abs().max()),
        plain_output=float(results[1].abs().max()),
        input_max=float(a.max()),
        bn_residual_vs_input=float((results[2] - a).abs().max()),
    )


# --------------------------------------------------------------------------- gradients


@dataclass(frozen=True)
class GradientNorms:
    """||dL/dW|| of every 3x3 conv layer at initialisation, layer 1 (the stem) first.

    ``plain`` and ``residual`` have ``depth - 1`` entries (the last weighted layer is the
    FC layer, left out). ``spread(name)`` is the largest norm over the smallest (1 when
    every layer gets the same size of gradient; inf when a layer gets none).
    """

    depth: int
    batch_norm: bool
    plain: np.ndarray
    residual: np.ndarray

    def spread(self, name: str) -> float:
        norms = {"plain": self.plain, "residual": self.residual}[name]
        low = float(norms.min())
        return float("inf") if low == 0 else float(norms.max()) / low

    def __str__(self) -> str:
        bn = "with" if self.batch_norm else "without"
        return (
            f"{self.depth} layers {bn} batch norm: gradient norms from layer 1 to layer "
            f"{self.depth - 1} span a factor of {self.spread('plain'):.3g} in the plain net and "
            f"{self.spread('residual'):.3g} in the residual net"
        )


def _conv3x3_gradients(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    loss = nn.functional.cross_entropy(model(x), y)  # logits (N, 10)
    grads = torch.autograd.grad(loss, [m.weight for m in convs])
    return torch.stack([g.norm() for g in grads]).double().cpu().numpy()


def gradient_norms_by_depth(
    depth: int = 20,
    *,
    batch_norm: bool = True,
    width: int = 8,
    batch_size: int = 64,
    image_size: int = 8,
    seed: int = 0,
    device: torch.device | str | None = None,
    num_threads: int | None = 1,
) -> GradientNorms:
    """Per-layer weight-gradient norms of fresh plain and residual nets of one depth.

    Both nets are built after ``set_seed(seed)`` (so their convs start from the same
    weights) and see one fixed batch of ``batch_size`` uniform random images of shape
    (1, image_size, image_size) with random labels, in training mode.
    """
    device = resolve_device(device)
    depth = _check_depth("depth", depth)
    batch_norm = check_bool("batch_norm", batch_norm)
    width = check_int("width", width, minimum=1, maximum=256)
    batch_size = check_int("batch_size", batch_size, minimum=2, maximum=4096)
    image_size = check_int("image_size", image_size, minimum=4, maximum=128)
    seed = check_int("seed", seed, minimum=0, maximum=2**32 - 1)
    num_threads = _check_threads(num_threads)
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(batch_size, 1, image_size, image_size, generator=gen).to(device)
    y = torch.randint(0, 10, (batch_size,), generator=gen).to(device)
    norms = []
    with torch_threads(num_threads), torch.random.fork_rng(devices=[]):
        for build in (plain_net, resnet_small):
            torch.manual_seed(seed)
            model = build(depth, width=width, batch_norm=batch_norm).to(device).train()
            norms.append(_conv3x3_gradients(model, x, y))
    return GradientNorms(depth=depth, batch_norm=batch_norm, plain=norms[0], residual=norms[1])


# --------------------------------------------------------------------------- layouts


@dataclass(frozen=True)
class StageRow:
    """One part of a ResNet: the stem, a stage of blocks, or the head (pool and FC)."""

    name: str
    blocks: int
    output_shape: tuple[int, ...]
    params: int


def stage_table(model: ResNet, input_shape: tuple[int, ...] = (3, 224, 224)) -> list[StageRow]:
    """``summary(model, input_shape)`` grouped into stem, stages and head.

    Works on the meta device (shapes and counts without memory). The parameters add up
    to the model's total.
    """
    if not isinstance(model, ResNet):
        raise TypeError(f"model is a {type(model).__name__}; expected a course_lib ResNet")
    input_shape = check_shape("input_shape", input_shape, length=3, layout="(C, H, W)")
    table = summary(model, input_shape)
    groups: dict[str, list] = {}
    for row in table.rows:
        parts = row.name.split(".")
        key = f"stage {int(parts[1]) + 1}" if parts[0] == "stages" else (
            "stem" if parts[0] == "stem" else "head"
        )
        groups.setdefault(key, []).append(row)
    out = []
    for key, rows in groups.items():
        blocks = len({r.name.split(".")[2] for r in rows}) if key.startswith("stage") else 0
        out.append(StageRow(key, blocks, rows[-1].output_shape, sum(r.params for r in rows)))
    return out
