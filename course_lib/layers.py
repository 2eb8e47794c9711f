"""Course layers: ``torch.nn`` modules whose forward and backward are the course's own ops.

timm's pattern (``timm/layers``): each operation is a plain function, with its forward
and backward pass side by side (:mod:`course_lib.ops`), and a thin ``nn.Module`` makes
it a layer. Here each layer has a ``torch.autograd.Function`` (``Conv2dFunction``,
...) whose ``forward`` calls the course's forward op and whose ``backward`` calls the
course's backward op, so that ``loss.backward()`` through a network of these layers
runs the lessons' gradients, not torch's:

=================  ===========================================================
layer              forward / backward
=================  ===========================================================
Conv2d             ``conv2d`` / ``conv2d_backward``
ConvTranspose2d    ``conv_transpose2d`` / ``conv2d`` and ``conv2d_backward`` (the
                   transposed conv is conv2d's input gradient, so its own input
                   gradient is a conv2d and its weight gradient conv2d's)
MaxPool2d          ``max_pool2d`` / ``max_pool2d_backward``
AvgPool2d          ``avg_pool2d`` / ``avg_pool2d_backward``
BatchNorm1d, 2d    ``batch_norm`` / ``batch_norm_backward``
Dropout            ``dropout`` / ``dropout_backward``
ReLU, Tanh,        ``relu`` / ``relu_grad``, ``tanh`` / ``tanh_grad``,
Sigmoid            ``sigmoid`` / ``sigmoid_grad``
Linear             ``x @ W.T + b`` / the two matrix products of its gradient
=================  ===========================================================

Each module subclasses its ``torch.nn`` twin (as timm's ``StdConv2d`` subclasses
``nn.Conv2d``) and replaces only ``forward``: the constructor takes the same
arguments in the same order with the same defaults, the parameters are created and
initialised by torch's own ``reset_parameters`` (so a seeded course layer starts with
the same weights as a seeded torch layer), and ``state_dict`` keys, ``repr``,
``.to(...)`` and ``course_lib.shapes.summary`` behave as for torch's layer. A trained
``torch.nn`` network's weights load into the course version, and back.

Arguments torch accepts but the course's ops do not implement (``dilation``,
``groups``, ``padding_mode``, ``ceil_mode``, ``inplace``, ...) raise a ``ValueError``
naming them when the layer is built. Source: lessons 01-07; the ops' modules cite the
papers.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from course_lib import ops
from course_lib.device import resolve_device
from course_lib.validate import (
    check_bool,
    check_choice,
    check_dtype,
    check_int,
    check_number,
    check_pair,
    check_probability,
)

__all__ = [
    "ActivationFunction",
    "AvgPool2d",
    "AvgPool2dFunction",
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNormFunction",
    "Conv2d",
    "Conv2dFunction",
    "ConvTranspose2d",
    "ConvTranspose2dFunction",
    "Dropout",
    "DropoutFunction",
    "Linear",
    "LinearFunction",
    "MaxPool2d",
    "MaxPool2dFunction",
    "ReLU",
    "Sigmoid",
    "Tanh",
]


def _pair(value) -> tuple:
    return tuple(value) if isinstance(value, tuple | list) else (value, value)


def _refuse(layer: str, name: str, value, supported: str, hint: str = "") -> None:
    raise ValueError(
        f"{layer}: {name}={value!r} is not supported by the course's op (only {supported}); "
        f"use torch.nn.{layer} for it{hint}"
    )


def _require_pair_of_ones(layer: str, name: str, value) -> None:
    if _pair(value) != (1, 1):
        _refuse(layer, name, value, f"{name}=1")


_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _factory(device, dtype) -> tuple[torch.device | None, torch.dtype | None]:
    """torch's ``device=`` and ``dtype=`` of a layer, checked (None stays None: torch's
    default device and dtype, so that ``with torch.device("meta"):`` still applies)."""
    device = None if device is None else resolve_device(device)
    return device, check_dtype("dtype", dtype, floating=True, allow_none=True)


def _conv_settings(layer: str, in_channels, out_channels, kernel_size, stride, groups, bias,
                   dilation, padding_mode) -> tuple:
    """The arguments both convolutions share, checked and as Python ints and bools, so
    that numpy or 0-d torch values build the same layer as Python ones."""
    in_channels = check_int("in_channels", in_channels, minimum=1)
    out_channels = check_int("out_channels", out_channels, minimum=1)
    kernel_size = check_pair("kernel_size", kernel_size, minimum=1)
    stride = check_pair("stride", stride, minimum=1)
    if check_int("groups", groups, minimum=1) != 1:
        _refuse(layer, "groups", groups, "groups=1")
    if check_pair("dilation", dilation, minimum=1) != (1, 1):
        _refuse(layer, "dilation", dilation, "dilation=1")
    dilation = (1, 1)
    if check_choice("padding_mode", padding_mode, _PADDING_MODES) != "zeros":
        _refuse(layer, "padding_mode", padding_mode, "padding_mode='zeros'")
    bias = check_bool("bias", bias)
    return in_channels, out_channels, kernel_size, stride, dilation, bias


# --------------------------------------------------------------------------- autograd


def _plain(*tensors):
    """The tensors detached (None stays None). Parameters are a Tensor subclass, and the
    array-API calls inside the ops run several times slower on a subclass."""
    return tuple(None if t is None else t.detach() for t in tensors)


class Conv2dFunction(torch.autograd.Function):
    """``conv2d(x, weight, bias)`` with ``conv2d_backward`` as its gradient.

    ``Conv2dFunction.apply(x, weight, bias, stride, padding)``: x (N, C, H, W), weight
    (F, C, KH, KW), bias (F,) or None; stride, padding: int or (h, w) pair.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding):
        x, weight, bias = _plain(x, weight, bias)
        ctx.save_for_backward(x, weight)
        ctx.geometry = {"stride": stride, "padding": padding}
        ctx.has_bias = bias is not None
        return ops.conv2d(x, weight, bias, **ctx.geometry)  # (N, F, OH, OW)

    @staticmethod
    @once_differentiable
    def backward(ctx, dout):
        x, weight = ctx.saved_tensors
        dx, dw, db = ops.conv2d_backward(dout, x, weight, **ctx.geometry)
        return dx, dw, db if ctx.has_bias else None, None, None


