"""2-D convolution (cross-correlation, as in every deep-learning library), forward and backward.

Layout (N, C, H, W) for inputs, (F, C, KH, KW) for filters, as in torch. The fast
version, :func:`conv2d`, is "im2col + one matrix multiply": gather every
KH x KW x C window into a column, then multiply all columns by all filters at once.
:func:`conv2d_naive` computes the same numbers with four explicit loops; the gap
between the two is lesson 02's motivating number (``benchmarks/ops.py``).

Both numpy arrays and torch tensors (on any device) go in, and the same kind comes
out with the input's dtype and device. Lessons 01-03; the backward pass follows
cs231n's layer notes.
"""

from __future__ import annotations

import numpy as np
import torch

from course_lib.shapes import conv_output_size

from ._backend import (
    array_arg,
    as_pair,
    check_kernel_size,
    col2im,
    contiguous,
    is_half,
    is_torch_array,
    namespace,
    pad2d,
    windows,
)

__all__ = ["conv2d", "conv2d_backward", "conv2d_naive"]


def _output_hw(x_shape, w_shape, stride, padding) -> tuple[int, int]:
    """(OH, OW) of a convolution, from ``course_lib.shapes.conv_output_size``.

    stride, padding: (h, w) pairs of validated ints. ``conv_output_size`` decides what
    is refused; a kernel larger than the padded input (or an empty image, which torch
    refuses too) raises ``ValueError`` worded in 2-D, the learner's terms.
    """
    (sh, sw), (ph, pw) = stride, padding
    h, wd = x_shape[-2:]
    kh, kw = w_shape[-2:]
    try:
        return conv_output_size(h, kh, ph, sh), conv_output_size(wd, kw, pw, sw)
    except ValueError as err:
        if h < 1 or wd < 1:
            raise ValueError(
                f"x has shape {tuple(x_shape)}, an empty {h}x{wd} image; expected H and W >= 1"
            ) from err
        shown = ph if ph == pw else (ph, pw)
        raise ValueError(
            f"kernel {kh}x{kw} is larger than the padded input {h + 2 * ph}x{wd + 2 * pw} "
            f"(padding={shown})"
        ) from err


def _arguments(x, w, b, stride, padding):
    """Validate a conv2d call; return (xp, x, w, b, (sh, sw), (ph, pw), (oh, ow))."""
    x = array_arg("x", x, ndim=4, layout="(N, C, H, W): a batch of images")
    w = array_arg("w", w, ndim=4, layout="(F, C, KH, KW): F filters of C x KH x KW")
    b = None if b is None else array_arg("b", b)
    xp = namespace(x, w, b, names=("x", "w", "b"))
    sh, sw = as_pair("stride", stride, minimum=1, what="positive (> 0)")
    ph, pw = as_pair("padding", padding, minimum=0, what="non-negative (>= 0)")
    c = x.shape[1]
    f, cw = w.shape[:2]
    check_kernel_size(w)
    if cw != c:
        raise ValueError(
            f"w has {cw} input channels (shape {tuple(w.shape)}) but x has {c} channels "
            f"(shape {tuple(x.shape)}); expected w.shape[1] == x.shape[1]"
        )
    if b is not None and (b.ndim != 1 or b.shape[0] != f):
        raise ValueError(
            f"b has shape {tuple(b.shape)}; expected ({f},), one bias per filter of w "
            f"(shape {tuple(w.shape)})"
        )
    if x.dtype != w.dtype or (b is not None and b.dtype != x.dtype):
        raise TypeError(
            f"x has dtype {x.dtype} but w has {w.dtype}"
            + ("" if b is None else f" and b has {b.dtype}")
            + "; expected one floating dtype for all"
        )
    oh, ow = _output_hw(x.shape, w.shape, (sh, sw), (ph, pw))
    return xp, x, w, b, (sh, sw), (ph, pw), (oh, ow)


