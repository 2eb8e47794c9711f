"""Lesson 13's apps: t-SNE maps, top-activating patches, occlusion maps, activation maximization.

* :func:`draw_embedding` embeds ``(N, D)`` values with t-SNE or PCA
  (:mod:`course_lib.viz.embed`) and scatters them by class, with the map's 5-NN score;
  :func:`embedding_app` picks the source (pixels or features), the method and, for
  t-SNE only, the perplexity.
* :func:`draw_top_patches` shows, for every channel of a layer, the receptive-field
  patches of the test images that excite it most (:func:`course_lib.viz.top_activating_patches`);
  :func:`top_patches_app` picks the layer and the number of patches.
* :func:`draw_occlusion` shows an image, its occlusion map for a class
  (:func:`course_lib.viz.occlusion_map`) drawn where each square was, and the peak;
  :func:`occlusion_app` has sliders for the image, the square's size and its stride, and
  the class asked about.
* :func:`draw_activation_maximization` runs projected gradient ascent on the input for
  one class score (:func:`course_lib.viz.activation_maximization`) and shows x*, the
  score after every step and the scores of random inputs of the same norm;
  :func:`activation_maximization_app` has the learning rate, steps, norm and class.

The model and the data are passed in (the notebook trains them); the draw functions are
pure and the apps only wire controls to them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from torch import nn

from course_lib.device import resolve_device
from course_lib.validate import (
    check_bool,
    check_choice,
    check_int,
    check_number,
    check_seed,
    check_shape,
)
from course_lib.viz import (
    activation_maximization,
    embedding_separation,
    layer_output,
    layer_receptive_field,
    occlusion_map,
    pca_embed,
    plot_embedding,
    top_activating_patches,
    tsne_embed,
)
from course_lib.widgets.base import FigureApp

__all__ = [
    "METHODS",
    "ActivationMaximizationView",
    "OcclusionView",
    "activation_maximization_app",
    "draw_activation_maximization",
    "draw_embedding",
    "draw_occlusion",
    "draw_top_patches",
    "embedding_app",
    "occlusion_app",
    "top_patches_app",
]

METHODS = ("t-SNE", "PCA")


def _check_model(model: Any) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, not {type(model).__name__}")
    return model


def _check_images(images: Any, name: str = "images") -> torch.Tensor:
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor (N, C, H, W), not {type(images).__name__}")
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"{name} must be a non-empty batch (N, C, H, W); got {tuple(images.shape)}")
    if not images.is_floating_point():
        raise TypeError(f"{name} has dtype {images.dtype}; expected floats such as torch.float32")
    return images


# ----------------------------------------------------------------------------- embeddings


def draw_embedding(
    features: Any,
    labels: Any,
    *,
    method: str = "t-SNE",
    perplexity: float = 30.0,
    seed: int = 0,
    title: str | None = None,
) -> tuple[Figure, float]:
    """A 2-D map of ``(N, ...)`` features by ``method`` ("t-SNE" or "PCA"), coloured by class.

    Returns the figure and the map's separation score (cross-validated 5-NN accuracy,
    :func:`course_lib.viz.embedding_separation`). ``perplexity`` (t-SNE only) must be below N.
    """
    method = check_choice("method", method, METHODS)
    seed = check_seed("seed", seed)
    if method == "t-SNE":
        points = tsne_embed(features, seed=seed, perplexity=perplexity, max_iter=500)
    else:
        points = pca_embed(features)
    score = embedding_separation(points, labels, seed=seed)
    y = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels).reshape(-1)
    fig = Figure(figsize=(5.2, 4.4), layout="constrained")
    ax = fig.add_subplot()
    plot_embedding(points, y, ax=ax, s=10)
    what = f"t-SNE, perplexity {perplexity:g}" if method == "t-SNE" else "PCA"
    head = f"{title}: " if title else ""
    ax.set_title(f"{head}{what}\n5-NN accuracy in the map: {100 * score:.1f}%", fontsize=10)
    return fig, score


def embedding_app(
    sources: Mapping[str, Any], labels: Any, *, source: str | None = None,
    method: str = "t-SNE", perplexity: int = 30, seed: int = 0,
) -> FigureApp:
    """Pick a source (``sources``: name -> ``(N, ...)`` values), the method and the perplexity.

    The perplexity slider runs from 2 to min(100, N - 1) and is disabled for PCA, which
    has no perplexity.
    """
    if not isinstance(sources, Mapping) or not sources:
        raise TypeError("sources must be a non-empty dict {name: (N, ...) values}")
    names = tuple(sources)
    source = names[0] if source is None else check_choice("source", source, names)
    method = check_choice("method", method, METHODS)
    n = len(next(iter(sources.values())))
    if n < 4:
        raise ValueError(f"the sources hold {n} points; a t-SNE map needs at least 4")
    top = min(100, n - 1)
    perplexity = check_int("perplexity", perplexity, minimum=2, maximum=top)
    seed = check_seed("seed", seed)
    source_box = widgets.Dropdown(options=names, value=source, description="source")
    method_box = widgets.ToggleButtons(options=METHODS, value=method, description="method")
    perplexity_slider = widgets.IntSlider(
        value=perplexity, min=2, max=top, step=1, description="perplexity",
        continuous_update=False, disabled=method == "PCA",
    )

    def follow(change: dict) -> None:  # perplexity means nothing to PCA
        perplexity_slider.disabled = change["new"] == "PCA"

    method_box.observe(follow, names="value")

    def draw(source: str, method: str, perplexity: int) -> tuple[Figure, float]:
        return draw_embedding(sources[source], labels, method=method, perplexity=perplexity,
                              seed=seed, title=source)

    return FigureApp(
        {"source": source_box, "method": method_box, "perplexity": perplexity_slider},
        draw, title="A 2-D map of the test digits",
    )


# ----------------------------------------------------------------------------- top patches


def draw_top_patches(
    model: nn.Module, images: torch.Tensor, layer: str, *, k: int = 8, device: Any = None
) -> Figure:
    """One row per channel of ``layer``: the ``k`` image patches that excite it most.

    Each patch is the receptive field of the channel's strongest unit in one image (one
    patch per image), strongest first; the row's label gives the channel and the
    strongest activation.
    """
    model = _check_model(model)
    images = _check_images(images)
    k = check_int("k", k, minimum=1, maximum=len(images))
    maps = layer_output(model, layer, images[:1], device=device)
    if maps.ndim != 4:
        raise ValueError(f"layer={layer!r} outputs shape {tuple(maps.shape)}; expected (N, C, H, W) maps")
    channels = maps.shape[1]
    field = layer_receptive_field(model, layer, tuple(images.shape[1:]), device=device)
    fig = Figure(figsize=(0.9 * k + 1.2, 0.85 * channels + 0.6), layout="constrained")
    axes = fig.subplots(channels, k, squeeze=False)
    for c in range(channels):
        top = top_activating_patches(model, layer, images, c, k, receptive_field=field,
                                     device=device)
        for j in range(k):
            ax = axes[c, j]
            ax.imshow(top.patches[j, 0].numpy(), cmap="gray", vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[c, 0].set_ylabel(f"ch {c}\n{float(top.activations[0]):.1f}", fontsize=8,
                              rotation=0, ha="right", va="center")
    fig.suptitle(f"{layer}: the {k} strongest {field.size[0]}x{field.size[1]} patches per channel",
                 fontsize=10)
    return fig


def top_patches_app(
    model: nn.Module, images: torch.Tensor, layers: Mapping[str, str], *, k: int = 8,
    device: Any = None,
) -> FigureApp:
    """Pick a layer (``layers``: shown name -> module name) and how many patches per channel."""
    if not isinstance(layers, Mapping) or not layers:
        raise TypeError("layers must be a non-empty dict {shown name: module name}")
    images = _check_images(images)
    top = min(12, len(images))
    k = check_int("k", k, minimum=1, maximum=top)
    layer_box = widgets.Dropdown(options=tuple(layers), description="layer")
    k_slider = widgets.IntSlider(value=k, min=1, max=top, description="patches",
                                 continuous_update=False)

    def draw(layer: str, k: int) -> Figure:
        return draw_top_patches(model, images, layers[layer], k=k, device=device)

    return FigureApp({"layer": layer_box, "k": k_slider}, draw,
                     title="What excites each channel")


# ----------------------------------------------------------------------------- occlusion


@dataclass(frozen=True)
class OcclusionView:
    """What :func:`draw_occlusion` shows: the map (H', W'), its peak (row, col) in the map,
    the peak square's centre (row, col) in pixels, and the class asked about."""

    heat: torch.Tensor
    peak: tuple[int, int]
    centre: tuple[float, float]
    target: int
    patch: int
    stride: int

    def __str__(self) -> str:
        r, c = self.centre
        return (
            f"{self.heat.shape[0]}x{self.heat.shape[1]} map ({self.patch}x{self.patch} square, "
            f"stride {self.stride}); the score of class {self.target} drops most "
            f"({float(self.heat.max()):.2f}) when the square centred at row {r:g}, "
            f"column {c:g} is hidden."
        )


