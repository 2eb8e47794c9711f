"""From-scratch layers the lessons teach, for numpy arrays and torch tensors alike.

Each op takes numpy arrays or torch tensors (on any device) in (N, C, H, W) layout
and returns the same kind with the input's dtype and device. They use plain array
operations through ``array_api_compat``, never torch's own conv/pool/norm kernels,
which serve as the oracle in ``tests/test_ops_*.py``.
"""

from .activations import (
    leaky_relu,
    leaky_relu_grad,
    relu,
    relu_grad,
    sigmoid,
    sigmoid_grad,
    softplus,
    softplus_grad,
    tanh,
    tanh_grad,
)
from .conv import conv2d, conv2d_backward, conv2d_naive
from .dropout import dropout, dropout_backward
from .gradcheck import GradientCheck, gradient_check, numerical_gradient, relative_error
from .norm import (
    batch_norm,
    batch_norm_backward,
    group_norm,
    group_norm_backward,
    instance_norm,
    instance_norm_backward,
    layer_norm,
    layer_norm_backward,
)
from .pool import (
    avg_pool2d,
    avg_pool2d_backward,
    l2_pool2d,
    max_pool2d,
    max_pool2d_backward,
)
from .upsample import (
    bed_of_nails,
    bilinear_kernel,
    conv_transpose2d,
    max_unpool2d,
    upsample_nearest,
)

__all__ = [
    "GradientCheck",
    "avg_pool2d",
    "avg_pool2d_backward",
    "batch_norm",
    "batch_norm_backward",
    "bed_of_nails",
    "bilinear_kernel",
    "conv2d",
    "conv2d_backward",
    "conv2d_naive",
    "conv_transpose2d",
    "dropout",
    "dropout_backward",
    "gradient_check",
    "group_norm",
    "group_norm_backward",
    "instance_norm",
    "instance_norm_backward",
    "l2_pool2d",
    "layer_norm",
    "layer_norm_backward",
    "leaky_relu",
    "leaky_relu_grad",
    "max_pool2d",
    "max_pool2d_backward",
    "max_unpool2d",
    "numerical_gradient",
    "relative_error",
    "relu",
    "relu_grad",
    "sigmoid",
    "sigmoid_grad",
    "softplus",
    "softplus_grad",
    "tanh",
    "tanh_grad",
    "upsample_nearest",
]
