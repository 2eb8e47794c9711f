"""Lesson 03's apps: convolution over an RGB volume, pooling a photo, 1x1 channel mixing.

Each app is a pure draw function (tested directly) plus a thin :class:`FigureApp`:

* :func:`draw_volume_conv` / :func:`volume_conv_app` - a 3x3x3 filter on a 6x6x3 volume:
  pick an output position and a filter, see each channel's nine products summed, the
  three channel sums added, the bias added, then ReLU, with the numbers.
* :func:`draw_pooling` / :func:`pooling_app` - max, average or L2-norm pooling of a
  real photo with a chosen window size and stride.
* :func:`draw_channel_mix` / :func:`channel_mix_app` - a 1x1 convolution turning an RGB
  photo into one channel: ``w_red * R + w_green * G + w_blue * B + bias``, then ReLU.

The convolutions and poolings come from :mod:`course_lib.ops`; this module only
arranges and draws them. Source: lesson 03.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from course_lib.data import PHOTOS, load_photo
from course_lib.device import resolve_device
from course_lib.ops import avg_pool2d, conv2d, l2_pool2d, max_pool2d, relu
from course_lib.validate import as_float_array, check_bool, check_choice, check_int, check_number
from course_lib.widgets.base import FigureApp

__all__ = [
    "CHANNELS",
    "DEMO_FILTERS",
    "POOL_KINDS",
    "ChannelMix",
    "PoolingView",
    "VolumeConvStep",
    "channel_mix_app",
    "demo_volume",
    "draw_channel_mix",
    "draw_pooling",
    "draw_volume_conv",
    "photo_crop",
    "pooling_app",
    "volume_conv_app",
    "volume_conv_step",
]

CHANNELS = ("red", "green", "blue")
POOL_KINDS = ("max", "avg", "l2")
_POOL_NAMES = {"max": "max", "avg": "average", "l2": "L2-norm"}


def _filter(r: list[list[int]], g: list[list[int]], b: list[list[int]]) -> np.ndarray:
    out = np.array([r, g, b], dtype=np.float64)  # (C=3, 3, 3)
    out.setflags(write=False)
    return out


_V = [[1, 0, -1], [1, 0, -1], [1, 0, -1]]
_H = [[1, 1, 1], [0, 0, 0], [-1, -1, -1]]
_Z = [[0, 0, 0], [0, 0, 0], [0, 0, 0]]
_ONE = [[0, 0, 0], [0, 1, 0], [0, 0, 0]]

#: Named 3x3x3 filters, stored as (channels, rows, cols) = (3, 3, 3).
DEMO_FILTERS: dict[str, np.ndarray] = {
    "vertical edge, all channels": _filter(_V, _V, _V),
    "horizontal edge, all channels": _filter(_H, _H, _H),
    "vertical edge, red only": _filter(_V, _Z, _Z),
    "red minus blue (centre pixel)": _filter(_ONE, _Z, [[0, 0, 0], [0, -1, 0], [0, 0, 0]]),
}


@lru_cache(maxsize=4)
def _photo(name: str) -> np.ndarray:
    photo = load_photo(name)
    photo.setflags(write=False)
    return photo


def photo_crop(
    name: str = "china",
    *,
    size: int = 128,
    step: int = 2,
    top: int | None = None,
    left: int | None = None,
) -> np.ndarray:
    """A ``size x size x 3`` crop of a bundled photo, every ``step``-th pixel, in [0, 1].

    The crop starts at pixel ``(top, left)``; by default it is centred on the photo.
    """
    photo = _photo(check_choice("name", name, PHOTOS))
    size = check_int("size", size, minimum=1)
    step = check_int("step", step, minimum=1)
    h, w, _ = photo.shape
    span = size * step
    top = (h - span) // 2 if top is None else check_int("top", top, minimum=0)
    left = (w - span) // 2 if left is None else check_int("left", left, minimum=0)
    if top < 0 or left < 0 or top + span > h or left + span > w:
        raise ValueError(
            f"a crop of size={size}, step={step} at (top={top}, left={left}) needs "
            f"{span}x{span} pixels inside the {h}x{w} photo"
        )
    return np.array(photo[top : top + span : step, left : left + span : step])  # (size, size, 3)


def demo_volume(name: str = "china") -> np.ndarray:
    """A 6x6x3 volume of small whole numbers 0..9 (block means of a photo crop).

    Whole numbers keep the products in :func:`draw_volume_conv` easy to check by hand.
    The crop (near the China photo's top-left corner) holds edges of both signs.
    """
    crop = photo_crop(name, size=96, step=2, top=40, left=72)  # (96, 96, 3)
    blocks = crop.reshape(6, 16, 6, 16, 3).mean(axis=(1, 3))  # (6, 6, 3): 16x16 block means
    return np.rint(blocks * 9.0)


def _hwc(name: str, image: object, channels: int | None = 3) -> np.ndarray:
    """An (H, W, C) image as a float64 array; C must be ``channels`` unless None."""
    arr = as_float_array(name, image, ndim=3, layout="(H, W, C)")
    if channels is not None and arr.shape[2] != channels:
        raise ValueError(f"{name} must have shape (H, W, {channels}), got {arr.shape}")
    if 0 in arr.shape:
        raise ValueError(f"{name} has shape {arr.shape}, which is empty")
    return arr


def _to_tensor(hwc: np.ndarray, device: torch.device) -> torch.Tensor:
    # (H, W, C) -> (1, C, H, W)
    return torch.as_tensor(hwc, dtype=torch.float64).permute(2, 0, 1)[None].to(device)


def _to_hwc(nchw: torch.Tensor) -> np.ndarray:
    return nchw[0].permute(1, 2, 0).detach().cpu().numpy()  # (1, C, H, W) -> (H, W, C)


# --------------------------------------------------------------------------------------
# (a) convolution over a volume, one output position at a time
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VolumeConvStep:
    """One output number of a conv layer and how it is made."""

    row: int
    col: int
    filter_name: str
    channel_sums: tuple[float, float, float]  # sum of the 9 products, per input channel
    bias: float
    z: float  # sum of the channel sums plus bias
    a: float  # ReLU(z)
    out_shape: tuple[int, int]  # the output map's (H, W)

    def __str__(self) -> str:
        parts = " + ".join(f"{s:g}" for s in self.channel_sums)
        return (
            f"output ({self.row}, {self.col}): z = ({parts}) + bias {self.bias:g} = {self.z:g}; "
            f"a = ReLU(z) = {self.a:g}"
        )


def _volume_conv(row, col, filter_name, bias, volume, device):
    """The numbers behind one output position: (step, volume, kernel, products, z_map)."""
    volume = demo_volume() if volume is None else _hwc("volume", volume)
    filter_name = check_choice("filter_name", filter_name, tuple(DEMO_FILTERS))
    row, col = check_int("row", row), check_int("col", col)
    bias = check_number("bias", bias)
    kernel = DEMO_FILTERS[filter_name]  # (3, 3, 3) = (C, f, f)
    f = kernel.shape[1]
    out_h, out_w = volume.shape[0] - f + 1, volume.shape[1] - f + 1
    if out_h < 1 or out_w < 1:
        raise ValueError(
            f"the {f}x{f} filter is larger than the {volume.shape[0]}x{volume.shape[1]} volume"
        )
    if not (0 <= row < out_h and 0 <= col < out_w):
        raise ValueError(
            f"output position row={row}, col={col} is outside the {out_h}x{out_w} output map"
        )
    device = resolve_device(device)

    window = volume[row : row + f, col : col + f, :]  # (f, f, 3)
    products = window.transpose(2, 0, 1) * kernel  # (3, f, f): channel first, like the kernel
    channel_sums = tuple(float(s) for s in products.sum(axis=(1, 2)))
    weight = torch.tensor(kernel, dtype=torch.float64)[None].to(device)  # (1, 3, f, f)
    b = torch.tensor([float(bias)], dtype=torch.float64, device=device)
    z_map = conv2d(_to_tensor(volume, device), weight, b)[0, 0].cpu().numpy()  # (out_h, out_w)
    z = sum(channel_sums) + float(bias)
    step = VolumeConvStep(
        row, col, filter_name, channel_sums, float(bias), z, max(z, 0.0), (out_h, out_w)
    )
    return step, volume, kernel, products, z_map


def volume_conv_step(
    row: int = 0,
    col: int = 0,
    filter_name: str = "vertical edge, all channels",
    bias: float = 0.0,
    *,
    volume: np.ndarray | None = None,
    device: torch.device | str | None = None,
) -> VolumeConvStep:
    """The numbers :func:`draw_volume_conv` shows, without the picture.

    ``volume`` is ``(H, W, 3)`` (default :func:`demo_volume`); the filter is one of
    :data:`DEMO_FILTERS`; ``(row, col)`` indexes the ``(H-2) x (W-2)`` output map.
    """
    return _volume_conv(row, col, filter_name, bias, volume, device)[0]


def draw_volume_conv(
    row: int = 0,
    col: int = 0,
    filter_name: str = "vertical edge, all channels",
    bias: float = 0.0,
    *,
    volume: np.ndarray | None = None,
    device: torch.device | str | None = None,
) -> tuple[Figure, VolumeConvStep]:
    """Draw one 3x3x3 filter applied to an ``H x W x 3`` volume at output ``(row, col)``.

    Row ``c`` of the figure shows input channel ``c`` with the 3x3 window, the filter's
    channel ``c`` and their nine products; the last column shows the whole output map
    before and after ReLU (:func:`course_lib.ops.conv2d`, :func:`course_lib.ops.relu`), with the chosen
    position outlined, and the sum. ``volume`` defaults to :func:`demo_volume`.
    """
    step, volume, kernel, products, z_map = _volume_conv(row, col, filter_name, bias, volume, device)
    f = kernel.shape[1]
    out_h, out_w = step.out_shape
    channel_sums, z = step.channel_sums, step.z
    a_map = relu(z_map)

    fig = Figure(figsize=(12, 8.4), layout="constrained")
    grid = fig.add_gridspec(3, 4, width_ratios=[1.3, 0.8, 0.8, 1.1])
    channel_cmaps = ("Reds", "Greens", "Blues")
    for c, name in enumerate(CHANNELS):
        ax = fig.add_subplot(grid[c, 0])
        _grid_numbers(ax, volume[:, :, c], cmap=channel_cmaps[c], vmin=0, vmax=max(9, volume.max()))
        ax.add_patch(Rectangle((col - 0.5, row - 0.5), f, f, fill=False, ec="black", lw=3))
        ax.set_title(f"input, {name} channel")
        ax = fig.add_subplot(grid[c, 1])
        _grid_numbers(ax, kernel[c], cmap="PuOr", vmin=-1, vmax=1)
        ax.set_title(f"filter, {name} slice")
        ax = fig.add_subplot(grid[c, 2])
        lim = max(1.0, float(np.abs(products).max()))
        _grid_numbers(ax, products[c], cmap="PuOr", vmin=-lim, vmax=lim)
        ax.set_title(f"products: sum {channel_sums[c]:g}")
    for k, (data, label) in enumerate(((z_map, "z = conv + bias"), (a_map, "a = ReLU(z)"))):
        ax = fig.add_subplot(grid[k, 3])
        lim = max(1.0, float(np.abs(z_map).max()))
        _grid_numbers(ax, data, cmap="PuOr", vmin=-lim, vmax=lim)
        ax.add_patch(Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, ec="black", lw=3))
        ax.set_title(f"{label}, {out_h}x{out_w}")
    ax = fig.add_subplot(grid[2, 3])
    ax.axis("off")
    sums = "\n".join(f"  {name:>5}: {s:g}" for name, s in zip(CHANNELS, channel_sums, strict=True))
    ax.text(
        0.0,
        0.95,
        f"channel sums\n{sums}\n+ bias {bias:g}\n= z = {z:g}\nReLU: a = {max(z, 0.0):g}",
        va="top",
        family="monospace",
        fontsize=11,
        transform=ax.transAxes,
    )
    return fig, step


def _grid_numbers(ax, data: np.ndarray, *, cmap: str, vmin: float, vmax: float) -> None:
    """Show a small array as coloured cells with each value written in its cell."""
    ax.imshow(data, cmap=cmap, vmin=vmin, vmax=vmax)
    span = (vmax - vmin) or 1.0
    for (i, j), value in np.ndenumerate(data):
        t = (value - vmin) / span  # 0..1 along the colour map
        dark = abs(t - 0.5) > 0.3 if cmap == "PuOr" else t > 0.55
        ax.text(j, i, f"{value:g}", ha="center", va="center", fontsize=9,
                color="white" if dark else "black")
    ax.set_xticks([])
    ax.set_yticks([])


def volume_conv_app(*, volume: np.ndarray | None = None, device=None) -> FigureApp:
    """Sliders for the output position, a filter menu and a bias slider over :func:`draw_volume_conv`."""
    volume = demo_volume() if volume is None else _hwc("volume", volume)
    resolve_device(device)  # an unknown device is refused now, not at the first redraw
    out_h, out_w = volume.shape[0] - 2, volume.shape[1] - 2
    if out_h < 1 or out_w < 1:
        raise ValueError(
            f"volume is {volume.shape[0]}x{volume.shape[1]}: too small for a 3x3 filter"
        )
    controls = {
        "row": widgets.IntSlider(0, min=0, max=out_h - 1, description="output row"),
        "col": widgets.IntSlider(0, min=0, max=out_w - 1, description="output col"),
        "filter_name": widgets.Dropdown(options=list(DEMO_FILTERS), description="filter"),
        "bias": widgets.IntSlider(0, min=-10, max=10, description="bias"),
    }
    return FigureApp(
        controls,
        lambda **v: draw_volume_conv(**v, volume=volume, device=device),
        title="Convolution over a volume: 6x6x3 * 3x3x3 -> 4x4, then bias and ReLU",
    )


# --------------------------------------------------------------------------------------
# (b) pooling a photo
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PoolingView:
    """What :func:`draw_pooling` computed: the kind, the window, and the two shapes."""

    kind: str
    size: int
    stride: int
    in_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]

    def __str__(self) -> str:
        fmt = "x".join
        return (
            f"{_POOL_NAMES[self.kind]} pooling, window {self.size}x{self.size}, stride "
            f"{self.stride}: {fmt(map(str, self.in_shape))} -> {fmt(map(str, self.out_shape))}; "
            "0 parameters to learn"
        )


def draw_pooling(
    kind: str = "max",
    size: int = 2,
    stride: int = 2,
    *,
    image: np.ndarray | None = None,
    device: torch.device | str | None = None,
) -> tuple[Figure, PoolingView]:
    """Pool every channel of an ``H x W x 3`` image and draw it next to the result.

    ``kind`` is ``"max"``, ``"avg"`` or ``"l2"``; ``size`` the window, ``stride`` its
    step. ``image`` defaults to a 128x128 crop of the China photo. L2-norm outputs can
    exceed 1, so that panel is scaled by its largest value.
    """
    kind = check_choice("kind", kind, POOL_KINDS)
    image = photo_crop() if image is None else _hwc("image", image, channels=None)
    h, w, _ = image.shape
    size = check_int("size", size, minimum=1)
    stride = check_int("stride", stride, minimum=1)
    if size > min(h, w):
        raise ValueError(f"a size={size} window does not fit in the {h}x{w} image")
    device = resolve_device(device)
    pool = {"max": max_pool2d, "avg": avg_pool2d, "l2": l2_pool2d}[kind]
    pooled = _to_hwc(pool(_to_tensor(image, device), size, stride=stride))  # (H', W', C)
    shown = pooled / pooled.max() if kind == "l2" and pooled.max() > 0 else pooled
    view = PoolingView(kind, int(size), int(stride), image.shape, pooled.shape)

    fig = Figure(figsize=(10, 5), layout="constrained")
    left, right = fig.subplots(1, 2)
    left.imshow(np.clip(image, 0, 1), interpolation="nearest")
    left.set_title(f"input {h}x{w}x{image.shape[2]}")
    right.imshow(np.clip(shown, 0, 1), interpolation="nearest")
    scaled = " (scaled to its max)" if kind == "l2" else ""
    right.set_title(
        f"{_POOL_NAMES[kind]} pool {size}x{size}, stride {stride}: "
        f"{'x'.join(map(str, pooled.shape))}{scaled}"
    )
    for ax in (left, right):
        ax.set_xticks([])
        ax.set_yticks([])
    return fig, view


def pooling_app(*, image: np.ndarray | None = None, device=None) -> FigureApp:
    """A pooling-type menu and window/stride sliders over :func:`draw_pooling`.

    The window slider stops at the image's shorter side (at most 16), so every position
    of it fits the image.
    """
    image = None if image is None else _hwc("image", image, channels=None)
    resolve_device(device)  # an unknown device is refused now, not at the first redraw
    side = 16 if image is None else min(16, *image.shape[:2])
    controls = {
        "kind": widgets.Dropdown(
            options=[(_POOL_NAMES[k], k) for k in POOL_KINDS], value="max", description="pooling"
        ),
        "size": widgets.IntSlider(min(2, side), min=1, max=side, description="window f"),
        "stride": widgets.IntSlider(2, min=1, max=16, description="stride s"),
    }
    return FigureApp(
        controls,
        lambda **v: draw_pooling(**v, image=image, device=device),
        title="Pooling a photo: each channel on its own, no parameters",
    )


# --------------------------------------------------------------------------------------
# (c) a 1x1 convolution mixing channels
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChannelMix:
    """The 1x1 filter used and a summary of the one-channel output it made."""

    weights: tuple[float, float, float]
    bias: float
    relu: bool
    out_shape: tuple[int, int, int]
    out_min: float
    out_max: float
    zero_fraction: float

    def __str__(self) -> str:
        wr, wg, wb = self.weights
        act = "ReLU(" if self.relu else "("
        return (
            f"out = {act}{wr:+.2f} R {wg:+.2f} G {wb:+.2f} B {self.bias:+.2f}): shape "
            f"{'x'.join(map(str, self.out_shape))}, range [{self.out_min:.3f}, {self.out_max:.3f}], "
            f"{self.zero_fraction:.0%} zeros"
        )


def draw_channel_mix(
    w_red: float = 1.0,
    w_green: float = -1.0,
    w_blue: float = 0.0,
    bias: float = 0.0,
    relu_on: bool = True,
    *,
    image: np.ndarray | None = None,
    device: torch.device | str | None = None,
) -> tuple[Figure, ChannelMix]:
    """Apply one 1x1x3 filter (plus bias, optionally ReLU) to an RGB image and draw it.

    At every pixel the output is ``w_red * R + w_green * G + w_blue * B + bias``: a
    1x1 convolution looks at no neighbours, only across channels. Computed with
    :func:`course_lib.ops.conv2d` and a weight of shape (1, 3, 1, 1).
    """
    image = photo_crop(size=160, step=2) if image is None else _hwc("image", image)
    w_red, w_green, w_blue, bias = (
        check_number(name, v)
        for name, v in (("w_red", w_red), ("w_green", w_green), ("w_blue", w_blue), ("bias", bias))
    )
    relu_on = check_bool("relu_on", relu_on)
    device = resolve_device(device)
    weight = torch.tensor([w_red, w_green, w_blue], dtype=torch.float64, device=device)
    weight = weight.reshape(1, 3, 1, 1)  # (F=1, C=3, 1, 1)
    b = torch.tensor([float(bias)], dtype=torch.float64, device=device)
    out = conv2d(_to_tensor(image, device), weight, b)
    if relu_on:
        out = relu(out)
    out_map = out[0, 0].detach().cpu().numpy()  # (H, W)
    mix = ChannelMix(
        (float(w_red), float(w_green), float(w_blue)),
        float(bias),
        bool(relu_on),
        (*out_map.shape, 1),
        float(out_map.min()),
        float(out_map.max()),
        float(np.mean(out_map == 0.0)),
    )

    fig = Figure(figsize=(11, 4.6), layout="constrained")
    left, mid, right = fig.subplots(1, 3, width_ratios=[1, 1, 0.5])
    left.imshow(np.clip(image, 0, 1))
    left.set_title(f"input {image.shape[0]}x{image.shape[1]}x3")
    shown = mid.imshow(out_map, cmap="gray" if relu_on else "RdBu_r")
    if not relu_on:
        lim = max(abs(mix.out_min), abs(mix.out_max), 1e-9)
        shown.set_clim(-lim, lim)
    fig.colorbar(shown, ax=mid, shrink=0.8)
    mid.set_title(f"1x1 conv output {out_map.shape[0]}x{out_map.shape[1]}x1")
    for ax in (left, mid):
        ax.set_xticks([])
        ax.set_yticks([])
    right.bar(["R", "G", "B", "bias"], [w_red, w_green, w_blue, bias],
              color=["#c0392b", "#27ae60", "#2e86c1", "#7f8c8d"])
    right.axhline(0, color="black", lw=0.8)
    right.set_ylim(-2.2, 2.2)
    right.set_title("the 1x1x3 filter")
    return fig, mix


def channel_mix_app(*, image: np.ndarray | None = None, device=None) -> FigureApp:
    """Sliders for the three channel weights and the bias, and a ReLU switch."""
    image = None if image is None else _hwc("image", image)
    resolve_device(device)  # an unknown device is refused now, not at the first redraw

    def slider(value: float, label: str) -> widgets.FloatSlider:
        return widgets.FloatSlider(value, min=-2.0, max=2.0, step=0.1, description=label)

    controls = {
        "w_red": slider(1.0, "w red"),
        "w_green": slider(-1.0, "w green"),
        "w_blue": slider(0.0, "w blue"),
        "bias": slider(0.0, "bias"),
        "relu_on": widgets.Checkbox(True, description="ReLU"),
    }
    return FigureApp(
        controls,
        lambda **v: draw_channel_mix(**v, image=image, device=device),
        title="A 1x1 convolution mixes the channels at each pixel",
    )
