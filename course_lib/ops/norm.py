"""Normalization layers (lesson 07): batch norm, and group / layer / instance norm.

All of them compute ``(x - mean) / sqrt(var + eps)`` and then ``gamma * xhat + beta``;
they differ only in which axes the mean and variance are taken over:

* batch norm: per channel, over N (and H, W): (N, D) or (N, C, H, W) inputs;
* group norm: per example and per group of C / G channels, over those channels and H, W;
* layer norm = group norm with one group (per example, over C, H, W);
* instance norm = group norm with C groups (per example and channel, over H, W).

Pure functions: batch norm returns its new running statistics instead of changing
them. Ioffe and Szegedy (2015); Wu and He (2018) for group norm.
"""

from __future__ import annotations

import math

import numpy as np

from ._backend import check_ndim, namespace

__all__ = ["batch_norm", "batch_norm_backward", "group_norm", "instance_norm", "layer_norm"]


def _channel_axes(x):
    check_ndim("x", x, (2, 4), "(N, D) or (N, C, H, W)")
    return (0,) if x.ndim == 2 else (0, 2, 3)


def _per_channel(xp, name, v, c, x):
    """A (C,) parameter reshaped to broadcast against x, or a TypeError/ValueError."""
    if v is None:
        return None
    namespace(x, v, names=("x", name))
    if tuple(v.shape) != (c,):
        raise ValueError(f"{name} has shape {tuple(v.shape)}; expected ({c},), one per channel")
    _same_dtype(name, v, x)
    return xp.reshape(v, (1, c) + (1,) * (x.ndim - 2))


def _same_dtype(name, v, x):
    if v.dtype != x.dtype:
        raise TypeError(
            f"{name} has dtype {v.dtype} but x has {x.dtype}; expected one floating dtype "
            f"for all (convert {name} to {x.dtype})"
        )


def _check_eps(eps):
    if not isinstance(eps, (int, float)) or isinstance(eps, bool) or eps <= 0:
        raise ValueError(f"eps={eps!r} must be a positive number")


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
    xp = namespace(x, names=("x",))
    axes = _channel_axes(x)
    c = x.shape[1]
    g = _per_channel(xp, "gamma", gamma, c, x)
    bt = _per_channel(xp, "beta", beta, c, x)
    rm = _per_channel(xp, "running_mean", running_mean, c, x)
    rv = _per_channel(xp, "running_var", running_var, c, x)
    if not isinstance(training, bool):
        raise TypeError(f"training={training!r} must be True or False")
    if (
        isinstance(momentum, bool)
        or not isinstance(momentum, (int, float))
        or not 0 <= momentum <= 1
    ):
        raise ValueError(f"momentum={momentum!r} must be a number in [0, 1]")
    _check_eps(eps)
    if (running_mean is None) != (running_var is None):
        raise ValueError("running_mean and running_var must both be arrays or both be None")
    if training:
        m = math.prod(x.shape) // c  # values per channel
        if m < 2:
            raise ValueError(
                f"x has shape {tuple(x.shape)}: only {m} value per channel, so the batch "
                "variance is undefined in training; expected more than 1 value per channel"
            )
        mean = xp.mean(x, axis=axes, keepdims=True)  # (1, C[, 1, 1])
        var = xp.var(x, axis=axes, keepdims=True)  # biased, for normalising
        new_rm, new_rv = running_mean, running_var
        if running_mean is not None:
            unbiased = var * (m / (m - 1))
            new_rm = (1 - momentum) * running_mean + momentum * xp.reshape(mean, (c,))
            new_rv = (1 - momentum) * running_var + momentum * xp.reshape(unbiased, (c,))
    else:
        if running_mean is None:
            raise ValueError(
                "training=False needs running_mean and running_var (got None); inference "
                "normalises with the running estimates"
            )
        mean, var = rm, rv
        new_rm, new_rv = running_mean, running_var
    out = (x - mean) / xp.sqrt(var + eps)
    if g is not None:
        out = out * g
    if bt is not None:
        out = out + bt
    return out, new_rm, new_rv


