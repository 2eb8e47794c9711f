"""Pictures the course draws: images, kernels, feature maps, curves, overlays, matrices.

Every function draws on a ``matplotlib.figure.Figure`` (never pyplot, so nothing
global changes and nothing shows up by itself) and follows one return rule:

* ``ax=None``: a new ``Figure`` is made and returned. It displays itself when it is
  a notebook cell's last value.
* ``ax=`` an existing ``Axes``: the drawing goes into it and that same ``Axes`` is
  returned. Multi-panel pictures (image grids, kernels, feature maps, segmentation
  panels) then split the given axes into inset cells, reachable as
  ``ax.child_axes``; the container's own frame is hidden.

Inputs may be numpy arrays or torch tensors (on any device; they are copied to the
CPU for drawing). Image layouts: ``(H, W)`` grey, ``(H, W, 3)`` colour channel-last,
``(C, H, W)`` channel-first with C = 1 or 3, and ``(1, C, H, W)`` one-image batches.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import Colormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from course_lib.validate import check_bool, check_int, check_number, check_probability

__all__ = [
    "show_image",
    "show_images",
    "show_kernels",
    "show_feature_maps",
    "plot_history",
    "plot_segmentation",
    "plot_confusion_matrix",
    "activation_percentiles",
    "plot_activation_percentiles",
    "plot_embedding",
    "plot_heatmap",
]

_CELL_INCHES = 1.6


# ----------------------------------------------------------------------------- helpers


def to_numpy(x: Any, name: str = "x") -> np.ndarray:
    """A CPU numpy copy of a tensor, array or nested list; ``TypeError`` otherwise."""
    if isinstance(x, torch.Tensor):
        t = x.detach().cpu()
        if t.dtype in (torch.bfloat16, torch.float16):
            t = t.float()
        return t.numpy()
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, (list, tuple)) or (np.isscalar(x) and not isinstance(x, (str, bytes))):
        try:
            return np.asarray(x)
        except ValueError as exc:  # ragged nested lists
            raise TypeError(f"{name} could not be turned into an array: {exc}") from exc
    raise TypeError(f"{name} must be a numpy array or a torch tensor, got {type(x).__name__}")


def _check_ax(ax: Any) -> None:
    if ax is not None and not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")


def _finish(fig: Figure, ax: Axes | None) -> Figure | Axes:
    return fig if ax is None else ax


def _single_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    _check_ax(ax)
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def _grid_axes(
    n: int, ncols: int, ax: Axes | None, cell: float = _CELL_INCHES, gap: float = 0.08
) -> tuple[Figure, list[Axes]]:
    """``n`` cells in rows of ``ncols``: a new figure's subplots or insets of ``ax``."""
    _check_ax(ax)
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    if ax is None:
        fig = Figure(figsize=(cell * ncols, cell * nrows + 0.3), layout="constrained")
        axes = [fig.add_subplot(nrows, ncols, i + 1) for i in range(n)]
        return fig, axes
    ax.set_axis_off()
    w, h = 1.0 / ncols, 1.0 / nrows
    axes = []
    for i in range(n):
        r, c = divmod(i, ncols)
        bounds = [c * w + gap * w / 2, 1 - (r + 1) * h + gap * h / 2, w * (1 - gap), h * (1 - gap)]
        axes.append(ax.inset_axes(bounds))
    return ax.figure, axes


def _check_ncols(ncols: int) -> int:
    return check_int("ncols", ncols, minimum=1)


def check_cmap(cmap: Any) -> str | Colormap:
    """``cmap`` if it is a matplotlib colour map or the name of one (widgets use it too)."""
    if isinstance(cmap, Colormap):
        return cmap
    if not isinstance(cmap, str):
        raise TypeError(f"cmap={cmap!r} must be a colour map name such as 'gray', or a Colormap")
    if cmap not in colormaps:
        raise ValueError(f"cmap={cmap!r} is not a matplotlib colour map, e.g. 'gray' or 'viridis'")
    return cmap


def _optional_number(name: str, value: Any) -> float | None:
    return None if value is None else check_number(name, value)


def _check_figsize(figsize: Any) -> tuple[float, float]:
    if not isinstance(figsize, tuple | list) or len(figsize) != 2:
        raise TypeError(f"figsize={figsize!r} must be a (width, height) pair in inches")
    width, height = (check_number("figsize", v, positive=True) for v in figsize)
    return width, height


