"""Upsampling for dense prediction (lesson 11): from a coarse score map back to pixels.

* :func:`upsample_nearest` copies each value into an s x s block;
* :func:`bed_of_nails` puts each value in the top-left corner of its block, zeros elsewhere;
* :func:`max_unpool2d` puts each value back where max pooling found it (the
  "switches" remembered by ``max_pool2d(..., return_indices=True)``);
* :func:`conv_transpose2d` ("deconvolution") spreads each input value, times a learned
  kernel, over a window of the output; :func:`bilinear_kernel` gives the kernel that
  makes it bilinear interpolation, the initialisation used by FCN (Long et al., 2015).

Layout (N, C, H, W); numpy arrays and torch tensors, output of the same kind, dtype
and device.
"""

from __future__ import annotations

import numpy as np
import torch

from course_lib.shapes import conv_transpose_output_size
from course_lib.validate import check_int, check_shape

from ._backend import (
    array_arg,
    as_pair,
    check_kernel_size,
    col2im,
    contiguous,
    device,
    is_torch_array,
    namespace,
)

__all__ = [
    "bed_of_nails",
    "bilinear_kernel",
    "conv_transpose2d",
    "max_unpool2d",
    "upsample_nearest",
]


def conv_transpose2d(x, w, b=None, *, stride=1, padding=0, output_padding=0):
    """Transposed convolution: the gradient of conv2d with respect to its input, as a layer.

    x: (N, C_in, H, W); w: (C_in, C_out, KH, KW) as in torch; b: (C_out,) or None.
    Each input value x[n, c, i, j] adds ``x * w[c]`` into the output window at row
    ``i * sh``, column ``j * sw``; overlaps add up. Then ``padding`` rows/columns are cut
    from each border. Output (N, C_out, OH, OW) with
    ``OH = (H - 1) * sh - 2 * ph + KH + output_padding``, as ``F.conv_transpose2d``.
    """
    x = array_arg("x", x, ndim=4, layout="(N, C_in, H, W): a batch of feature maps")
    w = array_arg(
        "w", w, ndim=4, layout="(C_in, C_out, KH, KW), torch's layout for transposed convs"
    )
    b = None if b is None else array_arg("b", b)
    xp = namespace(x, w, b, names=("x", "w", "b"))
    sh, sw = as_pair("stride", stride, minimum=1, what="positive (> 0)")
    ph, pw = as_pair("padding", padding, minimum=0, what="non-negative (>= 0)")
    oph, opw = as_pair("output_padding", output_padding, minimum=0, what="non-negative (>= 0)")
    if oph >= sh or opw >= sw:
        raise ValueError(
            f"output_padding={output_padding!r} must be smaller than the stride {stride!r}"
        )
    n, c, h, wd = x.shape
    cw, f, kh, kw = w.shape
    check_kernel_size(w)
    if cw != c:
        raise ValueError(
            f"w has {cw} input channels (w.shape[0], shape {tuple(w.shape)}) but x has {c} "
            f"channels (shape {tuple(x.shape)}); expected w.shape[0] == x.shape[1]"
        )
    if b is not None and (b.ndim != 1 or b.shape[0] != f):
        raise ValueError(
            f"b has shape {tuple(b.shape)}; expected ({f},), one bias per output channel"
        )
    if x.dtype != w.dtype or (b is not None and b.dtype != x.dtype):
        raise TypeError(
            f"x has dtype {x.dtype} but w has {w.dtype}"
            + ("" if b is None else f" and b has {b.dtype}")
            + "; expected one floating dtype for all"
        )
    full_h = (h - 1) * sh + kh + oph
    full_w = (wd - 1) * sw + kw + opw
    try:  # the one place output sizes are computed and refused
        oh = conv_transpose_output_size(h, kh, ph, sh, oph)
        ow = conv_transpose_output_size(wd, kw, pw, sw, opw)
    except ValueError as err:
        if h < 1 or wd < 1:
            raise ValueError(
                f"x has shape {tuple(x.shape)}, an empty {h}x{wd} map; expected H and W >= 1"
            ) from err
        raise ValueError(
            f"padding={padding!r} crops the whole output: {full_h}x{full_w} before cropping; "
            "expected a padding smaller than half of that"
        ) from err
    w_mat = xp.reshape(w, (c, f * kh * kw))  # (C_in, C_out*KH*KW)
    x_mat = xp.reshape(xp.permute_dims(x, (1, 0, 2, 3)), (c, n * h * wd))  # (C_in, N*H*W)
    cols = xp.matmul(xp.permute_dims(w_mat, (1, 0)), x_mat)  # (C_out*KH*KW, N*H*W)
    cols = xp.reshape(cols, (f, kh, kw, n, h, wd))
    cols = xp.permute_dims(cols, (3, 0, 1, 2, 4, 5))  # (N, C_out, KH, KW, H, W), a view
    # the last output_padding rows/columns receive nothing from the scatter: zeros
    full = col2im(xp, cols, (n, f, full_h, full_w), sh, sw)  # (N, C_out, full_h, full_w)
    out = contiguous(full[:, :, ph : ph + oh, pw : pw + ow])  # (N, C_out, OH, OW)
    if b is not None:
        out = out + xp.reshape(b, (1, f, 1, 1))
    return out


def _scale(scale):
    return as_pair("scale", scale, minimum=1, what="a positive int or (h, w) pair")


