"""Lesson 03's two experiments: what a conv layer saves, and what max pooling ignores.

1. **Parameters, conv vs fully connected.** A conv layer of ``n_filters`` filters of
   size ``f x f x C`` has ``(f*f*C + 1) * n_filters`` parameters whatever the input's
   height and width (10 filters of 3x3x3: 280). A fully connected layer that maps the
   same ``n x n x C`` input to an output of the same size as the conv layer's needs a
   weight for every (input, output) pair, so its count grows like ``n**4``.
   :func:`conv_vs_fc_params` builds both layers as real ``torch.nn`` modules on the
   ``meta`` device (shapes without memory, so even a 1000x1000 input costs nothing)
   and counts their parameters with :func:`course_lib.shapes.count_parameters`.

2. **Max pooling and a one-pixel shift.** Take pairs of ``size x size`` crops of an
   image whose second crop is the first moved by exactly one pixel (right or down, at
   random), pool both with a 2x2 window and stride 2, and count the pooled outputs
   that come out identical (|difference| <= 1e-9). :func:`shift_unchanged_fractions`
   measures that fraction for max, average and L2-norm pooling and, for contrast, for
   the unpooled pixels themselves.

   On independent random pixels the answer for max pooling is exactly 1/3 in
   expectation: after the shift a window shares one of its two columns (or rows) with
   the old window, and the two maxima agree exactly when the largest of the six
   pixels involved sits in that shared column, which happens with probability 2/6.
   Average and L2 pooling, whose outputs depend on every pixel of the window, almost
   never stay the same. On photographs the max-pooled fraction is higher still.

Source: the pooling discussion in the course seeds 003 and 004 (lesson 03).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from course_lib.device import resolve_device
from course_lib.ops import avg_pool2d, l2_pool2d, max_pool2d
from course_lib.shapes import conv_output_size, count_parameters
from course_lib.validate import check_array, check_int

__all__ = [
    "POOLINGS",
    "ParamComparison",
    "ParamRow",
    "ShiftOutcome",
    "conv_vs_fc_params",
    "format_param_table",
    "shift_unchanged_fractions",
    "shifted_crop_pairs",
]

POOLINGS = ("max", "avg", "l2", "none")
TOLERANCE = 1e-9


# --------------------------------------------------------------------------------------
# Experiment 1: parameters of a conv layer vs a fully connected layer
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ParamRow:
    """One input size ``n x n x in_channels`` and the two layers' parameter counts."""

    size: int
    in_channels: int
    out_shape: tuple[int, int, int]  # (H, W, channels) of both layers' outputs
    conv: int
    fc: int

    @property
    def ratio(self) -> float:
        """How many times more parameters the fully connected layer needs."""
        return self.fc / self.conv


@dataclass(frozen=True)
class ParamComparison:
    """Experiment 1's outcome: one :class:`ParamRow` per input size, and the layer settings."""

    rows: tuple[ParamRow, ...]
    f: int
    n_filters: int

    @property
    def conv_is_constant(self) -> bool:
        return len({r.conv for r in self.rows}) == 1

    @property
    def fc_is_increasing(self) -> bool:
        return all(a.fc < b.fc for a, b in zip(self.rows, self.rows[1:], strict=False))

    def table(self) -> str:
        """A plain-text table, one input size per line."""
        return format_param_table(self.rows)

    @property
    def claim_holds(self) -> bool:
        """A conv layer's count does not depend on the input size; an FC layer's grows."""
        return self.conv_is_constant and self.fc_is_increasing

    def sentence(self) -> str:
        first, last = self.rows[0], self.rows[-1]
        c = first.in_channels
        conv_counts = sorted({r.conv for r in self.rows})
        conv_text = (
            f"has {conv_counts[0]:,} parameters at every one of the {len(self.rows)} input sizes"
            if len(conv_counts) == 1
            else f"has between {conv_counts[0]:,} and {conv_counts[-1]:,} parameters"
        )
        return (
            f"Experiment: a conv layer of {self.n_filters} filters of {self.f}x{self.f}x{c} "
            f"{conv_text} from {first.size}x{first.size}x{c} to {last.size}x{last.size}x{c}; "
            f"a fully connected layer with the same input and output sizes needs "
            f"{first.fc:,} parameters at {first.size}x{first.size}x{c} and {last.fc:,} at "
            f"{last.size}x{last.size}x{c}, {last.ratio:,.0f} times the conv layer."
        )


