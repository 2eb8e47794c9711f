"""Model constructors: parameter counts, forward shapes, FCN pieces, bad arguments."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.models import (
    Bottleneck,
    DenseBlock,
    GoogLeNetOutputs,
    InceptionModule,
    ResidualBlock,
    alexnet,
    bilinear_upsampler,
    count_parameters,
    densenet_small,
    fc_to_conv,
    fcn,
    googlenet,
    googlenet_small,
    lenet5,
    nin,
    plain_net,
    resnet18,
    resnet34,
    resnet50,
    resnet_small,
    vgg16,
    vgg_small,
)

# torchvision's published parameter counts (its docs' model tables), 1000 classes.
PUBLISHED = [
    (alexnet, {}, 61_100_840),
    (vgg16, {}, 138_357_544),
    (resnet18, {}, 11_689_512),
    (resnet34, {}, 21_797_672),
    (resnet50, {}, 25_557_032),
    (googlenet, {}, 6_624_904),
    (googlenet, {"aux_logits": True}, 13_004_888),
]


@pytest.mark.parametrize(("make", "kwargs", "expected"), PUBLISHED, ids=lambda v: getattr(v, "__name__", str(v)))
def test_full_size_parameter_counts_equal_published_figures(make, kwargs, expected):
    assert count_parameters(make(**kwargs)) == expected


def test_lenet5_parameter_count_by_hand():
    """6*(25+1) + 16*(6*25+1) + 120*(400+1) + 84*(120+1) + 10*(84+1) = 61,706."""
    expected = 6 * 26 + 16 * 151 + 120 * 401 + 84 * 121 + 10 * 85
    assert count_parameters(lenet5()) == expected == 61_706


def test_lenet5_activation_sizes_match_lesson_table():
    model = lenet5(in_channels=3).eval()
    x = torch.zeros(2, 3, 32, 32)
    shapes = []
    for layer in model.features:
        x = layer(x)
        if isinstance(layer, nn.Conv2d | nn.MaxPool2d):
            shapes.append(tuple(x.shape[1:]))
    assert shapes == [(6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5)]
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_lenet5_refuses_wrong_input_size_by_shape():
    with pytest.raises(ValueError, match=r"\(N, C, 32, 32\).*28"):
        lenet5()(torch.zeros(1, 1, 28, 28))


SMALL = [
    (lenet5, {"dropout": 0.5, "batch_norm": True}),
    (vgg_small, {}),
    (nin, {}),
    (googlenet_small, {}),
    (resnet_small, {"depth": 8}),
    (plain_net, {"depth": 8}),
    (densenet_small, {"block_layers": (2, 2)}),
]


@pytest.mark.parametrize(("make", "kwargs"), SMALL, ids=lambda v: getattr(v, "__name__", ""))
@pytest.mark.parametrize("channels", [1, 3])
def test_small_models_forward_shape(make, kwargs, channels):
    model = make(in_channels=channels, num_classes=7, **kwargs).eval()
    sizes = [32] if make is lenet5 else [32, 40]
    for s in sizes:
        with torch.no_grad():
            out = model(torch.rand(3, channels, s, s))
        assert out.shape == (3, 7)


@pytest.mark.parametrize("make", [alexnet, vgg16, resnet18, resnet34, resnet50, googlenet])
def test_full_size_forward_shape_on_two_sizes(make):
    model = make(num_classes=5).eval()
    with torch.no_grad():
        for s in (96, 67):  # adaptive pools accept any size >= 63
            assert model(torch.rand(1, 3, s, s)).shape == (1, 5)


def test_googlenet_aux_heads_only_in_training():
    model = googlenet_small(num_classes=4)
    out = model.train()(torch.rand(2, 1, 32, 32))
    assert isinstance(out, GoogLeNetOutputs)
    assert [t.shape for t in out] == [(2, 4)] * 3
    assert model.eval()(torch.rand(2, 1, 32, 32)).shape == (2, 4)
    assert googlenet_small(aux_logits=False).train()(torch.rand(2, 1, 32, 32)).shape == (2, 10)


def test_inception_naive_and_reduced_output_channels():
    x = torch.rand(1, 192, 28, 28)
    naive = InceptionModule(192, c1=64, c3=128, c5=32, pool_proj=32)
    assert naive.naive and naive(x).shape == (1, 256, 28, 28)
    passthrough = InceptionModule(192, c1=64, c3=128, c5=32)
    assert passthrough(x).shape == (1, 64 + 128 + 32 + 192, 28, 28)
    reduced = InceptionModule(192, c1=64, c3_reduce=96, c3=128, c5_reduce=16, c5=32, pool_proj=32)
    assert not reduced.naive and reduced(x).shape == (1, 256, 28, 28)
    # the 1x1 bottleneck cuts the 5x5 branch's weights: 192*16 + 16*25*32 vs 192*25*32
    w_naive = naive.branch3[0].weight.numel()
    w_reduced = sum(m.weight.numel() for m in reduced.branch3.modules() if isinstance(m, nn.Conv2d))
    assert (w_naive, w_reduced) == (192 * 25 * 32, 192 * 16 + 16 * 25 * 32)


def test_residual_block_shortcuts():
    x = torch.rand(2, 8, 16, 16)
    identity = ResidualBlock(8, 8)
    assert isinstance(identity.shortcut, nn.Identity)
    projection = ResidualBlock(8, 16, stride=2)
    assert isinstance(projection.shortcut, nn.Sequential)
    zero_pad = ResidualBlock(8, 16, stride=2, shortcut="zero_pad")
    for block in (projection, zero_pad):
        assert block(x).shape == (2, 16, 8, 8)
    assert ResidualBlock(8, 8, skip=False).shortcut is None
    assert Bottleneck(8, 4, stride=2)(x).shape == (2, 16, 8, 8)


def test_residual_block_with_zero_weights_passes_relu_of_input():
    """a[l+2] = g(a[l]) when the block's weights are zero: the identity is easy to learn."""
    block = ResidualBlock(4, 4, batch_norm=False)
    for p in block.parameters():
        nn.init.zeros_(p)
    x = torch.randn(2, 4, 5, 5)
    torch.testing.assert_close(block(x), F.relu(x))


