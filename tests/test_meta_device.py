"""Device placement, checked without a GPU: everything runs on torch's ``meta`` device.

A meta tensor has a shape, a dtype and a device but no data. torch refuses to mix
it with a CPU tensor in arithmetic, ``where`` or ``cat``, so a course function that
creates a tensor on the CPU next to its (device) input fails here as it would on a
GPU. Functions whose result depends on the data (a maximum read back, NMS) cannot
run on meta; they are covered by the GPU-marked tests (``make test-gpu``).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from course_lib import data, layers, ops
from course_lib.batching import batches, count_correct
from course_lib.callbacks import ActivationRecorder, GradientNormRecorder
from course_lib.device import resolve_device, set_seed
from course_lib.models import lenet5
from course_lib.train import History, predict

META = torch.device("meta")


def _m(*shape):
    return torch.empty(*shape, device=META)


def test_meta_is_a_device_the_course_accepts():
    assert resolve_device("meta") == META
    assert resolve_device(META) == META


def test_mixing_cpu_and_meta_fails_so_these_tests_can_fail():
    with pytest.raises(RuntimeError):
        _m(3) + torch.ones(3)


X = (2, 3, 8, 6)  # non-square on purpose

OPS = {
    "conv2d": lambda: ops.conv2d(_m(*X), _m(4, 3, 3, 3), padding=1, stride=2),
    "conv2d with bias": lambda: ops.conv2d(_m(*X), _m(4, 3, 3, 3), _m(4), padding=1),
    "conv2d_backward": lambda: ops.conv2d_backward(_m(2, 4, 8, 6), _m(*X), _m(4, 3, 3, 3), padding=1),
    "max_pool2d": lambda: ops.max_pool2d(_m(*X), 2),
    "max_pool2d indices": lambda: ops.max_pool2d(_m(*X), 2, return_indices=True),
    "max_pool2d_backward": lambda: ops.max_pool2d_backward(_m(2, 3, 4, 3), _m(*X), 2),
    "avg_pool2d": lambda: ops.avg_pool2d(_m(*X), 2),
    "avg_pool2d_backward": lambda: ops.avg_pool2d_backward(_m(2, 3, 4, 3), _m(*X), 2),
    "l2_pool2d": lambda: ops.l2_pool2d(_m(*X), 2),
    "batch_norm train": lambda: ops.batch_norm(
        _m(*X), _m(3), _m(3), _m(3), _m(3), training=True
    ),
    "batch_norm eval": lambda: ops.batch_norm(
        _m(*X), _m(3), _m(3), _m(3), _m(3), training=False
    ),
    "layer_norm": lambda: ops.layer_norm(_m(*X)),
    "group_norm": lambda: ops.group_norm(_m(*X), 3),
    "instance_norm": lambda: ops.instance_norm(_m(*X)),
    "relu": lambda: ops.relu(_m(*X)),
    "relu_grad": lambda: ops.relu_grad(_m(*X)),
    "leaky_relu": lambda: ops.leaky_relu(_m(*X)),
    "sigmoid": lambda: ops.sigmoid(_m(*X)),
    "tanh": lambda: ops.tanh(_m(*X)),
    "softplus": lambda: ops.softplus(_m(*X)),
    "dropout": lambda: ops.dropout(_m(*X), 0.5, generator=set_seed(0)),
    "dropout p=0": lambda: ops.dropout(_m(*X), 0.0),
    "conv_transpose2d": lambda: ops.conv_transpose2d(_m(*X), _m(3, 2, 4, 4), stride=2, padding=1),
    "upsample_nearest": lambda: ops.upsample_nearest(_m(*X), 2),
    "bed_of_nails": lambda: ops.bed_of_nails(_m(*X), 2),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_op_keeps_everything_on_the_input_device(name):
    out = OPS[name]()
    for t in out if isinstance(out, tuple) else (out,):
        if isinstance(t, torch.Tensor):
            assert t.device == META, f"{name} returned a tensor on {t.device}"


AUGMENTATIONS = {
    "random_flip": lambda x, g: data.random_flip(x, generator=g),
    "random_crop": lambda x, g: data.random_crop(x, padding=2, generator=g),
    "colour_cast": lambda x, g: data.colour_cast(x, generator=g),
    "random_rotation": lambda x, g: data.random_rotation(x, generator=g),
    "random_translation": lambda x, g: data.random_translation(x, generator=g),
    "Augment": lambda x, g: data.Augment(degrees=10.0, shift=0.1, flip=0.5)(x, generator=g),
}


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
@pytest.mark.parametrize("generator", ["none", "cpu generator"])
def test_augmentation_runs_on_the_batch_device(name, generator):
    """set_seed returns a CPU generator: the random draws must still land on the batch's device."""
    gen = set_seed(0) if generator == "cpu generator" else None
    out = AUGMENTATIONS[name](_m(4, 3, 12, 12), gen)
    assert out.device == META and out.shape == (4, 3, 12, 12)


