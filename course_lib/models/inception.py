"""Inception modules and GoogLeNet.

Szegedy et al. (2015), "Going deeper with convolutions". Four parallel branches
(1x1, 3x3, 5x5, 3x3 max pool) concatenated along channels. The naive module
runs the 3x3 and 5x5 convolutions on the full input depth; the module with
dimension reduction puts a 1x1 conv in front of them and after the pool.

The full :func:`googlenet` follows torchvision's layout, parameter count included
(6,624,904 for 1000 classes; 13,004,888 with the two auxiliary heads). Like
torchvision, its "5x5" branch uses a 3x3 kernel (``large_kernel=3``), a known
deviation from the paper kept so that the count matches the published figure;
pass ``large_kernel=5`` for the paper's kernel.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from course_lib.validate import check_bool, check_choice, check_int, check_probability


def conv_block(
    in_channels: int, out_channels: int, kernel_size: int, *, batch_norm: bool, **kwargs
) -> nn.Sequential:
    """Conv -> (BN) -> ReLU; with BN the conv has no bias (torchvision's BasicConv2d)."""
    in_channels = check_int("in_channels", in_channels, minimum=1)
    out_channels = check_int("out_channels", out_channels, minimum=1)
    kernel_size = check_int("kernel_size", kernel_size, minimum=1)
    batch_norm = check_bool("batch_norm", batch_norm)
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, kernel_size, bias=not batch_norm, **kwargs)
    ]
    if batch_norm:
        layers.append(nn.BatchNorm2d(out_channels, eps=0.001))
    layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class InceptionModule(nn.Module):
    """One inception module: (N, in_channels, H, W) -> (N, out_channels, H, W).

    Naive (``c3_reduce`` and ``c5_reduce`` both None): 1x1 -> c1, 3x3 -> c3,
    5x5 -> c5 on the full input, and a 3x3 max pool that passes all in_channels
    through (or a 1x1 to ``pool_proj`` channels if given).
    With reduction: 1x1 to ``c3_reduce`` before the 3x3, to ``c5_reduce`` before
    the 5x5, and a 1x1 to ``pool_proj`` after the pool.
    ``out_channels = c1 + c3 + c5 + (pool_proj or in_channels)``.
    """

    def __init__(
        self,
        in_channels: int,
        *,
        c1: int,
        c3: int,
        c5: int,
        pool_proj: int | None = None,
        c3_reduce: int | None = None,
        c5_reduce: int | None = None,
        large_kernel: int = 5,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        in_channels = check_int("in_channels", in_channels, minimum=1)
        c1, c3, c5 = (check_int(n, v, minimum=1) for n, v in (("c1", c1), ("c3", c3), ("c5", c5)))
        optional = (("pool_proj", pool_proj), ("c3_reduce", c3_reduce), ("c5_reduce", c5_reduce))
        pool_proj, c3_reduce, c5_reduce = (
            None if v is None else check_int(n, v, minimum=1) for n, v in optional
        )
        large_kernel = check_choice("large_kernel", check_int("large_kernel", large_kernel), (3, 5))
        batch_norm = check_bool("batch_norm", batch_norm)
        if (c3_reduce is None) != (c5_reduce is None):
            raise ValueError(
                f"c3_reduce={c3_reduce!r} and c5_reduce={c5_reduce!r}: give both (module with "
                "dimension reduction) or neither (naive module)"
            )
        self.naive = c3_reduce is None
        bn = batch_norm
        self.branch1 = conv_block(in_channels, c1, 1, batch_norm=bn)
        if self.naive:
            self.branch2 = conv_block(in_channels, c3, 3, padding=1, batch_norm=bn)
            self.branch3 = conv_block(
                in_channels, c5, large_kernel, padding=large_kernel // 2, batch_norm=bn
            )
        else:
            self.branch2 = nn.Sequential(
                conv_block(in_channels, c3_reduce, 1, batch_norm=bn),
                conv_block(c3_reduce, c3, 3, padding=1, batch_norm=bn),
            )
            self.branch3 = nn.Sequential(
                conv_block(in_channels, c5_reduce, 1, batch_norm=bn),
                conv_block(c5_reduce, c5, large_kernel, padding=large_kernel // 2, batch_norm=bn),
            )
        pool = nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True)
        if pool_proj is None:
            if not self.naive:
                raise ValueError("pool_proj=None: the module with reduction needs pool_proj")
            self.branch4 = pool
        else:
            self.branch4 = nn.Sequential(pool, conv_block(in_channels, pool_proj, 1, batch_norm=bn))
        self.out_channels = c1 + c3 + c5 + (pool_proj if pool_proj is not None else in_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = [self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)]
        return torch.cat(branches, dim=1)  # (N, c1 + c3 + c5 + c_pool, H, W)


class GoogLeNetOutputs(NamedTuple):
    """What a GoogLeNet with auxiliary heads returns in training mode."""

    logits: torch.Tensor
    aux2: torch.Tensor
    aux1: torch.Tensor


class AuxHead(nn.Module):
    """Auxiliary classifier: avg pool -> 1x1 conv 128 -> FC -> dropout -> FC.

    (N, in_channels, H, W) -> (N, num_classes). Full size: pool to 4x4, FC 1024.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        *,
        pool: int = 4,
        channels: int = 128,
        hidden: int = 1024,
        dropout: float = 0.7,
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        in_channels = check_int("in_channels", in_channels, minimum=1)
        num_classes = check_int("num_classes", num_classes, minimum=1)
        pool = check_int("pool", pool, minimum=1)
        channels = check_int("channels", channels, minimum=1)
        hidden = check_int("hidden", hidden, minimum=1)
        dropout = check_probability("dropout", dropout)
        self.pool = nn.AdaptiveAvgPool2d((pool, pool))
        self.conv = conv_block(in_channels, channels, 1, batch_norm=batch_norm)
        self.fc1 = nn.Linear(channels * pool * pool, hidden)
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.conv(self.pool(x)), 1)  # (N, channels * pool * pool)
        return self.fc2(self.dropout(torch.relu(self.fc1(x))))


class GoogLeNet(nn.Module):
    """Stem -> inception stages -> global average pool -> dropout -> FC.

    With ``aux_logits=True`` and in training mode, forward returns
    :class:`GoogLeNetOutputs` (logits, aux2, aux1); in eval mode only the logits.
    """

    def __init__(
        self,
        *,
        stem: nn.Module,
        stage_a: nn.Module,
        stage_b: nn.Module,
        stage_c: nn.Module,
        feature_channels: int,
        num_classes: int,
        aux1: nn.Module | None,
        aux2: nn.Module | None,
        dropout: float,
    ) -> None:
        super().__init__()
        feature_channels = check_int("feature_channels", feature_channels, minimum=1)
        num_classes = check_int("num_classes", num_classes, minimum=1)
        dropout = check_probability("dropout", dropout)
        for name, part in (
            ("stem", stem), ("stage_a", stage_a), ("stage_b", stage_b), ("stage_c", stage_c)
        ):
            if not isinstance(part, nn.Module):
                raise TypeError(f"{name} must be a torch.nn.Module, not {type(part).__name__}")
        for name, part in (("aux1", aux1), ("aux2", aux2)):
            if part is not None and not isinstance(part, nn.Module):
                raise TypeError(
                    f"{name} must be a torch.nn.Module or None, not {type(part).__name__}"
                )
        if (aux1 is None) != (aux2 is None):
            raise ValueError("aux1 and aux2: give both auxiliary heads or neither")
        self.stem, self.stage_a, self.stage_b, self.stage_c = stem, stage_a, stage_b, stage_c
        self.aux1, self.aux2 = aux1, aux2
        self.aux_logits = aux1 is not None
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(feature_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor | GoogLeNetOutputs:
        x = self.stage_a(self.stem(x))  # after inception 4a (full) / module a1 (small)
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.stage_b(x)  # after inception 4d / module b
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.stage_c(x)
        logits = self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))  # (N, num_classes)
        if aux1 is not None and aux2 is not None:
            return GoogLeNetOutputs(logits, aux2, aux1)
        return logits


def _module(cin, c1, c3r, c3, c5r, c5, pp, *, large_kernel, batch_norm=True) -> InceptionModule:
    return InceptionModule(
        cin,
        c1=c1,
        c3_reduce=c3r,
        c3=c3,
        c5_reduce=c5r,
        c5=c5,
        pool_proj=pp,
        large_kernel=large_kernel,
        batch_norm=batch_norm,
    )


def googlenet(
    *,
    num_classes: int = 1000,
    in_channels: int = 3,
    aux_logits: bool = False,
    large_kernel: int = 3,
    dropout: float = 0.2,
) -> GoogLeNet:
    """GoogLeNet (Inception v1) in torchvision's layout, random weights.

    (N, 3, 224, 224) -> stem -> (N, 192, 28, 28) -> 3a, 3b -> pool -> 4a
    [aux1] -> 4b, 4c, 4d [aux2] -> 4e -> pool -> 5a, 5b -> (N, 1024, 7, 7) -> FC.
    """
    num_classes = check_int("num_classes", num_classes, minimum=1)
    in_channels = check_int("in_channels", in_channels, minimum=1)
    aux_logits = check_bool("aux_logits", aux_logits)
    k = check_choice("large_kernel", check_int("large_kernel", large_kernel), (3, 5))
    stem = nn.Sequential(
        conv_block(in_channels, 64, 7, stride=2, padding=3, batch_norm=True),
        nn.MaxPool2d(3, stride=2, ceil_mode=True),
        conv_block(64, 64, 1, batch_norm=True),
        conv_block(64, 192, 3, padding=1, batch_norm=True),
        nn.MaxPool2d(3, stride=2, ceil_mode=True),
    )
    stage_a = nn.Sequential(
        _module(192, 64, 96, 128, 16, 32, 32, large_kernel=k),  # 3a -> 256
        _module(256, 128, 128, 192, 32, 96, 64, large_kernel=k),  # 3b -> 480
        nn.MaxPool2d(3, stride=2, ceil_mode=True),
        _module(480, 192, 96, 208, 16, 48, 64, large_kernel=k),  # 4a -> 512
    )
    stage_b = nn.Sequential(
        _module(512, 160, 112, 224, 24, 64, 64, large_kernel=k),  # 4b -> 512
        _module(512, 128, 128, 256, 24, 64, 64, large_kernel=k),  # 4c -> 512
        _module(512, 112, 144, 288, 32, 64, 64, large_kernel=k),  # 4d -> 528
    )
    stage_c = nn.Sequential(
        _module(528, 256, 160, 320, 32, 128, 128, large_kernel=k),  # 4e -> 832
        nn.MaxPool2d(2, stride=2, ceil_mode=True),
        _module(832, 256, 160, 320, 32, 128, 128, large_kernel=k),  # 5a -> 832
        _module(832, 384, 192, 384, 48, 128, 128, large_kernel=k),  # 5b -> 1024
    )
    return GoogLeNet(
        stem=stem,
        stage_a=stage_a,
        stage_b=stage_b,
        stage_c=stage_c,
        feature_channels=1024,
        num_classes=num_classes,
        aux1=AuxHead(512, num_classes) if aux_logits else None,
        aux2=AuxHead(528, num_classes) if aux_logits else None,
        dropout=dropout,
    )


def googlenet_small(
    *,
    in_channels: int = 1,
    num_classes: int = 10,
    aux_logits: bool = True,
    width: int = 16,
    dropout: float = 0.2,
) -> GoogLeNet:
    """A GoogLeNet for 32x32 course data, same structure at a fraction of the width.

    (N, C, 32, 32) -> stem conv 3x3 -> (N, 2w, 32, 32) -> pool -> 16x16
    -> module a1 [aux1] -> module b -> pool -> 8x8 [aux2] -> module c -> GAP -> FC.
    Auxiliary heads (on by default) pool to 2x2 and use 32 channels and 64 hidden units.
    """
    num_classes = check_int("num_classes", num_classes, minimum=1)
    in_channels = check_int("in_channels", in_channels, minimum=1)
    aux_logits = check_bool("aux_logits", aux_logits)
    w = check_int("width", width, minimum=1)
    stem = nn.Sequential(
        conv_block(in_channels, 2 * w, 3, padding=1, batch_norm=True),
        nn.MaxPool2d(2, 2),
    )
    a = _module(2 * w, w, w, 2 * w, w // 4 or 1, w // 2 or 1, w // 2 or 1, large_kernel=5)
    stage_a = nn.Sequential(a)
    b = _module(a.out_channels, 2 * w, w, 2 * w, w // 4 or 1, w, w, large_kernel=5)
    stage_b = nn.Sequential(b, nn.MaxPool2d(2, 2))
    c = _module(b.out_channels, 2 * w, 2 * w, 4 * w, w // 2 or 1, w, w, large_kernel=5)
    stage_c = nn.Sequential(c)

    def aux(cin: int) -> AuxHead:
        return AuxHead(cin, num_classes, pool=2, channels=32, hidden=64, dropout=0.5)

    return GoogLeNet(
        stem=stem,
        stage_a=stage_a,
        stage_b=stage_b,
        stage_c=stage_c,
        feature_channels=c.out_channels,
        num_classes=num_classes,
        aux1=aux(a.out_channels) if aux_logits else None,
        aux2=aux(b.out_channels) if aux_logits else None,
        dropout=dropout,
    )