class ConvTranspose2dFunction(torch.autograd.Function):
    """``conv_transpose2d(x, weight, bias)``; its gradients are convolutions.

    ``ConvTranspose2dFunction.apply(x, weight, bias, stride, padding, output_padding)``:
    x (N, C_in, H, W), weight (C_in, C_out, KH, KW), bias (C_out,) or None.

    ``y = conv_transpose2d(x, w)`` is the adjoint of ``z -> conv2d(z, w)``, so
    ``<y, dy> = <x, conv2d(dy, w)>``: the input gradient is ``conv2d(dy, w)`` and the
    weight gradient is conv2d's weight gradient for input dy and upstream gradient x.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, output_padding):
        x, weight, bias = _plain(x, weight, bias)
        ctx.save_for_backward(x, weight)
        ctx.geometry = {"stride": stride, "padding": padding}
        ctx.has_bias = bias is not None
        return ops.conv_transpose2d(
            x, weight, bias, stride=stride, padding=padding, output_padding=output_padding
        )  # (N, C_out, OH, OW)

    @staticmethod
    @once_differentiable
    def backward(ctx, dout):
        x, weight = ctx.saved_tensors
        dx = ops.conv2d(dout, weight, **ctx.geometry)  # (N, C_in, H, W)
        _, dw, _ = ops.conv2d_backward(x, dout, weight, **ctx.geometry)
        db = torch.sum(dout, dim=(0, 2, 3)) if ctx.has_bias else None  # (C_out,)
        return dx, dw, db, None, None, None


class MaxPool2dFunction(torch.autograd.Function):
    """``max_pool2d`` with ``max_pool2d_backward`` as its gradient.

    ``MaxPool2dFunction.apply(x, kernel_size, stride, padding, return_indices)``; with
    ``return_indices=True`` it returns ``(out, indices)``, indices not differentiable.
    """

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding, return_indices):
        ctx.save_for_backward(x)
        ctx.geometry = {"kernel_size": kernel_size, "stride": stride, "padding": padding}
        result = ops.max_pool2d(x, return_indices=return_indices, **ctx.geometry)
        if return_indices:
            ctx.mark_non_differentiable(result[1])
        return result

    @staticmethod
    @once_differentiable
    def backward(ctx, dout, *_):
        (x,) = ctx.saved_tensors
        geometry = dict(ctx.geometry)
        kernel_size = geometry.pop("kernel_size")
        return ops.max_pool2d_backward(dout, x, kernel_size, **geometry), None, None, None, None


class AvgPool2dFunction(torch.autograd.Function):
    """``avg_pool2d`` with ``avg_pool2d_backward`` as its gradient.

    ``AvgPool2dFunction.apply(x, kernel_size, stride, padding)``.
    """

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding):
        ctx.save_for_backward(x)
        ctx.geometry = {"stride": stride, "padding": padding}
        ctx.kernel_size = kernel_size
        return ops.avg_pool2d(x, kernel_size, **ctx.geometry)

    @staticmethod
    @once_differentiable
    def backward(ctx, dout):
        (x,) = ctx.saved_tensors
        dx = ops.avg_pool2d_backward(dout, x, ctx.kernel_size, **ctx.geometry)
        return dx, None, None, None


class BatchNormFunction(torch.autograd.Function):
    """``batch_norm`` and its gradient; returns ``(out, new_running_mean, new_running_var)``.

    ``BatchNormFunction.apply(x, weight, bias, running_mean, running_var, training,
    momentum, eps)``: x (N, D) or (N, C, H, W), the rest (C,) or None. In training the
    gradient is ``batch_norm_backward`` (through the batch statistics); in inference
    batch norm is one fixed linear map per channel, ``y = x * s + t`` with
    ``s = weight / sqrt(running_var + eps)``, whose gradient is ``dout * s``. The new
    running statistics (None when none were given) are not differentiable.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, training, momentum, eps):
        x, weight, bias = _plain(x, weight, bias)
        out, new_rm, new_rv = ops.batch_norm(
            x, weight, bias, running_mean, running_var, training=training, momentum=momentum,
            eps=eps,
        )
        # inference's gradient needs the running statistics; training's must not keep
        # them, since the layer overwrites them with the new ones
        stats_used = (None, None) if training else (running_mean, running_var)
        ctx.save_for_backward(x, weight, *stats_used)
        ctx.training, ctx.eps, ctx.has_bias = training, eps, bias is not None
        stats = [t for t in (new_rm, new_rv) if t is not None]
        ctx.mark_non_differentiable(*stats)
        return out, new_rm, new_rv

    @staticmethod
    @once_differentiable
    def backward(ctx, dout, *_):
        x, weight, running_mean, running_var = ctx.saved_tensors
        if ctx.training:
            dx, dgamma, dbeta = ops.batch_norm_backward(dout, x, weight, eps=ctx.eps)
        else:
            c = x.shape[1]
            shape = (1, c) + (1,) * (x.ndim - 2)  # to broadcast over (N, C[, H, W])
            axes = (0,) + tuple(range(2, x.ndim))
            inv_std = torch.rsqrt(running_var + ctx.eps).reshape(shape)
            xhat = (x - running_mean.reshape(shape)) * inv_std
            dx = dout * inv_std if weight is None else dout * (inv_std * weight.reshape(shape))
            dgamma, dbeta = torch.sum(dout * xhat, dim=axes), torch.sum(dout, dim=axes)
        dgamma = dgamma if weight is not None else None
        dbeta = dbeta if ctx.has_bias else None
        return dx, dgamma, dbeta, None, None, None, None, None