def test_batches_index_device_data_with_a_cpu_shuffle():
    x, y = _m(10, 1, 4, 4), torch.empty(10, dtype=torch.long, device=META)
    seen = list(
        batches((x, y), (x, y), batch_size=4, shuffle=True, generator=set_seed(0), device=META)
    )
    assert [b[0].shape[0] for b in seen] == [4, 4, 2]
    assert all(b[0].device == META and b[1].device == META for b in seen)


def test_count_correct_stays_on_the_device():
    hit = count_correct(_m(5, 10), torch.empty(5, dtype=torch.long, device=META), None)
    assert all(t.device == META for t in hit)
    hit = count_correct(_m(5, 3, 4, 4), torch.empty(5, 4, 4, dtype=torch.long, device=META), 255)
    assert all(t.device == META for t in hit)


def test_predict_builds_its_placeholder_targets_on_the_input_device():
    """predict(model, x) with x on a GPU used to index CPU placeholders with a GPU index."""
    model = lenet5().to(META)
    out = predict(model, _m(7, 1, 32, 32), device=META, batch_size=3)
    assert out.shape == (7, 10) and out.device == META


def test_recorders_keep_their_numbers_on_the_device_until_an_epoch_ends():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    model.to(META)
    grads, acts = GradientNormRecorder(), ActivationRecorder(percentiles=(50,))
    history = History()
    for cb in (grads, acts):
        cb.on_fit_start(model, history)
    acts.on_step_start(0, model)
    loss = model(_m(2, 1, 6, 6)).sum()
    acts.on_step_end(0, model, loss)
    loss.backward()
    grads.on_after_backward(0, model)
    assert all(row.device == META for row in grads._pending)
    assert all(row.device == META for rows in acts._rows.values() for row in rows)


LAYERS = {
    "Conv2d": lambda: layers.Conv2d(3, 4, 3, padding=1, stride=2),
    "ConvTranspose2d": lambda: layers.ConvTranspose2d(3, 2, 4, stride=2, padding=1),
    "MaxPool2d": lambda: layers.MaxPool2d(2),
    "AvgPool2d": lambda: layers.AvgPool2d(2, padding=1),
    "BatchNorm2d": lambda: layers.BatchNorm2d(3),
    "Dropout": lambda: layers.Dropout(0.5),
    "ReLU": lambda: layers.ReLU(),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_course_layer_forward_and_backward_stay_on_the_device(name):
    layer = LAYERS[name]().to(META)
    x = torch.empty(*X, device=META, requires_grad=True)
    out = layer(x)
    out.backward(torch.empty_like(out))
    assert out.device == META and x.grad.device == META
    for p in layer.parameters():
        assert p.grad is not None and p.grad.device == META, f"{name}.{p.shape} gradient"


def test_course_linear_on_the_device():
    layer = layers.Linear(6, 3).to(META)
    x = torch.empty(5, 6, device=META, requires_grad=True)
    layer(x).sum().backward()
    assert x.grad.device == META and layer.weight.grad.device == META
