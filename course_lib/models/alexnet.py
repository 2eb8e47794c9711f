"""AlexNet in torchvision's single-tower layout (61,100,840 parameters for 1000 classes).

Krizhevsky, Sutskever and Hinton (2012); torchvision follows the "one weird trick"
variant (Krizhevsky 2014): 64-192-384-256-256 channels.

    (N, 3, 224, 224) -> conv 11x11/4 -> (N, 64, 55, 55) -> pool -> 27
    -> conv 5x5 -> (N, 192, 27, 27) -> pool -> 13 -> 3 convs 3x3 -> (N, 256, 13, 13)
    -> pool -> (N, 256, 6, 6) -> 9216 -> 4096 -> 4096 -> num_classes
"""

from __future__ import annotations

import torch
from torch import nn

from course_lib.validate import check_int, check_probability


class AlexNet(nn.Module):
    """AlexNet; an adaptive 6x6 average pool lets inputs of other sizes (>= 63) through."""

    def __init__(self, *, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5):
        super().__init__()
        num_classes = check_int("num_classes", num_classes, minimum=1)
        in_channels = check_int("in_channels", in_channels, minimum=1)
        dropout = check_probability("dropout", dropout)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, 11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))  # (N, 256, 6, 6)
        return self.classifier(torch.flatten(x, 1))  # (N, 9216) -> (N, num_classes)


def alexnet(*, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> AlexNet:
    """AlexNet with random weights (nothing is downloaded)."""
    return AlexNet(num_classes=num_classes, in_channels=in_channels, dropout=dropout)