class DropoutFunction(torch.autograd.Function):
    """Inverted ``dropout`` in training, with ``dropout_backward`` (the same mask).

    ``DropoutFunction.apply(x, p, generator)``, 0 <= p < 1; the mask is drawn from
    ``generator`` (None: torch's global random state, as ``torch.nn.Dropout``).
    """

    @staticmethod
    def forward(ctx, x, p, generator):
        out, keep = ops.dropout(x, p, training=True, generator=generator)
        ctx.save_for_backward(keep)
        ctx.p = p
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, dout):
        (keep,) = ctx.saved_tensors
        return ops.dropout_backward(dout, keep, ctx.p), None, None


class ActivationFunction(torch.autograd.Function):
    """An elementwise ``f(x)`` with ``dout * f_grad(x)`` as its gradient.

    ``ActivationFunction.apply(x, f, f_grad)``, e.g. ``(x, ops.tanh, ops.tanh_grad)``.
    Where ``f_grad`` is 0 the gradient is exactly 0, even for an inf upstream gradient
    (torch's rule too; the product alone would give inf * 0 = NaN).
    """

    @staticmethod
    def forward(ctx, x, f, f_grad):
        ctx.save_for_backward(x)
        ctx.f_grad = f_grad
        return f(x)

    @staticmethod
    @once_differentiable
    def backward(ctx, dout):
        (x,) = ctx.saved_tensors
        slope = ctx.f_grad(x)
        # inf * 0 = NaN: where the slope is 0 the gradient is 0 (no host sync to check dout)
        return (dout * slope).masked_fill_(slope == 0, 0), None, None


