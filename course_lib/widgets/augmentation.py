"""Lesson 08's app: one augmentation at a time, on a real image, drawn several times.

:func:`augmented_copies` makes ``copies`` augmented versions of one image the course
ships (scikit-learn's two photographs, :func:`course_lib.data.load_photo`, or a test
digit of :func:`course_lib.data.load_digits`) with one augmentation of
:mod:`course_lib.data` and its parameter: a left-right flip with probability ``p``, a
random crop after zero padding, a colour cast, a translation, a rotation, or a
greyscale conversion with probability ``p``. Every copy gets fresh random numbers from
one generator seeded by ``seed``, so the same settings always show the same copies.
:func:`draw_augmentations` shows the original and the copies; :func:`augmentation_app`
wires the controls to it, enabling only the slider the chosen augmentation uses.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from course_lib.data import (
    PHOTOS,
    colour_cast,
    load_digits,
    load_photo,
    random_crop,
    random_flip,
    random_rotation,
    random_translation,
    to_grey,
)
from course_lib.device import resolve_device
from course_lib.validate import check_choice, check_int, check_number, check_probability
from course_lib.widgets.base import FigureApp

__all__ = [
    "AUGMENTATIONS",
    "IMAGES",
    "AugmentationView",
    "augmentation_app",
    "augmented_copies",
    "draw_augmentations",
]

AUGMENTATIONS = ("flip", "random crop", "colour cast", "translation", "rotation", "greyscale")
IMAGES = (*PHOTOS, "digit")
# which keyword each augmentation reads (greyscale, like torchvision's RandomGrayscale,
# is applied with probability p)
PARAMETER = {
    "flip": "p",
    "random crop": "padding",
    "colour cast": "strength",
    "translation": "shift",
    "rotation": "degrees",
    "greyscale": "p",
}
_HEIGHT = 96  # photos are shrunk to this height (427 -> 96 pixels) to draw quickly
_MAX_PADDING = 32


def _image(name: str, device: torch.device) -> torch.Tensor:
    """The named image as one RGB batch (1, 3, H, W) in [0, 1]."""
    return _cpu_image(name).to(device)


@functools.cache
def _cpu_image(name: str) -> torch.Tensor:
    """Decoded and shrunk once per session; callers never change it in place."""
    if name == "digit":
        x = load_digits(device="cpu").test.tensors[0][:1]  # (1, 1, 32, 32), a test digit
        return x.expand(1, 3, 32, 32).contiguous()
    photo = torch.from_numpy(load_photo(name)).permute(2, 0, 1)[None].float()  # (1, 3, H, W)
    h, w = photo.shape[-2:]
    small = F.interpolate(photo, size=(_HEIGHT, round(w * _HEIGHT / h)), mode="bilinear",
                          antialias=True, align_corners=False)  # fmt: skip
    return small.clamp(0.0, 1.0)


def augmented_copies(
    image: str = "china",
    augmentation: str = "flip",
    *,
    p: float = 0.5,
    padding: int = 8,
    strength: float = 0.2,
    shift: float = 0.1,
    degrees: float = 20.0,
    copies: int = 6,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The original (3, H, W) and ``copies`` augmented versions (copies, 3, H, W).

    Only the parameter the augmentation uses (:data:`PARAMETER`) matters; the others
    are still checked. ``padding`` is in pixels (at most 32); ``shift`` a fraction of
    the side in [0, 1); ``degrees`` in [0, 180].
    """
    image = check_choice("image", image, IMAGES)
    augmentation = check_choice("augmentation", augmentation, AUGMENTATIONS)
    p = check_probability("p", p)
    padding = check_int("padding", padding, minimum=0, maximum=_MAX_PADDING)
    strength = check_number("strength", strength, minimum=0.0, maximum=1.0)
    shift = check_number("shift", shift, minimum=0.0, below=1.0, what="a fraction in [0, 1)")
    degrees = check_number("degrees", degrees, minimum=0.0, maximum=180.0)
    copies = check_int("copies", copies, minimum=1, maximum=16)
    seed = check_int("seed", seed, minimum=0, maximum=2**63 - 1, what="an int seed >= 0")
    device = resolve_device(device)
    original = _image(image, device)  # (1, 3, H, W)
    batch = original.expand(copies, *original.shape[1:]).contiguous()  # (copies, 3, H, W)
    gen = torch.Generator().manual_seed(seed)  # one stream: every copy gets new numbers
    if augmentation == "flip":
        out = random_flip(batch, p=p, generator=gen)
    elif augmentation == "random crop":
        out = random_crop(batch, padding=padding, generator=gen)
    elif augmentation == "colour cast":
        out = colour_cast(batch, strength=strength, generator=gen)
    elif augmentation == "translation":
        out = random_translation(batch, shift=shift, generator=gen)
    elif augmentation == "rotation":
        out = random_rotation(batch, degrees=degrees, generator=gen)
    else:  # greyscale with probability p: one draw per copy
        grey = (torch.rand(copies, generator=gen) < p).to(device)[:, None, None, None]
        out = torch.where(grey, to_grey(batch), batch)
    return original[0], out


