"""Network in Network: mlpconv blocks (a conv followed by two 1x1 convs) and global
average pooling in place of fully connected layers.

Lin, Chen and Yan (2014), "Network in network".
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from course_lib.validate import check_int, check_shape


def mlpconv(in_channels: int, out_channels: int, kernel_size: int, **kwargs) -> nn.Sequential:
    """Conv k x k -> ReLU -> 1x1 -> ReLU -> 1x1 -> ReLU (a tiny MLP slid over every pixel).

    ``kwargs`` (``stride``, ``padding``, ...) go to the first ``nn.Conv2d``.
    """
    in_channels = check_int("in_channels", in_channels, minimum=1)
    out_channels = check_int("out_channels", out_channels, minimum=1)
    kernel_size = check_int("kernel_size", kernel_size, minimum=1)
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, **kwargs),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 1),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 1),
        nn.ReLU(inplace=True),
    )


class NiN(nn.Module):
    """mlpconv blocks separated by 2x2 max pools; the last block outputs one map per class,
    averaged over space: (N, C, H, W) -> (N, num_classes, h, w) -> (N, num_classes)."""

    def __init__(self, *, in_channels: int, num_classes: int, widths: Sequence[int]) -> None:
        super().__init__()
        in_channels = check_int("in_channels", in_channels, minimum=1)
        num_classes = check_int("num_classes", num_classes, minimum=1)
        widths = check_shape("widths", widths, layout="block widths such as (32, 64)")
        if not widths:
            raise ValueError("widths=() must name at least one block width")
        layers: list[nn.Module] = []
        channels = in_channels
        for w in widths:
            layers += [mlpconv(channels, w, 3, padding=1), nn.MaxPool2d(2, 2)]
            channels = w
        layers.append(mlpconv(channels, num_classes, 3, padding=1))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.pool(self.features(x)), 1)  # (N, num_classes)


def nin(*, in_channels: int = 1, num_classes: int = 10, widths: Sequence[int] = (32, 64)) -> NiN:
    """A small Network-in-Network for 32x32 course data."""
    return NiN(in_channels=in_channels, num_classes=num_classes, widths=widths)
