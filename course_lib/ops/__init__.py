"""From-scratch layers the lessons teach, for numpy arrays and torch tensors alike.

Each op takes numpy arrays or torch tensors (on any device) in (N, C, H, W) layout
and returns the same kind with the input's dtype and device. They use plain array
operations through ``array_api_compat``, never torch's own conv/pool/norm kernels,
which serve as the oracle in ``tests/test_ops_*.py``.
"""

from .conv import conv2d, conv2d_backward, conv2d_naive
from .pool import (
    avg_pool2d,
    avg_pool2d_backward,
    l2_pool2d,
    max_pool2d,
    max_pool2d_backward,
)

__all__ = [
    "avg_pool2d",
    "avg_pool2d_backward",
    "conv2d",
    "conv2d_backward",
    "conv2d_naive",
    "l2_pool2d",
    "max_pool2d",
    "max_pool2d_backward",
]
