"""Lesson 04's experiments: why a network needs a nonlinearity, and which one.

Two questions, each answered by a small pure function:

* **Linear layers collapse.** A stack of ``Linear`` layers with no activation in
  between is one affine map ``x -> x W^T + b``. :func:`collapse_linear_stack` multiplies
  the weights out and :func:`linear_collapse_demo` shows the single map reproduces the
  whole stack's outputs (to rounding), while a ReLU stack is far from any affine map.
* **Vanishing gradients.** In a deep plain fully connected net, the gradient reaching
  layer ``l`` is a product of one factor ``W^T diag(g'(z))`` per layer above it. The
  sigmoid's slope is at most 0.25, so with sigmoid the product shrinks geometrically;
  ReLU's slope is 1 wherever the unit is on. :func:`layer_gradient_norms` builds the
  net with a fixed seed, pushes one fixed batch through, backpropagates a
  cross-entropy loss and returns the Frobenius norm of each layer's weight gradient;
  :func:`vanishing_gradient_experiment` compares activations and states the outcome.

Source: lesson 04 ("Activation functions"), seeds 000 (sigmoid vs ReLU) and 003
(ReLU layers and the vanishing-gradient problem); initialisations from Glorot &
Bengio (2010) and He et al. (2015).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from course_lib import ops
from course_lib.device import resolve_device
from course_lib.validate import check_choice, check_int, check_number

__all__ = [
    "ACTIVATION_NAMES",
    "INIT_NAMES",
    "LinearCollapse",
    "VanishingGradientResult",
    "DeadUnits",
    "best_affine_fit_error",
    "build_mlp",
    "collapse_linear_stack",
    "dead_unit_fractions",
    "layer_gradient_norms",
    "linear_collapse_demo",
    "vanishing_gradient_experiment",
]

ACTIVATION_NAMES = ("sigmoid", "tanh", "relu", "leaky_relu", "linear")
INIT_NAMES = ("auto", "xavier", "kaiming", "torch_default")


def _activation_module(name: str, slope: float) -> nn.Module:
    if name == "sigmoid":
        return nn.Sigmoid()
    if name == "tanh":
        return nn.Tanh()
    if name == "relu":
        return nn.ReLU()
    if name == "leaky_relu":
        return nn.LeakyReLU(negative_slope=slope)
    return nn.Identity()  # "linear": no activation at all


def _init_(layer: nn.Linear, activation: str, init: str, slope: float, gen: torch.Generator) -> None:
    """Initialise one layer in place, drawing from ``gen`` so the net is reproducible."""
    if init == "auto":  # the usual pairing: He for the ReLU family, Glorot otherwise
        init = "kaiming" if activation in ("relu", "leaky_relu") else "xavier"
    fan_out, fan_in = layer.weight.shape
    with torch.no_grad():
        if init == "xavier":  # Glorot & Bengio: Var(w) = 2 / (fan_in + fan_out)
            std = math.sqrt(2.0 / (fan_in + fan_out))
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=gen, dtype=torch.float64) * std)
            layer.bias.zero_()
        elif init == "kaiming":  # He et al.: Var(w) = 2 / ((1 + a^2) fan_in)
            a = slope if activation == "leaky_relu" else 0.0
            std = math.sqrt(2.0 / ((1.0 + a * a) * fan_in))
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=gen, dtype=torch.float64) * std)
            layer.bias.zero_()
        else:  # torch's nn.Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for w and b
            bound = 1.0 / math.sqrt(fan_in)
            for p in (layer.weight, layer.bias):
                u = torch.rand(p.shape, generator=gen, dtype=torch.float64)
                p.copy_((2.0 * u - 1.0) * bound)


def build_mlp(
    depth: int,
    activation: str,
    *,
    in_features: int = 32,
    width: int = 64,
    out_features: int = 10,
    init: str = "auto",
    slope: float = 0.01,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> nn.Sequential:
    """A plain fully connected net: ``depth`` Linear layers, an activation after each but the last.

    Shapes: input (N, in_features) -> (N, width) -> ... -> (N, width) -> (N, out_features).
    ``depth`` counts the Linear layers (weight layers), so ``depth=10`` has 10 weight
    matrices and 9 activations. ``activation`` is one of :data:`ACTIVATION_NAMES`
    (``"linear"`` puts nothing between the layers). ``init``: ``"xavier"`` (Glorot),
    ``"kaiming"`` (He), ``"torch_default"`` (``nn.Linear``'s uniform default), or
    ``"auto"``: He for ReLU and leaky ReLU, Glorot for the rest. Parameters are float64
    and drawn from a ``torch.Generator`` seeded with ``seed``, so the same arguments
    always give the same net, on any device.
    """
    depth = check_int("depth", depth, minimum=1)
    in_features = check_int("in_features", in_features, minimum=1)
    width = check_int("width", width, minimum=1)
    out_features = check_int("out_features", out_features, minimum=1)
    activation = check_choice("activation", activation, ACTIVATION_NAMES)
    init = check_choice("init", init, INIT_NAMES)
    slope = check_number(
        "slope", slope, minimum=0.0, below=1.0, what="a number in [0, 1) (the leaky ReLU's negative slope)"
    )
    seed = check_int("seed", seed, minimum=0)
    gen = torch.Generator().manual_seed(seed)
    sizes = [in_features] + [width] * (depth - 1) + [out_features]
    layers: list[nn.Module] = []
    for i in range(depth):
        linear = nn.Linear(sizes[i], sizes[i + 1], dtype=torch.float64)
        _init_(linear, activation, init, slope, gen)
        layers.append(linear)
        if i < depth - 1:
            layers.append(_activation_module(activation, slope))
    device = resolve_device(device)
    return nn.Sequential(*layers).to(device)


def _fixed_batch(
    in_features: int, out_features: int, batch_size: int, seed: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch of standard-normal inputs (N, in_features) and random class labels (N,)."""
    gen = torch.Generator().manual_seed(seed + 1_000_003)  # not the weights' stream
    x = torch.randn(batch_size, in_features, generator=gen, dtype=torch.float64)
    y = torch.randint(0, out_features, (batch_size,), generator=gen)
    return x.to(device), y.to(device)


def layer_gradient_norms(
    depth: int,
    activation: str,
    *,
    in_features: int = 32,
    width: int = 64,
    out_features: int = 10,
    batch_size: int = 128,
    init: str = "auto",
    slope: float = 0.01,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> np.ndarray:
    """Per-layer weight-gradient norms of a freshly built net on one fixed batch.

    Returns an array of shape (depth,): entry ``l`` is ``||dL/dW_l||_F`` for the
    ``l``-th Linear layer counted from the input (entry 0 is the first layer), where
    ``L`` is the mean cross-entropy of :func:`build_mlp`'s net on a fixed batch of
    ``batch_size`` standard-normal inputs with random labels. Same arguments, same
    numbers.
    """
    batch_size = check_int("batch_size", batch_size, minimum=1)
    net = build_mlp(
        depth, activation, in_features=in_features, width=width, out_features=out_features,
        init=init, slope=slope, seed=seed, device=device,
    )
    # build_mlp checked them; here they are Python ints for the batch's generator too
    in_features, out_features = int(in_features), int(out_features)
    seed = check_int("seed", seed, minimum=0)
    device = next(net.parameters()).device
    x, y = _fixed_batch(in_features, out_features, batch_size, seed, device)
    loss = nn.functional.cross_entropy(net(x), y)  # logits (N, out_features)
    linears = [m for m in net if isinstance(m, nn.Linear)]
    grads = torch.autograd.grad(loss, [m.weight for m in linears])
    return np.array([g.norm().item() for g in grads])


@dataclass(frozen=True)
class VanishingGradientResult:
    """Per-layer gradient norms for each activation, and the sigmoid-vs-ReLU comparison.

    ``norms[name]`` has shape (depth,), layer 1 (nearest the input) first.
    ``ratio`` is ReLU's first-layer gradient norm divided by sigmoid's;
    ``orders_of_magnitude`` is its base-10 logarithm.
    """

    depth: int
    init: str
    norms: dict[str, np.ndarray]
    ratio: float
    orders_of_magnitude: float

    @property
    def claim_holds(self) -> bool:
        """Sigmoid's first-layer gradient is at least 1,000 times smaller than ReLU's."""
        return self.ratio >= 1000

    def sentence(self) -> str:
        s, r = self.norms["sigmoid"][0], self.norms["relu"][0]
        return (
            f"Experiment: in a {self.depth}-layer fully connected net ({self.init} init), the "
            f"first layer's gradient norm is {s:.2e} with sigmoid and {r:.2e} with ReLU: "
            f"{self.ratio:.3g} times smaller with sigmoid, "
            f"{self.orders_of_magnitude:.1f} orders of magnitude."
        )

    __str__ = sentence


def vanishing_gradient_experiment(
    depth: int = 10,
    activations: Sequence[str] = ("sigmoid", "tanh", "relu"),
    *,
    width: int = 64,
    batch_size: int = 128,
    init: str = "auto",
    seed: int = 0,
    device: torch.device | str | None = None,
) -> VanishingGradientResult:
    """Run :func:`layer_gradient_norms` for each activation with the same seed and batch.

    ``activations`` must include ``"sigmoid"`` and ``"relu"`` (the comparison the
    lesson states). The claim checked in the notebook: for ``depth=10`` the ReLU
    net's first-layer gradient norm is at least 100 times the sigmoid net's.
    """
    depth = check_int("depth", depth, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    if isinstance(activations, str | bytes | dict) or not isinstance(activations, Iterable):
        raise TypeError(
            f"activations={activations!r} must be a list of activation names such as "
            f"('sigmoid', 'relu'), not {type(activations).__name__}"
        )
    names = list(activations)
    for required in ("sigmoid", "relu"):
        if required not in names:
            raise ValueError(f"activations={names!r} must include {required!r}")
    norms = {
        name: layer_gradient_norms(
            depth, name, width=width, batch_size=batch_size, init=init, seed=seed, device=device
        )
        for name in names
    }
    ratio = float(norms["relu"][0] / norms["sigmoid"][0])
    return VanishingGradientResult(depth, init, norms, ratio, math.log10(ratio))


@dataclass(frozen=True)
class LinearCollapse:
    """A stack of linear layers multiplied out into one: ``y = x @ weight.T + bias``.

    ``weight`` (out, in) and ``bias`` (out,) are float64 tensors; ``max_abs_difference``
    is the largest gap between the stack's and the single map's outputs on a test batch.
    """

    weight: torch.Tensor
    bias: torch.Tensor
    max_abs_difference: float
    n_layers: int


def collapse_linear_stack(net: nn.Sequential) -> tuple[torch.Tensor, torch.Tensor]:
    """Multiply out ``Linear`` layers (with only ``Identity`` between them) into one map.

    For layers ``y = W_k (... (W_1 x + b_1) ...) + b_k`` the result is
    ``W = W_k ... W_1`` (shape (out, in)) and ``b = W_k ... W_2 b_1 + ... + W_k b_{k-1} + b_k``.
    A nonlinear module anywhere in the stack raises ``TypeError``: then no single
    matrix reproduces the net.
    """
    if not isinstance(net, nn.Sequential | nn.ModuleList | list | tuple) or not all(
        isinstance(m, nn.Module) for m in net
    ):
        raise TypeError(
            f"net must be an nn.Sequential of Linear (and Identity) layers, not "
            f"{type(net).__name__}"
        )
    weight: torch.Tensor | None = None
    bias: torch.Tensor | None = None
    for i, module in enumerate(net):
        if isinstance(module, nn.Identity):
            continue
        if not isinstance(module, nn.Linear):
            raise TypeError(
                f"net[{i}] is {type(module).__name__}, not Linear or Identity: a stack with a "
                "nonlinearity does not collapse to one linear map"
            )
        w = module.weight.detach()
        b = module.bias.detach() if module.bias is not None else torch.zeros_like(w[:, 0])
        if weight is None:
            weight, bias = w.clone(), b.clone()
        else:
            weight = w @ weight  # (out_k, in)
            bias = w @ bias + b  # (out_k,)
    if weight is None:
        raise ValueError("net holds no Linear layer to collapse")
    return weight, bias


def best_affine_fit_error(net: nn.Module, x: torch.Tensor) -> float:
    """How far ``net`` is from every affine map on the inputs ``x`` (N, in).

    Fits ``y ~ x A + c`` by least squares to the net's outputs and returns the
    root-mean-square residual divided by the outputs' standard deviation: 0 for a
    net that is itself affine, clearly above 0 for a nonlinear one.
    """
    if not isinstance(net, nn.Module):
        raise TypeError(f"net must be a torch.nn.Module, not {type(net).__name__}")
    if not isinstance(x, torch.Tensor) or x.ndim != 2:
        raise ValueError(f"x must be a 2-D tensor (N, in_features), got {type(x).__name__} "
                         f"of shape {tuple(getattr(x, 'shape', ()))}")
    if not x.is_floating_point():
        raise TypeError(f"x has dtype {x.dtype}; expected floating inputs such as float64")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("x holds NaN or infinite values; expected finite inputs")
    if x.shape[0] <= x.shape[1] + 1:
        raise ValueError(
            f"x has {x.shape[0]} rows for {x.shape[1]} features; the fit needs more rows than "
            f"the {x.shape[1] + 1} numbers per output of an affine map, or any net fits exactly"
        )
    with torch.no_grad():
        y = net(x).cpu()  # (N, out); the small least-squares fit runs on the CPU
    x = x.detach().cpu()
    ones = torch.ones(x.shape[0], 1, dtype=x.dtype)
    design = torch.cat([x, ones], dim=1)  # (N, in + 1)
    coef = torch.linalg.lstsq(design, y).solution  # (in + 1, out)
    residual = y - design @ coef
    return float(residual.pow(2).mean().sqrt() / y.std())


def linear_collapse_demo(
    depth: int = 5,
    *,
    in_features: int = 8,
    width: int = 16,
    out_features: int = 3,
    batch_size: int = 256,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> LinearCollapse:
    """Build a ``depth``-layer net with no activation, multiply it out, compare outputs.

    Returns the single map and the largest absolute difference between the stack's
    outputs and ``x @ W.T + b`` on a fixed batch of ``batch_size`` inputs.
    """
    depth = check_int("depth", depth, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    net = build_mlp(
        depth, "linear", in_features=in_features, width=width, out_features=out_features,
        init="torch_default", seed=seed, device=device,
    )
    in_features, out_features = int(in_features), int(out_features)  # checked by build_mlp
    seed = check_int("seed", seed, minimum=0)
    weight, bias = collapse_linear_stack(net)
    device = weight.device
    x, _ = _fixed_batch(in_features, out_features, batch_size, seed, device)
    with torch.no_grad():
        gap = (net(x) - (x @ weight.T + bias)).abs().max().item()
    return LinearCollapse(weight, bias, gap, depth)


@dataclass(frozen=True)
class DeadUnits:
    """One row of :func:`dead_unit_fractions`: a bias shift and the share of dead units."""

    bias_shift: float
    relu_dead: float
    leaky_dead: float


def dead_unit_fractions(
    bias_shifts: Sequence[float] = (0.0, -2.0, -4.0, -6.0),
    *,
    in_features: int = 32,
    width: int = 256,
    batch_size: int = 512,
    slope: float = 0.01,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> list[DeadUnits]:
    """Dying ReLU: how many units of one layer get no gradient from a whole batch.

    One layer of ``width`` units with He-initialised weights (N, in) -> (N, width)
    reads ``batch_size`` standard-normal inputs; every bias is moved by
    ``bias_shift`` (what one large, unlucky update can do). A unit is *dead* when its
    activation's derivative (:func:`course_lib.ops.relu_grad`) is 0 for every input
    in the batch: then no weight feeding it receives any gradient, and nothing can
    revive it. Leaky ReLU's derivative (:func:`course_lib.ops.leaky_relu_grad`) is
    ``slope`` there, so none of its units die. Returns one :class:`DeadUnits` per shift.
    """
    in_features = check_int("in_features", in_features, minimum=1)
    width = check_int("width", width, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    if isinstance(bias_shifts, str | bytes | dict) or not isinstance(bias_shifts, Iterable):
        raise TypeError(
            f"bias_shifts={bias_shifts!r} must be a list of numbers such as (0.0, -2.0), not "
            f"{type(bias_shifts).__name__}"
        )
    shifts = [check_number(f"bias_shifts[{i}]", b) for i, b in enumerate(bias_shifts)]
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(width, in_features, generator=gen, dtype=torch.float64) * math.sqrt(2.0 / in_features)
    x = torch.randn(batch_size, in_features, generator=gen, dtype=torch.float64)
    device = resolve_device(device)
    w, x = w.to(device), x.to(device)
    rows = []
    for shift in shifts:
        pre = x @ w.T + shift  # (N, width)
        relu_dead = (ops.relu_grad(pre) == 0).all(dim=0).double().mean().item()
        leaky_dead = (ops.leaky_relu_grad(pre, slope=slope) == 0).all(dim=0).double().mean().item()
        rows.append(DeadUnits(float(shift), relu_dead, leaky_dead))
    return rows