@dataclass(frozen=True)
class AugmentationView:
    """What the picture shows: the settings and, per copy, the mean absolute change of
    its pixels from the original (0 for a copy the augmentation left alone)."""

    image: str
    augmentation: str
    setting: str
    change: tuple[float, ...]

    @property
    def _kind(self) -> str:
        return "image" if self.image == "digit" else "photo"

    @property
    def unchanged(self) -> int:
        return sum(c < 1e-6 for c in self.change)

    def __str__(self) -> str:
        mean = float(np.mean(self.change))
        return (
            f"{len(self.change)} copies of the {self.image} {self._kind} with {self.augmentation} "
            f"({self.setting}): {self.unchanged} left unchanged; mean change per pixel "
            f"{mean:.3f}."
        )


def draw_augmentations(
    image: str = "china",
    augmentation: str = "flip",
    p: float = 0.5,
    padding: int = 8,
    strength: float = 0.2,
    shift: float = 0.1,
    degrees: float = 20.0,
    copies: int = 6,
    seed: int = 0,
) -> tuple[Figure, AugmentationView]:
    """The original, then ``copies`` augmented versions, each titled by its change."""
    original, out = augmented_copies(
        image, augmentation, p=p, padding=padding, strength=strength, shift=shift,
        degrees=degrees, copies=copies, seed=seed, device="cpu",
    )  # fmt: skip
    change = tuple(float(v) for v in (out - original).abs().mean(dim=(1, 2, 3)))
    copies, seed = out.shape[0], int(seed)  # checked above; numpy or 0-d torch ints too
    name = PARAMETER[augmentation]
    value = {"p": p, "padding": padding, "strength": strength, "shift": shift,
             "degrees": degrees}[name]  # fmt: skip
    setting = f"{name} = {float(value):g}"
    cols = min(copies + 1, 5)
    rows = -(-(copies + 1) // cols)
    aspect = original.shape[2] / original.shape[1]
    fig = Figure(figsize=(2.2 * aspect * cols, 2.3 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    pictures = [("original", original), *((f"copy {i + 1}: change {c:.3f}", o)
                                          for i, (o, c) in enumerate(zip(out, change, strict=True)))]  # fmt: skip
    for ax in axes:
        ax.axis("off")
    for ax, (title, img) in zip(axes, pictures, strict=False):
        ax.imshow(img.permute(1, 2, 0).clamp(0, 1).cpu().numpy(), interpolation="nearest")
        ax.set_title(title, fontsize=8)
    fig.suptitle(f"{augmentation}, {setting}, seed {seed}", fontsize=10)
    return fig, AugmentationView(image, augmentation, setting, change)


def augmentation_app(image: str = "china", augmentation: str = "flip") -> FigureApp:
    """Dropdowns for the image and the augmentation; one slider per parameter, enabled
    only for the augmentation that uses it (none for greyscale on the digit, which is grey
    already); the number of copies; a seed to draw again."""
    image = check_choice("image", image, IMAGES)
    augmentation = check_choice("augmentation", augmentation, AUGMENTATIONS)
    controls = {
        "image": widgets.Dropdown(options=list(IMAGES), value=image, description="image"),
        "augmentation": widgets.Dropdown(options=list(AUGMENTATIONS), value=augmentation,
                                         description="augment"),  # fmt: skip
        "p": widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="p"),
        "padding": widgets.IntSlider(value=8, min=0, max=_MAX_PADDING, description="padding"),
        "strength": widgets.FloatSlider(value=0.2, min=0.0, max=0.5, step=0.02,
                                        description="strength"),  # fmt: skip
        "shift": widgets.FloatSlider(value=0.1, min=0.0, max=0.4, step=0.02, description="shift"),
        "degrees": widgets.FloatSlider(value=20.0, min=0.0, max=90.0, step=5.0,
                                       description="degrees"),  # fmt: skip
        "copies": widgets.IntSlider(value=6, min=2, max=9, description="copies"),
        "seed": widgets.IntSlider(value=0, min=0, max=99, description="draw again"),
    }

    def enable_its_slider(_change: dict | None = None) -> None:
        chosen = controls["augmentation"].value
        used = PARAMETER[chosen]
        if chosen == "greyscale" and controls["image"].value == "digit":
            used = None  # the digit is grey already: p changes nothing there
        for name in ("p", "padding", "strength", "shift", "degrees"):
            controls[name].disabled = name != used

    enable_its_slider()
    controls["augmentation"].observe(enable_its_slider, names="value")
    controls["image"].observe(enable_its_slider, names="value")
    return FigureApp(controls, draw_augmentations, title="Augmentations, drawn again and again")