def _as_image(img: Any, name: str = "img") -> np.ndarray:
    """One image as ``(H, W)`` or ``(H, W, 3|4)`` float/uint8 array, ready for imshow.

    Channel-first ``(C, H, W)`` (C = 1 or 3) is recognised when the last axis cannot
    be channels; a shape that fits both readings, like (3, 8, 3), follows the
    container: torch tensors are read channel-first, numpy arrays channel-last.
    """
    is_torch = isinstance(img, torch.Tensor)
    a = to_numpy(img, name)
    if a.ndim == 4:
        if a.shape[0] != 1:
            raise ValueError(
                f"{name} has shape {tuple(a.shape)}: a 4-D input must be one image "
                f"(1, C, H, W); use show_images for a batch of {a.shape[0]}"
            )
        a = a[0]  # (C, H, W)
    if a.ndim == 3:
        last_ok = a.shape[-1] in (1, 3, 4)
        first_ok = a.shape[0] in (1, 3)
        if first_ok and (not last_ok or is_torch):
            a = np.moveaxis(a, 0, -1)  # (C, H, W) -> (H, W, C)
        elif not last_ok:
            raise ValueError(
                f"{name} has shape {tuple(a.shape)}: expected (H, W), (H, W, 3), "
                f"(C, H, W) with C = 1 or 3, or (1, C, H, W)"
            )
        if a.shape[-1] == 1:
            a = a[..., 0]  # (H, W, 1) -> (H, W)
    elif a.ndim != 2:
        raise ValueError(
            f"{name} has shape {tuple(a.shape)}: expected (H, W), (H, W, 3), "
            f"(C, H, W) with C = 1 or 3, or (1, C, H, W)"
        )
    if a.size == 0:
        raise ValueError(f"{name} has shape {tuple(a.shape)}, which holds no pixel to draw")
    if a.dtype == bool:
        a = a.astype(np.float32)
    if not (np.issubdtype(a.dtype, np.number)):
        raise TypeError(f"{name} must hold numbers, got dtype {a.dtype}")
    if a.ndim == 3:  # colour: imshow wants floats in [0, 1] or uint8
        if a.dtype != np.uint8:
            a = a.astype(np.float64)
            lo, hi = float(np.nanmin(a)), float(np.nanmax(a))
            if lo < 0.0 or hi > 1.0:
                a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    return a


