"""Residual networks: basic and bottleneck blocks, full ResNets, and small CPU variants.

He, Zhang, Ren and Sun (2016), "Deep residual learning for image recognition".
Full-size nets follow torchvision's layout (ResNet v1.5: the stride sits on the
bottleneck's 3x3 conv): resnet18 11,689,512, resnet34 21,797,672, resnet50
25,557,032 parameters for 1000 classes.

A block computes a[l+2] = relu(F(a[l]) + shortcut(a[l])): the skip is added
*before* the second activation. The shortcut is the identity when the shapes match,
otherwise a 1x1 projection ("projection") or a strided subsample padded with zero
channels ("zero_pad", the paper's option A).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.validate import check_bool, check_choice, check_int, check_shape

SHORTCUTS = ("projection", "zero_pad")


class ZeroPadShortcut(nn.Module):
    """Option A: subsample by ``stride`` and append zero channels up to ``out_channels``."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        in_channels = check_int("in_channels", in_channels, minimum=1)
        out_channels = check_int("out_channels", out_channels, minimum=1)
        stride = check_int("stride", stride, minimum=1)
        if out_channels < in_channels:
            raise ValueError(
                f"zero_pad shortcut cannot shrink channels (in_channels={in_channels} -> "
                f"out_channels={out_channels}); use shortcut='projection'"
            )
        self.extra, self.stride = out_channels - in_channels, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]  # (N, C_in, H/s, W/s)
        return F.pad(x, (0, 0, 0, 0, 0, self.extra))  # (N, C_out, H/s, W/s)


def _shortcut(
    in_channels: int, out_channels: int, stride: int, kind: str, batch_norm: bool
) -> nn.Module:
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    if kind == "zero_pad":
        return ZeroPadShortcut(in_channels, out_channels, stride)
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=not batch_norm)
    ]
    if batch_norm:
        layers.append(nn.BatchNorm2d(out_channels))
    return nn.Sequential(*layers)


def _norm(channels: int, batch_norm: bool) -> nn.Module:
    return nn.BatchNorm2d(channels) if batch_norm else nn.Identity()


class ResidualBlock(nn.Module):
    """Basic block: conv3x3 -> BN -> ReLU -> conv3x3 -> BN, (+ shortcut), ReLU.

    (N, in_channels, H, W) -> (N, out_channels, H / stride, W / stride).
    ``skip=False`` gives the same block without the shortcut (the "plain" net).
    """

    expansion = 1

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        stride: int = 1,
        skip: bool = True,
        shortcut: str = "projection",
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        in_channels = check_int("in_channels", in_channels, minimum=1)
        out_channels = check_int("out_channels", out_channels, minimum=1)
        stride = check_int("stride", stride, minimum=1)
        skip = check_bool("skip", skip)
        shortcut = check_choice("shortcut", shortcut, SHORTCUTS)
        batch_norm = check_bool("batch_norm", batch_norm)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=not batch_norm)
        self.bn1 = _norm(out_channels, batch_norm)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=not batch_norm)
        self.bn2 = _norm(out_channels, batch_norm)
        self.skip = skip
        self.shortcut = (
            _shortcut(in_channels, out_channels, stride, shortcut, batch_norm) if skip else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.shortcut is not None:
            out = out + self.shortcut(x)  # added before the second activation
        return F.relu(out)


class Bottleneck(nn.Module):
    """Bottleneck: 1x1 reduce -> 3x3 (carries the stride) -> 1x1 expand x4, + shortcut.

    (N, in_channels, H, W) -> (N, 4 * channels, H / stride, W / stride).
    """

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        channels: int,
        *,
        stride: int = 1,
        skip: bool = True,
        shortcut: str = "projection",
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        in_channels = check_int("in_channels", in_channels, minimum=1)
        channels = check_int("channels", channels, minimum=1)
        stride = check_int("stride", stride, minimum=1)
        skip = check_bool("skip", skip)
        shortcut = check_choice("shortcut", shortcut, SHORTCUTS)
        batch_norm = check_bool("batch_norm", batch_norm)
        out_channels = channels * self.expansion
        self.conv1 = nn.Conv2d(in_channels, channels, 1, bias=not batch_norm)
        self.bn1 = _norm(channels, batch_norm)
        self.conv2 = nn.Conv2d(channels, channels, 3, stride, 1, bias=not batch_norm)
        self.bn2 = _norm(channels, batch_norm)
        self.conv3 = nn.Conv2d(channels, out_channels, 1, bias=not batch_norm)
        self.bn3 = _norm(out_channels, batch_norm)
        self.skip = skip
        self.shortcut = (
            _shortcut(in_channels, out_channels, stride, shortcut, batch_norm) if skip else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return F.relu(out)


class ResNet(nn.Module):
    """Stem -> stages of blocks -> global average pool -> FC.

    ``stem`` maps (N, C, H, W) to (N, stem_channels, ...); stage i has ``blocks[i]``
    blocks of width ``widths[i]`` and halves the resolution except the first.
    """

    def __init__(
        self,
        *,
        block: type[ResidualBlock] | type[Bottleneck],
        blocks: Sequence[int],
        widths: Sequence[int],
        stem: nn.Module,
        stem_channels: int,
        num_classes: int,
        skip: bool = True,
        shortcut: str = "projection",
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        if not (isinstance(block, type) and issubclass(block, ResidualBlock | Bottleneck)):
            raise TypeError(f"block={block!r} must be the class ResidualBlock or Bottleneck")
        blocks = check_shape("blocks", blocks, layout="blocks per stage, e.g. (2, 2, 2, 2)")
        widths = check_shape("widths", widths, layout="a width per stage, e.g. (64, 128)")
        if len(blocks) != len(widths) or not blocks:
            raise ValueError(f"blocks={blocks} and widths={widths} must pair up, one per stage")
        if not isinstance(stem, nn.Module):
            raise TypeError(f"stem must be a torch.nn.Module, not {type(stem).__name__}")
        stem_channels = check_int("stem_channels", stem_channels, minimum=1)
        num_classes = check_int("num_classes", num_classes, minimum=1)
        self.stem = stem
        stages: list[nn.Module] = []
        channels = stem_channels
        for i, (n, width) in enumerate(zip(blocks, widths, strict=True)):
            layers = []
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                layers.append(
                    block(
                        channels,
                        width,
                        stride=stride,
                        skip=skip,
                        shortcut=shortcut,
                        batch_norm=batch_norm,
                    )
                )
                channels = width * block.expansion
            stages.append(nn.Sequential(*layers))
        self.stages = nn.Sequential(*stages)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(x))  # (N, C, h, w)
        return self.fc(torch.flatten(self.avgpool(x), 1))  # (N, C) -> (N, num_classes)


def _imagenet_stem(in_channels: int) -> nn.Sequential:
    # (N, C, 224, 224) -> conv 7x7/2 -> (N, 64, 112, 112) -> max pool 3x3/2 -> 56
    return nn.Sequential(
        nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False),
        nn.BatchNorm2d(64),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, stride=2, padding=1),
    )


