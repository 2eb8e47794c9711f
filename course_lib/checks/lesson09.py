"""Exercise checks for lesson 09: residual networks.

* Exercise 9.1 - :func:`check_residual_block`: a basic residual block written with
  ``F.conv2d`` and ``F.relu``, ``a[l+2] = relu(conv2(relu(conv1(a[l]))) + shortcut(a[l]))``,
  with the identity shortcut where the shapes match and a 1x1 projection ``W_s`` (with
  the block's stride) where they change. Judged against the library's block,
  :class:`course_lib.models.ResidualBlock` without batch norm, whose weights are the
  ones handed to the learner's function: the answer must equal ``block(x)``.
* Exercise 9.3 - :func:`check_bottleneck_weights`: the number of weights of a
  bottleneck block's three convolutions, 1x1 (``channels`` -> ``reduced``), 3x3
  (``reduced`` -> ``reduced``) and 1x1 (``reduced`` -> ``channels``), no biases (batch
  norm follows each): ``2 * channels * reduced + 9 * reduced**2``; 69,632 for ResNet-50's
  256 -> 64 -> 64 -> 256 block.

The cases have inputs of several shapes (N != C, H != W), stride 1 and 2, and weights
that are not whole numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from course_lib.checks import Case, CheckResult, Mistake, check_function
from course_lib.models import ResidualBlock
from course_lib.validate import check_array, check_int

__all__ = [
    "bottleneck_weights",
    "check_bottleneck_weights",
    "check_residual_block",
    "residual_block",
]


# --------------------------------------------------------------------------------------
# Exercise 9.1: a residual block
# --------------------------------------------------------------------------------------
def _tensor(name: str, value: Any, ndim: int) -> torch.Tensor:
    value = check_array(name, value, ndim=ndim, floating=True)
    return value if isinstance(value, torch.Tensor) else torch.from_numpy(np.asarray(value))


def residual_block(
    x: torch.Tensor,
    w1: torch.Tensor,
    b1: torch.Tensor,
    w2: torch.Tensor,
    b2: torch.Tensor,
    w_s: torch.Tensor | None = None,
    b_s: torch.Tensor | None = None,
    stride: int = 1,
) -> torch.Tensor:
    """Reference for Exercise 9.1: the library's block with these weights, applied to ``x``.

    x (N, C_in, H, W); w1 (C_out, C_in, 3, 3), b1 (C_out,); w2 (C_out, C_out, 3, 3),
    b2 (C_out,); w_s (C_out, C_in, 1, 1), b_s (C_out,) or None for the identity.
    Returns (N, C_out, H', W') with H' = floor((H - 1) / stride) + 1.
    """
    x = _tensor("x", x, 4)
    w1, w2 = _tensor("w1", w1, 4), _tensor("w2", w2, 4)
    b1, b2 = _tensor("b1", b1, 1), _tensor("b2", b2, 1)
    stride = check_int("stride", stride, minimum=1, maximum=8)
    c_out, c_in = w1.shape[0], x.shape[1]
    if tuple(w1.shape) != (c_out, c_in, 3, 3) or tuple(w2.shape) != (c_out, c_out, 3, 3):
        raise ValueError(
            f"w1 {tuple(w1.shape)} and w2 {tuple(w2.shape)} must be ({c_out}, {c_in}, 3, 3) "
            f"and ({c_out}, {c_out}, 3, 3) for x with {c_in} channels"
        )
    projection = w_s is not None
    if projection != (b_s is not None):
        raise ValueError("w_s and b_s go together: both None (identity) or both given")
    if not projection and (stride != 1 or c_in != c_out):
        raise ValueError(
            f"the identity shortcut needs the same shape in and out; stride={stride}, "
            f"{c_in} -> {c_out} channels need a projection (w_s, b_s)"
        )
    block = ResidualBlock(c_in, c_out, stride=stride, batch_norm=False)
    block = block.to(device=x.device, dtype=x.dtype)
    weights = {"w1": w1, "b1": b1, "w2": w2, "b2": b2}
    if projection:
        weights |= {"w_s": _tensor("w_s", w_s, 4), "b_s": _tensor("b_s", b_s, 1)}
    with torch.no_grad():
        for param, (name, value) in zip(block.parameters(), weights.items(), strict=True):
            if param.shape != value.shape:
                raise ValueError(f"{name} has shape {tuple(value.shape)}; expected "
                                 f"{tuple(param.shape)} for this block")
            param.copy_(value)
        return block(x)


def _case(label: str, c_in: int, c_out: int, stride: int, shape: tuple[int, int, int],
          seed: int) -> Case:
    """A case from the library block's own (seeded) weights and a random input."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        block = ResidualBlock(c_in, c_out, stride=stride, batch_norm=False).double()
        n, h, w = shape
        x = torch.randn(n, c_in, h, w, dtype=torch.float64)
    params = [p.detach().clone() for p in block.parameters()]
    kwargs: dict[str, Any] = {}
    if len(params) == 6:
        kwargs = {"w_s": params[4], "b_s": params[5]}
    if stride != 1:
        kwargs["stride"] = stride
    with torch.no_grad():
        expected = block(x).numpy()
    return Case(label, (x, *params[:4]), kwargs, expected=expected)