def _draw_image(ax: Axes, a: np.ndarray, title: str | None, cmap: str, **kw: Any) -> None:
    if a.ndim == 2:
        ax.imshow(a, cmap=cmap, interpolation="nearest", **kw)
    else:
        ax.imshow(a, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(str(title), fontsize=9)


# ----------------------------------------------------------------------------- images


def show_image(
    img: Any,
    ax: Axes | None = None,
    title: str | None = None,
    cmap: str = "gray",
    *,
    vmin: float | None = None,
    vmax: float | None = None,
    colorbar: bool = False,
    figsize: tuple[float, float] = (3.0, 3.0),
) -> Figure | Axes:
    """Draw one image: ``(H, W)``, ``(H, W, 3)``, ``(C, H, W)`` or ``(1, C, H, W)``.

    Grey images use ``cmap`` (scaled to their own range unless ``vmin``/``vmax`` are
    given); colour images in floats outside [0, 1] are min-max rescaled for display.
    Returns the new Figure, or ``ax`` when one is given.
    """
    cmap = check_cmap(cmap)
    vmin, vmax = _optional_number("vmin", vmin), _optional_number("vmax", vmax)
    colorbar = check_bool("colorbar", colorbar)
    figsize = _check_figsize(figsize)
    a = _as_image(img, "img")
    fig, axis = _single_axes(ax, figsize)
    _draw_image(axis, a, title, cmap, vmin=vmin, vmax=vmax)
    if colorbar and a.ndim == 2:
        fig.colorbar(axis.images[-1], ax=axis, shrink=0.8)
    return _finish(fig, ax)


def _split_batch(imgs: Any, name: str) -> list[Any]:
    if isinstance(imgs, (torch.Tensor, np.ndarray)):
        if imgs.ndim not in (3, 4):
            raise ValueError(
                f"{name} has shape {tuple(imgs.shape)}: expected a batch (N, C, H, W), "
                f"(N, H, W, 3) or (N, H, W), or a list of images"
            )
        return [imgs[i] for i in range(imgs.shape[0])]
    if isinstance(imgs, Sequence) and not isinstance(imgs, str):
        return list(imgs)
    raise TypeError(
        f"{name} must be a batch tensor/array or a list of images, got {type(imgs).__name__}"
    )


def show_images(
    imgs: Any,
    titles: Sequence[Any] | None = None,
    ncols: int = 8,
    *,
    cmap: str = "gray",
    shared_scale: bool = False,
    suptitle: str | None = None,
    ax: Axes | None = None,
) -> Figure | Axes:
    """A grid of images, ``ncols`` per row.

    ``imgs``: a batch ``(N, C, H, W)`` (C = 1 or 3), ``(N, H, W, 3)``, ``(N, H, W)``
    (a 3-D batch is read as N grey images), or a list of single images in any layout
    :func:`show_image` accepts. ``shared_scale=True`` gives every grey image the same
    colour scale (so brightness compares across cells).
    Returns the new Figure, or ``ax`` with one inset per image in ``ax.child_axes``.
    """
    ncols = _check_ncols(ncols)
    cmap = check_cmap(cmap)
    shared_scale = check_bool("shared_scale", shared_scale)
    batch = _split_batch(imgs, "imgs")
    if len(batch) == 0:
        raise ValueError("imgs is empty: nothing to show")
    if titles is not None and (isinstance(titles, str) or not isinstance(titles, Sequence)):
        raise TypeError(f"titles must be a list of titles or None, not {type(titles).__name__}")
    if titles is not None and len(titles) != len(batch):
        raise ValueError(f"titles has {len(titles)} entries but imgs has {len(batch)} images")
    arrays = [_as_image(b, f"imgs[{i}]") for i, b in enumerate(batch)]
    scale: dict[str, float] = {}
    if shared_scale:
        grey = [a for a in arrays if a.ndim == 2]
        if grey:
            scale = {
                "vmin": min(float(a.min()) for a in grey),
                "vmax": max(float(a.max()) for a in grey),
            }
    fig, axes = _grid_axes(len(arrays), ncols, ax)
    for i, (a, axis) in enumerate(zip(arrays, axes, strict=True)):
        _draw_image(axis, a, None if titles is None else titles[i], cmap, **scale)
    if suptitle is not None:
        (fig.suptitle if ax is None else ax.set_title)(suptitle)
    return _finish(fig, ax)


def show_kernels(
    weight: Any,
    *,
    channel: int | None = None,
    as_rgb: bool = False,
    ncols: int = 8,
    cmap: str = "RdBu_r",
    max_cells: int = 1024,
    ax: Axes | None = None,
) -> Figure | Axes:
    """The kernels of a convolution weight ``(F, C, KH, KW)`` (or an ``nn.Conv2d``).

    * ``channel=None`` and C = 1: one cell per filter.
    * ``channel=None`` and C > 1: one row per filter, one column per input channel.
    * ``channel=c``: input channel c of every filter, ``ncols`` per row.
    * ``as_rgb=True`` (needs C = 3): each filter as a colour picture, zero mapped to
      mid grey, as AlexNet's first-layer figure shows them.

    All cells share one colour scale centred on zero (``-m .. m`` with ``m`` the
    largest absolute weight shown), so a red pixel weighs the same in every cell.
    Returns the new Figure, or ``ax`` with the cells in ``ax.child_axes``.
    """
    ncols = _check_ncols(ncols)
    cmap = check_cmap(cmap)
    as_rgb = check_bool("as_rgb", as_rgb)
    max_cells = check_int("max_cells", max_cells, minimum=1)
    if isinstance(weight, torch.nn.Module):
        if not isinstance(getattr(weight, "weight", None), torch.Tensor):
            raise TypeError(f"weight is a {type(weight).__name__} without a .weight tensor")
        weight = weight.weight
    w = to_numpy(weight, "weight").astype(np.float64)
    if w.ndim != 4:
        raise ValueError(
            f"weight has shape {tuple(w.shape)}: expected a conv weight (F, C, KH, KW)"
        )
    if w.size == 0:
        raise ValueError(f"weight has shape {tuple(w.shape)}, which holds no kernel to draw")
    f, c = w.shape[:2]
    if as_rgb:
        if c != 3:
            raise ValueError(f"as_rgb=True needs 3 input channels, weight has C={c}")
        m = float(np.abs(w).max()) or 1.0
        rgb = np.moveaxis(w, 1, -1) / (2 * m) + 0.5  # (F, C, KH, KW) -> (F, KH, KW, 3)
        fig, axes = _grid_axes(f, ncols, ax)
        for i, axis in enumerate(axes):
            _draw_image(axis, rgb[i], None, cmap)
        return _finish(fig, ax)
    if channel is not None:
        what = f"an int in [0, {c}) for weight with C={c}"
        channel = check_int("channel", channel, minimum=0, maximum=c - 1, what=what)
        cells, cols = w[:, channel], ncols  # (F, KH, KW)
    elif c == 1:
        cells, cols = w[:, 0], ncols
    else:
        cells, cols = w.reshape(f * c, *w.shape[2:]), c  # row i = filter i
    if len(cells) > max_cells:
        raise ValueError(
            f"weight {tuple(w.shape)} would draw {len(cells)} kernels (max_cells={max_cells}); "
            f"pick one input channel with channel= or raise max_cells"
        )
    m = float(np.abs(cells).max()) or 1.0
    fig, axes = _grid_axes(len(cells), cols, ax, cell=0.9)
    for a, axis in zip(cells, axes, strict=True):
        _draw_image(axis, a, None, cmap, vmin=-m, vmax=m)
    return _finish(fig, ax)


def show_feature_maps(
    maps: Any,
    *,
    ncols: int = 8,
    max_maps: int | None = 64,
    cmap: str = "viridis",
    shared_scale: bool = False,
    titles: bool = True,
    ax: Axes | None = None,
) -> Figure | Axes:
    """Each channel of one sample's feature maps ``(C, H, W)`` or ``(1, C, H, W)``.

    Shows the first ``max_maps`` channels (all with ``None``), titled by channel index.
    Each map uses its own colour range unless ``shared_scale=True``.
    Returns the new Figure, or ``ax`` with the cells in ``ax.child_axes``.
    """
    ncols = _check_ncols(ncols)
    cmap = check_cmap(cmap)
    shared_scale = check_bool("shared_scale", shared_scale)
    titles = check_bool("titles", titles)
    a = to_numpy(maps, "maps").astype(np.float64)
    if a.ndim == 4:
        if a.shape[0] != 1:
            raise ValueError(
                f"maps has shape {tuple(a.shape)}: pass one sample, maps[i] or (1, C, H, W)"
            )
        a = a[0]  # (C, H, W)
    if a.ndim != 3:
        raise ValueError(f"maps has shape {tuple(a.shape)}: expected (C, H, W) or (1, C, H, W)")
    if a.size == 0:
        raise ValueError(f"maps has shape {tuple(a.shape)}, which holds no map to draw")
    if max_maps is not None:
        a = a[: check_int("max_maps", max_maps, minimum=1, what="a positive int or None")]
    scale = {"vmin": float(a.min()), "vmax": float(a.max())} if shared_scale else {}
    fig, axes = _grid_axes(a.shape[0], ncols, ax, cell=1.2)
    for i, axis in enumerate(axes):
        _draw_image(axis, a[i], f"ch {i}" if titles else None, cmap, **scale)
    return _finish(fig, ax)


def plot_heatmap(
    image: Any,
    heat: Any,
    *,
    alpha: float = 0.5,
    cmap: str = "jet",
    title: str | None = None,
    ax: Axes | None = None,
) -> Figure | Axes:
    """An image with a coarse map ``(H', W')`` (e.g. :func:`occlusion_map`) stretched over it.

    The map is drawn over the image's full extent, so cell (i, j) lands roughly over
    the image region it was computed from. Returns the new Figure, or ``ax``.
    """
    alpha = check_probability("alpha", alpha)
    cmap = check_cmap(cmap)
    a = _as_image(image, "image")
    h = to_numpy(heat, "heat").astype(np.float64)
    if h.ndim != 2:
        raise ValueError(f"heat has shape {tuple(h.shape)}: expected a 2-D map (H', W')")
    fig, axis = _single_axes(ax, (3.5, 3.0))
    _draw_image(axis, a, title, "gray")
    height, width = a.shape[:2]
    im = axis.imshow(
        h,
        cmap=cmap,
        alpha=alpha,
        extent=(-0.5, width - 0.5, height - 0.5, -0.5),
        interpolation="bilinear",
    )
    fig.colorbar(im, ax=axis, shrink=0.8)
    return _finish(fig, ax)


# ----------------------------------------------------------------------------- curves


def _series(history: Any, key: str) -> list[float] | None:
    value = history.get(key) if isinstance(history, Mapping) else getattr(history, key, None)
    if value is None:
        return None
    arr = to_numpy(value, key).astype(np.float64).reshape(-1)
    return arr.tolist()


def _is_history(obj: Any) -> bool:
    if isinstance(obj, Mapping):
        return any(isinstance(v, (list, tuple, np.ndarray, torch.Tensor)) for v in obj.values())
    return not isinstance(obj, (list, tuple, str, np.ndarray, torch.Tensor))


def plot_history(
    histories: Any,
    labels: Sequence[str] | None = None,
    metric: str = "loss",
    *,
    splits: Sequence[str] = ("train", "val"),
    ax: Axes | None = None,
    logy: bool = False,
    xlabel: str | None = None,
) -> Figure | Axes:
    """Training curves of several runs on one axis: ``{split}_{metric}`` per epoch.

    ``histories``: one history, a list of them, or ``{label: history}``. A history is
    a dict of lists (``{"train_loss": [...], "val_accuracy": [...]}``) or any object
    with such attributes (e.g. the history ``fit`` returns). Each run gets one colour;
    the first split is drawn solid, the others dashed/dotted. Splits a history lacks
    are skipped (also empty ones); a history with none of them raises ``ValueError``.
    ``splits=("step",)`` draws the per-step series (``step_loss``) against steps.
    Returns the new Figure, or ``ax``.
    """
    logy = check_bool("logy", logy)
    if xlabel is not None and not isinstance(xlabel, str):
        raise TypeError(f"xlabel={xlabel!r} must be a string or None")
    if labels is not None and (
        isinstance(labels, str)
        or not isinstance(labels, Sequence)
        or not all(isinstance(v, str) for v in labels)
    ):
        raise TypeError(f"labels={labels!r} must be a list of run names or None")
    if not isinstance(metric, str):
        raise TypeError(f"metric={metric!r} must be a string such as 'loss'")
    if isinstance(splits, str) or not isinstance(splits, Sequence) or not all(
        isinstance(s, str) for s in splits
    ):
        raise TypeError(f"splits={splits!r} must be a list of split names such as ('train', 'val')")
    if not splits:
        raise ValueError("splits=() names no split to draw")
    if histories is None:
        raise TypeError("histories must be a history, a list of them or a dict, got NoneType")
    if isinstance(histories, Mapping) and not _is_history(histories):
        if labels is not None:
            raise ValueError("labels= is not used when histories is a {label: history} dict")
        labels = [str(k) for k in histories]
        runs = list(histories.values())
    elif _is_history(histories):
        runs = [histories]
    elif isinstance(histories, (list, tuple)):
        runs = list(histories)
    else:
        raise TypeError(
            f"histories must be a history, a list of them or a dict, got {type(histories).__name__}"
        )
    if not runs:
        raise ValueError("histories is empty: nothing to plot")
    if labels is not None and len(labels) != len(runs):
        raise ValueError(f"labels has {len(labels)} entries but there are {len(runs)} histories")
    fig, axis = _single_axes(ax, (5.0, 3.2))
    styles = ["-", "--", ":", "-."]
    for i, run in enumerate(runs):
        colour = f"C{i % 10}"
        found = False
        for j, split in enumerate(splits):
            ys = _series(run, f"{split}_{metric}")
            if not ys:  # missing or empty (e.g. no validation data)
                continue
            found = True
            name = (
                split
                if labels is None and len(runs) == 1
                else f"{labels[i] if labels else f'run {i}'} {split}"
            )
            axis.plot(
                range(1, len(ys) + 1),
                ys,
                styles[j % 4],
                color=colour,
                label=name,
                marker="." if len(ys) < 30 else None,
            )
        if not found:
            if isinstance(run, Mapping):
                have = sorted(map(str, run))
            else:
                have = sorted(k for k in dir(run) if not k.startswith("_"))
            raise ValueError(
                f"histories[{i}] has none of {[f'{s}_{metric}' for s in splits]} (it has "
                f"{have}); check metric={metric!r}"
            )
    axis.set_xlabel(xlabel or ("step" if tuple(splits) == ("step",) else "epoch"))
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_ylabel(metric)
    if logy:
        axis.set_yscale("log")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    return _finish(fig, ax)


def _percentiles(percentiles: Any) -> np.ndarray:
    """``percentiles`` as a 1-D float array of numbers in [0, 100]."""
    if isinstance(percentiles, str) or not isinstance(percentiles, Sequence | np.ndarray) or (
        isinstance(percentiles, np.ndarray) and percentiles.ndim != 1
    ):
        raise TypeError(f"percentiles={percentiles!r} must be a list of numbers in [0, 100]")
    q = [check_number("percentiles", v, minimum=0.0, maximum=100.0) for v in percentiles]
    if not q:
        raise ValueError("percentiles=() is empty: expected numbers in [0, 100]")
    return np.asarray(q, dtype=np.float64)


def activation_percentiles(
    activations: Sequence[Any], percentiles: Sequence[float] = (15, 50, 85)
) -> np.ndarray:
    """Percentiles of each recorded activation tensor: ``(T,)`` tensors -> ``(T, P)`` array.

    ``activations[t]`` is whatever was recorded at step t (any shape; all its values
    pool together), as in the batch-normalization paper's Figure 1 (15th, 50th and
    85th percentiles of a sigmoid's input over training).
    """
    if isinstance(activations, str) or not isinstance(activations, Sequence):
        raise TypeError(
            f"activations must be a list of recorded tensors, not {type(activations).__name__}"
        )
    if len(activations) == 0:
        raise ValueError("activations is empty: record at least one step")
    q = _percentiles(percentiles)
    rows = [
        np.percentile(to_numpy(a, f"activations[{t}]").astype(np.float64).reshape(-1), q)
        for t, a in enumerate(activations)
    ]
    return np.stack(rows)  # (T, P)


def plot_activation_percentiles(
    runs: Mapping[str, Any],
    *,
    percentiles: Sequence[float] = (15, 50, 85),
    steps: Any = None,
    ax: Axes | None = None,
) -> Figure | Axes:
    """Percentiles of an activation over training steps, several runs on one axis (lesson 07).

    ``runs``: ``{label: record}`` (e.g. ``{"plain": ..., "with BN": ...}``). A record is
    either a ``(T, P)`` array of percentiles already computed (P = len(percentiles))
    or a list of T activation tensors, reduced with :func:`activation_percentiles`.
    Each run gets one colour: the median solid, the other percentiles dashed, the band
    between the outer ones shaded. ``steps``: the x values (length T), default 0..T-1.
    Returns the new Figure, or ``ax``.
    """
    if not isinstance(runs, Mapping):
        raise TypeError("runs must be a non-empty dict {label: percentiles or activations}")
    if not runs:
        raise ValueError("runs is empty: expected a dict {label: percentiles or activations}")
    q = _percentiles(percentiles).tolist()
    fig, axis = _single_axes(ax, (5.5, 3.4))
    for i, (label, record) in enumerate(runs.items()):
        if (
            isinstance(record, (list, tuple))
            and record
            and isinstance(record[0], (torch.Tensor, np.ndarray))
        ):
            table = activation_percentiles(record, q)
        else:
            table = to_numpy(record, f"runs[{label!r}]").astype(np.float64)
            if table.ndim != 2 or table.shape[1] != len(q):
                raise ValueError(
                    f"runs[{label!r}] has shape {tuple(table.shape)}: expected (T, {len(q)}) "
                    f"percentiles or a list of activation tensors"
                )
        xs = np.arange(len(table)) if steps is None else to_numpy(steps, "steps").reshape(-1)
        if len(xs) != len(table):
            raise ValueError(
                f"steps has {len(xs)} values but runs[{label!r}] has {len(table)} steps"
            )
        colour = f"C{i % 10}"
        mid = int(np.argmin(np.abs(np.asarray(q) - 50)))
        for j, p in enumerate(q):
            axis.plot(
                xs,
                table[:, j],
                "-" if j == mid else "--",
                color=colour,
                lw=1.8 if j == mid else 1.0,
                label=f"{label} p{p:g}",
            )
        if len(q) >= 2:
            axis.fill_between(xs, table[:, 0], table[:, -1], color=colour, alpha=0.12)
    axis.set_xlabel("training step")
    axis.set_ylabel("activation")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7, ncols=2)
    return _finish(fig, ax)


