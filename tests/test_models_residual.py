"""Lesson 09's model additions: DenseNet-121 and the bottleneck dense layer, and the
published parameter counts (checked against torchvision when it is installed)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from course_lib.models import (
    Bottleneck,
    DenseBlock,
    DenseLayer,
    ResidualBlock,
    densenet121,
    densenet_small,
    resnet34,
    resnet50,
)
from course_lib.shapes import count_parameters


def test_densenet121_has_the_published_parameter_count():
    with torch.device("meta"):
        model = densenet121()
    assert count_parameters(model) == 7_978_856
    assert model.fc.in_features == 1024


def test_densenet121_runs_on_a_small_image():
    torch.manual_seed(0)
    model = densenet121(num_classes=3).eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 3)


def test_bottleneck_dense_layer_adds_growth_rate_channels():
    layer = DenseLayer(10, 4, bn_size=2)
    assert layer.reduce.out_channels == 8 and layer.conv.in_channels == 8
    assert layer(torch.randn(2, 10, 5, 6)).shape == (2, 14, 5, 6)
    # 1x1: 10*8 weights, BN(10) and BN(8): 2*10 + 2*8, 3x3: 8*4*9
    assert count_parameters(layer) == 10 * 8 + 2 * 10 + 2 * 8 + 8 * 4 * 9
    block = DenseBlock(6, growth_rate=3, num_layers=2, bn_size=4)
    assert block.out_channels == 12 and block(torch.randn(1, 6, 4, 4)).shape == (1, 12, 4, 4)


def test_the_dense_layer_without_bottleneck_is_unchanged():
    layer = DenseLayer(5, 3)
    assert layer.reduce is None
    assert count_parameters(layer) == 2 * 5 + 5 * 3 * 9
    assert count_parameters(densenet_small()) == 76_378


def test_the_input_is_kept_and_new_maps_follow_it():
    torch.manual_seed(0)
    layer = DenseLayer(4, 2, bn_size=2).eval()
    x = torch.randn(1, 4, 3, 3)
    torch.testing.assert_close(layer(x)[:, :4], x, rtol=0, atol=0)


def test_bad_bn_size_is_refused():
    with pytest.raises(ValueError, match="bn_size=0"):
        DenseLayer(4, 2, bn_size=0)
    with pytest.raises(TypeError, match="bn_size"):
        DenseLayer(4, 2, bn_size=2.5)


def test_bottleneck_saves_weights_over_a_basic_block_of_the_same_width():
    def conv_weights(module):
        return sum(m.weight.numel() for m in module.modules() if isinstance(m, nn.Conv2d))

    bottleneck = Bottleneck(256, 64)
    assert conv_weights(bottleneck) == 256 * 64 + 9 * 64 * 64 + 64 * 256 == 69_632
    assert conv_weights(ResidualBlock(256, 256)) == 2 * 9 * 256 * 256
    assert conv_weights(ResidualBlock(64, 64)) == 73_728  # the paper's comparison


@pytest.mark.parametrize(
    ("ours", "name", "count"),
    [(resnet34, "resnet34", 21_797_672), (resnet50, "resnet50", 25_557_032),
     (densenet121, "densenet121", 7_978_856)],
)
def test_counts_agree_with_torchvision(ours, name, count):
    with torch.device("meta"):
        assert count_parameters(ours()) == count
    tv = pytest.importorskip("torchvision")
    with torch.device("meta"):
        theirs = getattr(tv.models, name)(weights=None)
    assert count_parameters(theirs) == count
