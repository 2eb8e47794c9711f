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

from ._backend import (
    as_pair,
    check_kernel_size,
    check_ndim,
    col2im,
    contiguous,
    is_torch_array,
    namespace,
    pad2d,
    windows,
)

__all__ = ["conv2d", "conv2d_backward", "conv2d_naive"]


def _geometry(x, w, b, stride, padding):
    """Validate a conv2d call; return ((sh, sw), (ph, pw), (oh, ow))."""
    check_ndim("x", x, (4,), "(N, C, H, W): a batch of images")
    check_ndim("w", w, (4,), "(F, C, KH, KW): F filters of C x KH x KW")
    sh, sw = as_pair("stride", stride, minimum=1, what="positive (> 0)")
    ph, pw = as_pair("padding", padding, minimum=0, what="non-negative (>= 0)")
    n, c, h, wd = x.shape
    f, cw, kh, kw = w.shape
    check_kernel_size(w)
    if cw != c:
        raise ValueError(
            f"w has {cw} input channels (shape {tuple(w.shape)}) but x has {c} channels "
            f"(shape {tuple(x.shape)}); expected w.shape[1] == x.shape[1]"
        )
    if b is not None and (b.ndim != 1 or b.shape[0] != f):
        raise ValueError(f"b has shape {tuple(b.shape)}; expected ({f},), one bias per filter")
    if x.dtype != w.dtype or (b is not None and b.dtype != x.dtype):
        raise TypeError(
            f"x has dtype {x.dtype} but w has {w.dtype}"
            + ("" if b is None else f" and b has {b.dtype}")
            + "; expected one floating dtype for all"
        )
    if kh > h + 2 * ph or kw > wd + 2 * pw:
        raise ValueError(
            f"kernel {kh}x{kw} is larger than the padded input {h + 2 * ph}x{wd + 2 * pw} "
            f"(padding={padding})"
        )
    oh = (h + 2 * ph - kh) // sh + 1
    ow = (wd + 2 * pw - kw) // sw + 1
    return (sh, sw), (ph, pw), (oh, ow)


def _windows_as_columns(xp, x, kh, kw, sh, sw, ph, pw):
    """Every KH x KW x C window of ``x`` as a column, image by image.

    Returns (N, C*KH*KW, OH*OW): rows ordered like a flattened filter (c, u, v), so
    ``w.reshape(F, -1) @ cols`` is the whole convolution, one matrix per image.
    """
    xpad = pad2d(xp, x, ph, pw)  # (N, C, H + 2ph, W + 2pw)
    win = windows(xpad, kh, kw, sh, sw)  # (N, C, OH, OW, KH, KW), a view
    n, c, oh, ow = win.shape[:4]
    cols = xp.permute_dims(win, (0, 1, 4, 5, 2, 3))  # (N, C, KH, KW, OH, OW), a view
    return xp.reshape(cols, (n, c * kh * kw, oh * ow))  # the one copy


def conv2d(x, w, b=None, *, stride=1, padding=0):
    """Convolve a batch of images with a bank of filters (cross-correlation).

    x: (N, C, H, W); w: (F, C, KH, KW); b: (F,) or None; stride, padding: int or
    (h, w) pair, zero padding on both sides. Returns (N, F, OH, OW) with
    ``OH = floor((H + 2*ph - KH) / sh) + 1`` (``course_lib.shapes.conv_output_size``).

    ``out[n, f, i, j] = sum_{c, u, v} x_pad[n, c, i*sh + u, j*sw + v] * w[f, c, u, v] + b[f]``,
    the same as ``torch.nn.functional.conv2d``. Implementation: im2col (one copy of
    size N x C*KH*KW x OH*OW) then a matrix multiply of the (F, C*KH*KW) filters with
    each image's columns.
    """
    xp = namespace(x, w, b, names=("x", "w", "b"))
    (sh, sw), (ph, pw), (oh, ow) = _geometry(x, w, b, stride, padding)
    n = x.shape[0]
    f, c, kh, kw = w.shape
    cols = _windows_as_columns(xp, x, kh, kw, sh, sw, ph, pw)  # (N, C*KH*KW, OH*OW)
    w_mat = xp.reshape(w, (f, c * kh * kw))  # (F, C*KH*KW)
    # One (F, C*KH*KW) @ (C*KH*KW, OH*OW) product per image: the result is already in
    # (N, F, ...) order, so no transpose of the output is needed (faster than one big
    # product over N*OH*OW columns followed by a permute; benchmarks/ops.py).
    out = xp.matmul(w_mat, cols)  # (N, F, OH*OW)
    if b is not None:
        out = out + xp.reshape(b, (f, 1))
    return xp.reshape(out, (n, f, oh, ow))  # (N, F, OH, OW)


def conv2d_backward(dout, x, w, *, stride=1, padding=0):
    """Gradients of ``conv2d(x, w, b, stride=..., padding=...)`` given the upstream gradient.

    dout: (N, F, OH, OW), the gradient of the loss with respect to conv2d's output.
    Returns (dx, dw, db) of shapes (N, C, H, W), (F, C, KH, KW) and (F,):

    * db[f] = sum of dout over N, OH, OW;
    * dw = dout times the im2col matrix (every window, weighted by its output's gradient);
    * dx: each output gradient, times the filter, is spread back over the window it
      came from (col2im, overlapping windows add), then the padding is cut off.
    """
    xp = namespace(dout, x, w, names=("dout", "x", "w"))
    (sh, sw), (ph, pw), (oh, ow) = _geometry(x, w, None, stride, padding)
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
    cols = _windows_as_columns(xp, x, kh, kw, sh, sw, ph, pw)  # (N, C*KH*KW, OH*OW)
    dw = xp.sum(xp.matmul(dout_cols, xp.permute_dims(cols, (0, 2, 1))), axis=0)  # (F, C*KH*KW)
    dw = xp.reshape(dw, (f, c, kh, kw))
    w_mat = xp.reshape(w, (f, c * kh * kw))  # (F, C*KH*KW)
    dcols = xp.matmul(xp.permute_dims(w_mat, (1, 0)), dout_cols)  # (N, C*KH*KW, OH*OW)
    dcols = xp.reshape(dcols, (n, c, kh, kw, oh, ow))  # (N, C, KH, KW, OH, OW)
    dxpad = col2im(xp, dcols, (n, c, h + 2 * ph, wd + 2 * pw), sh, sw)
    dx = contiguous(dxpad[:, :, ph : ph + h, pw : pw + wd])  # (N, C, H, W)
    return dx, dw, db


def conv2d_naive(x, w, b=None, *, stride=1, padding=0):
    """:func:`conv2d` by four explicit loops over images, filters, rows and columns.

    The definition written out, for teaching and as a second opinion; about three
    orders of magnitude slower than :func:`conv2d`. Computes in numpy; a torch input
    gives a torch output on its device.
    """
    namespace(x, w, b, names=("x", "w", "b"))
    (sh, sw), (ph, pw), (oh, ow) = _geometry(x, w, b, stride, padding)
    back = None
    if is_torch_array(x):
        back = (x.device, x.dtype)
        x, w = x.detach().cpu().numpy(), w.detach().cpu().numpy()
        b = None if b is None else b.detach().cpu().numpy()
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
        import torch

        return torch.from_numpy(out).to(device=back[0], dtype=back[1])
    return out