def conv_vs_fc_params(
    sizes: Sequence[int] = (6, 16, 32, 64, 128, 224, 1000),
    *,
    in_channels: int = 3,
    n_filters: int = 10,
    f: int = 3,
) -> ParamComparison:
    """Experiment 1: parameters of a conv layer and of a same-shaped fully connected layer.

    For each ``n`` in ``sizes`` the input is ``n x n x in_channels``; the conv layer has
    ``n_filters`` filters of ``f x f x in_channels`` (stride 1, no padding) plus one bias
    each, so its output is ``(n-f+1) x (n-f+1) x n_filters``; the fully connected layer
    maps the flattened input to the flattened output of that same size, with biases.
    Both are ``torch.nn`` modules built on the ``meta`` device and counted by
    :func:`course_lib.shapes.count_parameters`.
    """
    in_channels = check_int("in_channels", in_channels, minimum=1)
    n_filters = check_int("n_filters", n_filters, minimum=1)
    f = check_int("f", f, minimum=1)
    if isinstance(sizes, str) or not isinstance(sizes, Sequence):
        raise TypeError(f"sizes={sizes!r} must be a sequence of input sizes (ints)")
    if not sizes:
        raise ValueError("sizes=() is empty; give at least one input size")
    rows = []
    for n in sizes:
        n = check_int("sizes", n, minimum=f, what=f"an int >= the filter size f={f}")
        out = conv_output_size(n, f)
        conv = nn.Conv2d(in_channels, n_filters, f, device="meta")
        fc = nn.Linear(n * n * in_channels, out * out * n_filters, device="meta")
        rows.append(
            ParamRow(n, in_channels, (out, out, n_filters), count_parameters(conv), count_parameters(fc))
        )
    return ParamComparison(tuple(rows), f, n_filters)