# ----------------------------------------------------------------------------- classes


def _class_colours(n: int) -> np.ndarray:
    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return np.array([cmap(i % cmap.N) for i in range(n)])  # (n, 4) RGBA


def _class_names(names: Sequence[str] | None, n: int, what: str) -> list[str]:
    if names is None:
        return [str(i) for i in range(n)]
    if isinstance(names, str) or not isinstance(names, Sequence | np.ndarray) or (
        isinstance(names, np.ndarray) and names.ndim != 1
    ):
        raise TypeError(f"class_names must be a list of names or None, not {type(names).__name__}")
    if len(names) < n:
        raise ValueError(f"class_names has {len(names)} names but {what} has class {n - 1}")
    return [str(s) for s in names]


def plot_segmentation(
    image: Any,
    mask: Any,
    pred: Any = None,
    class_names: Sequence[str] | None = None,
    *,
    background: int | None = 0,
    ignore_index: int | None = None,
    alpha: float = 0.55,
    errors: bool = False,
    ax: Axes | None = None,
) -> Figure | Axes:
    """An image with its label mask (and a prediction) as coloured overlays and a legend.

    ``image``: any layout :func:`show_image` accepts, size H x W. ``mask`` and ``pred``:
    ``(H, W)`` integer class maps (``pred`` may also be ``(K, H, W)`` scores, argmaxed).
    Panels: image, ground truth, and prediction when given. Class ``background`` is
    left transparent; ``ignore_index`` pixels are left uncoloured too. ``errors=True``
    (with ``pred``) adds a panel of the wrongly labelled pixels, each coloured by its
    TRUE class (lesson 12), so the errors of each class can be told apart.
    Returns the new Figure, or ``ax`` with one inset per panel in ``ax.child_axes``.
    """
    alpha = check_probability("alpha", alpha)
    errors = check_bool("errors", errors)
    if errors and pred is None:
        raise ValueError("errors=True needs pred: the errors are where pred differs from mask")
    background = None if background is None else check_int("background", background)
    ignore_index = None if ignore_index is None else check_int("ignore_index", ignore_index)
    img = _as_image(image, "image")
    h, w = img.shape[:2]
    maps = {"ground truth": mask} if pred is None else {"ground truth": mask, "prediction": pred}
    labels: dict[str, np.ndarray] = {}
    for name, m in maps.items():
        param = "mask" if name == "ground truth" else "pred"
        arr = to_numpy(m, param)
        if arr.ndim == 3 and name == "prediction":
            arr = arr.argmax(0)  # (K, H, W) -> (H, W)
        if arr.ndim == 3 and arr.shape[0] == 1:
            arr = arr[0]
        if arr.shape != (h, w):
            raise ValueError(f"{param} has shape {tuple(arr.shape)} but image is {h}x{w}")
        if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
            raise TypeError(f"{param} must hold integer class indices, got dtype {arr.dtype}")
        if not np.issubdtype(arr.dtype, np.integer):
            if not np.allclose(arr, np.round(arr)):
                raise ValueError(
                    f"{param} ({name}) must hold integer class indices, got dtype {arr.dtype}"
                )
            arr = np.round(arr).astype(np.int64)
        labels[name] = arr.astype(np.int64)
    valid = [
        a[a != ignore_index] if ignore_index is not None else a.reshape(-1) for a in labels.values()
    ]
    if any(v.size and v.min() < 0 for v in valid):
        raise ValueError(
            "mask/pred contain negative class indices; set ignore_index= for void pixels"
        )
    top = max((int(v.max()) for v in valid if v.size), default=0)
    names = _class_names(class_names, top + 1, "mask/pred")
    n = len(names)
    colours = _class_colours(n)
    panels = 1 + len(labels) + int(errors)
    fig, axes = _grid_axes(panels, panels, ax, cell=2.6)
    _draw_image(axes[0], img, "image", "gray")
    present: set[int] = set()
    for axis, (name, lab) in zip(axes[1 : 1 + len(labels)], labels.items(), strict=True):
        _draw_image(axis, img, name, "gray")
        overlay = np.zeros((h, w, 4))
        for k in np.unique(lab):
            if k == background or k == ignore_index:
                continue
            present.add(int(k))
            overlay[lab == k] = colours[k]
        overlay[..., 3] *= alpha
        axis.imshow(overlay, interpolation="nearest")
    false_alarm = False
    if errors:
        truth, guess = labels["ground truth"], labels["prediction"]
        wrong = truth != guess
        if ignore_index is not None:
            wrong &= truth != ignore_index
        faded = 0.3 * np.clip(img, 0.0, 1.0) + 0.7  # the scene in pale grey, under the errors
        _draw_image(axes[-1], faded, f"errors ({100 * wrong.mean():.1f}% of pixels)", "gray",
                    vmin=0.0, vmax=1.0)  # fmt: skip
        overlay = np.zeros((h, w, 4))
        for k in np.unique(truth[wrong]):
            if k == background:  # a false alarm on the background: black
                overlay[wrong & (truth == k)] = (0.0, 0.0, 0.0, 1.0)
                false_alarm = True
            else:
                present.add(int(k))
                overlay[wrong & (truth == k)] = colours[k]
        axes[-1].imshow(overlay, interpolation="nearest")
    handles = [Patch(facecolor=colours[k], label=names[k]) for k in sorted(present)]
    if errors and false_alarm:
        handles.append(Patch(facecolor="black", label=f"{names[background]} (error)"))
    if handles:
        axes[-1].legend(
            handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False
        )
    return _finish(fig, ax)


