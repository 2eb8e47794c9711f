"""Lesson 08's experiments: augmentation helps a small training set, flipping hurts a task
where left and right matter, and features learnt on one task beat training from scratch
on another with few labels. Each claim is checked on the notebook's seed (0) and on
three others, with the notebook's settings; the margins are asserted too.

Measured on seeds 0, 1, 2, 3 (test accuracy, percentage points):
augmentation gain 6.9, 7.2, 7.5, 7.2 (claim: >= 3); flipping harm 50.8, 49.8, 73.2, 42.8
(claim: >= 20); frozen features over scratch 15.0, 10.0, 25.6, 15.1 (claim: >= 5).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from course_lib.data import Augment, DataSplits, load_digits
from course_lib.experiments.augmentation import (
    AUGMENT_RECIPE,
    ORGAN_CLASSES,
    augmentation_experiment,
    few_labels,
    flip_harm_experiment,
    make_organ_scans,
    organ_splits,
)
from course_lib.experiments.base import ExperimentResult
from course_lib.experiments.transfer import (
    STRATEGIES,
    class_subset,
    prepare_for_target,
    trainable_parameters,
    transfer_experiment,
)
from course_lib.models import lenet5

SEEDS = (0, 1, 2, 3)  # 0 is the notebook's


@pytest.fixture(scope="module", params=SEEDS)
def augmentation(request):
    return augmentation_experiment(seed=request.param, device="cpu")


@functools.cache
def _flip_harm(seed: int):
    return flip_harm_experiment(seed=seed, device="cpu")


@pytest.fixture(scope="module", params=SEEDS)
def flip_harm(request):
    return _flip_harm(request.param)


@pytest.fixture(scope="module", params=SEEDS)
def transfer(request):
    return transfer_experiment(seed=request.param, device="cpu")


# --------------------------------------------------------------------------- the claims


def test_augmentation_raises_test_accuracy_by_a_clear_margin(augmentation):
    r = augmentation
    assert isinstance(r, ExperimentResult)
    assert r.claim_holds, r.sentence()
    assert r.gain >= 0.05, r.sentence()  # measured 6.9-7.5 points; the claim asks for 3
    assert r.n_train == 50 and r.n_test == 360
    assert r.sentence().startswith("Experiment:") and "holds" in r.sentence()


def test_flipping_destroys_a_task_where_left_and_right_matter(flip_harm):
    r = flip_harm
    assert r.claim_holds, r.sentence()
    assert r.accuracy_plain >= 0.95, r.sentence()  # the side of the heart is easy to see
    assert r.harm >= 0.35, r.sentence()  # measured 43-73 points; the claim asks for 20
    assert r.accuracy_flipped <= 0.65  # about chance: the flipped labels contradict


def test_frozen_features_beat_training_from_scratch(transfer):
    r = transfer
    assert r.claim_holds, r.sentence()
    assert r.gain >= 0.08, r.sentence()  # measured 10-26 points; the claim asks for 5
    assert r.source_accuracy >= 0.85  # the source network did learn its own task
    for name in STRATEGIES[1:]:  # every pretrained start beats random weights here
        assert r.accuracy[name] > r.accuracy["from scratch"], r.table()
    assert r.trained_params == {
        "from scratch": 61_281,
        "frozen features": 84 * 5 + 5,
        "fine-tune the top": 400 * 120 + 120 + 120 * 84 + 84 + 84 * 5 + 5,
        "fine-tune all": 61_281,
    }
    assert r.n_labels == 25
    assert all(name in r.table() for name in STRATEGIES)


def test_the_notebook_seed_prints_the_same_sentence_twice():
    again = flip_harm_experiment(seed=0, device="cpu")
    assert again.sentence() == _flip_harm(0).sentence()


# --------------------------------------------------------------------------- the data


def test_organ_scans_mirror_into_the_other_class():
    x, y = make_organ_scans(400, seed=5)
    assert x.shape == (400, 1, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    assert int((y == 0).sum()) == 200  # balanced
    # the heart is the brightest blob: on the image's right for class 0, left for class 1
    bright = (x[:, 0] > 0.7).float()  # (N, 32, 32)
    cols = torch.arange(32.0) + 0.5
    centre = (bright.sum(1) * cols).sum(1) / bright.sum((1, 2)).clamp_min(1)
    assert bool((centre[y == 0] > 16).float().mean() > 0.95)
    assert bool((centre[y == 1] < 16).float().mean() > 0.95)
    mirrored = x.flip(-1)
    bright_m = (mirrored[:, 0] > 0.7).float()
    centre_m = (bright_m.sum(1) * cols).sum(1) / bright_m.sum((1, 2)).clamp_min(1)
    assert bool((centre_m[y == 0] < 16).float().mean() > 0.95)  # a flip swaps the class
    torch.testing.assert_close(make_organ_scans(400, seed=5)[0], x, rtol=0, atol=0)


def test_organ_splits_are_disjoint_draws():
    d = organ_splits(20, 8, seed=1)
    assert (len(d.train), len(d.val), len(d.test)) == (20, 2, 8)
    assert len(organ_splits(seed=1).val) == 20
    assert d.classes == ORGAN_CLASSES
    assert not torch.equal(d.train.tensors[0][:8], d.test.tensors[0])


def test_few_labels_takes_n_of_each_class_in_order():
    digits = load_digits()
    few = few_labels(digits.train, 3, seed=2)
    assert len(few) == 30
    assert np.bincount(few.tensors[1].numpy()).tolist() == [3] * 10
    again = few_labels(digits.train, 3, seed=2)
    assert torch.equal(few.tensors[0], again.tensors[0])
    assert not torch.equal(few.tensors[0], few_labels(digits.train, 3, seed=3).tensors[0])
    with pytest.raises(ValueError, match="n_per_class=500"):
        few_labels(digits.train, 500)
    with pytest.raises(TypeError, match="TensorDataset"):
        few_labels(digits.train.tensors, 3)


def test_class_subset_relabels_in_the_order_given():
    x = torch.arange(6.0).reshape(6, 1, 1, 1)
    sub = class_subset(TensorDataset(x, torch.tensor([5, 0, 9, 5, 2, 9])), (9, 5))
    assert sub.tensors[1].tolist() == [1, 0, 1, 0]
    assert sub.tensors[0].flatten().tolist() == [0.0, 2.0, 3.0, 5.0]
    with pytest.raises(ValueError, match="twice"):
        class_subset(TensorDataset(x, torch.zeros(6, dtype=torch.int64)), (1, 1))


# --------------------------------------------------------------------------- freezing


@pytest.mark.parametrize(
    ("strategy", "trained"),
    [
        ("frozen features", {"classifier.5.weight", "classifier.5.bias"}),
        ("fine-tune the top", {f"classifier.{i}.{k}" for i in (1, 3, 5) for k in ("weight", "bias")}),
        ("fine-tune all", None),
    ],
)
def test_prepare_for_target_freezes_what_the_strategy_says(strategy, trained):
    torch.manual_seed(0)
    source = lenet5(num_classes=5)
    before = {k: v.clone() for k, v in source.state_dict().items()}
    model = prepare_for_target(source, strategy, num_classes=5)
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    assert names == (trained if trained is not None else {n for n, _ in model.named_parameters()})
    # the pretrained layers are copied, the output layer is new, the source untouched
    torch.testing.assert_close(model.features[0].weight, source.features[0].weight)
    assert not torch.equal(model.classifier[5].weight, source.classifier[5].weight)
    for k, v in source.state_dict().items():
        assert torch.equal(v, before[k])
    assert all(p.requires_grad for p in source.parameters())
    assert trainable_parameters(model) == sum(
        p.numel() for n, p in model.named_parameters() if n in names
    )


def test_frozen_layers_do_not_move_in_training():
    torch.manual_seed(0)
    source = lenet5(num_classes=5)
    model = prepare_for_target(source, "fine-tune the top", num_classes=5)
    x = torch.rand(4, 1, 32, 32)
    y = torch.tensor([0, 1, 2, 3])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    torch.nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    assert torch.equal(model.features[0].weight, source.features[0].weight)
    assert not torch.equal(model.classifier[1].weight, source.classifier[1].weight)


def test_scratch_needs_no_source_and_others_do():
    assert trainable_parameters(prepare_for_target(None, "from scratch")) == 61_706 - 850 + 425
    with pytest.raises(TypeError, match="source"):
        prepare_for_target(None, "frozen features")
    with pytest.raises(ValueError, match="strategy='freeze'"):
        prepare_for_target(None, "freeze")


# --------------------------------------------------------------------------- arguments


def _tiny() -> DataSplits:
    x, y = make_organ_scans(8, seed=1)
    part = TensorDataset(x, y)
    return DataSplits(part, part, part, ORGAN_CLASSES)


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda: augmentation_experiment(n_per_class=0), ValueError, "n_per_class=0"),
        (lambda: augmentation_experiment(margin=1.5), ValueError, "margin=1.5"),
        (lambda: augmentation_experiment(augment="flip"), TypeError, "augment"),
        (lambda: augmentation_experiment(recipe={}), TypeError, "recipe"),
        (lambda: flip_harm_experiment(seed=-1), ValueError, "seed=-1"),
        (lambda: flip_harm_experiment(data=_tiny().train), TypeError, "data"),
        (lambda: flip_harm_experiment(num_threads=0), ValueError, "num_threads=0"),
        (lambda: transfer_experiment(n_per_class=1.5), TypeError, "n_per_class=1.5"),
        (lambda: transfer_experiment(device="gpu"), ValueError, "device"),
        (lambda: make_organ_scans(0), ValueError, "n=0"),
        (lambda: make_organ_scans(4, size=8), ValueError, "size=8"),
        (lambda: organ_splits(1), ValueError, "n_train=1"),
    ],
)
def test_arguments_are_checked(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_augmentation_experiment_accepts_its_own_data_and_augment():
    r = augmentation_experiment(
        _tiny(), augment=Augment(flip=0.5), n_per_class=2, seed=1, device="cpu",
        recipe=AUGMENT_RECIPE.replace(epochs=1),
    )  # fmt: skip
    assert r.n_train == 4 and "flips with p = 0.5" in r.sentence()
