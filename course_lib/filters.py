"""Hand-made 3x3 filters and filtering a grey image with them (lesson 01).

A filter (kernel) is a small matrix K of shape (KH, KW). Sliding it over a grey image
X of shape (H, W) and summing the element-wise products at every position gives the
filtered image

    Z[i, j] = sum_{u, v} X[i + u, j + v] * K[u, v]          (cross-correlation)

of shape (H - KH + 1, W - KW + 1) in "valid" mode. This is what deep-learning
libraries call convolution. The convolution of a mathematics textbook flips the
kernel first (rotates it by 180 degrees): :func:`flip_kernel`.

The computation itself is :func:`course_lib.ops.conv2d`; this module only names
kernels, checks input and reshapes a 2-D image to the (N, C, H, W) layout.

Source: lesson 01 (vertical and horizontal edge filters, Sobel and Scharr); Sobel and
Feldman (1968), Scharr (2000).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from course_lib.ops import conv2d
from course_lib.validate import check_bool, check_choice, check_number

__all__ = [
    "KERNEL_NAMES",
    "MODES",
    "filter_image",
    "flip_kernel",
    "gradient_magnitude",
    "kernel",
    "kernel_name_of",
]

_KERNELS: dict[str, tuple[tuple[float, ...], ...]] = {
    # Positive where the left is brighter than the right (bright-to-dark, left to right).
    "vertical_edge": ((1, 0, -1), (1, 0, -1), (1, 0, -1)),
    # Positive where the top is brighter than the bottom.
    "horizontal_edge": ((1, 1, 1), (0, 0, 0), (-1, -1, -1)),
    # Sobel: more weight on the middle row (column) than the plain edge filter.
    "sobel_vertical": ((1, 0, -1), (2, 0, -2), (1, 0, -1)),
    "sobel_horizontal": ((1, 2, 1), (0, 0, 0), (-1, -2, -1)),
    # Scharr: even more weight on the middle row (column).
    "scharr_vertical": ((3, 0, -3), (10, 0, -10), (3, 0, -3)),
    "scharr_horizontal": ((3, 10, 3), (0, 0, 0), (-3, -10, -3)),
    "identity": ((0, 0, 0), (0, 1, 0), (0, 0, 0)),
    "box_blur": ((1 / 9,) * 3,) * 3,
    "gaussian_blur": ((1 / 16, 2 / 16, 1 / 16), (2 / 16, 4 / 16, 2 / 16), (1 / 16, 2 / 16, 1 / 16)),
    "sharpen": ((0, -1, 0), (-1, 5, -1), (0, -1, 0)),
    "laplacian": ((0, 1, 0), (1, -4, 1), (0, 1, 0)),
    "emboss": ((-2, -1, 0), (-1, 1, 1), (0, 1, 2)),
}
# Prewitt's operators are exactly the plain edge filters above.
_KERNELS["prewitt_vertical"] = _KERNELS["vertical_edge"]
_KERNELS["prewitt_horizontal"] = _KERNELS["horizontal_edge"]

KERNEL_NAMES: tuple[str, ...] = tuple(_KERNELS)
MODES = ("valid", "same", "full")


def kernel(name: str) -> np.ndarray:
    """The named 3x3 kernel as a new float64 array of shape (3, 3).

    Names: ``KERNEL_NAMES`` (``"vertical_edge"``, ``"sobel_horizontal"``, ...). The
    ``*_vertical`` kernels respond to vertical edges (brightness changing from left to
    right), positively where the left side is brighter; the ``*_horizontal`` kernels
    are their transposes and respond positively where the top is brighter.
    """
    name = check_choice("name", name, KERNEL_NAMES)
    return np.array(_KERNELS[name], dtype=np.float64)


def kernel_name_of(weights: Any, *, atol: float = 1e-9) -> str | None:
    """The name of a kernel equal to ``weights`` (within ``atol``), or ``None``.

    Where two names hold the same numbers (``vertical_edge`` and ``prewitt_vertical``)
    the first in ``KERNEL_NAMES`` is returned.
    """
    atol = check_number("atol", atol, minimum=0.0)
    arr = _as_float64_tensor(weights, "weights").cpu().numpy()
    for name in KERNEL_NAMES:
        ref = kernel(name)
        if arr.shape == ref.shape and np.allclose(arr, ref, rtol=0.0, atol=atol):
            return name
    return None


def flip_kernel(weights: Any) -> Any:
    """The kernel rotated by 180 degrees: flipped upside down and left to right.

    Works on the last two axes of a numpy array or torch tensor of shape (..., KH, KW)
    and returns a new object of the same kind. Cross-correlating with
    ``flip_kernel(K)`` is the true (mathematical) convolution with ``K``.
    """
    if isinstance(weights, torch.Tensor):
        if weights.ndim < 2:
            raise ValueError(
                f"weights has shape {tuple(weights.shape)}; expected at least 2 axes (KH, KW)"
            )
        return torch.flip(weights, dims=(-2, -1))
    if not isinstance(weights, np.ndarray | list | tuple):
        raise TypeError(
            f"weights must be a numpy array or a torch tensor (KH, KW), "
            f"not {type(weights).__name__}"
        )
    arr = np.asarray(weights)
    if arr.ndim < 2:
        raise ValueError(f"weights has shape {arr.shape}; expected at least 2 axes (KH, KW)")
    return arr[..., ::-1, ::-1].copy()


def filter_image(
    image: Any,
    weights: Any,
    *,
    mode: str = "valid",
    flip: bool = False,
) -> Any:
    """Filter a grey image with one kernel, via :func:`course_lib.ops.conv2d`.

    image:   (H, W) numpy array or torch tensor (a grey photo: ``load_photo(grey=True)``).
    weights: (KH, KW) kernel, e.g. ``kernel("sobel_vertical")``.
    mode:    ``"valid"`` (no padding, output (H-KH+1, W-KW+1)), ``"same"`` (zero padding
             (KH-1)/2, output (H, W); needs an odd, square kernel) or ``"full"``
             (zero padding KH-1, output (H+KH-1, W+KW-1); needs a square kernel).
    flip:    ``False`` computes cross-correlation (deep learning's "convolution");
             ``True`` flips the kernel first: the true convolution of mathematics.

    Returns the filtered image as a float64 numpy array for numpy input, and as a
    tensor on the image's device for tensor input (float64; float32 on Apple MPS).
    """
    flip = check_bool("flip", flip)
    mode = check_choice("mode", mode, MODES)
    as_torch = isinstance(image, torch.Tensor)
    x = _as_float64_tensor(image, "image")
    w = _as_float64_tensor(weights, "weights").to(x.device)
    if x.ndim != 2:
        hint = " (a colour photo? use load_photo(..., grey=True))" if x.ndim == 3 else ""
        raise ValueError(
            f"image has shape {tuple(x.shape)}; expected a 2-D grey image (H, W){hint}"
        )
    if w.ndim != 2:
        raise ValueError(f"weights has shape {tuple(w.shape)}; expected a 2-D kernel (KH, KW)")
    if 0 in w.shape:
        raise ValueError(f"weights has shape {tuple(w.shape)}; expected a non-empty kernel")
    if not torch.isfinite(w).all():
        raise ValueError("weights holds nan or inf; every entry must be a finite number")
    if not torch.isfinite(x).all():
        raise ValueError("image holds nan or inf; every pixel must be a finite number")
    kh, kw = w.shape
    if mode == "valid":
        padding = 0
    else:
        if kh != kw:
            raise ValueError(f"mode={mode!r} needs square weights; got {kh}x{kw}")
        if mode == "same" and kh % 2 == 0:
            raise ValueError(
                f"mode='same' needs weights of odd size so the padding (f-1)/2 is whole; "
                f"got {kh}x{kw}"
            )
        padding = (kh - 1) // 2 if mode == "same" else kh - 1
    h, wd = x.shape
    if kh > h + 2 * padding or kw > wd + 2 * padding:
        raise ValueError(
            f"weights {kh}x{kw} are larger than the padded image "
            f"{h + 2 * padding}x{wd + 2 * padding} (mode={mode!r}, padding={padding})"
        )
    if flip:
        w = flip_kernel(w)
    out = conv2d(x[None, None], w[None, None], padding=padding)  # (1, 1, H', W')
    out = torch.as_tensor(out)[0, 0]  # (H', W')
    return out if as_torch else out.cpu().numpy()


def gradient_magnitude(image: Any, *, family: str = "sobel", mode: str = "valid") -> Any:
    """Edge strength in every direction: sqrt(Gx^2 + Gy^2).

    Gx and Gy are the image filtered with the ``<family>_vertical`` and
    ``<family>_horizontal`` kernels (family: ``"sobel"``, ``"scharr"``, ``"prewitt"``).
    Shape and type as :func:`filter_image`.
    """
    family = check_choice("family", family, ("sobel", "scharr", "prewitt"))
    gx = filter_image(image, kernel(f"{family}_vertical"), mode=mode)
    gy = filter_image(image, kernel(f"{family}_horizontal"), mode=mode)
    if isinstance(gx, torch.Tensor):
        return torch.sqrt(gx**2 + gy**2)
    return np.sqrt(gx**2 + gy**2)


def _as_float64_tensor(value: Any, name: str) -> torch.Tensor:
    """A numpy array, torch tensor or nested list of real numbers as a float64 tensor."""
    if isinstance(value, torch.Tensor):
        if value.is_complex() or value.dtype == torch.bool:
            raise TypeError(f"{name} has dtype {value.dtype}; expected real numbers")
        # Apple's MPS has no float64: stay in float32 there.
        dtype = torch.float32 if value.device.type == "mps" else torch.float64
        return value.detach().to(dtype)
    if not isinstance(value, np.ndarray | list | tuple):
        raise TypeError(
            f"{name} must be a numpy array or a torch tensor, not {type(value).__name__}"
        )
    if isinstance(value, np.ndarray) and not (
        np.issubdtype(value.dtype, np.integer) or np.issubdtype(value.dtype, np.floating)
    ):
        raise TypeError(f"{name} has dtype {value.dtype}; expected real numbers")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{name} of type {type(value).__name__} is not an array of numbers: {exc}"
        ) from None
    return torch.from_numpy(np.ascontiguousarray(arr))
