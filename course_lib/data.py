"""Data for the lessons: shipped with installed packages or generated, never downloaded.

See ``data/README.md`` for every dataset's origin, licence, size and recipe.
"""

from __future__ import annotations

import gzip
import os
import struct
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits as sk_load_digits
from sklearn.datasets import load_sample_image
from sklearn.model_selection import train_test_split
from torch.utils.data import TensorDataset

from course_lib.device import resolve_device
from course_lib.validate import (
    check_array,
    check_bool,
    check_choice,
    check_generator,
    check_int,
    check_number,
    check_path,
    check_probability,
    check_seed,
)

PHOTOS = ("china", "flower")


def load_photo(name: str = "china", *, grey: bool = False) -> np.ndarray:
    """One of scikit-learn's two bundled photographs as floats in [0, 1].

    Returns shape (H, W, 3), or (H, W) with ``grey=True`` (ITU-R 601 luma weights).
    The JPEG files ship inside scikit-learn, so this works offline.
    """
    name = check_choice("name", name, PHOTOS)
    grey = check_bool("grey", grey)
    rgb = load_sample_image(f"{name}.jpg").astype(np.float64) / 255.0  # (H, W, 3)
    if grey:
        return rgb @ np.array([0.299, 0.587, 0.114])
    return rgb


# --------------------------------------------------------------------------- digits


@dataclass(frozen=True)
class DataSplits:
    """A fixed train/validation/test split; each part is a ``TensorDataset(x, y)``.

    ``x`` is float32 (N, C, H, W), ``y`` int64 (N,). ``classes`` names the labels.
    """

    train: TensorDataset
    val: TensorDataset
    test: TensorDataset
    classes: tuple[str, ...]

    def __repr__(self) -> str:
        x = self.train.tensors[0]
        return (
            f"DataSplits(train={len(self.train)}, val={len(self.val)}, test={len(self.test)}, "
            f"image_shape={tuple(x.shape[1:])}, classes={len(self.classes)})"
        )


def check_splits(name: str, value: Any, *, allow_none: bool = False) -> DataSplits | None:
    """``value`` if it is a :class:`DataSplits` (or None, when ``allow_none``), else a
    TypeError naming ``name``: the one check every experiment's ``data=`` goes through."""
    if value is None and allow_none:
        return None
    if not isinstance(value, DataSplits):
        expected = "a course_lib.data.DataSplits such as load_digits()"
        if allow_none:
            expected = "None (the lesson's own data) or " + expected
        raise TypeError(f"{name} is a {type(value).__name__}; expected {expected}")
    return value


def _fraction(name: str, value) -> float:
    """A fraction of the data strictly between 0 and 1, as a Python float."""
    value = check_number(name, value, what="a fraction strictly between 0 and 1")
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name}={value!r} must lie strictly between 0 and 1")
    return value


def _check_fractions(val_fraction, test_fraction) -> tuple[float, float]:
    val_fraction = _fraction("val_fraction", val_fraction)
    test_fraction = _fraction("test_fraction", test_fraction)
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(
            f"val_fraction + test_fraction = {val_fraction + test_fraction} leaves no training data"
        )
    return val_fraction, test_fraction


def _stratified(idx, labels, size: float, seed: int, name: str, value: float):
    """scikit-learn's stratified split of ``idx``; a part too small to hold every class
    is reported as the fraction (``name=value``) that made it."""
    try:
        return train_test_split(idx, test_size=size, random_state=seed, stratify=labels)
    except ValueError as err:
        raise ValueError(
            f"{name}={value!r} leaves a part too small for a stratified split of "
            f"{len(idx)} examples of {len(np.unique(labels))} classes ({err})"
        ) from None


def _split(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    classes: tuple[str, ...],
    device: torch.device,
) -> DataSplits:
    """Stratified split by a seeded permutation (the same seed gives the same split)."""
    idx = np.arange(len(y))
    labels = y.numpy()
    rest, test = _stratified(idx, labels, test_fraction, seed, "test_fraction", test_fraction)
    train, val = _stratified(
        rest, labels[rest], val_fraction / (1.0 - test_fraction), seed, "val_fraction",
        val_fraction,
    )  # fmt: skip

    def part(i: np.ndarray) -> TensorDataset:
        i = torch.from_numpy(np.sort(i))
        return TensorDataset(x[i].to(device), y[i].to(device))

    return DataSplits(part(train), part(val), part(test), classes)