BLOCK_CASES = (
    _case("identity shortcut: 3 -> 3 channels, stride 1, a batch of 2 inputs of 5x6",
          3, 3, 1, (2, 5, 6), seed=1),
    _case("projection shortcut: 3 -> 5 channels, stride 2, inputs of 6x7 -> 3x4",
          3, 5, 2, (2, 6, 7), seed=2),
    _case("projection shortcut, stride 1 (only the channels change): 4 -> 6, inputs 4x5",
          4, 6, 1, (1, 4, 5), seed=3),
    _case("identity shortcut: 2 -> 2 channels, a batch of 3 inputs of 7x4",
          2, 2, 1, (3, 7, 4), seed=4),
)


def _block_with(*, skip_after_relu=False, final_relu=True, relu_twice=False,
                stride_on_second=False, main_stride=True, shortcut_stride=True,
                shortcut_bias=True, skip_from_middle=False, no_skip=False):
    """The block as a learner writes it, with one line changed (``main_stride=False``: no
    stride on the main path at all)."""

    def wrong(x, w1, b1, w2, b2, w_s=None, b_s=None, stride=1):
        s1, s2 = (1, stride) if stride_on_second else (stride, 1)
        if not main_stride:
            s1 = s2 = 1
        a1 = F.relu(F.conv2d(x, w1, b1, stride=s1, padding=1))
        z2 = F.conv2d(a1, w2, b2, stride=s2, padding=1)
        if skip_from_middle:
            shortcut = a1
        elif w_s is None:
            shortcut = x
        else:
            shortcut = F.conv2d(x, w_s, b_s if shortcut_bias else None,
                                stride=stride if shortcut_stride else 1)
        if no_skip:
            return F.relu(z2)
        if skip_after_relu:
            return F.relu(z2) + shortcut
        if relu_twice:
            return F.relu(F.relu(z2) + shortcut)
        out = z2 + shortcut
        return F.relu(out) if final_relu else out

    return wrong


def _ignores_projection(x_first: bool):
    """The identity shortcut even where w_s is given (``x + z`` or ``z + x``: torch's
    error message names the two sizes in that order)."""

    def wrong(x, w1, b1, w2, b2, w_s=None, b_s=None, stride=1):
        a1 = F.relu(F.conv2d(x, w1, b1, stride=stride, padding=1))
        z2 = F.conv2d(a1, w2, b2, padding=1)
        return F.relu(x + z2 if x_first else z2 + x)

    return wrong


BLOCK_MISTAKES = (
    Mistake(
        "the shortcut is added before the second activation: a[l+2] = relu(z[l+2] + a[l]). "
        "You applied the ReLU first and added a[l] after it.",
        _block_with(skip_after_relu=True),
    ),
    Mistake(
        "the block ends with an activation: a[l+2] = relu(z[l+2] + shortcut). Without the "
        "final ReLU the output can be negative.",
        _block_with(final_relu=False),
    ),
    Mistake(
        "only one ReLU between the second conv and the output: relu(z[l+2] + a[l]). You "
        "applied a ReLU to z[l+2] before adding the shortcut as well.",
        _block_with(relu_twice=True),
    ),
    Mistake(
        "the first 3x3 conv carries the block's stride: F.conv2d(x, w1, b1, stride=stride, "
        "padding=1). Without it the main path keeps the full map while the projection "
        "halves it, and the two cannot be added.",
        _block_with(stride_on_second=True, main_stride=False),
    ),
    Mistake(
        "the stride belongs to the first 3x3 conv (it halves the map on the way in); the "
        "second conv has stride 1. The output shape is the same either way, the values are not.",
        _block_with(stride_on_second=True),
    ),
    Mistake(
        "the projection W_s must shrink the map like the main path does: apply the 1x1 conv "
        "with the block's stride, F.conv2d(x, w_s, b_s, stride=stride).",
        _block_with(shortcut_stride=False),
    ),
    Mistake(
        "the projection shortcut is a 1x1 conv with its own bias: F.conv2d(x, w_s, b_s, ...).",
        _block_with(shortcut_bias=False),
    ),
    Mistake(
        "the skip starts at the block's input a[l], not at the first conv's output a[l+1].",
        _block_with(skip_from_middle=True),
    ),
    Mistake(
        "that is the plain block: add the shortcut to z[l+2] before the final ReLU.",
        _block_with(no_skip=True),
    ),
    *(
        Mistake(
            "where the shapes change (stride 2, or more channels) the identity cannot be "
            "added: use the projection, F.conv2d(x, w_s, b_s, stride=stride), whenever w_s "
            "is given.",
            _ignores_projection(x_first),
        )
        for x_first in (False, True)
    ),
)


