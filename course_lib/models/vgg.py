"""VGG: stacks of 3x3 "same" convolutions and 2x2 max pools.

Simonyan and Zisserman (2015), configuration D (VGG-16, 138,357,544 parameters for
1000 classes, torchvision's layout), and a small VGG-style net for CPU training.

    VGG-16: (N, 3, 224, 224) -> [64,64,P, 128,128,P, 256x3,P, 512x3,P, 512x3,P]
    -> (N, 512, 7, 7) -> 25088 -> 4096 -> 4096 -> num_classes
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from course_lib.validate import check_bool, check_int, check_probability, check_shape

VGG16_LAYOUT: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M",
)  # fmt: skip


def make_vgg_features(
    layout: Sequence[int | str], *, in_channels: int = 3, batch_norm: bool = False
) -> nn.Sequential:
    """Conv 3x3 (padding 1) + ReLU for each int in ``layout``, a 2x2 max pool for "M"."""
    if not isinstance(layout, tuple | list):
        raise TypeError(
            f"layout must be a tuple or list of widths and 'M', not {type(layout).__name__}"
        )
    channels = check_int("in_channels", in_channels, minimum=1)
    batch_norm = check_bool("batch_norm", batch_norm)
    layers: list[nn.Module] = []
    for i, item in enumerate(layout):
        if isinstance(item, str) and item == "M":
            layers.append(nn.MaxPool2d(2, 2))
            continue
        if isinstance(item, str):
            raise ValueError(f"layout[{i}]={item!r} must be a positive int or 'M'")
        item = check_int(f"layout[{i}]", item, minimum=1, what="a positive int or 'M'")
        layers.append(nn.Conv2d(channels, item, 3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(item))
        layers.append(nn.ReLU(inplace=True))
        channels = item
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """``features`` -> adaptive average pool to ``pool_size`` -> FC ``classifier``."""

    def __init__(
        self,
        features: nn.Sequential,
        *,
        feature_channels: int,
        hidden: int,
        num_classes: int,
        pool_size: int,
        dropout: float,
    ) -> None:
        super().__init__()
        if not isinstance(features, nn.Module):
            raise TypeError(f"features must be a torch.nn.Module, not {type(features).__name__}")
        feature_channels = check_int("feature_channels", feature_channels, minimum=1)
        hidden = check_int("hidden", hidden, minimum=1)
        num_classes = check_int("num_classes", num_classes, minimum=1)
        pool_size = check_int("pool_size", pool_size, minimum=1)
        dropout = check_probability("dropout", dropout)
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((pool_size, pool_size))
        self.classifier = nn.Sequential(
            nn.Linear(feature_channels * pool_size * pool_size, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))  # (N, C, p, p)
        return self.classifier(torch.flatten(x, 1))  # (N, C*p*p) -> (N, num_classes)


def vgg16(
    *, num_classes: int = 1000, in_channels: int = 3, batch_norm: bool = False, dropout: float = 0.5
) -> VGG:
    """VGG-16 (configuration D) with random weights; 138,357,544 parameters by default."""
    features = make_vgg_features(VGG16_LAYOUT, in_channels=in_channels, batch_norm=batch_norm)
    return VGG(
        features,
        feature_channels=512,
        hidden=4096,
        num_classes=num_classes,
        pool_size=7,
        dropout=dropout,
    )


def vgg_small(
    *,
    in_channels: int = 1,
    num_classes: int = 10,
    widths: Sequence[int] = (16, 32, 64),
    hidden: int = 64,
    batch_norm: bool = False,
    dropout: float = 0.0,
) -> VGG:
    """A VGG-style net for 32x32 course data: two 3x3 convs then a pool per width.

    (N, in_channels, H, W) -> (N, widths[-1], H / 2**len(widths), ...) -> pool to 2x2
    -> hidden -> hidden -> num_classes.
    """
    widths = check_shape("widths", widths, layout="stage widths such as (16, 32, 64)")
    if len(widths) == 0:
        raise ValueError("widths=() must name at least one stage width")
    layout: list[int | str] = []
    for w in widths:
        layout += [w, w, "M"]
    features = make_vgg_features(layout, in_channels=in_channels, batch_norm=batch_norm)
    return VGG(
        features,
        feature_channels=widths[-1],
        hidden=hidden,
        num_classes=num_classes,
        pool_size=2,
        dropout=dropout,
    )
