"""Inverted dropout (lesson 06): drop units at training time, rescale the survivors.

During training each value is kept with probability ``1 - p`` and the kept ones are
divided by ``1 - p``, so the expected output equals the input and inference needs no
change at all (the identity). Srivastava et al. (2014). As in ``torch.nn.functional.dropout``,
p = 1 drops everything (zeros) and p = 0 keeps everything.

Worked example from the lesson: d = (1, 2, 3, 4, 5) with p = 0.2 and the fourth unit
dropped gives (1.25, 2.5, 3.75, 0, 6.25).
"""

from __future__ import annotations

import torch

from course_lib.validate import (
    check_array,
    check_bool,
    check_generator,
    check_int,
    check_probability,
    is_integer,
)

from ._backend import device, is_floating, is_torch_array, namespace, uniform

__all__ = ["dropout", "dropout_backward"]


def _uniform(x, generator):
    """Uniform [0, 1) numbers like ``x`` (kind, dtype, device).

    A ``torch.Generator`` may live on another device than ``x`` (the CPU generator
    ``course_lib.device.set_seed`` returns, with a CUDA tensor): the numbers are drawn
    on the generator's device and moved. For a tensor, an int seed or a numpy Generator
    becomes a CPU ``torch.Generator`` (``validate.check_generator``), so one seed gives
    one mask on every device.
    """
    if is_torch_array(x):
        g = check_generator("generator", generator)
        where = x.device if g is None else g.device
        return torch.rand(x.shape, generator=g, dtype=x.dtype, device=where).to(x.device)
    if isinstance(generator, torch.Generator) and generator.device.type != "cpu":
        u = torch.rand(x.shape, generator=generator, dtype=torch.float64, device=generator.device)
        return u.cpu().numpy().astype(x.dtype, copy=False)
    return uniform(x, generator)


def _scale(p: float) -> float:
    """The factor kept units are multiplied by: 1 / (1 - p), and 0 at p = 1 (nothing kept)."""
    return 0.0 if p == 1 else 1.0 / (1.0 - p)


def dropout(x, p: float = 0.5, *, training: bool = True, generator=None):
    """Inverted dropout; returns ``(out, keep_mask)``.

    x: any shape, floating; p: probability of dropping each value, in [0, 1] (torch's
    default 0.5). ``keep_mask`` is a boolean array like x (True = kept), needed by
    :func:`dropout_backward`; ``out = x * keep_mask / (1 - p)``, and zeros at p = 1
    (``x * 0``, so a NaN or infinite input gives NaN, as in torch). With
    ``training=False`` (or p = 0) the output is x itself and the mask keeps everything.

    generator: None (global random state), an int seed, a ``numpy.random.Generator``
    or a ``torch.Generator`` on any device (numbers drawn there, moved to x's device).
    """
    check_array("x", x)
    xp = namespace(x, names=("x",))
    if not is_floating(xp, x):
        raise TypeError(
            f"x has dtype {x.dtype}; expected a floating dtype (dropout rescales values by "
            "1 / (1 - p)), e.g. x.astype(np.float32) or x.float()"
        )
    p = check_probability("p", p)
    training = check_bool("training", training)
    if is_integer(generator):  # a seed: numpy, 0-d torch and Python ints alike
        generator = check_int("generator", generator, minimum=0, what="an int seed >= 0")
    if not training or p == 0:
        return x, xp.ones(x.shape, dtype=xp.bool, device=device(x))
    if p == 1:  # nothing survives; torch draws nothing either
        keep = xp.zeros(x.shape, dtype=xp.bool, device=device(x))
    else:
        keep = _uniform(x, generator) >= p  # True with probability 1 - p
    return x * xp.astype(keep, x.dtype) * _scale(p), keep


def dropout_backward(dout, keep_mask, p: float):
    """Gradient of :func:`dropout` in training: ``dout * keep_mask / (1 - p)`` (0 at p = 1)."""
    check_array("dout", dout)
    check_array("keep_mask", keep_mask)
    xp = namespace(dout, keep_mask, names=("dout", "keep_mask"))
    p = check_probability("p", p)
    if tuple(dout.shape) != tuple(keep_mask.shape):
        raise ValueError(
            f"keep_mask has shape {tuple(keep_mask.shape)}; expected {tuple(dout.shape)}, "
            "the shape of dout"
        )
    return dout * xp.astype(keep_mask, dout.dtype) * _scale(p)