def load_digits(
    *,
    size: int = 32,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> DataSplits:
    """scikit-learn's 1,797 handwritten digits as (N, 1, size, size) images in [0, 1].

    The 8x8 originals (grey levels 0-16) are upscaled bilinearly to ``size`` (32 by
    default, LeNet-5's input). The split is stratified and fixed by ``seed``: with
    the defaults 1,257 train, 180 validation and 360 test images.
    """
    size = check_int("size", size, minimum=8, what="an int >= 8 (the originals are 8x8)")
    val_fraction, test_fraction = _check_fractions(val_fraction, test_fraction)
    seed = check_seed("seed", seed)
    device = resolve_device(device)
    bunch = sk_load_digits()
    x = torch.from_numpy(bunch.images.astype(np.float32) / 16.0)[:, None]  # (N, 1, 8, 8)
    if size != 8:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        x = x.clamp_(0.0, 1.0)  # (N, 1, size, size)
    y = torch.from_numpy(bunch.target.astype(np.int64))
    classes = tuple(str(i) for i in range(10))
    return _split(
        x,
        y,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        seed=seed,
        classes=classes,
        device=device,
    )


# --------------------------------------------------------------------------- digits anywhere
# Lesson 05's "deep or not" data: a digit may sit anywhere, so no pixel is special.


def place_anywhere(
    images: torch.Tensor, *, canvas: int = 32, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Paste each image (N, C, s, s) at a random position on a zero (N, C, canvas, canvas).

    Every offset in [0, canvas - s] is equally likely, independently for rows and
    columns; ``generator`` makes the positions reproducible.
    """
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch tensor (N, C, s, s), not {type(images).__name__}")
    check_array("images", images, ndim=4, layout="(N, C, s, s): a batch of images")
    canvas = check_int("canvas", canvas, minimum=1)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be None or a torch.Generator, not {type(generator).__name__}")
    n, c, h, w = images.shape
    if h > canvas or w > canvas:
        raise ValueError(f"images of {h}x{w} do not fit on a canvas of {canvas}x{canvas}")
    oy = torch.randint(0, canvas - h + 1, (n,), generator=generator)  # (N,) top rows
    ox = torch.randint(0, canvas - w + 1, (n,), generator=generator)  # (N,) left columns
    rows = (oy[:, None] + torch.arange(h)).to(images.device)  # (N, h) canvas rows
    cols = (ox[:, None] + torch.arange(w)).to(images.device)  # (N, w) canvas columns
    out = images.new_zeros(n, c, canvas, canvas)
    batch = torch.arange(n, device=images.device)[:, None, None]  # (N, 1, 1)
    view = out.permute(0, 2, 3, 1)  # (N, canvas, canvas, C), shares out's memory
    view[batch, rows[:, :, None], cols[:, None, :]] = images.permute(0, 2, 3, 1)
    return out


def load_digits_anywhere(
    *,
    digit_size: int = 16,
    canvas: int = 32,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> DataSplits:
    """The course digits at ``digit_size`` pixels, each placed at a random spot on a canvas.

    Same split as :func:`course_lib.data.load_digits` (by ``seed``); positions are
    drawn once from a generator seeded with ``seed``, so they are fixed too.
    """
    device = resolve_device(device)
    seed = check_seed("seed", seed)
    digit_size = check_int("digit_size", digit_size, minimum=1)
    canvas = check_int("canvas", canvas, minimum=digit_size, what=f"an int >= digit_size={digit_size}")
    digits = load_digits(size=digit_size, seed=seed, device="cpu")
    gen = torch.Generator().manual_seed(seed)

    def part(ds: TensorDataset) -> TensorDataset:
        x, y = ds.tensors
        return TensorDataset(
            place_anywhere(x, canvas=canvas, generator=gen).to(device), y.to(device)
        )

    return DataSplits(part(digits.train), part(digits.val), part(digits.test), digits.classes)


# --------------------------------------------------------------------------- shapes

SHAPE_CLASSES = ("background", "disc", "square", "triangle", "cross")
_SHAPES_VERSION = 2
CACHE_ENV = "COURSE_DATA_CACHE"


def default_cache_dir() -> Path | None:
    """``$COURSE_DATA_CACHE`` if set, else ``data/cache`` in the course checkout (or None)."""
    env = os.environ.get(CACHE_ENV, "").strip()
    if env:
        return Path(env)
    data_dir = Path(__file__).resolve().parent.parent / "data"
    return data_dir / "cache" if data_dir.is_dir() else None


def _shape_masks(
    kind: int, u: np.ndarray, v: np.ndarray, r: np.ndarray
) -> np.ndarray:  # all (m, S, S)
    """Inside test for one shape class in object-centred, rotated coordinates."""
    if kind == 1:  # disc
        return u * u + v * v <= r * r
    if kind == 2:  # square, half side 0.8 r
        return np.maximum(np.abs(u), np.abs(v)) <= 0.8 * r
    if kind == 3:  # equilateral triangle with circumradius 1.1 r
        inside = np.ones(u.shape, dtype=bool)
        for a in (np.pi / 2, np.pi / 2 + 2 * np.pi / 3, np.pi / 2 + 4 * np.pi / 3):
            inside &= u * np.cos(a) + v * np.sin(a) <= 0.55 * r
        return inside
    arm = 0.32 * r  # cross: two bars of length 2.1 r and width 0.64 r
    au, av = np.abs(u), np.abs(v)
    return ((au <= 1.05 * r) & (av <= arm)) | ((av <= 1.05 * r) & (au <= arm))


# Lesson 12's class colours (``class_colours=True``): disc red, square green, triangle
# blue, cross yellow, each jittered per object; the background is then kept greyish.
CLASS_PALETTE = np.array(
    [[0.5, 0.5, 0.5], [0.85, 0.2, 0.2], [0.2, 0.75, 0.25], [0.2, 0.35, 0.9], [0.9, 0.8, 0.15]],
    dtype=np.float32,
)


def _generate_shapes(
    n: int, size: int, seed: int, *, texture: float = 1.0, class_colours: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """The scenes of :func:`make_shapes_segmentation`; the options change values, never
    which random numbers are drawn, so the defaults reproduce the original scenes."""
    rng = np.random.default_rng(seed)
    s = size
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32) + 0.5  # pixel centres, (S, S)

    # Background: two colours mixed by an oriented grating plus a second finer one.
    c0 = rng.uniform(0, 1, (n, 3, 1, 1)).astype(np.float32)
    c1 = np.clip(c0 + rng.uniform(-0.35, 0.35, (n, 3, 1, 1)), 0, 1).astype(np.float32)
    bg_mean = (c0 + c1)[:, None, :, 0, 0] / 2  # (n, 1, 3)
    images = np.empty((n, 3, s, s), np.float32)
    grating = np.zeros((n, s, s), np.float32)
    for _ in range(2):
        freq = rng.uniform(0.03, 0.25, (n, 1, 1)).astype(np.float32)  # cycles per pixel
        phi = rng.uniform(0, np.pi, (n, 1, 1)).astype(np.float32)
        phase = rng.uniform(0, 2 * np.pi, (n, 1, 1)).astype(np.float32)
        proj = xx * np.cos(phi) + yy * np.sin(phi)  # (n, S, S)
        grating += 0.25 + 0.25 * np.sin(2 * np.pi * freq * proj + phase)
    if class_colours:  # a greyish background, so no object colour can match it
        grey = c0.mean(1, keepdims=True)  # (n, 1, 1, 1)
        c0 = (0.35 + 0.3 * grey + 0.15 * (c0 - grey)).astype(np.float32)
        c1 = (0.35 + 0.3 * c1.mean(1, keepdims=True) + 0.15 * (c1 - grey)).astype(np.float32)
    if texture != 1.0:  # 0: flat; 1 (the default) leaves the gratings as drawn
        grating = 0.5 + texture * (grating - 0.5)
    images[:] = c0 + (c1 - c0) * grating[:, None]  # (n, 3, S, S)
    masks = np.zeros((n, s, s), np.int64)

    # Objects: 2 to 6 per scene, drawn in order, later ones occlude earlier ones.
    max_objects = 6
    count = rng.integers(2, max_objects + 1, n)
    kinds = rng.integers(1, len(SHAPE_CLASSES), (n, max_objects))
    radius = np.exp(rng.uniform(np.log(0.05 * s), np.log(0.25 * s), (n, max_objects)))
    cx = rng.uniform(0, s, (n, max_objects))
    cy = rng.uniform(0, s, (n, max_objects))
    theta = rng.uniform(0, 2 * np.pi, (n, max_objects))
    # every channel of an object differs from the background's mean colour by 0.3-0.6
    # (circularly), so objects are visible but their colour says nothing of their class
    offset = rng.uniform(0.3, 0.6, (n, max_objects, 3)) * rng.choice([-1, 1], (n, max_objects, 3))
    colour = np.mod(bg_mean + offset, 1.0).astype(np.float32)
    if class_colours:  # the class's palette colour, jittered by the same draws
        colour = np.clip(CLASS_PALETTE[kinds] + 0.15 * offset, 0, 1).astype(np.float32)
    shade = rng.uniform(-0.4, 0.4, (n, max_objects, 2)).astype(np.float32)  # linear shading
    for j in range(max_objects):
        for kind in range(1, len(SHAPE_CLASSES)):
            idx = np.nonzero((count > j) & (kinds[:, j] == kind))[0]
            if idx.size == 0:
                continue
            dx = xx - cx[idx, j, None, None]  # (m, S, S)
            dy = yy - cy[idx, j, None, None]
            ct = np.cos(theta[idx, j])[:, None, None]
            st = np.sin(theta[idx, j])[:, None, None]
            r = radius[idx, j, None, None]
            u, v = dx * ct + dy * st, -dx * st + dy * ct
            inside = _shape_masks(kind, u, v, r)  # (m, S, S)
            light = 1 + (shade[idx, j, 0, None, None] * u + shade[idx, j, 1, None, None] * v) / (
                2 * r
            )
            fill = colour[idx, j, :, None, None] * light[:, None].astype(np.float32)
            sub = images[idx]
            sub[:] = np.where(inside[:, None], fill, sub)  # (m, 3, S, S)
            images[idx] = sub
            masks[idx] = np.where(inside, kind, masks[idx])
    images += rng.normal(0, 0.06, images.shape).astype(np.float32)  # sensor noise
    np.clip(images, 0.0, 1.0, out=images)
    return images, masks


def make_shapes_segmentation(
    n: int,
    size: int = 64,
    seed: int = 0,
    *,
    cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
    texture: float = 1.0,
    class_colours: bool = False,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Synthetic scenes for semantic segmentation: images (n, 3, size, size) float32 in
    [0, 1] and masks (n, size, size) int64 with labels indexing ``SHAPE_CLASSES``.

    Each scene has a two-colour background textured by two oriented gratings, then 2-6
    objects (disc, square, triangle, cross) of random colour (at least 0.3 away from the
    background's mean in every channel), shading, rotation and
    scale (radius 5-25% of the side, log-uniform), drawn in order so that later ones
    occlude earlier ones, then Gaussian noise. The class is carried by the outline,
    not the colour, and small objects are a few pixels across, so boundary detail
    matters. Deterministic in (n, size, seed); use different seeds for train and test.

    ``texture`` in [0, 1] scales the background gratings (0: a flat two-colour blend).
    ``class_colours=True`` (lesson 12) paints each class in its own colour family
    (:data:`CLASS_PALETTE`, jittered per object) on a greyish background, so telling the
    classes apart is easy and what remains hard is where their boundaries run. Both
    options change the values drawn, never the positions, kinds or sizes of objects.

    The arrays are cached in ``cache_dir`` (default :func:`default_cache_dir`,
    ``data/cache/``) as ``.npz`` files keyed by the arguments.
    """
    n = check_int("n", n, minimum=1, what="a positive int (number of scenes)")
    size = check_int("size", size, minimum=16, what="an int >= 16 (pixels per side)")
    seed = check_int("seed", seed, minimum=0, what="a non-negative int")
    cache = check_bool("cache", cache)
    cache_dir = check_path("cache_dir", cache_dir, allow_none=True)
    texture = check_number("texture", texture, minimum=0.0, maximum=1.0)
    class_colours = check_bool("class_colours", class_colours)
    device = resolve_device(device)
    folder = cache_dir if cache_dir is not None else default_cache_dir()
    path = None
    if cache and folder is not None:
        options = "" if texture == 1.0 else f"_texture{texture:.6g}"
        options += "_colours" if class_colours else ""
        path = folder / f"shapes_v{_SHAPES_VERSION}_n{n}_size{size}_seed{seed}{options}.npz"
    images = masks = None
    if path is not None and path.exists():
        try:
            with np.load(path, allow_pickle=False) as stored:
                images, masks = stored["images"], stored["masks"]
        except (OSError, ValueError, KeyError):
            images = masks = None  # a damaged cache file is regenerated
    if images is None:
        images, masks = _generate_shapes(
            n, size, seed, texture=texture, class_colours=class_colours
        )
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp")
                with open(tmp, "wb") as fh:
                    np.savez(fh, images=images, masks=masks)
                os.replace(tmp, path)  # atomic: parallel workers never see half a file
            except OSError:
                pass  # a read-only checkout still works, just without the cache
    return torch.from_numpy(images).to(device), torch.from_numpy(masks).to(device)


# --------------------------------------------------------------------------- IDX / MNIST

_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def load_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (the MNIST / Fashion-MNIST format), optionally gzipped.

    Layout: two zero bytes, a type code (0x08 uint8 ... 0x0E float64), the number of
    dimensions d, then d big-endian uint32 sizes, then the data in C order.
    Returns an array of that shape in native byte order.
    """
    path = check_path("path", path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        raw = fh.read()
    where = f"path={str(path)!r}"
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{where} is not an IDX file (the first two bytes must be zero)")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"{where}: unknown IDX type code 0x{code:02X}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{where}: truncated IDX header ({ndim} dimensions announced)")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = _IDX_DTYPES[code]
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{where}: IDX header announces shape {shape} ({expected} bytes of data), "
            f"but the file holds {len(raw) - header}"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
MNIST_URLS = {
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "fashion": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
}
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip


def download_mnist(root: str | os.PathLike, *, kind: str = "mnist") -> Path:
    """Opt-in: fetch the four IDX files of MNIST or Fashion-MNIST into ``root``.

    The course never calls this (it runs offline); a learner with internet can, then
    pass ``root`` to :func:`load_mnist`. Files already present are not fetched again.
    """
    kind = check_choice("kind", kind, tuple(MNIST_URLS))
    root = check_path("root", root)
    root.mkdir(parents=True, exist_ok=True)
    for name in MNIST_FILES.values():
        target = root / name
        if not target.exists():
            urllib.request.urlretrieve(MNIST_URLS[kind] + name, target)  # noqa: S310
    return root


def load_mnist(
    root: str | os.PathLike,
    *,
    kind: str = "mnist",
    size: int = 32,
    val_fraction: float = 0.1,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> DataSplits:
    """MNIST or Fashion-MNIST from IDX files in ``root`` (gzipped or not), shaped like
    :func:`load_digits`: (N, 1, size, size) in [0, 1]; 28x28 images are zero-padded
    to 32 (LeNet-5's input) or resized to other sizes. The official test set is the
    test split; ``val_fraction`` of the training set, stratified by ``seed``, is held out.
    """
    root = check_path("root", root)
    kind = check_choice("kind", kind, tuple(MNIST_URLS))
    size = check_int("size", size, minimum=1, what="a positive int (pixels per side)")
    val_fraction = _fraction("val_fraction", val_fraction)
    seed = check_seed("seed", seed)
    device = resolve_device(device)

    def read(key: str) -> np.ndarray:
        name = MNIST_FILES[key]
        for candidate in (root / name, root / name.removesuffix(".gz")):
            if candidate.exists():
                return load_idx(candidate)
        raise FileNotFoundError(f"{root / name} (or its unzipped form) not found")

    def images(a: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(a.astype(np.float32) / 255.0)[:, None]  # (N, 1, 28, 28)
        if x.shape[-1] == size:
            return x
        if size == 32 and x.shape[-1] == 28:
            return F.pad(x, (2, 2, 2, 2))  # (N, 1, 32, 32)
        return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)

    x_train, y_train = images(read("train_images")), read("train_labels").astype(np.int64)
    x_test, y_test = images(read("test_images")), read("test_labels").astype(np.int64)
    idx = np.arange(len(y_train))
    train, val = _stratified(idx, y_train, val_fraction, seed, "val_fraction", val_fraction)
    train, val = torch.from_numpy(np.sort(train)), torch.from_numpy(np.sort(val))
    yt = torch.from_numpy(y_train)
    classes = FASHION_CLASSES if kind == "fashion" else tuple(str(i) for i in range(10))
    return DataSplits(
        TensorDataset(x_train[train].to(device), yt[train].to(device)),
        TensorDataset(x_train[val].to(device), yt[val].to(device)),
        TensorDataset(x_test.to(device), torch.from_numpy(y_test).to(device)),
        classes,
    )


# --------------------------------------------------------------------------- augmentation
# Each takes a batch x of shape (N, C, H, W) and returns a new batch of the same shape;
# x itself is never modified. The randomness comes from ``generator``: None (torch's
# global CPU generator), an int seed, a torch.Generator on any device or a
# numpy.random.Generator (see validate.check_generator). Numbers are drawn on the
# generator's device and moved to x's, so set_seed's CPU generator serves a CUDA batch.


def _check_batch(x: torch.Tensor, *, floating: bool = False) -> None:
    if not isinstance(x, torch.Tensor):
        hint = " (convert it with torch.from_numpy(x))" if isinstance(x, np.ndarray) else ""
        raise TypeError(
            f"x must be a torch tensor holding a batch of images (N, C, H, W), not "
            f"{type(x).__name__}{hint}"
        )
    check_array("x", x, ndim=4, layout="a batch of images of shape (N, C, H, W)")
    if floating and not x.is_floating_point():
        raise TypeError(
            f"x has dtype {x.dtype}; expected floating images in [0, 1] (convert with "
            "x.float() / 255 for uint8 pixels)"
        )


def _rand(n: int, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Uniform [0, 1) draws of shape (n,), made on the generator's device, moved to x's."""
    dev = generator.device if generator is not None else torch.device("cpu")
    return torch.rand(n, generator=generator, device=dev).to(x.device)


def random_flip(x: torch.Tensor, *, p: float = 0.5, generator=None) -> torch.Tensor:
    """Mirror each image left-right with probability ``p``."""
    _check_batch(x)
    p = check_probability("p", p)
    generator = check_generator("generator", generator)
    flip = (_rand(x.shape[0], x, generator) < p)[:, None, None, None]  # (N, 1, 1, 1)
    return torch.where(flip, x.flip(-1), x)


def random_crop(x: torch.Tensor, *, padding: int = 4, generator=None) -> torch.Tensor:
    """Zero-pad by ``padding`` on every side, then cut a random H x W window per image."""
    _check_batch(x)
    padding = check_int("padding", padding, minimum=0, what="a non-negative int (pixels)")
    generator = check_generator("generator", generator)
    if padding == 0:
        return x.clone()
    n, c, h, w = x.shape
    padded = F.pad(x, (padding,) * 4)  # (N, C, H + 2p, W + 2p)
    oy = (_rand(n, x, generator) * (2 * padding + 1)).long()  # (N,)
    ox = (_rand(n, x, generator) * (2 * padding + 1)).long()
    rows = oy[:, None] + torch.arange(h, device=x.device)  # (N, H)
    cols = ox[:, None] + torch.arange(w, device=x.device)  # (N, W)
    batch = torch.arange(n, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]  # (N, H, W, C)
    return out.permute(0, 3, 1, 2).contiguous()


def colour_cast(x: torch.Tensor, *, strength: float = 0.1, generator=None) -> torch.Tensor:
    """Add a random offset in [-strength, strength] per channel and image; clip to [0, 1]."""
    _check_batch(x, floating=True)
    strength = check_number("strength", strength, minimum=0.0)
    generator = check_generator("generator", generator)
    n, c = x.shape[:2]
    offset = (_rand(n * c, x, generator).reshape(n, c, 1, 1) * 2 - 1) * strength  # (N, C, 1, 1)
    return (x + offset.to(x.dtype)).clamp(0.0, 1.0)


def random_affine(
    x: torch.Tensor, *, degrees: float = 10.0, shift: float = 0.1, generator=None
) -> torch.Tensor:
    """Rotate by up to +-``degrees`` and translate by up to +-``shift`` of the image size.

    Bilinear resampling; pixels brought in from outside the image are zero. ``degrees``
    >= 0; ``shift`` in [0, 1).
    """
    _check_batch(x, floating=True)
    degrees = check_number("degrees", degrees, minimum=0.0)
    shift = check_number(
        "shift", shift, minimum=0.0, below=1.0, what="a fraction of the image size in [0, 1)"
    )
    generator = check_generator("generator", generator)
    if x.numel() == 0:  # an empty batch or image: nothing to move (affine_grid refuses it)
        return x.clone()
    n = x.shape[0]
    angle = (_rand(n, x, generator) * 2 - 1) * np.deg2rad(degrees)  # (N,)
    tx = (_rand(n, x, generator) * 2 - 1) * shift * 2  # grid coordinates span 2
    ty = (_rand(n, x, generator) * 2 - 1) * shift * 2
    cos, sin = torch.cos(angle), torch.sin(angle)
    # grid coordinates run from -1 to 1 along both sides, so a rotation by the same angle
    # in pixels mixes them in the ratio of the sides (else a wide image is sheared)
    h, w = x.shape[-2:]
    theta = torch.stack(
        [torch.stack([cos, -sin * (h / w), tx], 1), torch.stack([sin * (w / h), cos, ty], 1)], 1
    ).to(x.dtype)  # (N, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)  # (N, H, W, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def random_rotation(x: torch.Tensor, *, degrees: float = 10.0, generator=None) -> torch.Tensor:
    """Rotate each image by a random angle in [-degrees, degrees]."""
    return random_affine(x, degrees=degrees, shift=0.0, generator=generator)


def random_translation(x: torch.Tensor, *, shift: float = 0.1, generator=None) -> torch.Tensor:
    """Shift each image by up to +-shift of its size in x and y."""
    return random_affine(x, degrees=0.0, shift=shift, generator=generator)


def to_grey(x: torch.Tensor) -> torch.Tensor:
    """RGB batch (N, 3, H, W) to grey, kept as three equal channels (ITU-R 601 luma)."""
    _check_batch(x, floating=True)
    if x.shape[1] != 3:
        raise ValueError(
            f"x has {x.shape[1]} channel(s) (shape {tuple(x.shape)}); to_grey expects RGB "
            "images (N, 3, H, W)"
        )
    w = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype, device=x.device)
    luma = (x * w[None, :, None, None]).sum(1, keepdim=True)  # (N, 1, H, W)
    return luma.expand_as(x).contiguous()


@dataclass(frozen=True)
class Augment:
    """A picklable augmentation pipeline for ``fit(..., transform=Augment(...))``.

    Applied in order: flip (probability), crop (padding), affine (degrees, shift),
    colour cast (strength). Zero turns a step off; with every step off the batch is
    returned as it is. Settings are checked when the pipeline is made.
    """

    flip: float = 0.0
    crop: int = 0
    degrees: float = 0.0
    shift: float = 0.0
    colour: float = 0.0

    def __post_init__(self) -> None:
        # stored as Python numbers (numpy or 0-d torch settings give an equal pipeline)
        checked = {
            "flip": check_probability("flip", self.flip),
            "crop": check_int("crop", self.crop, minimum=0, what="a non-negative int (pixels)"),
            "degrees": check_number("degrees", self.degrees, minimum=0.0),
            "shift": check_number(
                "shift", self.shift, minimum=0.0, below=1.0, what="a fraction in [0, 1)"
            ),
            "colour": check_number("colour", self.colour, minimum=0.0),
        }
        for field, value in checked.items():
            object.__setattr__(self, field, value)  # the dataclass is frozen

    def __call__(self, x: torch.Tensor, generator=None) -> torch.Tensor:
        """``x`` (N, C, H, W) through the steps; ``generator`` as for each augmentation."""
        _check_batch(x)
        generator = check_generator("generator", generator)  # one stream for every step
        if self.flip > 0:
            x = random_flip(x, p=self.flip, generator=generator)
        if self.crop > 0:
            x = random_crop(x, padding=self.crop, generator=generator)
        if self.degrees > 0 or self.shift > 0:
            x = random_affine(x, degrees=self.degrees, shift=self.shift, generator=generator)
        if self.colour > 0:
            x = colour_cast(x, strength=self.colour, generator=generator)
        return x


# --- lesson 12: segmentation data (its additions go below this line) ---

# --- lesson 14: detection scenes (its additions go below this line) ---
# Lesson 14's detection data: a few digits at known places on a blank canvas.

SCENE_SPLITS = ("train", "test")


@dataclass(frozen=True)
class DigitScenes:
    """Scenes of digits with their boxes, for detection (lesson 14).

    ``images`` (N, 1, canvas, canvas) float32 in [0, 1]; ``boxes[i]`` (K_i, 4) float32
    rows ``(x1, y1, x2, y2)`` in pixels, the square each digit was pasted into (corners,
    so a digit of side s at column c spans x1 = c, x2 = c + s); ``labels[i]`` (K_i,)
    int64 digit classes; ``classes`` names them.
    """

    images: torch.Tensor
    boxes: tuple[torch.Tensor, ...]
    labels: tuple[torch.Tensor, ...]
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.boxes)

    def __repr__(self) -> str:
        n_objects = sum(len(b) for b in self.boxes)
        side = self.images.shape[-1]
        return f"DigitScenes({len(self)} scenes of {side}x{side}, {n_objects} digits)"


def make_digit_scenes(
    n_scenes: int = 100,
    *,
    split: str = "train",
    canvas: int = 48,
    sizes: tuple[int, int] = (12, 20),
    max_objects: int = 3,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> DigitScenes:
    """``n_scenes`` canvases with 1 to ``max_objects`` digits each, at known boxes.

    Each digit is one of the course digits (:func:`load_digits`, its ``split`` part by
    ``seed``, so train and test scenes never share a digit), resized bilinearly to a
    side drawn from ``sizes`` = (smallest, largest) and pasted where it overlaps no
    other digit of the scene. Positions, sides and digits come from a generator seeded
    with ``seed``: the same call gives the same scenes.
    """
    n_scenes = check_int("n_scenes", n_scenes, minimum=1)
    split = check_choice("split", split, SCENE_SPLITS)
    canvas = check_int("canvas", canvas, minimum=8)
    if not isinstance(sizes, tuple | list) or len(sizes) != 2:
        raise TypeError(f"sizes={sizes!r} must be a pair (smallest, largest) of ints")
    what = f"an int side in [8, canvas={canvas}]"
    lo, hi = (check_int("sizes", s, minimum=8, maximum=canvas, what=what) for s in sizes)
    if lo > hi:
        raise ValueError(f"sizes=({lo}, {hi}) must be (smallest, largest) with smallest <= largest")
    max_objects = check_int("max_objects", max_objects, minimum=1, maximum=16)
    seed = check_seed("seed", seed)
    device = resolve_device(device)
    digits = load_digits(size=8, seed=seed, device="cpu")
    x, y = getattr(digits, split).tensors  # (M, 1, 8, 8), (M,)
    rng = np.random.default_rng(seed)
    images = torch.zeros(n_scenes, 1, canvas, canvas)
    all_boxes, all_labels = [], []
    for i in range(n_scenes):
        boxes, labels = [], []
        for _ in range(int(rng.integers(1, max_objects + 1))):
            side = int(rng.integers(lo, hi + 1))
            for _attempt in range(50):  # rejection sampling: no two digits overlap
                col, row = (int(v) for v in rng.integers(0, canvas - side + 1, size=2))
                box = (col, row, col + side, row + side)
                if all(box[2] <= b[0] or b[2] <= box[0] or box[3] <= b[1] or b[3] <= box[1]
                       for b in boxes):
                    break
            else:
                continue  # the canvas is too full for this side: one digit fewer
            k = int(rng.integers(0, len(y)))
            digit = F.interpolate(x[k : k + 1], size=(side, side), mode="bilinear",
                                  align_corners=False).clamp_(0.0, 1.0)  # (1, 1, side, side)
            images[i, :, row : row + side, col : col + side] = digit[0]
            boxes.append(box)
            labels.append(int(y[k]))
        all_boxes.append(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4).to(device))
        all_labels.append(torch.tensor(labels, dtype=torch.int64).to(device))
    return DigitScenes(images.to(device), tuple(all_boxes), tuple(all_labels), digits.classes)