def plot_confusion_matrix(
    cm: Any,
    class_names: Sequence[str] | None = None,
    normalize: bool = False,
    ax: Axes | None = None,
    *,
    cmap: str = "Blues",
    annotate: bool | None = None,
) -> Figure | Axes:
    """A confusion matrix ``(K, K)``, rows = true class, columns = predicted class.

    ``normalize=True`` divides each row by its total (recall on the diagonal; a class
    that never occurs keeps a row of zeros). Cells are annotated with their values when
    ``annotate`` is True (default: when K <= 20). Returns the new Figure, or ``ax``.
    """
    normalize = check_bool("normalize", normalize)
    cmap = check_cmap(cmap)
    if annotate is not None:
        annotate = check_bool("annotate", annotate)
    m = to_numpy(cm, "cm")
    if not (np.issubdtype(m.dtype, np.integer) or np.issubdtype(m.dtype, np.floating)):
        raise TypeError(f"cm has dtype {m.dtype}; expected counts or fractions")
    m = m.astype(np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"cm has shape {tuple(m.shape)}: expected a square (K, K) matrix")
    if np.any(m < 0):
        raise ValueError("cm has negative entries: expected counts or fractions")
    k = m.shape[0]
    names = _class_names(class_names, k, "cm")[:k]
    if normalize:
        totals = m.sum(axis=1, keepdims=True)
        m = np.divide(m, totals, out=np.zeros_like(m), where=totals > 0)
    fig, axis = _single_axes(ax, (0.45 * k + 2.5, 0.45 * k + 2.0))
    im = axis.imshow(m, cmap=cmap, vmin=0, vmax=1 if normalize else None, interpolation="nearest")
    fig.colorbar(im, ax=axis, shrink=0.8)
    axis.set_xticks(
        range(k),
        names,
        rotation=45 if max(map(len, names)) > 2 else 0,
        ha="right" if max(map(len, names)) > 2 else "center",
    )
    axis.set_yticks(range(k), names)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    if annotate is None:
        annotate = k <= 20
    if annotate:
        threshold = (m.max() + m.min()) / 2
        integral = not normalize and np.allclose(m, np.round(m))
        for i in range(k):
            for j in range(k):
                text = f"{int(round(m[i, j]))}" if integral else f"{m[i, j]:.2f}"
                axis.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if m[i, j] > threshold else "black",
                )
    return _finish(fig, ax)


