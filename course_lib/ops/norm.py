"""Normalization layers (lesson 07): batch norm, and group / layer / instance norm.

All of them compute ``(x - mean) / sqrt(var + eps)`` and then ``gamma * xhat + beta``;
they differ only in which axes the mean and variance are taken over:

* batch norm: per channel, over N (and H, W): (N, D) or (N, C, H, W) inputs;
* group norm: per example and per group of C / G channels, over those channels and H, W;
* layer norm = group norm with one group (per example, over C, H, W);
* instance norm = group norm with C groups (per example and channel, over H, W).

Each has its backward pass beside it, returning ``(dx, dgamma, dbeta)``. Pure
functions: batch norm returns its new running statistics instead of changing them.
Ioffe and Szegedy (2015); Wu and He (2018) for group norm.

Speed: the statistics are taken over a (N, C, H*W) view of x, a mean over the last,
contiguous axis and then over N; the variance is the mean of the squared deviations
``d = x - mean``, which also give the output as ``d * (gamma / std) + beta``: one
full-size temporary and four passes over x, where ``var`` over axes (0, 2, 3) would
cost more than all of them together (``benchmarks/ops.py``).
"""

from __future__ import annotations

import math

import numpy as np

from course_lib.validate import check_array, check_bool, check_int, check_number

from ._backend import namespace

__all__ = [
    "batch_norm",
    "batch_norm_backward",
    "group_norm",
    "group_norm_backward",
    "instance_norm",
    "instance_norm_backward",
    "layer_norm",
    "layer_norm_backward",
]


def _channels_last_axis(x):
    """(N, C, R): x viewed with everything after the channel axis flattened (R = H*W)."""
    n, c = x.shape[0], x.shape[1]
    return (n, c, math.prod(x.shape[2:]))


def _per_channel(name, v, c, x):
    """A (C,) parameter, checked against x, or a TypeError/ValueError naming it."""
    if v is None:
        return None
    namespace(x, v, names=("x", name))
    if tuple(v.shape) != (c,):
        raise ValueError(
            f"{name} has shape {tuple(v.shape)}; expected ({c},), one per channel of x "
            f"(shape {tuple(x.shape)})"
        )
    _same_dtype(name, v, x)
    return v


def _dtype_key(dtype):
    """A dtype up to byte order: numpy's ``>f8`` and ``float64`` are the same numbers."""
    return (dtype.kind, dtype.itemsize) if isinstance(dtype, np.dtype) else dtype


def _same_dtype(name, v, x):
    if _dtype_key(v.dtype) != _dtype_key(x.dtype):
        raise TypeError(
            f"{name} has dtype {v.dtype} but x has {x.dtype}; expected one floating dtype "
            f"for all (convert {name} to {x.dtype})"
        )


def _check_dout(dout, x):
    if tuple(dout.shape) != tuple(x.shape):
        raise ValueError(
            f"dout has shape {tuple(dout.shape)}; expected {tuple(x.shape)}, the shape of x"
        )


def _check_eps(eps) -> float:
    return check_number("eps", eps, positive=True, what="a positive finite number")


def _column(xp, v, c):
    """A (C,) vector as (1, C, 1), to broadcast against the (N, C, R) view."""
    return xp.reshape(v, (1, c, 1))


def _centred(xp, x3, axes):
    """Mean over ``axes`` of x3, the deviations from it and their mean square (biased)."""
    mean = xp.mean(x3, axis=axes, keepdims=True)
    d = x3 - mean  # the one full-size temporary
    return mean, d, xp.mean(d * d, axis=axes, keepdims=True)