def draw_occlusion(
    model: nn.Module, image: torch.Tensor, target: int, *, patch: int = 8, stride: int = 2,
    fill: float = 0.0, device: Any = None,
) -> tuple[Figure, OcclusionView]:
    """The image (C, H, W), its occlusion map for class ``target``, and the two overlaid.

    Map cell (i, j) is drawn over the square it hid (centred on it, ``stride`` pixels
    wide), so the colours sit where the evidence is; the peak square is outlined.
    """
    model = _check_model(model)
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"image must be a torch tensor (C, H, W), not {type(image).__name__}")
    if image.ndim != 3 or image.numel() == 0:
        raise ValueError(f"image has shape {tuple(image.shape)}; expected a non-empty (C, H, W)")
    if not image.is_floating_point():
        raise TypeError(f"image has dtype {image.dtype}; expected floats such as torch.float32")
    patch = check_int("patch", patch, minimum=1)
    stride = check_int("stride", stride, minimum=1)
    _, h, w = image.shape
    if patch > min(h, w):
        raise ValueError(f"patch {patch}x{patch} is larger than the image {h}x{w}")
    heat = occlusion_map(model, image, target, patch=patch, stride=stride, fill=fill,
                         device=device)
    i, j = divmod(int(heat.argmax()), heat.shape[1])
    centre = (i * stride + (patch - 1) / 2, j * stride + (patch - 1) / 2)
    fig = Figure(figsize=(9.0, 3.2), layout="constrained")
    ax_img, ax_map, ax_both = fig.subplots(1, 3)
    shown = image[0].detach().cpu().numpy()
    first = (patch - 1) / 2 - stride / 2  # map cell 0 is centred on the first square's centre
    extent = (first, first + heat.shape[1] * stride, first + heat.shape[0] * stride, first)
    span = float(heat.abs().max()) or 1.0
    ax_img.imshow(shown, cmap="gray", vmin=0.0, vmax=1.0)
    ax_img.set_title("the image", fontsize=10)
    im = ax_map.imshow(heat.numpy(), cmap="RdBu_r", vmin=-span, vmax=span, extent=extent,
                       interpolation="nearest")
    ax_map.set_xlim(-0.5, w - 0.5)
    ax_map.set_ylim(h - 0.5, -0.5)
    ax_map.set_title(f"drop in the score of class {target}", fontsize=10)
    fig.colorbar(im, ax=ax_map, shrink=0.8)
    ax_both.imshow(shown, cmap="gray", vmin=0.0, vmax=1.0)
    ax_both.imshow(heat.clamp(min=0).numpy(), cmap="inferno", alpha=0.55, extent=extent,
                   interpolation="nearest", vmin=0.0, vmax=span)
    ax_both.add_patch(_square(j * stride - 0.5, i * stride - 0.5, patch))
    ax_both.set_xlim(-0.5, w - 0.5)
    ax_both.set_ylim(h - 0.5, -0.5)
    ax_both.set_title("where the evidence is (peak outlined)", fontsize=10)
    for ax in (ax_img, ax_map, ax_both):
        ax.set_xticks([])
        ax.set_yticks([])
    return fig, OcclusionView(heat, (i, j), centre, int(target), patch, stride)