def _columns(xp, win, *, per_image: bool):
    """im2col: every C x KH x KW window of ``win`` copied, once, into a column.

    win: (M, C, OH, OW, KH, KW), a strided view of the windows of M padded images.
    Rows are ordered like a flattened filter (c, u, v), so ``w.reshape(F, -1) @ cols``
    is the whole convolution. Returns (M, C*KH*KW, OH*OW), one matrix per image, if
    ``per_image``, else (C*KH*KW, M*OH*OW), one matrix for all (columns ordered m, i, j).
    """
    m, c, oh, ow, kh, kw = win.shape
    if per_image:
        cols = xp.permute_dims(win, (0, 1, 4, 5, 2, 3))  # (M, C, KH, KW, OH, OW), a view
        return xp.reshape(cols, (m, c * kh * kw, oh * ow))  # the one copy
    cols = xp.permute_dims(win, (1, 4, 5, 0, 2, 3))  # (C, KH, KW, M, OH, OW), a view
    return xp.reshape(cols, (c * kh * kw, m * oh * ow))  # the one copy


def conv2d(x, w, b=None, *, stride=1, padding=0):
    """Convolve a batch of images with a bank of filters (cross-correlation).

    x: (N, C, H, W); w: (F, C, KH, KW); b: (F,) or None; stride, padding: int or
    (h, w) pair, zero padding on both sides. Returns (N, F, OH, OW) with
    ``OH = floor((H + 2*ph - KH) / sh) + 1`` (``course_lib.shapes.conv_output_size``).

    ``out[n, f, i, j] = sum_{c, u, v} x_pad[n, c, i*sh + u, j*sw + v] * w[f, c, u, v] + b[f]``,
    the same as ``torch.nn.functional.conv2d``. Implementation: im2col (every
    C x KH x KW window copied into a column, one copy of N x C*KH*KW x OH*OW values)
    then a matrix multiply of the (F, C*KH*KW) filters with each image's columns.
    float16 and bfloat16 are summed in float32 and rounded once.
    """
    xp, x, w, b, (sh, sw), (ph, pw), (oh, ow) = _arguments(x, w, b, stride, padding)
    dtype = x.dtype
    if is_half(x):  # sum in float32 and round once at the end, as torch's kernels do
        x, w, b = (None if a is None else xp.astype(a, xp.float32) for a in (x, w, b))
    n = x.shape[0]
    f, c, kh, kw = w.shape
    w_mat = xp.reshape(w, (f, c * kh * kw))  # (F, C*KH*KW)
    win = windows(pad2d(xp, x, ph, pw), kh, kw, sh, sw)  # (N, C, OH, OW, KH, KW), a view
    cols = _columns(xp, win, per_image=True)  # (N, C*KH*KW, OH*OW)
    del win  # and with it the padded copy of x, before the product is allocated
    # One (F, C*KH*KW) @ (C*KH*KW, OH*OW) product per image: the result is already in
    # (N, F, ...) order. For benchmarks/ops.py's conv this is as fast as one product
    # with the N*OH*OW columns of the whole batch plus a transpose of its result in
    # numpy, and twice as fast in torch (MKL is slow on that one wide product).
    out = xp.matmul(w_mat, cols)  # (N, F, OH*OW)
    if b is not None:
        out += xp.reshape(b, (f, 1))  # in place: out is a fresh array
    return xp.astype(xp.reshape(out, (n, f, oh, ow)), dtype, copy=False)  # (N, F, OH, OW)


