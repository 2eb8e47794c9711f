"""Tests for course_lib.shapes. Torch is the oracle for every output size."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from course_lib.shapes import (
    Summary,
    conv_mults,
    conv_output_size,
    conv_transpose_output_size,
    count_parameters,
    pool_output_size,
    receptive_field,
    same_padding,
    summary,
)

HYP = settings(max_examples=40, deadline=None)


def _torch_conv_size(n, f, p, s):
    """Output width torch gives for a conv, or None if torch refuses the setting."""
    x = torch.zeros(1, 1, 1, n)
    w = torch.zeros(1, 1, 1, f)
    try:
        return F.conv2d(x, w, padding=(0, p), stride=(1, s)).shape[-1]
    except (RuntimeError, ValueError):
        return None


@HYP
@given(n=st.integers(1, 12), f=st.integers(1, 9), p=st.integers(-2, 5), s=st.integers(-1, 5))
def test_conv_output_size_matches_torch_and_refuses_what_torch_refuses(n, f, p, s):
    """Oracle: torch.nn.functional.conv2d. Same size where torch accepts, ValueError where not."""
    expected = _torch_conv_size(n, f, p, s)
    if expected is None:
        with pytest.raises(ValueError):
            conv_output_size(n, f, p, s)
    else:
        assert conv_output_size(n, f, p, s) == expected


def test_conv_output_size_grid_of_500_settings_matches_torch():
    """Oracle: torch. The lesson-02 claim, on a full grid (n, f, p, s) of 840 settings."""
    checked = refused = 0
    for n in range(1, 11):
        for f in range(1, 8):
            for p in range(0, 4):
                for s in range(1, 4):
                    expected = _torch_conv_size(n, f, p, s)
                    if expected is None:
                        refused += 1
                        with pytest.raises(ValueError):
                            conv_output_size(n, f, p, s)
                    else:
                        assert conv_output_size(n, f, p, s) == expected
                    checked += 1
    assert checked == 840 and refused > 0


def test_conv_output_size_worked_examples():
    assert conv_output_size(6, 3) == 4
    assert [conv_output_size(7, 3, 0, s) for s in (1, 2, 3)] == [5, 3, 2]
    assert conv_output_size(32, 5, 2) == 32
    # the 39x39x3 -> 37x37x10 -> 17x17x20 -> 7x7x40 network of lesson 02
    assert conv_output_size(39, 3) == 37
    assert conv_output_size(37, 5, 0, 2) == 17
    assert conv_output_size(17, 5, 0, 2) == 7


@pytest.mark.parametrize(
    ("args", "exc", "words"),
    [
        ((5, 7, 0, 1), ValueError, "larger than the padded input"),
        ((5, 3, -1, 1), ValueError, "p (padding)=-1"),
        ((5, 3, 0, 0), ValueError, "s (stride)=0"),
        ((0, 3, 0, 1), ValueError, "n (input size)=0"),
        ((5.0, 3, 0, 1), TypeError, "n (input size)=5.0 must be a positive int, not float"),
        ((5, True, 0, 1), TypeError, "f (kernel size)=True must be a positive int, not a bool"),
    ],
)
def test_conv_output_size_errors_name_parameter_and_value(args, exc, words):
    with pytest.raises(exc, match=words.replace("(", r"\(").replace(")", r"\)")):
        conv_output_size(*args)


@HYP
@given(n=st.integers(1, 12), f=st.integers(1, 6), p=st.integers(0, 4), s=st.integers(1, 4))
def test_pool_output_size_matches_torch_max_pool(n, f, p, s):
    """Oracle: torch.nn.functional.max_pool2d (which also requires p <= f / 2)."""
    x = torch.zeros(1, 1, 1, n)
    try:
        expected = F.max_pool2d(x, (1, f), stride=(1, s), padding=(0, p)).shape[-1]
    except (RuntimeError, ValueError):
        expected = None
    if expected is None:
        with pytest.raises(ValueError):
            pool_output_size(n, f, p, s)
    else:
        assert pool_output_size(n, f, p, s) == expected


def test_pool_output_size_defaults_stride_to_window():
    assert pool_output_size(4, 2) == 2


@HYP
@given(
    n=st.integers(1, 8),
    f=st.integers(1, 5),
    p=st.integers(0, 3),
    s=st.integers(1, 4),
    op=st.integers(0, 3),
)
def test_conv_transpose_output_size_matches_torch(n, f, p, s, op):
    """Oracle: torch.nn.functional.conv_transpose2d."""
    x = torch.zeros(1, 1, 1, n)
    w = torch.zeros(1, 1, 1, f)
    try:
        expected = F.conv_transpose2d(
            x, w, stride=(1, s), padding=(0, p), output_padding=(0, op)
        ).shape[-1]
    except (RuntimeError, ValueError):
        expected = None
    if expected is None or expected < 1:
        with pytest.raises(ValueError):
            conv_transpose_output_size(n, f, p, s, op)
    else:
        assert conv_transpose_output_size(n, f, p, s, op) == expected


def test_same_padding_keeps_size_and_refuses_even_kernels():
    for f in (1, 3, 5, 7):
        assert conv_output_size(10, f, same_padding(f), 1) == 10
    with pytest.raises(ValueError, match="f \\(kernel size\\)=4 is even"):
        same_padding(4)


def test_receptive_field_stacks_and_alexnet_pool5():
    assert receptive_field([]) == 1
    assert receptive_field([(3, 1)] * 2) == 5
    assert receptive_field([(3, 1)] * 3) == 7
    alexnet = [(11, 4), (3, 2), (5, 1), (3, 2), (3, 1), (3, 1), (3, 1), (3, 2)]
    assert receptive_field(alexnet) == 195
    with pytest.raises(ValueError, match="stride"):
        receptive_field([(3, 0)])
    with pytest.raises(TypeError, match="pair"):
        receptive_field([3])


def test_receptive_field_matches_gradient_support():
    """Oracle: torch autograd. The input pixels that influence one output unit span the field."""
    layers = [(3, 1), (2, 2), (3, 1), (2, 2)]
    net = nn.Sequential(*[nn.Conv2d(1, 1, k, s, bias=False) for k, s in layers])
    for m in net:
        nn.init.constant_(m.weight, 1.0)
    x = torch.zeros(1, 1, 40, 40, requires_grad=True)
    y = net(x)
    y[0, 0, 2, 2].backward()
    rows = torch.nonzero(x.grad[0, 0].abs().sum(1))
    assert int(rows.max() - rows.min() + 1) == receptive_field(layers)


def test_count_parameters_weights_and_biases_all_or_trainable_only():
    assert count_parameters(nn.Conv2d(3, 10, 3)) == 280
    assert count_parameters(nn.Linear(400, 120)) == 48120
    frozen = nn.Linear(4, 2)
    frozen.bias.requires_grad_(False)
    assert count_parameters(frozen) == 10
    assert count_parameters(frozen, trainable_only=True) == 8
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        count_parameters([1, 2])
    with pytest.raises(TypeError, match="trainable_only='yes' must be True or False"):
        count_parameters(frozen, trainable_only="yes")


def test_numpy_and_zero_d_torch_integers_count_as_ints():
    assert conv_output_size(np.int64(7), np.int32(3), s=torch.tensor(2)) == 3
    assert pool_output_size(np.int64(4), torch.tensor(2)) == 2
    assert conv_transpose_output_size(np.int64(16), 4, p=np.int8(1), s=2) == 32
    assert same_padding(np.int64(5)) == 2
    assert receptive_field([(np.int64(3), torch.tensor(1))] * 2) == 5
    assert conv_mults((np.int64(192), 28, 28), np.int64(32), np.int64(5), p="same") == 120_422_400
    for bad in (True, 3.0, np.float32(3), torch.tensor(3.0), None, "3"):
        with pytest.raises(TypeError, match=r"f \(kernel size\)"):
            conv_output_size(7, bad)


def test_conv_mults_reproduces_inception_figures():
    naive = conv_mults((192, 28, 28), 32, 5, p="same")
    assert naive == 120_422_400
    squeeze = conv_mults((192, 28, 28), 16, 1)
    expand = conv_mults((16, 28, 28), 32, 5, p=2)
    assert (squeeze, expand) == (2_408_448, 10_035_200)
    assert squeeze + expand == 12_443_648


def test_conv_mults_matches_counting_by_hand_with_stride_and_pairs():
    # 3 x 9 x 11 input, 4 filters of 3 x 2, stride (2, 3), padding (1, 0)
    oh, ow = conv_output_size(9, 3, 1, 2), conv_output_size(11, 2, 0, 3)
    assert conv_mults((3, 9, 11), 4, (3, 2), p=(1, 0), s=(2, 3)) == oh * ow * 4 * 3 * 2 * 3
    with pytest.raises(ValueError, match="in_shape"):
        conv_mults((28, 28), 4, 3)
    with pytest.raises(ValueError, match="stride 1"):
        conv_mults((3, 8, 8), 4, 3, p="same", s=2)


def _lenet():
    return nn.Sequential(
        nn.Conv2d(3, 6, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, 10),
    )


def test_summary_rows_shapes_params_and_mults_of_lenet():
    net = _lenet()
    s = summary(net, (3, 32, 32))
    assert isinstance(s, Summary)
    shapes = [r.output_shape for r in s.rows]
    assert shapes[0] == (6, 28, 28) and shapes[2] == (6, 14, 14)
    assert shapes[3] == (16, 10, 10) and shapes[5] == (16, 5, 5)
    assert shapes[6] == (400,) and shapes[-1] == (10,)
    assert s.total_params == count_parameters(net) == sum(r.params for r in s.rows)
    assert s.rows[0].mults == conv_mults((3, 32, 32), 6, 5)
    assert s.rows[0].activations == 6 * 28 * 28  # H x W x C values in conv1's output
    assert s.rows[3].mults == conv_mults((6, 14, 14), 16, 5)
    assert s.rows[7].mults == 400 * 120
    assert s.total_mults == sum(r.mults for r in s.rows)


def test_summary_renders_text_and_html_and_restores_training_mode():
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2))
    net.train()
    s = summary(net, (1, 3, 3))
    assert net.training and all(m.training for m in net)
    text = str(s)
    assert "BatchNorm2d" in text and "4 x 1 x 1" in text and f"{s.total_params:,}" in text
    page = s._repr_html_()
    assert page.startswith("<table>") and "<td" in page and "Linear" in page
    with pytest.raises(ValueError, match="input_shape"):
        summary(net, (1, 0, 3))


def test_summary_wrong_input_shape_is_a_value_error_naming_it():
    """torch's raw RuntimeError (channel mismatch, batch axis included) becomes a ValueError."""
    lenet = _lenet()  # takes (3, 32, 32)
    with pytest.raises(ValueError, match=r"input_shape=\(1, 32, 32\) does not fit Sequential; its first conv takes 3 channels.*ONE example without the batch axis"):  # fmt: skip
        summary(lenet, (1, 32, 32))
    with pytest.raises(ValueError, match=r"input_shape=\(8, 3, 32, 32\) does not fit"):
        summary(lenet, (8, 3, 32, 32))
    with pytest.raises(TypeError, match="input_shape=32 must be a tuple of sizes"):
        summary(lenet, 32)


def test_receptive_field_refuses_a_bare_number():
    with pytest.raises(TypeError, match=r"layers=3 must be a list of \(kernel, stride\) pairs"):
        receptive_field(3)
