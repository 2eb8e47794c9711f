"""Pooling: max, average and L2-norm over sliding windows, and their backward passes.

Layout (N, C, H, W); each channel is pooled on its own, so pooling has no parameters
and keeps the channel count (4x4x10 -> 2x2x10 with a 2x2 window, stride 2: lesson 03).
``stride`` defaults to the window size and ``padding`` (rows and columns added on each
side) to 0, as in torch. The output size is ``floor((H + 2p - k) / s) + 1``
(:func:`course_lib.shapes.pool_output_size`, which also refuses, as torch does, a
padding of more than half the window). Max pooling pads with -inf, so padding never
wins a window; average and L2 pooling pad with zeros, and the average divides by the
whole window, padding included (torch's default ``count_include_pad=True``).
numpy arrays and torch tensors both work; the output keeps the input's kind, dtype
and device.

Speed: a window's sum or maximum is built from strided slices of the input, one per
window row and one per window column (a 2x2 window: two additions, or maximums, of
output-sized arrays), rather than by copying every window out and reducing it; the
argmax for the backward pass is a pass over the KH*KW window offsets in the same way.
"""

from __future__ import annotations

from course_lib.shapes import pool_output_size
from course_lib.validate import check_array, check_bool, check_pair

from ._backend import col2im, contiguous, device, is_floating, namespace, pad2d, windows

__all__ = [
    "avg_pool2d",
    "avg_pool2d_backward",
    "l2_pool2d",
    "max_pool2d",
    "max_pool2d_backward",
    "pool_windows",
]


def _pool_geometry(x, kernel_size, stride, padding):
    """Validate a pooling call; return ((kh, kw), (sh, sw), (ph, pw), (oh, ow))."""
    check_array("x", x, ndim=4, layout="(N, C, H, W): a batch of images")
    kh, kw = check_pair("kernel_size", kernel_size, minimum=1)
    sh, sw = check_pair("stride", (kh, kw) if stride is None else stride, minimum=1)
    ph, pw = check_pair("padding", padding, minimum=0)
    sizes = []
    for axis, n, k, p, s in (("H", x.shape[2], kh, ph, sh), ("W", x.shape[3], kw, pw, sw)):
        if 2 * p > k:
            raise ValueError(
                f"padding={(ph, pw)} must be at most half of kernel_size={(kh, kw)} (along "
                f"{axis}: {p} > {k}/2); otherwise a window could hold nothing but padding"
            )
        if n > 0 and k > n + 2 * p:  # (an empty axis is x's fault: pool_output_size)
            raise ValueError(
                f"kernel_size={(kh, kw)} does not fit x (shape {tuple(x.shape)}): along {axis} "
                f"the window {k} is larger than the padded size {n} + 2*{p} = {n + 2 * p}"
            )
        try:
            sizes.append(pool_output_size(n, k, p, s))
        except ValueError as err:
            raise ValueError(f"along {axis} of x (shape {tuple(x.shape)}): {err}") from None
    return (kh, kw), (sh, sw), (ph, pw), tuple(sizes)


def _check_dout(dout, x, out_hw, name):
    expected = (*x.shape[:2], *out_hw)
    if tuple(dout.shape) != expected:
        raise ValueError(
            f"dout has shape {tuple(dout.shape)}; expected {expected}, the shape of "
            f"{name}'s output for this x, kernel_size, stride and padding"
        )


def _strided(k: int, s: int, o: int) -> slice:
    """Rows (or columns) k, k + s, ..., k + s*(o - 1): offset k of each of o windows."""
    return slice(k, k + s * (o - 1) + 1, s)


def _window_sums(x, kernel, stride, out_hw):
    """Sum of each (kh, kw) window of x (N, C, H, W): (N, C, OH, OW), a fresh array.

    Separable: first the kh strided row slices are added, then the kw column slices of
    that, so a 2x2 window costs three additions of output-sized arrays.
    """
    (kh, kw), (sh, sw), (oh, ow) = kernel, stride, out_hw
    rows = x[:, :, _strided(0, sh, oh), :]  # (N, C, OH, W), a view
    for i in range(1, kh):
        part = x[:, :, _strided(i, sh, oh), :]
        rows = rows + part if i == 1 else _add_into(rows, part)
    total = rows[:, :, :, _strided(0, sw, ow)]  # (N, C, OH, OW)
    for j in range(1, kw):
        part = rows[:, :, :, _strided(j, sw, ow)]
        total = total + part if j == 1 else _add_into(total, part)
    return total


def _add_into(total, part):
    total += part  # total is a fresh array made by an addition: safe to update
    return total


def _padded(xp, x, ph, pw, value):
    return pad2d(xp, x, ph, pw, value) if ph or pw else x


def _lowest(xp, x) -> float | bool:
    """-inf, False for booleans (max is then a logical or), or the smallest value of an
    integer dtype: what max pooling pads with."""
    if is_floating(xp, x):
        return float("-inf")
    return False if x.dtype == xp.bool else int(xp.iinfo(x.dtype).min)