def batch_norm_backward(dout, x, gamma, *, eps: float = 1e-5):
    """Gradients of training-mode :func:`batch_norm`: returns (dx, dgamma, dbeta).

    dout, x: (N, D) or (N, C, H, W); gamma: (C,) or None. With ``xhat`` the normalised
    input, ``m`` the values per channel and ``g = dout * gamma``:

        dbeta  = sum(dout),  dgamma = sum(dout * xhat)
        dx     = (g - mean(g) - xhat * mean(g * xhat)) / sqrt(var + eps)

    (sums and means per channel over N, H, W). The two subtracted terms are the paths
    through the batch mean and the batch variance.
    """
    xp = namespace(dout, x, gamma, names=("dout", "x", "gamma"))
    axes = _channel_axes(x)
    c = x.shape[1]
    if tuple(dout.shape) != tuple(x.shape):
        raise ValueError(f"dout has shape {tuple(dout.shape)}; expected {tuple(x.shape)}")
    _same_dtype("dout", dout, x)
    _check_eps(eps)
    g = _per_channel(xp, "gamma", gamma, c, x)
    mean = xp.mean(x, axis=axes, keepdims=True)
    inv_std = 1 / xp.sqrt(xp.var(x, axis=axes, keepdims=True) + eps)
    xhat = (x - mean) * inv_std
    dbeta = xp.sum(dout, axis=axes)  # (C,)
    dgamma = xp.sum(dout * xhat, axis=axes)  # (C,)
    dxhat = dout if g is None else dout * g
    dx = (
        dxhat
        - xp.mean(dxhat, axis=axes, keepdims=True)
        - xhat * xp.mean(dxhat * xhat, axis=axes, keepdims=True)
    ) * inv_std
    return dx, dgamma, dbeta


def group_norm(x, num_groups: int, gamma=None, beta=None, *, eps: float = 1e-5):
    """Group normalization: per example, over each group of C / G channels and H, W.

    x: (N, C, ...) (any number of trailing axes, including none); num_groups divides C;
    gamma, beta: (C,) per-channel scale and shift, or None. Uses the biased variance.
    Same as ``torch.nn.functional.group_norm``.
    """
    xp = namespace(x, gamma, beta, names=("x", "gamma", "beta"))
    if x.ndim < 2:
        raise ValueError(f"x has {x.ndim} dimensions; expected (N, C, ...)")
    if (
        isinstance(num_groups, bool)
        or not isinstance(num_groups, int | np.integer)
        or num_groups < 1
    ):
        raise ValueError(f"num_groups={num_groups!r} must be a positive int")
    num_groups = int(num_groups)
    _check_eps(eps)
    n, c = x.shape[0], x.shape[1]
    if c % num_groups:
        raise ValueError(
            f"num_groups={num_groups} does not divide the {c} channels of x; expected a divisor of {c}"
        )
    g = _per_channel(xp, "gamma", gamma, c, x)
    bt = _per_channel(xp, "beta", beta, c, x)
    grouped = xp.reshape(x, (n, num_groups, -1))  # (N, G, C/G * H * W)
    mean = xp.mean(grouped, axis=2, keepdims=True)
    var = xp.var(grouped, axis=2, keepdims=True)
    out = xp.reshape((grouped - mean) / xp.sqrt(var + eps), tuple(x.shape))  # (N, C, ...)
    if g is not None:
        out = out * g
    if bt is not None:
        out = out + bt
    return out


def layer_norm(x, gamma=None, beta=None, *, eps: float = 1e-5):
    """Layer normalization: group norm with one group (per example, over C, H, W).

    gamma and beta are per channel (C,), as ``torch.nn.GroupNorm(1, C)``; without them
    this equals ``F.layer_norm(x, x.shape[1:])``.
    """
    if getattr(x, "ndim", 0) < 2:
        namespace(x, names=("x",))
        raise ValueError(f"x has {x.ndim} dimensions; expected (N, C, ...)")
    return group_norm(x, 1, gamma, beta, eps=eps)


def instance_norm(x, gamma=None, beta=None, *, eps: float = 1e-5):
    """Instance normalization: group norm with C groups (per example and channel, over H, W).

    Same as ``F.instance_norm`` without running statistics.
    """
    if getattr(x, "ndim", 0) < 2:
        namespace(x, names=("x",))
        raise ValueError(f"x has {x.ndim} dimensions; expected (N, C, ...)")
    return group_norm(x, x.shape[1], gamma, beta, eps=eps)
