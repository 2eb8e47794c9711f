"""Shape arithmetic for convolutional networks: output sizes, receptive fields, costs.

Every formula here is the one lesson 02 derives, checked against the shapes torch
produces (``tests/test_shapes.py``):

* convolution and pooling: ``floor((n + 2p - f) / s) + 1``;
* transposed convolution: ``(n - 1) * s - 2p + f + output_padding``;
* "same" padding for an odd kernel: ``p = (f - 1) / 2``.

``count_parameters``, ``conv_mults`` and ``summary`` count what a network costs: its
parameters and the multiplications of its conv and linear layers
(lessons 03, 05 and 10; the 120,422,400 multiplications of the naive inception branch
come from ``conv_mults``).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from course_lib.validate import check_bool, check_int, check_pair, check_shape

__all__ = [
    "LayerRow",
    "Summary",
    "conv_mults",
    "conv_output_size",
    "conv_transpose_output_size",
    "count_parameters",
    "pool_output_size",
    "receptive_field",
    "same_padding",
    "summary",
]


def conv_output_size(n: int, f: int, p: int = 0, s: int = 1) -> int:
    """Output length of a convolution along one axis: ``floor((n + 2p - f) / s) + 1``.

    n: input size, f: kernel size, p: padding on each side, s: stride.
    Refuses (``ValueError``) exactly the settings ``torch.nn.functional.conv2d``
    refuses: n < 1, f < 1, p < 0, s < 1, or a kernel larger than the padded input.

    >>> conv_output_size(6, 3)          # 6x6 * 3x3 -> 4x4 (lesson 01)
    4
    >>> conv_output_size(7, 3, s=2)     # the 7x7 input with stride 2 (lesson 02)
    3
    """
    n = check_int("n (input size)", n, minimum=1)
    f = check_int("f (kernel size)", f, minimum=1)
    p = check_int("p (padding)", p, minimum=0)
    s = check_int("s (stride)", s, minimum=1)
    if f > n + 2 * p:
        raise ValueError(
            f"kernel size f={f} is larger than the padded input n + 2p = {n + 2 * p} "
            f"(n={n}, p={p}); no output position fits"
        )
    return (n + 2 * p - f) // s + 1


def pool_output_size(n: int, f: int, p: int = 0, s: int | None = None) -> int:
    """Output length of a pooling window along one axis, the same rule as convolution.

    ``s`` defaults to ``f`` (non-overlapping windows), as in torch. Like torch's
    ``max_pool2d`` it also refuses a padding larger than half the window (p > f / 2),
    since a window could then see only padding.

    >>> pool_output_size(4, 2)          # 4x4x10 -> 2x2x10 (lesson 03)
    2
    """
    f = check_int("f (window size)", f, minimum=1)
    s = f if s is None else s
    p = check_int("p (padding)", p, minimum=0)
    if 2 * p > f:
        raise ValueError(
            f"p (padding)={p} must be at most half the window size f={f} (p <= {f // 2}); "
            "otherwise a window could hold nothing but padding"
        )
    return conv_output_size(n, f, p, s)


def conv_transpose_output_size(
    n: int, f: int, p: int = 0, s: int = 1, output_padding: int = 0
) -> int:
    """Output length of a transposed convolution: ``(n - 1) * s - 2p + f + output_padding``.

    ``output_padding`` (0 <= output_padding < s) picks one of the ``s`` input sizes that
    a strided convolution maps to ``n``, as in ``torch.nn.ConvTranspose2d``.

    >>> conv_transpose_output_size(16, 4, p=1, s=2)   # 2x upsampling (lesson 11)
    32
    """
    n = check_int("n (input size)", n, minimum=1)
    f = check_int("f (kernel size)", f, minimum=1)
    p = check_int("p (padding)", p, minimum=0)
    s = check_int("s (stride)", s, minimum=1)
    output_padding = check_int("output_padding", output_padding, minimum=0)
    if output_padding >= s:
        raise ValueError(f"output_padding={output_padding} must be smaller than the stride s={s}")
    size = (n - 1) * s - 2 * p + f + output_padding
    if size < 1:
        raise ValueError(
            f"padding p={p} crops the whole output: (n-1)*s - 2p + f + output_padding = "
            f"{size} (n={n}, f={f}, s={s}); expected a positive size"
        )
    return size


def same_padding(f: int) -> int:
    """Padding that keeps the size at stride 1: ``p = (f - 1) / 2``; f must be odd.

    >>> same_padding(5)
    2
    """
    f = check_int("f (kernel size)", f, minimum=1)
    if f % 2 == 0:
        raise ValueError(
            f"f (kernel size)={f} is even; 'same' padding (f - 1) / 2 = {(f - 1) / 2} "
            "is not a whole number of pixels, so use an odd kernel size"
        )
    return (f - 1) // 2


def receptive_field(layers: Sequence[tuple[int, int]]) -> int:
    """Receptive field, in input pixels, of one unit after a stack of layers.

    ``layers`` is a list of ``(kernel, stride)`` pairs, first layer first. Each layer
    adds ``(kernel - 1) * jump`` pixels, where ``jump`` is the product of the strides
    before it (how far apart neighbouring units of its input sit in the image).

    >>> receptive_field([(3, 1), (3, 1)])     # two 3x3 convs see 5x5
    5
    >>> alexnet = [(11, 4), (3, 2), (5, 1), (3, 2), (3, 1), (3, 1), (3, 1), (3, 2)]
    >>> receptive_field(alexnet)              # pool5 in R-CNN (lesson 14)
    195
    """
    if not isinstance(layers, list | tuple | np.ndarray | torch.Tensor) or (
        isinstance(layers, np.ndarray | torch.Tensor) and layers.ndim != 2
    ):
        raise TypeError(
            f"layers={layers!r} must be a list of (kernel, stride) pairs, e.g. [(3, 1), (2, 2)]"
        )
    field_size, jump = 1, 1
    for i, layer in enumerate(layers):
        try:
            k, s = layer
        except (TypeError, ValueError):
            raise TypeError(f"layers[{i}]={layer!r} must be a (kernel, stride) pair") from None
        k = check_int(f"layers[{i}] kernel", k, minimum=1)
        s = check_int(f"layers[{i}] stride", s, minimum=1)
        field_size += (k - 1) * jump
        jump *= s
    return field_size


def count_parameters(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of scalar parameters (weights and biases) of a torch module.

    All of them by default; ``trainable_only=True`` leaves out frozen ones
    (``requires_grad=False``). Shared parameters count once.

    >>> count_parameters(nn.Conv2d(3, 10, 3))     # 10 filters of 3x3x3 plus 10 biases
    280
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, not {type(model).__name__}")
    trainable_only = check_bool("trainable_only", trainable_only)
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def conv_mults(
    in_shape: Sequence[int],
    out_channels: int,
    f: int | tuple[int, int],
    p: int | tuple[int, int] | str = 0,
    s: int | tuple[int, int] = 1,
) -> int:
    """Multiplications one conv layer makes: ``out_H * out_W * out_channels * f_h * f_w * C``.

    in_shape: ``(C, H, W)`` of one input; f, p, s: kernel size, padding (or
    ``"same"``) and stride, each an int or an ``(h, w)`` pair. Each output value is a
    dot product of a ``f_h x f_w x C`` window with one filter. Biases (additions) are
    not counted.

    The inception example of lesson 10, 28x28x192 into 32 filters of 5x5 with same
    padding, makes 120,422,400 multiplications; a 16-channel 1x1 bottleneck first
    brings it to 2,408,448 + 10,035,200 = 12,443,648:

    >>> conv_mults((192, 28, 28), 32, 5, p="same")
    120422400
    >>> conv_mults((192, 28, 28), 16, 1) + conv_mults((16, 28, 28), 32, 5, p="same")
    12443648
    """
    c, h, w = check_shape(
        "in_shape", in_shape, length=3, layout="(C, H, W), one input without the batch axis"
    )
    out_channels = check_int("out_channels", out_channels, minimum=1)
    fh, fw = check_pair("f (kernel size)", f, minimum=1)
    sh, sw = check_pair("s (stride)", s, minimum=1)
    if isinstance(p, str):
        if p != "same":
            raise ValueError(f"p (padding)={p!r} must be an int, an (h, w) pair or 'same'")
        if (sh, sw) != (1, 1):
            raise ValueError(f"p='same' needs stride 1, got s={s!r}")
        ph, pw = same_padding(fh), same_padding(fw)
    else:
        ph, pw = check_pair("p (padding)", p)
    oh = conv_output_size(h, fh, ph, sh)
    ow = conv_output_size(w, fw, pw, sw)
    return oh * ow * out_channels * fh * fw * c


# --------------------------------------------------------------------------- summary


@dataclass(frozen=True)
class LayerRow:
    """One row of a :class:`Summary`: a layer, its output shape and its costs."""

    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int
    mults: int

    @property
    def activations(self) -> int:
        """Values in the layer's output for one example (H x W x C for a conv layer)."""
        return math.prod(self.output_shape)