def _square(left: float, top: float, size: int) -> Rectangle:
    return Rectangle((left, top), size, size, fill=False, edgecolor="#00e5ff", lw=2)


def occlusion_app(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, index: int = 0,
    patch: int = 8, stride: int = 2, fill: float = 0.0, device: Any = None,
) -> FigureApp:
    """Sliders for the image, the square's size and its stride; a dropdown for the class.

    ``labels`` (N,) or (N, 2) (two-digit scenes): the class dropdown offers every class,
    and starts at the image's (first) label. The stride slider runs from 1 to the patch
    size (larger strides would skip pixels) and follows it.
    """
    images = _check_images(images)
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"labels must be a torch tensor (N,) or (N, 2), not {type(labels).__name__}")
    if labels.ndim not in (1, 2) or len(labels) != len(images) or labels.numel() == 0:
        raise ValueError(
            f"labels has shape {tuple(labels.shape)}; expected (N,) or (N, 2) with N = {len(images)}"
        )
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(f"labels has dtype {labels.dtype}; expected integer classes")
    if int(labels.min()) < 0:
        raise ValueError("labels must be non-negative class indices")
    fill = check_number("fill", fill)
    n, _, h, w = images.shape
    side = min(h, w)
    index = check_int("index", index, minimum=0, maximum=n - 1)
    patch = check_int("patch", patch, minimum=1, maximum=side)
    stride = check_int("stride", stride, minimum=1, maximum=patch)
    classes = int(labels.max()) + 1

    def first(i: int) -> int:  # the image's class (the left digit's, for a scene)
        return int(labels[i].reshape(-1)[0])

    index_slider = widgets.IntSlider(value=index, min=0, max=n - 1, description="image",
                                     continuous_update=False)
    patch_slider = widgets.IntSlider(value=patch, min=1, max=side, description="patch",
                                     continuous_update=False)
    stride_slider = widgets.IntSlider(value=stride, min=1, max=patch, description="stride",
                                      continuous_update=False)
    target_box = widgets.Dropdown(options=list(range(classes)), value=first(index),
                                  description="class")

    def follow_patch(change: dict) -> None:  # the stride stays within the square's size
        stride_slider.max = max(1, change["new"])

    def follow_image(change: dict) -> None:
        target_box.value = first(change["new"])

    patch_slider.observe(follow_patch, names="value")
    index_slider.observe(follow_image, names="value")

    def draw(index: int, patch: int, stride: int, target: int) -> tuple[Figure, OcclusionView]:
        return draw_occlusion(model, images[index], target, patch=patch, stride=stride,
                              fill=fill, device=device)

    return FigureApp(
        {"index": index_slider, "patch": patch_slider, "stride": stride_slider,
         "target": target_box},
        draw, title="Occlusion: hide a square, watch the score",
    )