def upsample_nearest(x, scale):
    """Nearest-neighbour upsampling: every value becomes an sh x sw block of copies.

    x: (N, C, H, W) -> (N, C, H*sh, W*sw); ``F.interpolate(mode="nearest")`` with an
    integer scale factor.
    """
    x = array_arg("x", x, ndim=4, layout="(N, C, H, W)")
    xp = namespace(x, names=("x",))
    sh, sw = _scale(scale)
    n, c, h, w = x.shape
    blocks = xp.broadcast_to(x[:, :, :, None, :, None], (n, c, h, sh, w, sw))  # a view
    out = xp.reshape(blocks, (n, c, h * sh, w * sw))  # (N, C, H*sh, W*sw)
    return xp.asarray(out, copy=True)  # a fresh, writable array even when scale is 1


def bed_of_nails(x, scale):
    """ "Bed of nails" upsampling: each value at the top-left of its sh x sw block, zeros elsewhere.

    x: (N, C, H, W) -> (N, C, H*sh, W*sw).
    """
    x = array_arg("x", x, ndim=4, layout="(N, C, H, W)")
    xp = namespace(x, names=("x",))
    sh, sw = _scale(scale)
    n, c, h, w = x.shape
    out = xp.zeros((n, c, h * sh, w * sw), dtype=x.dtype, device=device(x))
    out[:, :, ::sh, ::sw] = x
    return out


def max_unpool2d(x, indices, kernel_size, *, stride=None, output_size=None):
    """Put each pooled value back at the position its maximum came from; zeros elsewhere.

    x, indices: (N, C, H, W), the values and indices of
    ``max_pool2d(..., return_indices=True)`` (flat positions within each output
    plane). The output is (N, C, OH, OW) with ``OH = (H - 1) * stride + kernel`` unless
    ``output_size`` gives (OH, OW) (or the full 4-d shape), as ``F.max_unpool2d``.
    """
    x = array_arg("x", x, ndim=4, layout="(N, C, H, W): pooled values")
    indices = array_arg("indices", indices)
    xp = namespace(x, indices, names=("x", "indices"))
    kh, kw = as_pair("kernel_size", kernel_size, minimum=1, what="positive (> 0)")
    sh, sw = as_pair(
        "stride", (kh, kw) if stride is None else stride, minimum=1, what="positive (> 0)"
    )
    if tuple(indices.shape) != tuple(x.shape):
        raise ValueError(
            f"indices has shape {tuple(indices.shape)}; expected {tuple(x.shape)}, the shape of x"
        )
    if not xp.isdtype(indices.dtype, "integral"):
        raise TypeError(f"indices has dtype {indices.dtype}; expected an integer dtype")
    n, c, h, w = x.shape
    if output_size is None:
        oh, ow = (h - 1) * sh + kh, (w - 1) * sw + kw
    else:
        size = check_shape(
            "output_size", output_size, length=(2, 4), layout="(OH, OW) or (N, C, OH, OW)"
        )
        oh, ow = size[-2:]
    plane = oh * ow
    if indices.size and (int(xp.min(indices)) < 0 or int(xp.max(indices)) >= plane):
        raise ValueError(
            f"indices run from {int(xp.min(indices))} to {int(xp.max(indices))}; expected "
            f"positions in [0, {plane}) of a {oh}x{ow} output plane (check output_size)"
        )
    dev = device(x)
    offsets = xp.reshape(xp.arange(n * c, device=dev, dtype=indices.dtype) * plane, (n, c, 1, 1))
    target = xp.reshape(indices + offsets, (-1,))  # positions in the flattened output
    out = xp.zeros((n * c * plane,), dtype=x.dtype, device=dev)
    out[target] = xp.reshape(x, (-1,))
    return xp.reshape(out, (n, c, oh, ow))


def bilinear_kernel(channels: int, factor: int, *, like=None):
    """Weight (channels, channels, K, K) that makes conv_transpose2d a bilinear upsampler.

    Use it with ``stride=factor, padding=factor // 2``: the output is ``factor`` times
    larger and, away from the border, equals bilinear interpolation with half-pixel
    centres (``F.interpolate(mode="bilinear", align_corners=False)``). K = 2*factor -
    factor % 2; the kernel is the outer product of a triangle ``1 - |d| / factor`` with
    itself, on the diagonal (channel c feeds channel c only). Returns float64 numpy,
    or the kind, dtype and device of ``like``.
    """
    channels = check_int("channels", channels, minimum=1)
    factor = check_int("factor", factor, minimum=1)
    k = 2 * factor - factor % 2
    centre = factor - 1 if k % 2 == 1 else factor - 0.5
    tri = 1 - np.abs(np.arange(k) - centre) / factor  # (K,)
    try:
        weight = np.zeros((channels, channels, k, k))
    except (ValueError, MemoryError) as err:  # numpy's "array is too big" is a ValueError
        raise MemoryError(
            f"channels={channels}, factor={factor}: a {channels}x{channels}x{k}x{k} kernel "
            "does not fit in memory"
        ) from err
    weight[np.arange(channels), np.arange(channels)] = np.outer(tri, tri)
    if like is None:
        return weight
    like = array_arg("like", like)
    if is_torch_array(like):
        return torch.as_tensor(weight, dtype=like.dtype, device=like.device)
    return weight.astype(like.dtype)