def _full(block, blocks, num_classes: int, in_channels: int) -> ResNet:
    in_channels = check_int("in_channels", in_channels, minimum=1)
    return ResNet(
        block=block,
        blocks=blocks,
        widths=(64, 128, 256, 512),
        stem=_imagenet_stem(in_channels),
        stem_channels=64,
        num_classes=num_classes,
    )


def resnet18(*, num_classes: int = 1000, in_channels: int = 3) -> ResNet:
    """ResNet-18: basic blocks (2, 2, 2, 2); 11,689,512 parameters for 1000 classes."""
    return _full(ResidualBlock, (2, 2, 2, 2), num_classes, in_channels)


def resnet34(*, num_classes: int = 1000, in_channels: int = 3) -> ResNet:
    """ResNet-34: basic blocks (3, 4, 6, 3); 21,797,672 parameters for 1000 classes."""
    return _full(ResidualBlock, (3, 4, 6, 3), num_classes, in_channels)


def resnet50(*, num_classes: int = 1000, in_channels: int = 3) -> ResNet:
    """ResNet-50: bottleneck blocks (3, 4, 6, 3); 25,557,032 parameters for 1000 classes."""
    return _full(Bottleneck, (3, 4, 6, 3), num_classes, in_channels)


def _small(
    depth: int,
    *,
    skip: bool,
    in_channels: int,
    num_classes: int,
    width: int,
    shortcut: str,
    batch_norm: bool,
) -> ResNet:
    what = "6n + 2 with n >= 1 (8, 14, 20, 32, 44, 56, ...)"
    depth = check_int("depth", depth, minimum=8, what=what)
    if (depth - 2) % 6:
        raise ValueError(f"depth={depth} must be {what}")
    in_channels = check_int("in_channels", in_channels, minimum=1)
    width = check_int("width", width, minimum=1)
    batch_norm = check_bool("batch_norm", batch_norm)
    n = (depth - 2) // 6
    stem = nn.Sequential(
        nn.Conv2d(in_channels, width, 3, padding=1, bias=not batch_norm),
        _norm(width, batch_norm),
        nn.ReLU(inplace=True),
    )
    return ResNet(
        block=ResidualBlock,
        blocks=(n, n, n),
        widths=(width, 2 * width, 4 * width),
        stem=stem,
        stem_channels=width,
        num_classes=num_classes,
        skip=skip,
        shortcut=shortcut,
        batch_norm=batch_norm,
    )


def resnet_small(
    depth: int = 20,
    *,
    in_channels: int = 1,
    num_classes: int = 10,
    width: int = 16,
    shortcut: str = "projection",
    batch_norm: bool = True,
) -> ResNet:
    """The CIFAR-style ResNet of the paper's section 4.2: depth = 6n + 2 weighted layers.

    A 3x3 stem conv, three stages of n basic blocks with ``width``, 2x and 4x channels
    (the last two halve the resolution), global average pool, FC.
    (N, in_channels, H, W) -> (N, num_classes) for any H, W >= 4.
    """
    return _small(
        depth,
        skip=True,
        in_channels=in_channels,
        num_classes=num_classes,
        width=width,
        shortcut=shortcut,
        batch_norm=batch_norm,
    )


def plain_net(
    depth: int = 20,
    *,
    in_channels: int = 1,
    num_classes: int = 10,
    width: int = 16,
    batch_norm: bool = True,
) -> ResNet:
    """:func:`resnet_small` with every skip connection removed (the paper's plain net)."""
    return _small(
        depth,
        skip=False,
        in_channels=in_channels,
        num_classes=num_classes,
        width=width,
        shortcut="projection",
        batch_norm=batch_norm,
    )
