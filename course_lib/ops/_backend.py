"""Plumbing shared by the ops: one code path for numpy arrays and torch tensors.

The ops are written against the array API standard through ``array_api_compat``
(the layer scikit-learn and SciPy use): ``xp = namespace(x, w)`` gives numpy's or
torch's functions under the same names, and the result keeps the input's kind,
dtype and device. Two things the standard lacks get a tiny backend-specific
primitive here: a strided sliding-window *view* (numpy ``sliding_window_view``,
torch ``Tensor.unfold``) and drawing uniform random numbers from a generator.
"""

from __future__ import annotations

import numpy as np
import torch
from array_api_compat import array_namespace, device, is_numpy_array, is_torch_array

from course_lib.validate import check_array, check_pair

__all__ = [
    "array_arg",
    "as_pair",
    "check_ndim",
    "col2im",
    "device",
    "is_numpy_array",
    "is_torch_array",
    "namespace",
    "pad2d",
    "windows",
]


def namespace(*arrays, names: tuple[str, ...] | None = None):
    """The array namespace shared by ``arrays`` (``None`` entries are skipped).

    Raises ``TypeError`` for anything that is neither a numpy array nor a torch
    tensor, and for a mix of the two (say which argument is which).
    """
    names = names or tuple(f"argument {i}" for i in range(len(arrays)))
    kinds = {}
    for name, a in zip(names, arrays, strict=True):
        if a is None:
            continue
        if is_numpy_array(a):
            kinds[name] = "numpy array"
        elif is_torch_array(a):
            kinds[name] = "torch tensor"
        else:
            raise TypeError(
                f"{name} must be a numpy array or a torch tensor, not {type(a).__name__}"
            )
    if len(set(kinds.values())) > 1:
        described = ", ".join(f"{n} is a {k}" for n, k in kinds.items())
        raise TypeError(
            f"mixed numpy and torch arguments ({described}); convert them to one kind, "
            "e.g. torch.from_numpy(a) or t.cpu().numpy()"
        )
    present = [a for a in arrays if a is not None]
    xp = array_namespace(*present)
    if len(present) > 1:
        devices = {str(device(a)) for a in present}
        if len(devices) > 1:
            raise ValueError(
                f"arguments live on different devices ({', '.join(sorted(devices))}); "
                "move them to one device with .to(device)"
            )
    return xp


def as_pair(name: str, value, *, minimum: int = 0, what: str = "") -> tuple[int, int]:
    """An int or an (h, w) pair as a validated pair of ints (``validate.check_pair``)."""
    return check_pair(name, value, minimum=minimum, what=what or None)


def check_ndim(name: str, x, ndims: tuple[int, ...], layout: str) -> None:
    """``validate.check_array`` with the allowed numbers of dimensions and their layout."""
    check_array(name, x, ndim=ndims, layout=layout)


def array_arg(name: str, x, *, ndim=None, layout: str = "", floating: bool = False):
    """A required array argument: checked by ``validate.check_array``, ready for the ops.

    ``None``, lists and other objects raise ``TypeError`` naming ``name``. A numpy array
    in big-endian (non-native) byte order comes back as a native copy, so that it mixes
    with native arrays and converts to torch; any other array comes back as it is
    (read-only, Fortran-ordered and negative-stride numpy arrays work unchanged).
    """
    check_array(name, x, ndim=ndim, layout=layout, floating=floating)
    if is_numpy_array(x) and not x.dtype.isnative:
        x = x.astype(x.dtype.newbyteorder("="))
    return x


def check_kernel_size(w) -> None:
    """Refuse an empty kernel (KH or KW of 0), as torch does; w's last two axes are KH, KW."""
    kh, kw = w.shape[-2:]
    if kh < 1 or kw < 1:
        raise ValueError(
            f"w has shape {tuple(w.shape)}, a {kh}x{kw} kernel; expected KH and KW >= 1"
        )