class LinearFunction(torch.autograd.Function):
    """``x @ weight.T + bias`` and its gradient, two more matrix products.

    ``LinearFunction.apply(x, weight, bias)``: x (..., in), weight (out, in), bias
    (out,) or None. With x flattened to (M, in): ``dx = dout @ weight``,
    ``dweight = dout.T @ x``, ``dbias = sum of dout over M``.
    """

    @staticmethod
    def forward(ctx, x, weight, bias):
        x, weight, bias = _plain(x, weight, bias)
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        out = torch.matmul(x, weight.T)  # (..., out)
        return out if bias is None else out + bias

    @staticmethod
    @once_differentiable
    def backward(ctx, dout):
        x, weight = ctx.saved_tensors
        x2 = x.reshape(-1, x.shape[-1])  # (M, in)
        dout2 = dout.reshape(-1, dout.shape[-1])  # (M, out)
        dx = torch.matmul(dout, weight) if ctx.needs_input_grad[0] else None  # (..., in)
        dw = torch.matmul(dout2.T, x2)  # (out, in)
        db = torch.sum(dout2, dim=0) if ctx.has_bias else None  # (out,)
        return dx, dw, db


# --------------------------------------------------------------------------- layers


class Conv2d(nn.Conv2d):
    """``torch.nn.Conv2d`` computed by the course's ``conv2d`` (im2col + matmul).

    padding: an int, an (h, w) pair, ``"valid"`` (0) or ``"same"`` (odd kernels,
    stride 1). Not supported: dilation != 1, groups != 1, padding_mode != "zeros".
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
    ) -> None:
        in_channels, out_channels, kernel_size, stride, dilation, bias = _conv_settings(
            "Conv2d", in_channels, out_channels, kernel_size, stride, groups, bias, dilation,
            padding_mode,
        )
        if isinstance(padding, str):
            padding = check_choice("padding", padding, ("valid", "same"))
        else:
            padding = check_pair("padding", padding, minimum=0)
        device, dtype = _factory(device, dtype)
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
            padding_mode, device, dtype,
        )
        if self.padding == "same" and any(k % 2 == 0 for k in self.kernel_size):
            even = f" (kernel_size={self.kernel_size} is even: torch pads it unevenly)"
            _refuse("Conv2d", "padding", "same", "'same' with an odd kernel size", even)

    def _course_padding(self) -> tuple[int, int]:
        if self.padding == "valid":
            return (0, 0)
        if self.padding == "same":
            return tuple((k - 1) // 2 for k in self.kernel_size)
        return self.padding

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return Conv2dFunction.apply(
            input, self.weight, self.bias, self.stride, self._course_padding()
        )


class ConvTranspose2d(nn.ConvTranspose2d):
    """``torch.nn.ConvTranspose2d`` computed by the course's ``conv_transpose2d``.

    ``forward(input, output_size=None)`` as torch's: ``output_size`` ((H, W), or the
    full (N, C, H, W)) chooses the output_padding. Not supported: groups != 1,
    dilation != 1, padding_mode != "zeros".
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        output_padding=0,
        groups: int = 1,
        bias: bool = True,
        dilation=1,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
    ) -> None:
        in_channels, out_channels, kernel_size, stride, dilation, bias = _conv_settings(
            "ConvTranspose2d", in_channels, out_channels, kernel_size, stride, groups, bias,
            dilation, padding_mode,
        )
        padding = check_pair("padding", padding, minimum=0)
        output_padding = check_pair("output_padding", output_padding, minimum=0)
        if any(op >= s for op, s in zip(output_padding, stride, strict=True)):
            raise ValueError(
                f"output_padding={output_padding} must be smaller than stride={stride} "
                "along each axis (it picks one of the stride's possible output sizes)"
            )
        device, dtype = _factory(device, dtype)
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, output_padding, groups,
            bias, dilation, padding_mode, device, dtype,
        )

    def _course_output_padding(self, input: torch.Tensor, output_size) -> tuple[int, int]:
        if output_size is None:
            return self.output_padding
        size = tuple(int(s) for s in output_size)
        if len(size) == input.ndim:
            size = size[2:]
        if len(size) != 2:
            raise ValueError(
                f"output_size={tuple(output_size)!r} must be (H, W) or (N, C, H, W)"
            )
        padding = []
        geometry = zip(
            "HW", size, input.shape[2:], self.kernel_size, self.stride, self.padding, strict=True
        )
        for axis, want, n, k, s, p in geometry:
            smallest = (n - 1) * s - 2 * p + k
            if not smallest <= want < smallest + s:
                raise ValueError(
                    f"output_size={size!r}: {axis}={want} is not reachable; with stride {s} "
                    f"the output {axis} is between {smallest} and {smallest + s - 1}"
                )
            padding.append(want - smallest)
        return tuple(padding)

    def forward(self, input: torch.Tensor, output_size=None) -> torch.Tensor:
        output_padding = self._course_output_padding(input, output_size)
        return ConvTranspose2dFunction.apply(
            input, self.weight, self.bias, self.stride, self.padding, output_padding
        )


