"""LeNet-5, the 32x32 network of lesson 05.

LeCun et al. (1998), "Gradient-based learning applied to document recognition",
in the modern form the lessons use: conv 5x5 -> pool -> conv 5x5 -> pool -> FC -> FC -> FC.

    (N, C, 32, 32) -> conv 6@5x5 -> (N, 6, 28, 28) -> pool -> (N, 6, 14, 14)
    -> conv 16@5x5 -> (N, 16, 10, 10) -> pool -> (N, 16, 5, 5) -> flatten (N, 400)
    -> 120 -> 84 -> num_classes
"""

from __future__ import annotations

import torch
from torch import nn

from ._common import check_choice, check_positive_int

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
_POOLS = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}


class LeNet5(nn.Module):
    """LeNet-5 on (N, in_channels, 32, 32) inputs; returns logits (N, num_classes).

    ``features`` holds the two conv/pool stages, ``classifier`` the three FC layers,
    so a lesson can inspect or swap either part.
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        num_classes: int = 10,
        activation: str = "relu",
        pool: str = "max",
        dropout: float = 0.0,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        check_positive_int("in_channels", in_channels)
        check_positive_int("num_classes", num_classes)
        check_choice("activation", activation, tuple(_ACTIVATIONS))
        check_choice("pool", pool, tuple(_POOLS))
        if isinstance(dropout, bool) or not isinstance(dropout, int | float):
            raise TypeError(f"dropout={dropout!r} must be a number in [0, 1)")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout={dropout!r} must lie in [0, 1)")
        act, pool_cls = _ACTIVATIONS[activation], _POOLS[pool]

        def conv(cin: int, cout: int) -> list[nn.Module]:
            layers: list[nn.Module] = [nn.Conv2d(cin, cout, 5, bias=not batch_norm)]
            if batch_norm:
                layers.append(nn.BatchNorm2d(cout))
            return [*layers, act(), pool_cls(2, 2)]

        def fc(fin: int, fout: int) -> list[nn.Module]:
            layers: list[nn.Module] = [nn.Dropout(dropout)] if dropout > 0 else []
            layers.append(nn.Linear(fin, fout, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm1d(fout))
            return [*layers, act()]

        self.features = nn.Sequential(*conv(in_channels, 6), *conv(6, 16))
        head: list[nn.Module] = [nn.Dropout(dropout)] if dropout > 0 else []
        self.classifier = nn.Sequential(
            nn.Flatten(), *fc(16 * 5 * 5, 120), *fc(120, 84), *head, nn.Linear(84, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[-2:] != (32, 32):
            raise ValueError(f"LeNet-5 expects input of shape (N, C, 32, 32); got {tuple(x.shape)}")
        return self.classifier(self.features(x))  # (N, 16, 5, 5) -> (N, num_classes)


def lenet5(
    *,
    in_channels: int = 1,
    num_classes: int = 10,
    activation: str = "relu",
    pool: str = "max",
    dropout: float = 0.0,
    batch_norm: bool = False,
) -> LeNet5:
    """LeNet-5: 61,706 parameters for one input channel and ten classes.

    ``activation`` ("relu", "tanh", "sigmoid"), ``pool`` ("max", "avg"), ``dropout``
    (before each FC layer) and ``batch_norm`` (after each conv/FC, biases dropped)
    are the knobs lessons 04, 06 and 07 turn.
    """
    return LeNet5(
        in_channels=in_channels,
        num_classes=num_classes,
        activation=activation,
        pool=pool,
        dropout=dropout,
        batch_norm=batch_norm,
    )