def _window_max(xp, x, kernel, stride, out_hw):
    """Largest value of each (kh, kw) window of x (N, C, H, W): (N, C, OH, OW).

    Separable, like :func:`_window_sums`: the maximum of kh strided row slices, then
    of kw column slices of that. ``maximum`` propagates NaN, as max pooling does.
    """
    (kh, kw), (sh, sw), (oh, ow) = kernel, stride, out_hw
    rows = x[:, :, _strided(0, sh, oh), :]  # (N, C, OH, W), a view
    for i in range(1, kh):
        rows = xp.maximum(rows, x[:, :, _strided(i, sh, oh), :])
    out = rows[:, :, :, _strided(0, sw, ow)]  # (N, C, OH, OW)
    for j in range(1, kw):
        out = xp.maximum(out, rows[:, :, :, _strided(j, sw, ow)])
    return xp.asarray(out, copy=True) if kh * kw == 1 else out


def _argmax_in_window(xp, x, kernel, stride, padding, out_hw):
    """Each window's maximum and where it is: (out, arg), both (N, C, OH, OW).

    arg is the offset ``ki * KW + kj`` of the maximum inside its window of the padded
    input, found as torch's kernel does: a pass over the window's cells in row-major
    order keeps a cell that is larger than the best so far, or NaN. So ties go to the
    first maximum and a NaN (the maximum, since max pooling propagates it) to the last
    NaN. A window whose real values all equal the padding value (-inf) is given its
    first real cell, as torch does, so that no window points into the padding. arg has
    x's dtype for float32/float64 input (whole numbers; float arithmetic is the fast
    path), int64 otherwise.
    """
    (kh, kw), (sh, sw), (ph, pw), (oh, ow) = kernel, stride, padding, out_hw
    h, w = x.shape[2], x.shape[3]
    dev = device(x)
    floating = is_floating(xp, x)
    arg_dtype = x.dtype if xp.isdtype(x.dtype, (xp.float32, xp.float64)) else xp.int64
    xpad = _padded(xp, x, ph, pw, _lowest(xp, x))
    best = xpad[:, :, _strided(0, sh, oh), _strided(0, sw, ow)]  # offset 0 of each window
    arg = xp.zeros(tuple(best.shape), dtype=arg_dtype, device=dev)
    for k in range(1, kh * kw):
        cell = xpad[:, :, _strided(k // kw, sh, oh), _strided(k % kw, sw, ow)]
        better = cell > best
        if floating:
            better = better | xp.isnan(cell)
        best = xp.maximum(best, cell)
        arg = arg + (k - arg) * xp.astype(better, arg_dtype)  # k where better, else arg
    if ph or pw:
        top = xp.reshape(xp.arange(oh, device=dev) * sh - ph, (oh, 1))  # window's first row
        left = xp.reshape(xp.arange(ow, device=dev) * sw - pw, (1, ow))  # first column
        ki = xp.astype(arg // kw, xp.int64)
        kj = xp.astype(arg, xp.int64) - ki * kw
        row, col = top + ki, left + kj  # position in x, (N, C, OH, OW)
        in_pad = (row < 0) | (row >= h) | (col < 0) | (col >= w)
        zero = xp.zeros((), dtype=xp.int64, device=dev)
        first_real = xp.maximum(-top, zero) * kw + xp.maximum(-left, zero)  # (OH, OW)
        arg = xp.where(in_pad, xp.astype(first_real, arg_dtype), arg)
    return xp.asarray(best, copy=True) if kh * kw == 1 else best, arg


def pool_windows(x, kernel_size, stride=None):
    """Every pooling window of ``x`` as a view: (N, C, OH, OW, KH, KW) (no padding)."""
    check_array("x", x)
    namespace(x, names=("x",))
    (kh, kw), (sh, sw), _, _ = _pool_geometry(x, kernel_size, stride, 0)
    return windows(x, kh, kw, sh, sw)


def max_pool2d(x, kernel_size, *, stride=None, padding=0, return_indices=False):
    """Largest value in each KH x KW window.

    x: (N, C, H, W); kernel_size, stride, padding: int or (h, w) pair, stride defaults
    to kernel_size; padding adds -inf borders (at most half the window). Returns
    (N, C, OH, OW), and with ``return_indices=True`` also the position of each maximum
    as torch gives it: the flat index ``row * W + col`` within its unpadded H x W
    plane (int64), ready for :func:`course_lib.ops.max_unpool2d`. Ties go to the first
    maximum in row-major order; a NaN wins its window (the last NaN, if several). The
    same as ``torch.nn.functional.max_pool2d`` with ``dilation=1, ceil_mode=False``.
    """
    check_array("x", x)
    xp = namespace(x, names=("x",))
    kernel, stride, (ph, pw), (oh, ow) = _pool_geometry(x, kernel_size, stride, padding)
    return_indices = check_bool("return_indices", return_indices)
    if not return_indices:
        xpad = _padded(xp, x, ph, pw, _lowest(xp, x))
        return _window_max(xp, xpad, kernel, stride, (oh, ow))  # (N, C, OH, OW)
    out, arg = _argmax_in_window(xp, x, kernel, stride, (ph, pw), (oh, ow))
    (sh, sw), kw = stride, kernel[1]
    ki = xp.astype(arg // kw, xp.int64)  # the maximum's row and column in its window
    kj = xp.astype(arg, xp.int64) - ki * kw
    dev = device(x)
    rows = xp.reshape(xp.arange(oh, device=dev) * sh - ph, (oh, 1))  # window's top row
    cols = xp.reshape(xp.arange(ow, device=dev) * sw - pw, (1, ow))  # window's left column
    indices = (rows + ki) * x.shape[3] + (cols + kj)  # (N, C, OH, OW)
    return out, xp.astype(indices, xp.int64)


def max_pool2d_backward(dout, x, kernel_size, *, stride=None, padding=0):
    """Gradient of :func:`max_pool2d` with respect to x.

    dout: (N, C, OH, OW). Each window's gradient goes entirely to the position that
    held its maximum (the others get exactly 0, even when dout holds inf or NaN); a
    position that is the maximum of several overlapping windows collects all of their
    gradients. Returns dx of x's shape.
    """
    check_array("dout", dout)
    check_array("x", x)
    xp = namespace(dout, x, names=("dout", "x"))
    kernel, stride, pad, out_hw = _pool_geometry(x, kernel_size, stride, padding)
    _check_dout(dout, x, out_hw, "max_pool2d")
    (kh, kw), (sh, sw), (ph, pw), (oh, ow) = kernel, stride, pad, out_hw
    n, c, h, w = x.shape
    _, arg = _argmax_in_window(xp, x, kernel, stride, pad, out_hw)  # (N, C, OH, OW)
    dev = device(dout)
    # select, never multiply by the mask: inf * 0 = NaN would spread an inf in dout over
    # its window (and checking dout for infs first would cost a device sync per call)
    zero = xp.zeros((), dtype=dout.dtype, device=dev)
    dxpad = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=dout.dtype, device=dev)
    for k in range(kh * kw):
        hit = arg == k  # the windows whose maximum sits at offset k
        routed = xp.where(hit, dout, zero)
        dxpad[:, :, _strided(k // kw, sh, oh), _strided(k % kw, sw, ow)] += routed
    return contiguous(dxpad[:, :, ph : ph + h, pw : pw + w])  # (N, C, H, W)


def avg_pool2d(x, kernel_size, *, stride=None, padding=0):
    """Mean of each KH x KW window: x (N, C, H, W) -> (N, C, OH, OW).

    padding adds zero borders (at most half the window) and the mean divides by
    KH * KW, padded cells included: ``torch.nn.functional.avg_pool2d`` with its
    defaults (``count_include_pad=True``, ``ceil_mode=False``).
    """
    check_array("x", x)
    xp = namespace(x, names=("x",))
    kernel, stride, (ph, pw), out_hw = _pool_geometry(x, kernel_size, stride, padding)
    sums = _window_sums(_padded(xp, x, ph, pw, 0.0), kernel, stride, out_hw)
    return sums / (kernel[0] * kernel[1])  # (N, C, OH, OW)


def avg_pool2d_backward(dout, x, kernel_size, *, stride=None, padding=0):
    """Gradient of :func:`avg_pool2d`: each window's gradient, split evenly over its
    KH * KW cells (the share of padded cells is dropped)."""
    check_array("dout", dout)
    check_array("x", x)
    xp = namespace(dout, x, names=("dout", "x"))
    (kh, kw), (sh, sw), (ph, pw), (oh, ow) = _pool_geometry(x, kernel_size, stride, padding)
    _check_dout(dout, x, (oh, ow), "avg_pool2d")
    n, c, h, w = x.shape
    share = dout / (kh * kw)  # (N, C, OH, OW)
    dcols = xp.broadcast_to(share[:, :, None, None], (n, c, kh, kw, oh, ow))
    dxpad = col2im(xp, dcols, (n, c, h + 2 * ph, w + 2 * pw), sh, sw)
    return contiguous(dxpad[:, :, ph : ph + h, pw : pw + w])  # (N, C, H, W)


def l2_pool2d(x, kernel_size, *, stride=None, padding=0):
    """L2 norm of each KH x KW window: ``sqrt(sum of squares)``, zero padding.

    x: (N, C, H, W) -> (N, C, OH, OW); torch's ``lp_pool2d`` with ``norm_type=2``
    (which has no padding; with padding it is ``sqrt(avg_pool2d(x**2) * KH * KW)``).
    """
    check_array("x", x)
    xp = namespace(x, names=("x",))
    kernel, stride, (ph, pw), out_hw = _pool_geometry(x, kernel_size, stride, padding)
    xpad = _padded(xp, x, ph, pw, 0.0)
    return xp.sqrt(_window_sums(xpad * xpad, kernel, stride, out_hw))  # (N, C, OH, OW)