class MaxPool2d(nn.MaxPool2d):
    """``torch.nn.MaxPool2d`` computed by the course's ``max_pool2d``.

    Not supported: dilation != 1, ceil_mode=True.
    """

    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        dilation=1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        _require_pair_of_ones("MaxPool2d", "dilation", dilation)
        if check_bool("ceil_mode", ceil_mode):
            _refuse("MaxPool2d", "ceil_mode", ceil_mode, "ceil_mode=False")
        check_bool("return_indices", return_indices)
        super().__init__(kernel_size, stride, padding, dilation, return_indices, ceil_mode)

    def forward(self, input: torch.Tensor):
        return MaxPool2dFunction.apply(
            input, self.kernel_size, self.stride, self.padding, self.return_indices
        )


class AvgPool2d(nn.AvgPool2d):
    """``torch.nn.AvgPool2d`` computed by the course's ``avg_pool2d``.

    Not supported: ceil_mode=True, count_include_pad=False, divisor_override.
    """

    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override=None,
    ) -> None:
        if check_bool("ceil_mode", ceil_mode):
            _refuse("AvgPool2d", "ceil_mode", ceil_mode, "ceil_mode=False")
        if not check_bool("count_include_pad", count_include_pad):
            _refuse(
                "AvgPool2d", "count_include_pad", count_include_pad, "count_include_pad=True"
            )
        if divisor_override is not None:
            _refuse("AvgPool2d", "divisor_override", divisor_override, "divisor_override=None")
        super().__init__(
            kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
        )

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return AvgPool2dFunction.apply(input, self.kernel_size, self.stride, self.padding)


class _CourseBatchNorm:
    """Forward of both batch-norm layers: torch's bookkeeping around the course op.

    As ``torch.nn.BatchNorm2d``: in training the batch statistics normalise and the
    running statistics are updated with ``momentum`` (``momentum=None``: their
    cumulative average, factor ``1 / num_batches_tracked``); in eval mode the running
    statistics normalise (the batch's, when ``track_running_stats=False``). The op is
    pure; the layer copies the new running statistics it returns into its buffers.
    """

    # torch's BatchNorm1d and BatchNorm2d share this signature (their _BatchNorm's);
    # the arguments are checked, then handed to the torch class next in the MRO
    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device=None,
        dtype=None,
        *,
        bias: bool = True,
    ) -> None:
        *settings, bias = self._settings(
            num_features, eps, momentum, affine, track_running_stats, device, dtype, bias
        )
        super().__init__(*settings, bias=bias)

    @staticmethod
    def _settings(num_features, eps, momentum, affine, track_running_stats, device, dtype,
                  bias) -> tuple:
        """The constructor's arguments, checked, as Python numbers and bools."""
        num_features = check_int("num_features", num_features, minimum=1)
        eps = check_number("eps", eps, positive=True, what="a positive finite number")
        if momentum is not None:
            momentum = check_number(
                "momentum", momentum, minimum=0.0, maximum=1.0, what="a number in [0, 1] or None"
            )
        affine = check_bool("affine", affine)
        track_running_stats = check_bool("track_running_stats", track_running_stats)
        device, dtype = _factory(device, dtype)
        return (num_features, eps, momentum, affine, track_running_stats, device, dtype,
                check_bool("bias", bias))

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked)
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        keep_stats = not self.training or self.track_running_stats
        rm = self.running_mean if keep_stats else None
        rv = self.running_var if keep_stats else None
        out, new_rm, new_rv = BatchNormFunction.apply(
            input, self.weight, self.bias, rm, rv, use_batch, factor, self.eps
        )
        if use_batch and rm is not None:
            with torch.no_grad():
                rm.copy_(new_rm)
                rv.copy_(new_rv)
        return out