def plot_embedding(
    embedding: Any,
    labels: Any,
    class_names: Sequence[str] | None = None,
    *,
    title: str | None = None,
    s: float = 8.0,
    ax: Axes | None = None,
) -> Figure | Axes:
    """A 2-D embedding ``(N, 2)`` (t-SNE, PCA) as a scatter, one colour per class, with a legend.

    ``labels``: ``(N,)`` integer classes. One scatter collection per class present.
    Returns the new Figure, or ``ax``.
    """
    s = check_number("s", s, positive=True)
    e = to_numpy(embedding, "embedding")
    if not (np.issubdtype(e.dtype, np.integer) or np.issubdtype(e.dtype, np.floating)):
        raise TypeError(f"embedding has dtype {e.dtype}; expected numbers")
    e = e.astype(np.float64)
    y = to_numpy(labels, "labels").reshape(-1)
    if e.ndim != 2 or e.shape[1] != 2:
        raise ValueError(f"embedding has shape {tuple(e.shape)}: expected (N, 2)")
    if len(y) != len(e):
        raise ValueError(f"labels has {len(y)} entries but embedding has {len(e)} points")
    classes = np.unique(y)
    if not np.issubdtype(y.dtype, np.integer) or classes.min() < 0:
        raise ValueError("labels must be non-negative integer class indices")
    names = _class_names(class_names, int(classes.max()) + 1, "labels")
    colours = _class_colours(int(classes.max()) + 1)
    fig, axis = _single_axes(ax, (4.5, 4.0))
    for k in classes:
        sel = y == k
        axis.scatter(
            e[sel, 0], e[sel, 1], s=s, color=colours[k], label=names[k], alpha=0.8, linewidths=0
        )
    axis.set_xticks([])
    axis.set_yticks([])
    if title is not None:
        axis.set_title(title)
    axis.legend(fontsize=7, markerscale=2, loc="best", frameon=True)
    return _finish(fig, ax)
