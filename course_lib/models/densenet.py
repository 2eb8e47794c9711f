"""Dense connectivity: every layer of a block sees the concatenation of all earlier maps.

Huang, Liu, van der Maaten and Weinberger (2017), "Densely connected convolutional
networks". A dense layer is BN -> ReLU -> conv 3x3 producing ``growth_rate`` maps,
concatenated to its input; a block of L layers maps C channels to C + L * growth_rate.
Transitions (BN -> 1x1 conv -> 2x2 average pool) shrink channels and resolution.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.validate import check_int, check_shape


class DenseLayer(nn.Module):
    """(N, C, H, W) -> (N, C + growth_rate, H, W)."""

    def __init__(self, in_channels: int, growth_rate: int) -> None:
        super().__init__()
        in_channels = check_int("in_channels", in_channels, minimum=1)
        growth_rate = check_int("growth_rate", growth_rate, minimum=1)
        self.norm = nn.BatchNorm2d(in_channels)
        self.conv = nn.Conv2d(in_channels, growth_rate, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        new = self.conv(F.relu(self.norm(x)))  # (N, growth_rate, H, W)
        return torch.cat([x, new], dim=1)


class DenseBlock(nn.Sequential):
    """``num_layers`` dense layers: (N, C, H, W) -> (N, C + num_layers * growth_rate, H, W)."""

    def __init__(self, in_channels: int, *, growth_rate: int = 12, num_layers: int = 4) -> None:
        in_channels = check_int("in_channels", in_channels, minimum=1)
        growth_rate = check_int("growth_rate", growth_rate, minimum=1)
        num_layers = check_int("num_layers", num_layers, minimum=1)
        super().__init__(
            *(DenseLayer(in_channels + i * growth_rate, growth_rate) for i in range(num_layers))
        )
        self.out_channels = in_channels + num_layers * growth_rate


def transition(in_channels: int, out_channels: int) -> nn.Sequential:
    """BN -> ReLU -> 1x1 conv -> 2x2 average pool: halves H and W."""
    in_channels = check_int("in_channels", in_channels, minimum=1)
    out_channels = check_int("out_channels", out_channels, minimum=1)
    return nn.Sequential(
        nn.BatchNorm2d(in_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(in_channels, out_channels, 1, bias=False),
        nn.AvgPool2d(2, 2),
    )


class DenseNet(nn.Module):
    """Stem conv -> dense blocks joined by transitions -> BN/ReLU -> GAP -> FC."""

    def __init__(
        self,
        *,
        in_channels: int,
        num_classes: int,
        growth_rate: int,
        block_layers: Sequence[int],
        stem_channels: int,
    ) -> None:
        super().__init__()
        in_channels = check_int("in_channels", in_channels, minimum=1)
        num_classes = check_int("num_classes", num_classes, minimum=1)
        growth_rate = check_int("growth_rate", growth_rate, minimum=1)
        stem_channels = check_int("stem_channels", stem_channels, minimum=1)
        block_layers = check_shape(
            "block_layers", block_layers, layout="layers per block, e.g. (4, 4, 4)"
        )
        if not block_layers:
            raise ValueError("block_layers=() must name at least one block")
        layers: list[nn.Module] = [nn.Conv2d(in_channels, stem_channels, 3, padding=1, bias=False)]
        channels = stem_channels
        for i, n in enumerate(block_layers):
            block = DenseBlock(channels, growth_rate=growth_rate, num_layers=n)
            layers.append(block)
            channels = block.out_channels
            if i < len(block_layers) - 1:
                layers.append(transition(channels, channels // 2))
                channels //= 2
        layers += [nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.features(x))  # (N, C, 1, 1)
        return self.fc(torch.flatten(x, 1))


def densenet_small(
    *,
    in_channels: int = 1,
    num_classes: int = 10,
    growth_rate: int = 12,
    block_layers: Sequence[int] = (4, 4, 4),
    stem_channels: int = 24,
) -> DenseNet:
    """A three-block DenseNet for 32x32 course data (about 90K parameters by default)."""
    return DenseNet(
        in_channels=in_channels,
        num_classes=num_classes,
        growth_rate=growth_rate,
        block_layers=block_layers,
        stem_channels=stem_channels,
    )