class BatchNorm2d(_CourseBatchNorm, nn.BatchNorm2d):
    """``torch.nn.BatchNorm2d`` computed by the course's ``batch_norm``: (N, C, H, W)."""


class BatchNorm1d(_CourseBatchNorm, nn.BatchNorm1d):
    """``torch.nn.BatchNorm1d`` computed by the course's ``batch_norm``, for (N, D) input.

    Not supported: (N, C, L) input (the course op takes (N, D) or (N, C, H, W)).
    """

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() != 2:
            raise ValueError(
                f"BatchNorm1d: input has shape {tuple(input.shape)}; the course's layer takes "
                "(N, D) only (use torch.nn.BatchNorm1d for (N, C, L))"
            )


class Dropout(nn.Dropout):
    """``torch.nn.Dropout`` computed by the course's inverted ``dropout``.

    In training each value is zeroed with probability p and the rest scaled by
    1 / (1 - p); in eval mode (or with p = 0) the input is returned. p = 1 drops
    everything (``x * 0``, torch's convention). Not supported: inplace=True.
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        p = check_probability("p", p)
        if check_bool("inplace", inplace):
            _refuse("Dropout", "inplace", inplace, "inplace=False")
        super().__init__(p, inplace)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return input
        if self.p == 1:
            return input * torch.zeros((), dtype=input.dtype, device=input.device)
        return DropoutFunction.apply(input, float(self.p), None)


class _Activation:
    """Forward of the activation layers: ``ActivationFunction`` with the class's f, f'."""

    _f: Callable
    _f_grad: Callable

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return ActivationFunction.apply(input, type(self)._f, type(self)._f_grad)


class ReLU(_Activation, nn.ReLU):
    """``torch.nn.ReLU`` computed by the course's ``relu`` / ``relu_grad``.

    Not supported: inplace=True.
    """

    _f, _f_grad = staticmethod(ops.relu), staticmethod(ops.relu_grad)

    def __init__(self, inplace: bool = False) -> None:
        if check_bool("inplace", inplace):
            _refuse("ReLU", "inplace", inplace, "inplace=False")
        super().__init__(inplace)


class Tanh(_Activation, nn.Tanh):
    """``torch.nn.Tanh`` computed by the course's ``tanh`` / ``tanh_grad``."""

    _f, _f_grad = staticmethod(ops.tanh), staticmethod(ops.tanh_grad)


class Sigmoid(_Activation, nn.Sigmoid):
    """``torch.nn.Sigmoid`` computed by the course's ``sigmoid`` / ``sigmoid_grad``."""

    _f, _f_grad = staticmethod(ops.sigmoid), staticmethod(ops.sigmoid_grad)


class Linear(nn.Linear):
    """``torch.nn.Linear``, ``x @ weight.T + bias``, with the gradient written out.

    Everything but ``forward`` (constructor, parameters, initialisation) is torch's; the
    constructor's arguments are checked first.
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None
    ) -> None:
        in_features = check_int("in_features", in_features, minimum=1)
        out_features = check_int("out_features", out_features, minimum=1)
        device, dtype = _factory(device, dtype)
        super().__init__(in_features, out_features, check_bool("bias", bias), device, dtype)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return LinearFunction.apply(input, self.weight, self.bias)
