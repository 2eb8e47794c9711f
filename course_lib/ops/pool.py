"""Pooling: max, average and L2-norm over sliding windows, and max pooling's backward.

Layout (N, C, H, W); each channel is pooled on its own, so pooling has no parameters
and keeps the channel count (4x4x10 -> 2x2x10 with a 2x2 window, stride 2: lesson 03).
``stride`` defaults to the window size, as in torch. numpy arrays and torch tensors
both work; the output keeps the input's kind, dtype and device.
"""

from __future__ import annotations

from ._backend import as_pair, check_ndim, col2im, contiguous, device, namespace, windows

__all__ = [
    "avg_pool2d",
    "avg_pool2d_backward",
    "l2_pool2d",
    "max_pool2d",
    "max_pool2d_backward",
    "pool_windows",
]


def _pool_geometry(x, kernel_size, stride):
    check_ndim("x", x, (4,), "(N, C, H, W): a batch of images")
    kh, kw = as_pair("kernel_size", kernel_size, minimum=1, what="positive (> 0)")
    sh, sw = as_pair(
        "stride", (kh, kw) if stride is None else stride, minimum=1, what="positive (> 0)"
    )
    h, w = x.shape[2], x.shape[3]
    if kh > h or kw > w:
        raise ValueError(f"kernel {kh}x{kw} is larger than the input {h}x{w} (padding=0)")
    return (kh, kw), (sh, sw), ((h - kh) // sh + 1, (w - kw) // sw + 1)


def pool_windows(x, kernel_size, stride=None):
    """Every pooling window of ``x`` as a view: (N, C, OH, OW, KH, KW)."""
    namespace(x, names=("x",))
    (kh, kw), (sh, sw), _ = _pool_geometry(x, kernel_size, stride)
    return windows(x, kh, kw, sh, sw)


def _argmax_in_window(xp, x, kernel_size, stride):
    """Position of each window's maximum, as an offset 0..KH*KW-1 inside the window."""
    (kh, kw), (sh, sw), (oh, ow) = _pool_geometry(x, kernel_size, stride)
    n, c = x.shape[:2]
    win = windows(x, kh, kw, sh, sw)  # (N, C, OH, OW, KH, KW)
    flat = xp.reshape(win, (n, c, oh, ow, kh * kw))  # a copy: (N, C, OH, OW, KH*KW)
    return flat, xp.argmax(flat, axis=-1)  # (N, C, OH, OW)


def max_pool2d(x, kernel_size, *, stride=None, return_indices=False):
    """Largest value in each KH x KW window.

    x: (N, C, H, W); kernel_size, stride: int or (h, w) pair, stride defaults to
    kernel_size. Returns (N, C, OH, OW), and with ``return_indices=True`` also the
    position of each maximum as torch gives it: the flat index ``row * W + col``
    within its H x W plane (int64), ready for :func:`course_lib.ops.max_unpool2d`.
    Ties go to the first maximum in row-major order.
    """
    xp = namespace(x, names=("x",))
    (kh, kw), (sh, sw), (oh, ow) = _pool_geometry(x, kernel_size, stride)
    if not return_indices:
        flat = xp.reshape(windows(x, kh, kw, sh, sw), (*x.shape[:2], oh, ow, kh * kw))
        return xp.max(flat, axis=-1)
    flat, arg = _argmax_in_window(xp, x, kernel_size, stride)
    out = xp.max(flat, axis=-1)  # (N, C, OH, OW)
    w = x.shape[3]
    dev = device(x)
    rows = xp.reshape(xp.arange(oh, device=dev) * sh, (oh, 1))  # window's top row
    cols = xp.reshape(xp.arange(ow, device=dev) * sw, (1, ow))  # window's left column
    ki, kj = arg // kw, arg % kw  # offset inside the window
    indices = (rows + ki) * w + (cols + kj)  # (N, C, OH, OW)
    return out, xp.astype(indices, xp.int64)


def max_pool2d_backward(dout, x, kernel_size, *, stride=None):
    """Gradient of :func:`max_pool2d` with respect to x.

    dout: (N, C, OH, OW). Each window's gradient goes entirely to the position that
    held its maximum; a position that is the maximum of several overlapping windows
    collects all of their gradients. Returns dx of x's shape.
    """
    xp = namespace(dout, x, names=("dout", "x"))
    (kh, kw), (sh, sw), (oh, ow) = _pool_geometry(x, kernel_size, stride)
    n, c = x.shape[:2]
    if tuple(dout.shape) != (n, c, oh, ow):
        raise ValueError(
            f"dout has shape {tuple(dout.shape)}; expected {(n, c, oh, ow)}, the shape of "
            "max_pool2d's output"
        )
    _, arg = _argmax_in_window(xp, x, kernel_size, stride)  # (N, C, OH, OW)
    offsets = xp.arange(kh * kw, device=device(x))  # (KH*KW,)
    onehot = xp.astype(arg[..., None] == offsets, dout.dtype)  # (N, C, OH, OW, KH*KW)
    dcols = onehot * dout[..., None]
    dcols = xp.reshape(dcols, (n, c, oh, ow, kh, kw))
    dcols = xp.permute_dims(dcols, (0, 1, 4, 5, 2, 3))  # (N, C, KH, KW, OH, OW)
    return col2im(xp, dcols, tuple(x.shape), sh, sw)


def avg_pool2d(x, kernel_size, *, stride=None):
    """Mean of each KH x KW window (no padding). x: (N, C, H, W) -> (N, C, OH, OW)."""
    xp = namespace(x, names=("x",))
    (kh, kw), (sh, sw), _ = _pool_geometry(x, kernel_size, stride)
    win = windows(x, kh, kw, sh, sw)  # (N, C, OH, OW, KH, KW)
    return contiguous(xp.mean(win, axis=(-2, -1)))


def avg_pool2d_backward(dout, x, kernel_size, *, stride=None):
    """Gradient of :func:`avg_pool2d`: each window's gradient, split evenly over its cells."""
    xp = namespace(dout, x, names=("dout", "x"))
    (kh, kw), (sh, sw), (oh, ow) = _pool_geometry(x, kernel_size, stride)
    n, c = x.shape[:2]
    if tuple(dout.shape) != (n, c, oh, ow):
        raise ValueError(
            f"dout has shape {tuple(dout.shape)}; expected {(n, c, oh, ow)}, the shape of "
            "avg_pool2d's output"
        )
    share = dout / (kh * kw)  # (N, C, OH, OW)
    dcols = xp.broadcast_to(share[:, :, None, None], (n, c, kh, kw, oh, ow))
    return col2im(xp, dcols, tuple(x.shape), sh, sw)


def l2_pool2d(x, kernel_size, *, stride=None):
    """L2 norm of each KH x KW window: ``sqrt(sum of squares)``.

    x: (N, C, H, W) -> (N, C, OH, OW); torch's ``lp_pool2d`` with ``norm_type=2``.
    """
    xp = namespace(x, names=("x",))
    (kh, kw), (sh, sw), _ = _pool_geometry(x, kernel_size, stride)
    win = windows(x, kh, kw, sh, sw)  # (N, C, OH, OW, KH, KW)
    return contiguous(xp.sqrt(xp.sum(win * win, axis=(-2, -1))))