def conv2d_backward(dout, x, w, *, stride=1, padding=0):
    """Gradients of ``conv2d(x, w, b, stride=..., padding=...)`` given the upstream gradient.

    dout: (N, F, OH, OW), the gradient of the loss with respect to conv2d's output.
    Returns (dx, dw, db) of shapes (N, C, H, W), (F, C, KH, KW) and (F,):

    * db[f] = sum of dout over N, OH, OW;
    * dw = dout times the im2col matrix (every window, weighted by its output's gradient);
    * dx: each output gradient, times the filter, is spread back over the window it
      came from (col2im, overlapping windows add), then the padding is cut off.
    """
    dout = array_arg("dout", dout)
    xp, x, w, _, (sh, sw), (ph, pw), (oh, ow) = _arguments(x, w, None, stride, padding)
    namespace(dout, x, names=("dout", "x"))
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    expected = (n, f, oh, ow)
    if tuple(dout.shape) != expected:
        raise ValueError(
            f"dout has shape {tuple(dout.shape)}; expected {expected}, the shape of "
            "conv2d's output for this x, w, stride and padding"
        )
    if dout.dtype != x.dtype:
        raise TypeError(
            f"dout has dtype {dout.dtype} but x has {x.dtype}; expected one floating dtype for all"
        )
    dout_cols = xp.reshape(dout, (n, f, oh * ow))  # (N, F, OH*OW)
    db = xp.sum(dout_cols, axis=(0, 2))  # (F,)
    w_t = xp.permute_dims(xp.reshape(w, (f, c * kh * kw)), (1, 0))  # (C*KH*KW, F)
    win = windows(pad2d(xp, x, ph, pw), kh, kw, sh, sw)  # (N, C, OH, OW, KH, KW), a view
    if is_torch_array(x):  # image by image, as the forward pass
        cols = _columns(xp, win, per_image=True)  # (N, C*KH*KW, OH*OW)
        dw = xp.sum(xp.matmul(dout_cols, xp.permute_dims(cols, (0, 2, 1))), axis=0)
        dcols = xp.matmul(w_t, dout_cols)  # (N, C*KH*KW, OH*OW)
        dcols = xp.reshape(dcols, (n, c, kh, kw, oh, ow))  # (N, C, KH, KW, OH, OW)
    else:  # numpy: one product each for the whole batch, 1.6-2.7 times faster for
        # benchmarks/ops.py's conv than numpy's slow stacks of per-image products
        cols = _columns(xp, win, per_image=False)  # (C*KH*KW, N*OH*OW)
        dout_mat = contiguous(xp.permute_dims(dout_cols, (1, 0, 2)))  # (F, N, OH*OW)
        dout_mat = xp.reshape(dout_mat, (f, n * oh * ow))  # (F, N*OH*OW)
        dw = xp.matmul(dout_mat, xp.permute_dims(cols, (1, 0)))  # (F, C*KH*KW)
        del cols
        dcols = xp.reshape(xp.matmul(w_t, dout_mat), (c, kh, kw, n, oh, ow))
        dcols = xp.permute_dims(dcols, (3, 0, 1, 2, 4, 5))  # (N, C, KH, KW, OH, OW), a view
    dw = xp.reshape(dw, (f, c, kh, kw))
    dxpad = col2im(xp, dcols, (n, c, h + 2 * ph, wd + 2 * pw), sh, sw)
    dx = contiguous(dxpad[:, :, ph : ph + h, pw : pw + wd])  # (N, C, H, W)
    return dx, dw, db


def conv2d_naive(x, w, b=None, *, stride=1, padding=0):
    """:func:`conv2d` by four explicit loops over images, filters, rows and columns.

    The definition written out, for teaching and as a second opinion; about three
    orders of magnitude slower than :func:`conv2d`. Computes in numpy (bfloat16 torch
    tensors in float32, which numpy lacks); a torch input gives a torch output of its
    dtype on its device.
    """
    _, x, w, b, (sh, sw), (ph, pw), (oh, ow) = _arguments(x, w, b, stride, padding)
    back = None
    if is_torch_array(x):
        back = (x.device, x.dtype)
        compute = torch.float32 if x.dtype == torch.bfloat16 else x.dtype
        x, w = (t.detach().to("cpu", compute).numpy() for t in (x, w))
        b = None if b is None else b.detach().to("cpu", compute).numpy()
    # C order, so that every memory layout of the input sums in the same order
    x, w = np.ascontiguousarray(x), np.ascontiguousarray(w)
    xpad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n = x.shape[0]
    f, _, kh, kw = w.shape
    out = np.zeros((n, f, oh, ow), dtype=np.result_type(x, w))
    for i in range(n):
        for k in range(f):
            for r in range(oh):
                for q in range(ow):
                    window = xpad[i, :, r * sh : r * sh + kh, q * sw : q * sw + kw]
                    out[i, k, r, q] = np.sum(window * w[k])
            if b is not None:
                out[i, k] += b[k]
    if back is not None:
        return torch.from_numpy(out).to(device=back[0], dtype=back[1])
    return out