# ----------------------------------------------------------------------------- activation maximization


@dataclass(frozen=True)
class ActivationMaximizationView:
    """What :func:`draw_activation_maximization` shows: the score after every step, the
    best value, the steps run, whether the tol rule stopped it, and the random inputs'
    mean ``|score|`` and largest score."""

    history: tuple[float, ...]
    reached: float
    steps: int
    converged: bool
    random_size: float
    random_max: float

    @property
    def ratio(self) -> float:
        return self.reached / self.random_size

    def __str__(self) -> str:
        why = "stopped: a step gained less than tol" if self.converged else "ran every step"
        return (
            f"score {self.history[0]:.2f} -> {self.reached:.2f} in {self.steps} steps ({why}); "
            f"{self.ratio:.1f} times its mean size on random inputs of the same norm "
            f"(largest random: {self.random_max:.2f})."
        )


def draw_activation_maximization(
    model: nn.Module, layer: str, unit: int, *, input_shape: Sequence[int] = (1, 32, 32),
    lr: float = 1.0, steps: int = 100, norm: float = 8.0, tol: float = 1e-3,
    backtrack: bool = True, seed: int = 0, n_random: int = 100, device: Any = None,
) -> tuple[Figure, ActivationMaximizationView]:
    """x* for ``unit`` of ``layer``, the score per step, and where random inputs score.

    Starts from uniform noise of norm ``norm`` (seeded) and compares with ``n_random``
    other noise images of that norm.
    """
    model = _check_model(model)
    norm = check_number("norm", norm, positive=True)
    steps = check_int("steps", steps, minimum=0)
    backtrack = check_bool("backtrack", backtrack)
    seed = check_seed("seed", seed)
    n_random = check_int("n_random", n_random, minimum=1)
    shape = check_shape("input_shape", input_shape, length=3, layout="(C, H, W)")
    unit = check_int("unit", unit, minimum=0)
    dev = resolve_device(device)
    gen = torch.Generator().manual_seed(seed)
    noise = torch.rand((n_random + 1, *shape), generator=gen)
    noise = noise * (norm / noise.flatten(1).norm(dim=1)).view(-1, 1, 1, 1)  # on the sphere
    scores = layer_output(model, layer, noise[1:], device=dev)
    if scores.ndim != 2:
        raise ValueError(f"layer={layer!r} outputs shape {tuple(scores.shape)}; expected (N, K) units")
    unit = check_int("unit", unit, minimum=0, maximum=scores.shape[1] - 1,
                     what=f"an int in [0, {scores.shape[1]}): the layer has {scores.shape[1]} units")
    random_scores = scores[:, unit].double()
    x, history = activation_maximization(
        model, layer, unit, input_shape=shape, norm=norm, lr=lr, steps=steps, tol=tol,
        backtrack=backtrack, start=noise[0], device=dev,
    )
    view = ActivationMaximizationView(
        history=tuple(history),
        reached=float(max(history)),
        steps=len(history) - 1,
        converged=len(history) - 1 < steps,
        random_size=float(random_scores.abs().mean()),
        random_max=float(random_scores.max()),
    )
    fig = Figure(figsize=(9.0, 3.2), layout="constrained")
    ax_x, ax_curve, ax_hist = fig.subplots(1, 3, width_ratios=(1.0, 1.5, 1.2))
    ax_x.imshow(x[0].numpy(), cmap="gray")
    ax_x.set_title(f"x* for unit {unit} (||x|| = {norm:g})", fontsize=10)
    ax_x.set_xticks([])
    ax_x.set_yticks([])
    ax_curve.plot(range(len(history)), history, color="#c0392b", lw=2)
    ax_curve.axhline(view.random_max, color="grey", ls="--", lw=1, label="best random input")
    ax_curve.set_xlabel("step")
    ax_curve.set_ylabel(f"h_{unit}(x)")
    ax_curve.set_title(f"lr {lr:g}: {view.steps} steps", fontsize=10)
    ax_curve.legend(fontsize=8, loc="lower right")
    ax_hist.hist(random_scores.numpy(), bins=20, color="grey", alpha=0.8, label="random inputs")
    ax_hist.axvline(view.reached, color="#c0392b", lw=2, label="x*")
    ax_hist.set_xlabel(f"h_{unit}")
    ax_hist.set_title(f"{view.ratio:.0f}x the random inputs' mean size", fontsize=10)
    ax_hist.legend(fontsize=8)
    return fig, view