def test_plain_net_differs_from_resnet_only_in_skips():
    res, plain = resnet_small(14), plain_net(14)
    projections = sum(
        p.numel()
        for m in res.modules()
        if isinstance(m, ResidualBlock) and m.shortcut is not None
        for p in m.shortcut.parameters()
    )
    assert count_parameters(res) - count_parameters(plain) == projections > 0
    conv_count = sum(isinstance(m, nn.Conv2d) for m in plain.modules())
    assert conv_count + 1 == 14  # depth counts the weighted layers: convs + FC


def test_dense_block_grows_channels():
    block = DenseBlock(8, growth_rate=5, num_layers=3)
    assert block(torch.rand(1, 8, 6, 6)).shape == (1, 8 + 15, 6, 6)


def test_bilinear_transposed_conv_matches_interpolation():
    """torch's F.interpolate(bilinear, align_corners=False) is the oracle, away from borders."""
    torch.manual_seed(0)
    for factor in (2, 4, 8):
        x = torch.rand(2, 3, 7, 9, dtype=torch.float64)
        up = bilinear_upsampler(3, factor).double()
        with torch.no_grad():
            ours = up(x)
        ref = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
        assert ours.shape == ref.shape
        m = factor  # the first and last `factor` rows/cols differ: zero vs edge padding
        torch.testing.assert_close(ours[..., m:-m, m:-m], ref[..., m:-m, m:-m])


def test_bilinear_upsampler_uses_the_ops_kernel_the_only_one():
    """One bilinear kernel in the library: course_lib.ops.bilinear_kernel (arg: factor)."""
    import course_lib.models as models
    from course_lib import ops

    up = bilinear_upsampler(3, 4)
    assert up.weight.dtype == torch.float32
    torch.testing.assert_close(up.weight.detach(), ops.bilinear_kernel(3, 4, like=up.weight))
    assert not hasattr(models, "bilinear_kernel") and "bilinear_kernel" not in models.__all__


@pytest.mark.parametrize("variant", ["32s", "16s", "8s"])
def test_fcn_output_size_equals_input_size(variant):
    model = fcn(variant, backbone="small", num_classes=4).eval()
    with torch.no_grad():
        for h, w in [(64, 64), (50, 75), (33, 97)]:
            assert model(torch.rand(1, 3, h, w)).shape == (1, 4, h, w)


def test_fcn_vgg16_backbone_layout_and_odd_size():
    model = fcn("8s", backbone="vgg16").eval()
    fc6 = model.head[0]
    assert fc6.kernel_size == (7, 7) and fc6.out_channels == 4096
    assert model.head[3].kernel_size == (1, 1) and model.head[-1].out_channels == 21
    with torch.no_grad():
        assert model(torch.rand(1, 3, 70, 45)).shape == (1, 21, 70, 45)


def test_fcn_skip_scorers_start_at_zero():
    """The FCN paper initialises the pool4/pool3 scorers at zero, so the skips start silent."""
    m8 = fcn("8s", num_classes=3)
    for layer in (m8.score_pool4, m8.score_pool3):
        assert torch.count_nonzero(layer.weight) == 0 and torch.count_nonzero(layer.bias) == 0
    assert not m8.upsample.weight.requires_grad and m8.up2_pool5.weight.requires_grad