@dataclass(frozen=True)
class Summary:
    """A per-layer table of a network; shows as HTML in a notebook and as text in print.

    ``rows`` are :class:`LayerRow` objects in the order the layers ran;
    ``total_params`` counts every trainable parameter of the module once (shared
    layers included once), ``total_mults`` sums the rows.
    """

    input_shape: tuple[int, ...]
    rows: tuple[LayerRow, ...]
    total_params: int
    total_mults: int

    _HEADERS = ("layer", "type", "output shape", "activations", "parameters", "multiplications")

    def only(self, *kinds: str) -> Summary:
        """The same table with only the rows of the given layer types (e.g. "Conv2d");
        the totals still describe the whole network."""
        rows = tuple(r for r in self.rows if r.kind in kinds)
        if not rows:
            raise ValueError(
                f"kinds={kinds!r} match no row; the table's layer types are "
                f"{sorted({r.kind for r in self.rows})}"
            )
        return Summary(self.input_shape, rows, self.total_params, self.total_mults)

    def _cells(self) -> list[tuple[str, ...]]:
        return [
            (
                r.name,
                r.kind,
                " x ".join(str(d) for d in r.output_shape),
                f"{r.activations:,}",
                f"{r.params:,}",
                f"{r.mults:,}",
            )
            for r in self.rows
        ]

    def _footer(self) -> tuple[str, ...]:
        shape = " x ".join(str(d) for d in self.input_shape)
        return ("total", f"input {shape}", "", "", f"{self.total_params:,}", f"{self.total_mults:,}")

    def __str__(self) -> str:
        cells = [self._HEADERS, *self._cells(), self._footer()]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self._HEADERS))]

        def line(row):
            left = [row[i].ljust(widths[i]) for i in range(3)]
            right = [row[i].rjust(widths[i]) for i in range(3, len(row))]
            return "  ".join(left + right).rstrip()

        rule = "-" * len(line(cells[0]))
        body = [line(r) for r in cells[1:-1]]
        return "\n".join([line(cells[0]), rule, *body, rule, line(cells[-1])])

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        def tr(row, tag="td"):
            tds = [
                f'<{tag} style="text-align:{"right" if i >= 3 else "left"}">'
                f"{html.escape(c)}</{tag}>"
                for i, c in enumerate(row)
            ]
            return "<tr>" + "".join(tds) + "</tr>"

        head = tr(self._HEADERS, "th")
        body = "".join(tr(r) for r in self._cells())
        foot = tr(self._footer(), "th")
        return f"<table><thead>{head}</thead><tbody>{body}</tbody><tfoot>{foot}</tfoot></table>"