def batch_norm(
    x,
    gamma,
    beta,
    running_mean,
    running_var,
    *,
    training: bool,
    momentum: float = 0.1,
    eps: float = 1e-5,
):
    """Batch normalization; returns ``(out, new_running_mean, new_running_var)``.

    x: (N, D) or (N, C, H, W); gamma, beta, running_mean, running_var: (C,) (gamma and
    beta may be None for 1 and 0; the running statistics may be None in training, and
    then stay None).

    Training: normalise with the batch's mean and (biased) variance over N (and H, W),
    and update the running estimates as torch does:

        new_running_mean = (1 - momentum) * running_mean + momentum * batch_mean
        new_running_var  = (1 - momentum) * running_var  + momentum * batch_var_unbiased

    where the unbiased variance divides by m - 1 (m = N*H*W values per channel). Keras
    writes the same rule with its ``momentum=0.99`` weighting the *old* estimate:
    ``0.99 * running + 0.01 * batch``, i.e. torch's ``momentum=0.01``; Keras's 0.99
    is ``1 - momentum`` here.

    Inference (``training=False``): normalise with the running estimates, which makes
    the layer one fixed per-channel linear map; the running statistics come back
    unchanged. Nothing passed in is modified.
    """
    check_array("x", x, ndim=(2, 4), layout="(N, D) or (N, C, H, W)")
    xp = namespace(x, names=("x",))
    n, c, r = _channels_last_axis(x)
    g = _per_channel("gamma", gamma, c, x)
    bt = _per_channel("beta", beta, c, x)
    _per_channel("running_mean", running_mean, c, x)
    _per_channel("running_var", running_var, c, x)
    training = check_bool("training", training)
    momentum = check_number(
        "momentum", momentum, minimum=0.0, maximum=1.0, what="a number in [0, 1]"
    )
    eps = _check_eps(eps)
    if (running_mean is None) != (running_var is None):
        raise ValueError("running_mean and running_var must both be arrays or both be None")
    x3 = xp.reshape(x, (n, c, r))  # (N, C, H*W)
    if training:
        m = n * r  # values per channel
        if m < 2:
            values = "value" if m == 1 else "values"
            raise ValueError(
                f"x has shape {tuple(x.shape)}: only {m} {values} per channel, so the batch "
                "variance is undefined in training; expected more than 1 value per channel"
            )
        mean, d, var = _centred(xp, x3, (0, 2))  # mean, var: (1, C, 1); d: (N, C, H*W)
        scale = 1 / xp.sqrt(var + eps)  # (1, C, 1)
        if g is not None:
            scale = scale * _column(xp, g, c)
        out = d * scale if bt is None else d * scale + _column(xp, bt, c)
        new_rm, new_rv = running_mean, running_var
        if running_mean is not None:
            unbiased = xp.reshape(var, (c,)) * (m / (m - 1))
            new_rm = (1 - momentum) * running_mean + momentum * xp.reshape(mean, (c,))
            new_rv = (1 - momentum) * running_var + momentum * unbiased
    else:
        if running_mean is None:
            raise ValueError(
                "training=False needs running_mean and running_var (got None); inference "
                "normalises with the running estimates"
            )
        # one fixed linear map per channel: x * scale + (beta - running_mean * scale)
        scale = 1 / xp.sqrt(running_var + eps)  # (C,)
        if g is not None:
            scale = scale * g
        shift = -running_mean * scale if bt is None else bt - running_mean * scale
        out = x3 * _column(xp, scale, c) + _column(xp, shift, c)
        new_rm, new_rv = running_mean, running_var
    return xp.reshape(out, tuple(x.shape)), new_rm, new_rv


def batch_norm_backward(dout, x, gamma, *, eps: float = 1e-5):
    """Gradients of training-mode :func:`batch_norm`: returns (dx, dgamma, dbeta).

    dout, x: (N, D) or (N, C, H, W); gamma: (C,) or None. With ``xhat`` the normalised
    input, ``m`` the values per channel and ``g = dout * gamma``:

        dbeta  = sum(dout),  dgamma = sum(dout * xhat)
        dx     = (g - mean(g) - xhat * mean(g * xhat)) / sqrt(var + eps)

    (sums and means per channel over N, H, W). The two subtracted terms are the paths
    through the batch mean and the batch variance.
    """
    check_array("dout", dout)
    check_array("x", x, ndim=(2, 4), layout="(N, D) or (N, C, H, W)")
    xp = namespace(dout, x, gamma, names=("dout", "x", "gamma"))
    n, c, r = _channels_last_axis(x)
    _check_dout(dout, x)
    _same_dtype("dout", dout, x)
    eps = _check_eps(eps)
    g = _per_channel("gamma", gamma, c, x)
    x3 = xp.reshape(x, (n, c, r))  # (N, C, H*W)
    dout3 = xp.reshape(dout, (n, c, r))
    _, d, var = _centred(xp, x3, (0, 2))
    inv_std = 1 / xp.sqrt(var + eps)  # (1, C, 1)
    xhat = d * inv_std  # (N, C, H*W)
    dbeta = xp.sum(dout3, axis=(0, 2))  # (C,)
    dgamma = xp.sum(dout3 * xhat, axis=(0, 2))  # (C,)
    # mean(g) = gamma * dbeta / m and mean(g * xhat) = gamma * dgamma / m
    m = n * r
    scale = inv_std if g is None else inv_std * _column(xp, g, c)
    dx = scale * (dout3 - _column(xp, dbeta / m, c) - xhat * _column(xp, dgamma / m, c))
    return xp.reshape(dx, tuple(x.shape)), dgamma, dbeta