def test_fc_to_conv_gives_identical_outputs_and_a_score_map():
    torch.manual_seed(0)
    head = (
        nn.Sequential(
            nn.Flatten(), nn.Linear(8 * 3 * 3, 20), nn.ReLU(), nn.Dropout(0.5), nn.Linear(20, 5)
        )
        .double()
        .eval()
    )
    conv = fc_to_conv(head, (8, 3, 3)).eval()
    x = torch.randn(4, 8, 3, 3, dtype=torch.float64)
    torch.testing.assert_close(conv(x)[:, :, 0, 0], head(x))
    big = torch.randn(1, 8, 6, 7, dtype=torch.float64)
    scores = conv(big)
    assert scores.shape == (1, 5, 4, 5)
    torch.testing.assert_close(scores[0, :, 2, 3], head(big[:, :, 2:5, 3:6])[0])


def test_fc_to_conv_rejects_mismatched_shape_and_unknown_layers():
    with pytest.raises(ValueError, match=r"Linear\(72, 5\).*\(8, 2, 2\)"):
        fc_to_conv(nn.Linear(72, 5), (8, 2, 2))
    with pytest.raises(TypeError, match="BatchNorm1d"):
        fc_to_conv(nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4)), (4, 1, 1))


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (lambda: fcn("12s"), r"variant='12s'.*'32s', '16s', '8s'"),
        (lambda: fcn("8s", backbone="resnet"), r"backbone='resnet'"),
        (lambda: lenet5(num_classes=0), r"num_classes=0 must be a positive int"),
        (lambda: alexnet(num_classes=-3), r"num_classes=-3"),
        (lambda: resnet_small(10), r"depth=10 must be 6n \+ 2"),
        (lambda: lenet5(activation="swish"), r"activation='swish'"),
        (lambda: ResidualBlock(8, 4, shortcut="zero_pad", stride=2), r"cannot shrink"),
        (lambda: InceptionModule(8, c1=1, c3=1, c5=1, c3_reduce=2), r"c3_reduce=2.*c5_reduce=None"),
    ],
)
def test_bad_arguments_get_clear_errors(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


def test_numpy_integers_are_accepted_as_sizes():
    """np.int64 (e.g. from a numpy computation) used to be refused as 'not a positive int'."""
    import numpy as np

    model = lenet5(num_classes=np.int64(7), in_channels=np.int64(1)).eval()
    assert model(torch.zeros(2, 1, 32, 32)).shape == (2, 7)
    conv = fc_to_conv(nn.Linear(8 * 2 * 2, 5), tuple(np.array([8, 2, 2])))
    assert conv(torch.zeros(1, 8, 2, 2)).shape == (1, 5, 1, 1)
    with pytest.raises(TypeError, match="num_classes=True must be a positive int, not a bool"):
        lenet5(num_classes=True)


def test_numpy_floats_and_zero_d_tensors_are_accepted_as_numbers():
    import numpy as np

    a = lenet5(num_classes=torch.tensor(7), dropout=np.float32(0.5))
    b = lenet5(num_classes=7, dropout=0.5)
    assert count_parameters(a) == count_parameters(b)
    assert [type(m) for m in a.modules()] == [type(m) for m in b.modules()]
    assert resnet_small(np.int64(8)).fc.out_features == 10
    assert InceptionModule(4, c1=1, c3=1, c5=1, large_kernel=np.int64(3)).out_channels == 7


def test_lenet5_dropout_must_be_a_number():
    with pytest.raises(TypeError, match=r"dropout='a' must be a probability in \[0, 1\)"):
        lenet5(dropout="a")


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (lambda: lenet5(batch_norm="no"), r"batch_norm='no' must be True or False"),
        (lambda: lenet5(batch_norm=1), r"batch_norm=1 must be True or False"),
        (lambda: resnet_small(20.0), r"depth=20.0 must be 6n \+ 2.*not float"),
        (lambda: fc_to_conv(None, (4, 1, 1)), r"classifier must be a torch.nn.Module"),
        (lambda: fc_to_conv(nn.Linear(4, 2), None), r"in_shape=None must be a tuple"),
        (lambda: vgg_small(widths=None), r"widths=None must be a tuple"),
        (lambda: googlenet_small(aux_logits="yes"), r"aux_logits='yes' must be True or False"),
        (lambda: bilinear_upsampler(2, 4, trainable=None), r"trainable=None must be True"),
    ],
)
def test_wrong_types_are_type_errors_naming_the_parameter(call, pattern):
    with pytest.raises(TypeError, match=pattern):
        call()
