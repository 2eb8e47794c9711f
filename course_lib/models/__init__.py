"""Networks of the course, one family per file; constructors take keyword arguments.

Full-size constructors (random weights, nothing downloaded) follow torchvision's
layouts so that their parameter counts equal the published figures. Small variants
train in seconds on a CPU on the course data (1 x 32 x 32 digits by default).
"""

from course_lib.shapes import count_parameters

from .alexnet import AlexNet, alexnet
from .densenet import (
    DenseBlock,
    DenseLayer,
    DenseNet,
    densenet121,
    densenet_small,
    transition,
)
from .fcn import FCN, bilinear_upsampler, fc_to_conv, fcn
from .inception import (
    AuxHead,
    GoogLeNet,
    GoogLeNetOutputs,
    InceptionModule,
    googlenet,
    googlenet_small,
)
from .lenet import LeNet5, lenet5
from .nin import NiN, mlpconv, nin
from .resnet import (
    Bottleneck,
    ResidualBlock,
    ResNet,
    plain_net,
    resnet18,
    resnet34,
    resnet50,
    resnet_small,
)
from .vgg import VGG, make_vgg_features, vgg16, vgg_small

__all__ = [
    "FCN", "VGG", "AlexNet", "AuxHead", "Bottleneck", "DenseBlock", "DenseLayer", "DenseNet",
    "GoogLeNet", "GoogLeNetOutputs", "InceptionModule", "LeNet5", "NiN", "ResNet",
    "ResidualBlock", "alexnet", "bilinear_upsampler", "count_parameters", "densenet121",
    "densenet_small", "fc_to_conv", "fcn", "googlenet", "googlenet_small", "lenet5",
    "make_vgg_features", "mlpconv", "nin", "plain_net", "resnet18", "resnet34", "resnet50",
    "resnet_small", "transition", "vgg16", "vgg_small",
]  # fmt: skip