def pad2d(xp, x, ph: int, pw: int, value: float = 0.0):
    """Pad the last two axes of ``x`` by ``ph`` rows and ``pw`` columns on each side."""
    if ph == 0 and pw == 0:
        return x
    *lead, h, w = x.shape
    out = xp.full((*lead, h + 2 * ph, w + 2 * pw), value, dtype=x.dtype, device=device(x))
    out[..., ph : ph + h, pw : pw + w] = x
    return out


def windows(x, kh: int, kw: int, sh: int, sw: int):
    """A strided view of every (kh, kw) window of ``x`` (..., H, W).

    Returns shape (..., OH, OW, kh, kw) without copying: window (i, j) starts at
    row ``i * sh`` and column ``j * sw``.
    """
    if is_torch_array(x):
        return x.unfold(-2, kh, sh).unfold(-2, kw, sw)  # (..., OH, OW, kh, kw)
    view = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(-2, -1))
    return view[..., ::sh, ::sw, :, :]  # (..., OH, OW, kh, kw)


def col2im(xp, cols, out_shape, sh: int, sw: int):
    """Scatter-add window values back onto an image: the adjoint of :func:`windows`.

    cols: (N, C, kh, kw, OH, OW), the value at offset (i, j) inside window (oh, ow);
    out_shape: (N, C, H, W). Overlapping windows add up. One strided slice-add per
    kernel offset (kh * kw of them), each covering the whole batch.
    """
    n, c, kh, kw, oh, ow = cols.shape
    out = xp.zeros(out_shape, dtype=cols.dtype, device=device(cols))
    for i in range(kh):
        for j in range(kw):
            rows = slice(i, i + sh * (oh - 1) + 1, sh)
            columns = slice(j, j + sw * (ow - 1) + 1, sw)
            out[:, :, rows, columns] += cols[:, :, i, j]  # (N, C, OH, OW)
    return out


def contiguous(x):
    """``x`` laid out in C order (a no-op when it already is)."""
    if is_torch_array(x):
        return x.contiguous()
    return np.ascontiguousarray(x)


def is_floating(xp, x) -> bool:
    return xp.isdtype(x.dtype, "real floating")


def is_half(x) -> bool:
    """Whether ``x`` holds float16 or bfloat16 (numpy has only the first)."""
    if is_torch_array(x):
        return x.dtype in (torch.float16, torch.bfloat16)
    return x.dtype == np.float16


def uniform(x, generator):
    """Uniform [0, 1) numbers shaped like ``x``, of its kind, dtype and device.

    generator: ``None`` (global RNG), an int seed, a ``numpy.random.Generator`` (numpy
    inputs) or a ``torch.Generator`` (either kind; for CUDA tensors it must live on
    that device).
    """
    if is_torch_array(x):
        floating = x.dtype.is_floating_point
    else:
        floating = np.issubdtype(x.dtype, np.floating)
    if not floating:
        raise TypeError(f"x has dtype {x.dtype}; expected a floating dtype for uniform numbers")
    if isinstance(generator, bool):
        raise TypeError("generator must be None, an int seed or a Generator, not a bool")
    if is_torch_array(x):
        if isinstance(generator, (int, np.integer)):
            generator = torch.Generator(device=x.device).manual_seed(int(generator))
        elif generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(
                f"generator for a torch tensor must be None, an int seed or a torch.Generator, "
                f"not {type(generator).__name__}"
            )
        return torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    if isinstance(generator, torch.Generator):
        u = torch.rand(x.shape, generator=generator, dtype=torch.float64)
        return u.numpy().astype(x.dtype, copy=False)
    if generator is None or isinstance(generator, (int, np.integer)):
        rng = np.random.default_rng(None if generator is None else int(generator))
    elif isinstance(generator, np.random.Generator):
        rng = generator
    else:
        raise TypeError(
            "generator must be None, an int seed, a numpy.random.Generator or a "
            f"torch.Generator, not {type(generator).__name__}"
        )
    return rng.random(x.shape).astype(x.dtype, copy=False)
