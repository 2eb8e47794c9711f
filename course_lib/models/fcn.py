"""Fully convolutional networks for semantic segmentation, and FC-to-conv conversion.

Long, Shelhamer and Darrell (2015), "Fully convolutional networks for semantic
segmentation". The classifier's fully connected layers become convolutions (fc6 a
7x7 conv, fc7 and the scorer 1x1 convs), so the net maps an image of any size to a
coarse score map with stride 32. Transposed convolutions initialised to bilinear
interpolation bring the scores back to the input's size:

- FCN-32s: score map upsampled 32x in one step.
- FCN-16s: score map upsampled 2x, added to scores from pool4 (stride 16), then 16x.
- FCN-8s: that sum upsampled 2x, added to scores from pool3 (stride 8), then 8x.

Pools use ``ceil_mode=True`` and every upsampled map is cropped to the size of the
map it joins, so inputs whose sides are not multiples of 32 come out at their own size.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from course_lib import ops
from course_lib.validate import check_bool, check_choice, check_int, check_shape

VARIANTS = ("32s", "16s", "8s")
BACKBONES = ("vgg16", "small")


def bilinear_upsampler(channels: int, factor: int, *, trainable: bool = True) -> nn.ConvTranspose2d:
    """ConvTranspose2d(k=2*factor, stride=factor, padding=factor//2), bilinear-initialised.

    The weights come from :func:`course_lib.ops.bilinear_kernel` (lesson 11's kernel).

    (N, channels, h, w) -> (N, channels, factor * h, factor * w) for even ``factor``.
    """
    channels = check_int("channels", channels, minimum=1)
    factor = check_int("factor", factor, minimum=1)
    trainable = check_bool("trainable", trainable)
    if factor % 2:
        raise ValueError(f"factor={factor!r} must be even (2, 4, 8, 16, 32)")
    layer = nn.ConvTranspose2d(
        channels, channels, 2 * factor, stride=factor, padding=factor // 2, bias=False
    )
    with torch.no_grad():
        layer.weight.copy_(ops.bilinear_kernel(channels, factor, like=layer.weight))
    layer.weight.requires_grad_(trainable)
    return layer


def _crop_to(x: torch.Tensor, like: torch.Tensor | tuple[int, int]) -> torch.Tensor:
    h, w = like.shape[-2:] if isinstance(like, torch.Tensor) else like
    return x[..., :h, :w]


class FCN(nn.Module):
    """(N, C, H, W) -> scores (N, num_classes, H, W) for FCN-32s/16s/8s.

    ``to_pool3``, ``to_pool4``, ``to_pool5`` are the backbone's pieces (strides 8, 16,
    32); ``head`` holds fc6, fc7 and the scorer as convolutions.
    """

    def __init__(
        self,
        *,
        variant: str,
        to_pool3: nn.Module,
        to_pool4: nn.Module,
        to_pool5: nn.Module,
        head: nn.Module,
        pool3_channels: int,
        pool4_channels: int,
        num_classes: int,
    ) -> None:
        super().__init__()
        variant = check_choice("variant", variant, VARIANTS)
        pool3_channels = check_int("pool3_channels", pool3_channels, minimum=1)
        pool4_channels = check_int("pool4_channels", pool4_channels, minimum=1)
        num_classes = check_int("num_classes", num_classes, minimum=1)
        for name, part in (
            ("to_pool3", to_pool3), ("to_pool4", to_pool4), ("to_pool5", to_pool5), ("head", head)
        ):
            if not isinstance(part, nn.Module):
                raise TypeError(f"{name} must be a torch.nn.Module, not {type(part).__name__}")
        self.variant = variant
        self.to_pool3, self.to_pool4, self.to_pool5, self.head = to_pool3, to_pool4, to_pool5, head
        final = {"32s": 32, "16s": 16, "8s": 8}[variant]
        if variant in ("16s", "8s"):
            self.score_pool4 = nn.Conv2d(pool4_channels, num_classes, 1)
            nn.init.zeros_(self.score_pool4.weight)  # the paper starts skips at zero
            nn.init.zeros_(self.score_pool4.bias)
            self.up2_pool5 = bilinear_upsampler(num_classes, 2)
        if variant == "8s":
            self.score_pool3 = nn.Conv2d(pool3_channels, num_classes, 1)
            nn.init.zeros_(self.score_pool3.weight)
            nn.init.zeros_(self.score_pool3.bias)
            self.up2_pool4 = bilinear_upsampler(num_classes, 2)
        self.upsample = bilinear_upsampler(num_classes, final, trainable=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4:
            raise ValueError(f"FCN expects input of shape (N, C, H, W); got {tuple(x.shape)}")
        p3 = self.to_pool3(x)  # (N, C3, ceil(H/8), ceil(W/8))
        p4 = self.to_pool4(p3)  # (N, C4, ceil(H/16), ...)
        score = self.head(self.to_pool5(p4))  # (N, K, ceil(H/32), ...)
        if self.variant in ("16s", "8s"):
            score = _crop_to(self.up2_pool5(score), p4) + self.score_pool4(p4)  # stride 16
        if self.variant == "8s":
            score = _crop_to(self.up2_pool4(score), p3) + self.score_pool3(p3)  # stride 8
        return _crop_to(self.upsample(score), x)  # (N, K, H, W)


def _vgg_stage(cin: int, cout: int, convs: int, *, batch_norm: bool = False) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for i in range(convs):
        layers.append(nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(cout))
        layers.append(nn.ReLU(inplace=True))
    return [*layers, nn.MaxPool2d(2, 2, ceil_mode=True)]


def fcn(
    variant: str = "8s",
    *,
    backbone: str = "small",
    num_classes: int | None = None,
    in_channels: int = 3,
    widths: Sequence[int] = (16, 32, 64, 64, 128),
) -> FCN:
    """An FCN-32s, -16s or -8s on a full VGG-16 or a small CPU backbone (random weights).

    ``backbone="vgg16"``: VGG-16's 13 convs, fc6 as a 7x7 conv to 4096 (padding 3),
    fc7 as a 1x1 conv to 4096, scorer 1x1; ``num_classes`` defaults to 21 (PASCAL VOC).
    ``backbone="small"``: five stages of conv 3x3 + BN + ReLU + 2x2 pool with ``widths``,
    fc6 as a 3x3 conv and fc7 as a 1x1 conv of ``widths[-1]`` channels; ``num_classes``
    defaults to 5 (the course's shapes scenes: background and four shapes).
    """
    variant = check_choice("variant", variant, VARIANTS)
    backbone = check_choice("backbone", backbone, BACKBONES)
    in_channels = check_int("in_channels", in_channels, minimum=1)
    if num_classes is None:
        num_classes = 21 if backbone == "vgg16" else 5
    num_classes = check_int("num_classes", num_classes, minimum=1)
    if backbone == "vgg16":
        to_pool3 = nn.Sequential(
            *_vgg_stage(in_channels, 64, 2), *_vgg_stage(64, 128, 2), *_vgg_stage(128, 256, 3)
        )
        to_pool4 = nn.Sequential(*_vgg_stage(256, 512, 3))
        to_pool5 = nn.Sequential(*_vgg_stage(512, 512, 3))
        head = nn.Sequential(
            nn.Conv2d(512, 4096, 7, padding=3),  # fc6
            nn.ReLU(inplace=True),
            nn.Dropout2d(0.5),
            nn.Conv2d(4096, 4096, 1),  # fc7
            nn.ReLU(inplace=True),
            nn.Dropout2d(0.5),
            nn.Conv2d(4096, num_classes, 1),  # score_fr
        )
        c3, c4 = 256, 512
    else:
        widths = check_shape(
            "widths", widths, length=5, layout="five stage widths (strides 2 to 32)"
        )
        chans = (in_channels, *widths)
        stages = [_vgg_stage(chans[i], chans[i + 1], 1, batch_norm=True) for i in range(5)]
        to_pool3 = nn.Sequential(*stages[0], *stages[1], *stages[2])
        to_pool4 = nn.Sequential(*stages[3])
        to_pool5 = nn.Sequential(*stages[4])
        w5 = widths[-1]
        head = nn.Sequential(
            nn.Conv2d(w5, w5, 3, padding=1),  # fc6
            nn.ReLU(inplace=True),
            nn.Conv2d(w5, w5, 1),  # fc7
            nn.ReLU(inplace=True),
            nn.Conv2d(w5, num_classes, 1),  # score_fr
        )
        c3, c4 = widths[2], widths[3]
    return FCN(
        variant=variant,
        to_pool3=to_pool3,
        to_pool4=to_pool4,
        to_pool5=to_pool5,
        head=head,
        pool3_channels=c3,
        pool4_channels=c4,
        num_classes=num_classes,
    )


def fc_to_conv(classifier: nn.Module, in_shape: Sequence[int]) -> nn.Sequential:
    """Turn an FC head into convolutions that compute the same function.

    ``classifier`` is a Linear or a Sequential of Flatten/Linear/ReLU/Dropout (and other
    elementwise layers) that reads a flattened (C, h, w) feature map, ``in_shape`` =
    (C, h, w). The first Linear (out, C*h*w) becomes a conv with an h x w kernel, each
    later Linear a 1x1 conv, weights copied. On an (N, C, h, w) input the result is
    (N, out, 1, 1) equal to the classifier's (N, out); on a larger input it slides the
    classifier and returns a score map (N, out, H - h + 1, W - w + 1).
    """
    if not isinstance(classifier, nn.Module):
        raise TypeError(
            f"classifier must be a torch.nn.Module (a Linear or a Sequential), "
            f"not {type(classifier).__name__}"
        )
    in_shape = check_shape("in_shape", in_shape, length=3, layout="(C, h, w)")
    modules = list(classifier) if isinstance(classifier, nn.Sequential) else [classifier]
    c, h, w = in_shape
    layers: list[nn.Module] = []
    first = True
    for m in modules:
        if isinstance(m, nn.Flatten):
            continue
        if isinstance(m, nn.Linear):
            kh, kw = (h, w) if first else (1, 1)
            if m.in_features != c * kh * kw:
                raise ValueError(
                    f"classifier's Linear({m.in_features}, {m.out_features}) does not read "
                    f"in_shape "
                    f"{(c, kh, kw)} ({c * kh * kw} features)"
                )
            conv = nn.Conv2d(c, m.out_features, (kh, kw), bias=m.bias is not None)
            conv = conv.to(device=m.weight.device, dtype=m.weight.dtype)
            with torch.no_grad():
                conv.weight.copy_(m.weight.reshape(m.out_features, c, kh, kw))  # (out, C, h, w)
                if m.bias is not None:
                    conv.bias.copy_(m.bias)
            layers.append(conv)
            c, first = m.out_features, False
        elif isinstance(m, nn.Dropout):
            layers.append(nn.Dropout2d(m.p) if m.p > 0 else nn.Identity())
        elif isinstance(m, nn.ReLU | nn.LeakyReLU | nn.Tanh | nn.Sigmoid | nn.Identity | nn.GELU):
            layers.append(m)
        else:
            raise TypeError(
                f"classifier holds a {type(m).__name__}, which fc_to_conv cannot convert; "
                "expected Linear, Flatten, Dropout or an elementwise activation"
            )
    if first:
        raise ValueError("classifier contains no Linear layer to convert")
    return nn.Sequential(*layers)