def check_residual_block(fn: Any) -> CheckResult:
    """Exercise 9.1: ``fn(x, w1, b1, w2, b2, w_s=None, b_s=None, stride=1) -> a[l+2]``."""
    return check_function(
        "Exercise 9.1 (a residual block)", fn, BLOCK_CASES, mistakes=BLOCK_MISTAKES
    )


# --------------------------------------------------------------------------------------
# Exercise 9.3: the weights of a bottleneck block
# --------------------------------------------------------------------------------------
def bottleneck_weights(channels: int, reduced: int) -> int:
    """Reference for Exercise 9.3: weights of 1x1 (C -> r), 3x3 (r -> r), 1x1 (r -> C)."""
    channels = check_int("channels", channels, minimum=1)
    reduced = check_int("reduced", reduced, minimum=1)
    return channels * reduced + 3 * 3 * reduced * reduced + reduced * channels


_BOTTLENECK_INPUTS = (
    ("ResNet-50's first stage: 256 -> 64 -> 64 -> 256", 256, 64),
    ("ResNet-50's last stage: 2048 -> 512 -> 512 -> 2048", 2048, 512),
    ("a small one: 64 -> 16 -> 16 -> 64", 64, 16),
    ("a reduction that is not 4x: 96 -> 40 -> 40 -> 96", 96, 40),
)
BOTTLENECK_CASES = tuple(
    Case(label, (c, r), expected=bottleneck_weights(c, r)) for label, c, r in _BOTTLENECK_INPUTS
)
BOTTLENECK_MISTAKES = (
    Mistake(
        "a bottleneck has three convs: count both 1x1 convs (C -> r and r -> C) as well as "
        "the 3x3 one.",
        lambda c, r: 9 * r * r,
    ),
    Mistake(
        "you counted one 1x1 conv; there are two, one narrowing C -> r and one widening r -> C "
        "again, C r weights each.",
        lambda c, r: c * r + 9 * r * r,
    ),
    Mistake(
        "the 3x3 conv works on the narrowed maps: r filters of 3x3xr, 9 r^2 weights, not "
        "9 C r.",
        lambda c, r: 2 * c * r + 9 * c * r,
    ),
    Mistake(
        "no biases here: batch norm follows each conv and its beta does a bias's job.",
        lambda c, r: 2 * c * r + 9 * r * r + 2 * r + c,
    ),
    Mistake(
        "the 3x3 conv has r filters of 3 x 3 x r weights each: 9 r^2, not 9 r.",
        lambda c, r: 2 * c * r + 9 * r,
    ),
    Mistake(
        "a 1x1 conv has 1 x 1 x C_in weights per filter, not 3 x 3 x C_in.",
        lambda c, r: 9 * c * r * 2 + 9 * r * r,
    ),
    Mistake(
        "that is a basic block of two 3x3 convs at C channels (18 C^2); the bottleneck "
        "narrows to r channels around its 3x3 conv.",
        lambda c, r: 18 * c * c,
    ),
)


def check_bottleneck_weights(fn: Any) -> CheckResult:
    """Exercise 9.3: ``fn(channels, reduced) -> int``, the bottleneck's conv weights."""
    return check_function(
        "Exercise 9.3 (weights of a bottleneck block)",
        fn,
        BOTTLENECK_CASES,
        mistakes=BOTTLENECK_MISTAKES,
    )
