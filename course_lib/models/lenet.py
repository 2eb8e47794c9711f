"""LeNet-5, the 32x32 network of lesson 05.

LeCun et al. (1998), "Gradient-based learning applied to document recognition",
in the modern form the lessons use: conv 5x5 -> pool -> conv 5x5 -> pool -> FC -> FC -> FC.

    (N, C, 32, 32) -> conv 6@5x5 -> (N, 6, 28, 28) -> pool -> (N, 6, 14, 14)
    -> conv 16@5x5 -> (N, 16, 10, 10) -> pool -> (N, 16, 5, 5) -> flatten (N, 400)
    -> 120 -> 84 -> num_classes

``layers="course"`` builds the same network (the same module names, so the same
``state_dict`` keys) from :mod:`course_lib.layers`, whose forward and backward passes
are the course's own ops: the lessons' conv, pool and batch norm training a real CNN.
"""

from __future__ import annotations

import torch
from torch import nn

from course_lib import layers as course_layers
from course_lib.validate import check_bool, check_choice, check_int, check_probability

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
_POOLS = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}
# where the layer classes come from; course_lib.layers uses torch.nn's class names
_LAYER_LIBRARIES = {"torch": nn, "course": course_layers}


class LeNet5(nn.Module):
    """LeNet-5 on (N, in_channels, 32, 32) inputs; returns logits (N, num_classes).

    ``features`` holds the two conv/pool stages, ``classifier`` the three FC layers,
    so a lesson can inspect or swap either part. ``layers`` ("torch" or "course")
    chooses between ``torch.nn``'s layers and the course's (:mod:`course_lib.layers`).
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
        layers: str = "torch",
    ) -> None:
        super().__init__()
        in_channels = check_int("in_channels", in_channels, minimum=1)
        num_classes = check_int("num_classes", num_classes, minimum=1)
        activation = check_choice("activation", activation, tuple(_ACTIVATIONS))
        pool = check_choice("pool", pool, tuple(_POOLS))
        dropout = check_probability("dropout", dropout, allow_one=False)
        batch_norm = check_bool("batch_norm", batch_norm)
        lib = _LAYER_LIBRARIES[check_choice("layers", layers, tuple(_LAYER_LIBRARIES))]
        act = getattr(lib, _ACTIVATIONS[activation].__name__)
        pool_cls = getattr(lib, _POOLS[pool].__name__)

        def conv(cin: int, cout: int) -> list[nn.Module]:
            block: list[nn.Module] = [lib.Conv2d(cin, cout, 5, bias=not batch_norm)]
            if batch_norm:
                block.append(lib.BatchNorm2d(cout))
            return [*block, act(), pool_cls(2, 2)]

        def fc(fin: int, fout: int) -> list[nn.Module]:
            block: list[nn.Module] = [lib.Dropout(dropout)] if dropout > 0 else []
            block.append(lib.Linear(fin, fout, bias=not batch_norm))
            if batch_norm:
                block.append(lib.BatchNorm1d(fout))
            return [*block, act()]

        self.features = nn.Sequential(*conv(in_channels, 6), *conv(6, 16))
        head: list[nn.Module] = [lib.Dropout(dropout)] if dropout > 0 else []
        self.classifier = nn.Sequential(
            nn.Flatten(), *fc(16 * 5 * 5, 120), *fc(120, 84), *head, lib.Linear(84, num_classes)
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
    layers: str = "torch",
) -> LeNet5:
    """LeNet-5: 61,706 parameters for one input channel and ten classes.

    ``activation`` ("relu", "tanh", "sigmoid"), ``pool`` ("max", "avg"), ``dropout``
    (before each FC layer) and ``batch_norm`` (after each conv/FC, biases dropped)
    are the knobs lessons 04, 06 and 07 turn. ``layers="course"`` builds it from the
    course's own layers (:mod:`course_lib.layers`), with the same ``state_dict`` keys.
    """
    return LeNet5(
        in_channels=in_channels,
        num_classes=num_classes,
        activation=activation,
        pool=pool,
        dropout=dropout,
        batch_norm=batch_norm,
        layers=layers,
    )
