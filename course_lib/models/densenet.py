"""Dense connectivity: every layer of a block sees the concatenation of all earlier maps.

Huang, Liu, van der Maaten and Weinberger (2017), "Densely connected convolutional
networks". A dense layer is BN -> ReLU -> conv 3x3 producing ``growth_rate`` maps,
concatenated to its input; a block of L layers maps C channels to C + L * growth_rate.
Transitions (BN -> 1x1 conv -> 2x2 average pool) shrink channels and resolution.
With ``bn_size`` a dense layer first narrows its input with a 1x1 conv to
``bn_size * growth_rate`` maps (the paper's DenseNet-B); :func:`densenet121` follows
torchvision's layout: growth rate 32, blocks of 6, 12, 24 and 16 layers, 7,978,856
parameters for 1000 classes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.validate import check_bool, check_int, check_shape


class DenseLayer(nn.Module):
    """(N, C, H, W) -> (N, C + growth_rate, H, W).

    ``bn_size=None``: BN -> ReLU -> conv 3x3. ``bn_size=k``: BN -> ReLU -> conv 1x1 to
    ``k * growth_rate`` maps -> BN -> ReLU -> conv 3x3 (the bottleneck of DenseNet-121).
    """

    def __init__(self, in_channels: int, growth_rate: int, *, bn_size: int | None = None) -> None:
        super().__init__()
        in_channels = check_int("in_channels", in_channels, minimum=1)
        growth_rate = check_int("growth_rate", growth_rate, minimum=1)
        self.norm = nn.BatchNorm2d(in_channels)
        if bn_size is None:
            self.reduce = None
            self.conv = nn.Conv2d(in_channels, growth_rate, 3, padding=1, bias=False)
        else:
            bn_size = check_int("bn_size", bn_size, minimum=1, maximum=64)
            inner = bn_size * growth_rate
            self.reduce = nn.Conv2d(in_channels, inner, 1, bias=False)
            self.norm2 = nn.BatchNorm2d(inner)
            self.conv = nn.Conv2d(inner, growth_rate, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.norm(x))
        if self.reduce is not None:
            out = F.relu(self.norm2(self.reduce(out)))  # (N, bn_size * growth_rate, H, W)
        new = self.conv(out)  # (N, growth_rate, H, W)
        return torch.cat([x, new], dim=1)


class DenseBlock(nn.Sequential):
    """``num_layers`` dense layers: (N, C, H, W) -> (N, C + num_layers * growth_rate, H, W)."""

    def __init__(
        self,
        in_channels: int,
        *,
        growth_rate: int = 12,
        num_layers: int = 4,
        bn_size: int | None = None,
    ) -> None:
        in_channels = check_int("in_channels", in_channels, minimum=1)
        growth_rate = check_int("growth_rate", growth_rate, minimum=1)
        num_layers = check_int("num_layers", num_layers, minimum=1)
        super().__init__(
            *(
                DenseLayer(in_channels + i * growth_rate, growth_rate, bn_size=bn_size)
                for i in range(num_layers)
            )
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
    """Stem -> dense blocks joined by transitions -> BN/ReLU -> GAP -> FC.

    The stem is a 3x3 conv, or with ``imagenet_stem=True`` ImageNet's conv 7x7/2 -> BN
    -> ReLU -> max pool 3x3/2. ``bn_size`` gives every dense layer a 1x1 bottleneck.
    """

    def __init__(
        self,
        *,
        in_channels: int,
        num_classes: int,
        growth_rate: int,
        block_layers: Sequence[int],
        stem_channels: int,
        bn_size: int | None = None,
        imagenet_stem: bool = False,
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
        if check_bool("imagenet_stem", imagenet_stem):
            layers: list[nn.Module] = [  # (N, C, 224, 224) -> (N, stem_channels, 56, 56)
                nn.Conv2d(in_channels, stem_channels, 7, stride=2, padding=3, bias=False),
                nn.BatchNorm2d(stem_channels),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(3, stride=2, padding=1),
            ]
        else:
            layers = [nn.Conv2d(in_channels, stem_channels, 3, padding=1, bias=False)]
        channels = stem_channels
        for i, n in enumerate(block_layers):
            block = DenseBlock(channels, growth_rate=growth_rate, num_layers=n, bn_size=bn_size)
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


def densenet121(*, num_classes: int = 1000, in_channels: int = 3) -> DenseNet:
    """DenseNet-121 in torchvision's layout: 7,978,856 parameters for 1000 classes.

    ImageNet stem (64 maps), four dense blocks of 6, 12, 24 and 16 bottleneck layers
    (growth rate 32, ``bn_size`` 4), transitions halving the channels; 1,024 features
    reach the FC layer. Random weights: nothing is downloaded.
    """
    return DenseNet(
        in_channels=in_channels,
        num_classes=num_classes,
        growth_rate=32,
        block_layers=(6, 12, 24, 16),
        stem_channels=64,
        bn_size=4,
        imagenet_stem=True,
    )