def activation_maximization_app(
    model: nn.Module, layer: str, *, units: int = 10, unit: int = 0,
    input_shape: Sequence[int] = (1, 32, 32), lr: float = 1.0, steps: int = 100,
    norm: float = 8.0, device: Any = None,
) -> FigureApp:
    """Sliders for the learning rate (log scale), the number of steps and the norm rho;
    a dropdown for the unit (``units`` of them) and a box for backtracking."""
    units = check_int("units", units, minimum=1, maximum=1000)
    unit = check_int("unit", unit, minimum=0, maximum=units - 1)
    lr = check_number("lr", lr, minimum=1e-3, maximum=100.0)
    steps = check_int("steps", steps, minimum=0, maximum=300)
    norm = check_number("norm", norm, minimum=1.0, maximum=40.0)
    controls = {
        "unit": widgets.Dropdown(options=list(range(units)), value=unit, description="unit"),
        "lr": widgets.FloatLogSlider(value=lr, base=10, min=-3, max=2, step=0.25,
                                     description="lr", continuous_update=False),
        "steps": widgets.IntSlider(value=steps, min=0, max=300, step=10, description="steps",
                                   continuous_update=False),
        "norm": widgets.FloatSlider(value=norm, min=1.0, max=40.0, step=1.0, description="norm",
                                    continuous_update=False),
        "backtrack": widgets.Checkbox(value=True, description="refuse steps that lower h"),
    }

    def draw(unit: int, lr: float, steps: int, norm: float, backtrack: bool):
        return draw_activation_maximization(
            model, layer, unit, input_shape=input_shape, lr=lr, steps=steps, norm=norm,
            backtrack=backtrack, device=device,
        )

    return FigureApp(controls, draw, title="Activation maximization: x* = argmax h(x), ||x|| = rho")