def _layer_mults(module: nn.Module, inp: torch.Tensor, out: torch.Tensor) -> int:
    """Multiplications of a conv, transposed conv or linear layer; 0 for anything else."""
    if isinstance(module, nn.modules.conv._ConvNd):
        k = 1
        for d in module.kernel_size:
            k *= d
        if module.transposed:
            # every input value is multiplied into a kernel-sized patch of each output map
            return inp.numel() * (module.out_channels // module.groups) * k
        return out.numel() * (module.in_channels // module.groups) * k
    if isinstance(module, nn.Linear):
        return out.numel() * module.in_features
    if isinstance(module, nn.Bilinear):
        return out.numel() * module.in1_features * module.in2_features
    return 0


def summary(module: nn.Module, input_shape: Sequence[int]) -> Summary:
    """Run ``module`` once on zeros and tabulate every layer: output shape, params, mults.

    input_shape: the shape of ONE example, without the batch dimension, e.g.
    ``(3, 32, 32)`` for a LeNet-5 input; a batch of one is added. The pass runs under
    ``torch.no_grad`` in eval mode (restored afterwards) on the device of the module's
    parameters (CPU for a module without any). A row is a layer without sub-layers
    (or one holding parameters of its own); output shapes leave out the batch
    dimension; multiplications count conv, transposed conv and linear layers only.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, not {type(module).__name__}")
    shape = check_shape(
        "input_shape", input_shape, layout="the sizes of one example, e.g. (1, 32, 32)"
    )
    first = next(module.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    dtype = first.dtype if first is not None and first.is_floating_point() else torch.float32

    rows: list[LayerRow] = []
    handles = []

    def make_hook(name: str):
        def hook(mod, args, out):
            inp = next((a for a in args if isinstance(a, torch.Tensor)), None)
            t = out[0] if isinstance(out, (tuple, list)) else out
            if not isinstance(t, torch.Tensor):
                return
            own = sum(p.numel() for p in mod.parameters(recurse=False) if p.requires_grad)
            rows.append(
                LayerRow(
                    name=name,
                    kind=type(mod).__name__,
                    output_shape=tuple(t.shape[1:]),
                    params=own
                    if next(mod.children(), None) is not None
                    else sum(p.numel() for p in mod.parameters() if p.requires_grad),
                    mults=_layer_mults(mod, inp, t) if inp is not None else 0,
                )
            )

        return hook

    for name, mod in module.named_modules():
        is_leaf = next(mod.children(), None) is None
        owns = next(mod.parameters(recurse=False), None) is not None
        if (is_leaf or owns) and (mod is not module or is_leaf or owns):
            handles.append(mod.register_forward_hook(make_hook(name or type(mod).__name__)))

    was_training = module.training
    try:
        module.eval()
        with torch.no_grad():
            try:
                module(torch.zeros((1, *shape), device=device, dtype=dtype))
            except (RuntimeError, ValueError) as err:
                first_layer = next(
                    (m for m in module.modules() if isinstance(m, nn.Conv2d | nn.Linear)), None
                )
                hint = ""
                if isinstance(first_layer, nn.Conv2d):
                    hint = f"; its first conv takes {first_layer.in_channels} channels"
                elif isinstance(first_layer, nn.Linear):
                    hint = f"; its first linear layer takes {first_layer.in_features} features"
                raise ValueError(
                    f"input_shape={shape} does not fit {type(module).__name__}{hint}; expected "
                    "the shape of ONE example without the batch axis, e.g. (C, H, W) = "
                    f"(1, 32, 32) ({str(err).splitlines()[0]})"
                ) from err
    finally:
        module.train(was_training)
        for h in handles:
            h.remove()

    return Summary(
        input_shape=shape,
        rows=tuple(rows),
        total_params=count_parameters(module, trainable_only=True),
        total_mults=sum(r.mults for r in rows),
    )
