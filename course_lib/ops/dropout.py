"""Inverted dropout (lesson 06): drop units at training time, rescale the survivors.

During training each value is kept with probability ``1 - p`` and the kept ones are
divided by ``1 - p``, so the expected output equals the input and inference needs no
change at all (the identity). Srivastava et al. (2014).

Worked example from the lesson: d = (1, 2, 3, 4, 5) with p = 0.2 and the fourth unit
dropped gives (1.25, 2.5, 3.75, 0, 6.25).
"""

from __future__ import annotations

from ._backend import device, is_floating, namespace, uniform

__all__ = ["dropout", "dropout_backward"]


def _check_p(p) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)):
        raise TypeError(f"p={p!r} must be a number, the probability of dropping a unit")
    if not 0 <= p < 1:
        raise ValueError(f"p={p!r} must be in [0, 1): the probability of dropping a unit")
    return float(p)


def dropout(x, p: float, *, training: bool = True, generator=None):
    """Inverted dropout; returns ``(out, keep_mask)``.

    x: any shape; p: probability of dropping each value, in [0, 1). ``keep_mask`` is a
    boolean array like x (True = kept), needed by :func:`dropout_backward`;
    ``out = x * keep_mask / (1 - p)``. With ``training=False`` (or p = 0) the output is
    x itself and the mask keeps everything.

    generator: None (global random state), an int seed, a ``numpy.random.Generator``
    (numpy inputs) or a ``torch.Generator`` (on the tensor's device for CUDA).
    """
    xp = namespace(x, names=("x",))
    if not is_floating(xp, x):
        raise TypeError(
            f"x has dtype {x.dtype}; expected a floating dtype (dropout rescales values by "
            "1 / (1 - p)), e.g. x.astype(np.float32) or x.float()"
        )
    p = _check_p(p)
    if not isinstance(training, bool):
        raise TypeError(f"training={training!r} must be True or False")
    if not training or p == 0:
        return x, xp.ones(x.shape, dtype=xp.bool, device=device(x))
    keep = uniform(x, generator) >= p  # True with probability 1 - p
    return x * xp.astype(keep, x.dtype) / (1 - p), keep


def dropout_backward(dout, keep_mask, p: float):
    """Gradient of :func:`dropout` in training: ``dout * keep_mask / (1 - p)``."""
    xp = namespace(dout, keep_mask, names=("dout", "keep_mask"))
    p = _check_p(p)
    if tuple(dout.shape) != tuple(keep_mask.shape):
        raise ValueError(
            f"keep_mask has shape {tuple(keep_mask.shape)}; expected {tuple(dout.shape)}, "
            "the shape of dout"
        )
    return dout * xp.astype(keep_mask, dout.dtype) / (1 - p)