def format_param_table(rows: Sequence[ParamRow]) -> str:
    """A plain-text table of :class:`ParamRow` rows, one input size per line."""
    if not isinstance(rows, tuple | list) or not all(isinstance(r, ParamRow) for r in rows):
        got = type(rows).__name__
        if isinstance(rows, tuple | list):
            got = f"a {got} holding {', '.join(sorted({type(r).__name__ for r in rows}))}"
        raise TypeError(
            f"rows must be a list or tuple of ParamRow (conv_vs_fc_params(...).rows), not {got}"
        )
    head = f"{'input':>14} {'output':>16} {'conv params':>12} {'FC params':>20} {'FC / conv':>16}"
    lines = [head, "-" * len(head)]
    for r in rows:
        shape_in = f"{r.size}x{r.size}x{r.in_channels}"
        shape_out = "x".join(str(d) for d in r.out_shape)
        lines.append(
            f"{shape_in:>14} {shape_out:>16} {r.conv:>12,} {r.fc:>20,} {r.ratio:>16,.0f}"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# Experiment 2: how often a pooled output survives a one-pixel shift
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ShiftOutcome:
    """Fractions of outputs left exactly unchanged by a one-pixel shift, per pooling."""

    source: str
    n_pairs: int
    size: int
    kernel: int
    fractions: dict[str, float]  # "max", "avg", "l2", "none" -> fraction in [0, 1]
    n_outputs: dict[str, int]  # how many outputs each fraction is taken over

    @property
    def claim_holds(self) -> bool:
        """Max pooling keeps clearly more outputs unchanged (by 0.1 or more) than average
        pooling, L2-norm pooling and no pooling."""
        f = self.fractions
        return f["max"] >= max(f["avg"], f["l2"], f["none"]) + 0.1

    def sentence(self) -> str:
        f = self.fractions
        return (
            f"Experiment: on {self.n_pairs} pairs of {self.size}x{self.size} {self.source} "
            f"crops shifted by one pixel, {self.kernel}x{self.kernel} max pooling left "
            f"{f['max']:.1%} of its outputs unchanged, average pooling {f['avg']:.1%}, "
            f"L2-norm pooling {f['l2']:.1%}, and without pooling {f['none']:.1%} of the "
            "pixels were unchanged."
        )


def shifted_crop_pairs(
    image: np.ndarray,
    *,
    n: int,
    size: int,
    seed: int,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` crop pairs ``(a, b)`` where ``b`` is ``a`` moved one pixel right or down.

    ``image`` is ``(H, W, C)`` (a photo from :func:`course_lib.data.load_photo`, or
    noise). Each pair's corner and direction are drawn from ``numpy``'s generator
    seeded with ``seed``. Returns two float64 tensors of shape ``(n, C, size, size)``.
    Cropping a larger image (instead of rolling a small one) makes ``b`` a true
    translation: no pixel wraps round from the other edge.
    """
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array (H, W, C), not {type(image).__name__}")
    check_array("image", image, ndim=3, layout="(H, W, C): one colour image")
    height, width, _ = image.shape
    n = check_int("n", n, minimum=1)
    size = check_int("size", size)
    if size < 2 or size + 1 > min(height, width):
        raise ValueError(
            f"size={size!r} must be an int >= 2 that leaves room for a one-pixel shift "
            f"inside the {height}x{width} image"
        )
    seed = check_int("seed", seed, minimum=0, what="a non-negative int seed")
    device = resolve_device(device)
    rng = np.random.default_rng(seed)
    first, second = [], []
    for _ in range(n):
        r = int(rng.integers(0, height - size))
        c = int(rng.integers(0, width - size))
        dy, dx = ((0, 1), (1, 0))[int(rng.integers(2))]
        first.append(image[r : r + size, c : c + size])
        second.append(image[r + dy : r + dy + size, c + dx : c + dx + size])

    def stack(crops: list[np.ndarray]) -> torch.Tensor:
        batch = torch.as_tensor(np.stack(crops), dtype=torch.float64)  # (N, H, W, C)
        return batch.permute(0, 3, 1, 2).contiguous().to(device)  # (N, C, H, W)

    return stack(first), stack(second)


def _pool(x: torch.Tensor, kind: str, kernel: int) -> torch.Tensor:
    if kind == "max":
        return max_pool2d(x, kernel)
    if kind == "avg":
        return avg_pool2d(x, kernel)
    if kind == "l2":
        return l2_pool2d(x, kernel)
    return x


def shift_unchanged_fractions(
    image: np.ndarray,
    *,
    source: str,
    n: int = 300,
    size: int = 32,
    kernel: int = 2,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> ShiftOutcome:
    """Experiment 2: the fraction of outputs a one-pixel shift leaves unchanged.

    Crops pairs with :func:`shifted_crop_pairs`, pools both crops of every pair with a
    ``kernel x kernel`` window and stride ``kernel`` (max, average, L2-norm), and counts
    the outputs whose two values differ by at most 1e-9; ``"none"`` compares the crops'
    pixels directly. ``source`` names the image in the printed sentence.
    """
    n = check_int("n", n, minimum=1)
    size = check_int("size", size)
    kernel = check_int(
        "kernel", kernel, minimum=1, maximum=size, what=f"an int between 1 and size={size}"
    )
    a, b = shifted_crop_pairs(image, n=n, size=size, seed=seed, device=device)
    fractions, counts = {}, {}
    for kind in POOLINGS:
        pa, pb = _pool(a, kind, kernel), _pool(b, kind, kernel)
        same = (pa - pb).abs() <= TOLERANCE
        fractions[kind] = float(same.double().mean())
        counts[kind] = int(same.numel())
    return ShiftOutcome(source, n, size, kernel, fractions, counts)