def _group_geometry(x, num_groups, name="x"):
    """Validate a group-norm call; return (n, c, num_groups, values per group)."""
    check_array(name, x, ndim=tuple(range(2, 33)), layout="(N, C, ...)")
    num_groups = check_int("num_groups", num_groups, minimum=1)
    n, c = x.shape[0], x.shape[1]
    if c % num_groups:
        raise ValueError(
            f"num_groups={num_groups} does not divide the {c} channels of x; expected a "
            f"divisor of {c}"
        )
    per_group = (c // num_groups) * math.prod(x.shape[2:])
    if per_group == 0:
        raise ValueError(
            f"x has shape {tuple(x.shape)}: each of the {num_groups} groups holds no values; "
            "expected at least one channel and non-empty spatial axes"
        )
    return n, c, num_groups, per_group


def group_norm(x, num_groups: int, gamma=None, beta=None, *, eps: float = 1e-5):
    """Group normalization: per example, over each group of C / G channels and H, W.

    x: (N, C, ...) (any number of trailing axes, including none); num_groups divides C;
    gamma, beta: (C,) per-channel scale and shift, or None. Uses the biased variance.
    Same as ``torch.nn.functional.group_norm`` (which refuses groups of one value; here
    they normalise to 0). An empty batch (N = 0) gives an empty result.
    """
    n, c, groups, per_group = _group_geometry(x, num_groups)
    xp = namespace(x, gamma, beta, names=("x", "gamma", "beta"))
    eps = _check_eps(eps)
    g = _per_channel("gamma", gamma, c, x)
    bt = _per_channel("beta", beta, c, x)
    grouped = xp.reshape(x, (n, groups, per_group))  # (N, G, C/G * H * W)
    _, d, var = _centred(xp, grouped, (2,))
    out = xp.reshape(d / xp.sqrt(var + eps), _channels_last_axis(x))  # (N, C, H*W)
    if g is not None:
        out = out * _column(xp, g, c)
    if bt is not None:
        out = out + _column(xp, bt, c)
    return xp.reshape(out, tuple(x.shape))


def group_norm_backward(dout, x, num_groups: int, gamma=None, *, eps: float = 1e-5):
    """Gradients of :func:`group_norm`: returns (dx, dgamma, dbeta).

    dout, x: (N, C, ...); gamma: (C,) or None. The batch-norm rule, applied per
    example and group: with ``xhat`` the normalised input and ``g = dout * gamma``,

        dx = (g - mean(g) - xhat * mean(g * xhat)) / sqrt(var + eps)

    with means over each group's C / G * H * W values, while ``dgamma = sum(dout * xhat)``
    and ``dbeta = sum(dout)`` sum per channel over N and H, W, as for batch norm.
    """
    check_array("dout", dout)
    n, c, groups, per_group = _group_geometry(x, num_groups)
    xp = namespace(dout, x, gamma, names=("dout", "x", "gamma"))
    _check_dout(dout, x)
    _same_dtype("dout", dout, x)
    eps = _check_eps(eps)
    g = _per_channel("gamma", gamma, c, x)
    per_channel = _channels_last_axis(x)  # (N, C, H*W)
    _, d, var = _centred(xp, xp.reshape(x, (n, groups, per_group)), (2,))
    inv_std = 1 / xp.sqrt(var + eps)  # (N, G, 1)
    xhat = d * inv_std  # (N, G, C/G * H*W)
    dout3 = xp.reshape(dout, per_channel)
    dbeta = xp.sum(dout3, axis=(0, 2))  # (C,)
    dgamma = xp.sum(dout3 * xp.reshape(xhat, per_channel), axis=(0, 2))  # (C,)
    dxhat = dout3 if g is None else dout3 * _column(xp, g, c)
    dxhat = xp.reshape(dxhat, (n, groups, per_group))  # (N, G, C/G * H*W)
    dx = (
        dxhat
        - xp.mean(dxhat, axis=2, keepdims=True)
        - xhat * xp.mean(dxhat * xhat, axis=2, keepdims=True)
    ) * inv_std
    return xp.reshape(dx, tuple(x.shape)), dgamma, dbeta


def _channels(x) -> int:
    check_array("x", x, ndim=tuple(range(2, 33)), layout="(N, C, ...)")
    namespace(x, names=("x",))
    if x.shape[1] == 0:
        raise ValueError(
            f"x has shape {tuple(x.shape)}: no channels to normalise; expected C >= 1"
        )
    return x.shape[1]


def layer_norm(x, gamma=None, beta=None, *, eps: float = 1e-5):
    """Layer normalization: group norm with one group (per example, over C, H, W).

    gamma and beta are per channel (C,), as ``torch.nn.GroupNorm(1, C)``; without them
    this equals ``F.layer_norm(x, x.shape[1:])``.
    """
    _channels(x)
    return group_norm(x, 1, gamma, beta, eps=eps)


def layer_norm_backward(dout, x, gamma=None, *, eps: float = 1e-5):
    """Gradients of :func:`layer_norm`: :func:`group_norm_backward` with one group."""
    _channels(x)
    return group_norm_backward(dout, x, 1, gamma, eps=eps)


def instance_norm(x, gamma=None, beta=None, *, eps: float = 1e-5):
    """Instance normalization: group norm with C groups (per example and channel, over H, W).

    Same as ``F.instance_norm`` without running statistics.
    """
    return group_norm(x, _channels(x), gamma, beta, eps=eps)


def instance_norm_backward(dout, x, gamma=None, *, eps: float = 1e-5):
    """Gradients of :func:`instance_norm`: :func:`group_norm_backward` with C groups."""
    return group_norm_backward(dout, x, _channels(x), gamma, eps=eps)
