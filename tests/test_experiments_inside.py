"""Lesson 13's experiments: t-SNE separation, occlusion on known positions, activation maximization.

The fast tests pin down the pieces (the scenes, the random inputs, the results' sentences,
input checks); the slow ones train the lesson's LeNet-5 once per seed (the notebook's seed
0 and three others, shared by a module-scoped cache) and assert each claim with its margin,
exactly as the notebook does.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_lib.data import load_digits
from course_lib.experiments.base import ExperimentResult
from course_lib.experiments.inside import (
    InsideNet,
    activation_maximization_experiment,
    embedding_experiment,
    occlusion_experiment,
    random_inputs,
    train_inside_lenet,
    two_digit_scenes,
)

CPU = torch.device("cpu")
SEEDS = (0, 1, 2, 3)  # the notebook's seed, then three others


@pytest.fixture(scope="module")
def nets():
    cache: dict[int, InsideNet] = {}

    def get(seed: int) -> InsideNet:
        if seed not in cache:
            cache[seed] = train_inside_lenet(seed=seed, device=CPU)
        return cache[seed]

    return get


# ----------------------------------------------------------------------------- scenes


def test_two_digit_scenes_put_each_digit_where_its_box_says():
    small = load_digits(size=16, seed=0, device=CPU).test
    images, labels = small.tensors
    scenes = two_digit_scenes(images, labels, 20, seed=3)
    assert scenes.images.shape == (20, 1, 32, 32) and len(scenes) == 20
    assert torch.all(scenes.labels[:, 0] != scenes.labels[:, 1])
    for k in range(20):
        (t0, l0, b0, r0), (t1, l1, b1, r1) = scenes.boxes[k].tolist()
        assert (l0, r0, l1, r1) == (0, 16, 16, 32) and b0 - t0 == 16 and b1 - t1 == 16
        inside = torch.zeros(32, 32, dtype=torch.bool)
        inside[t0:b0, l0:r0] = True
        inside[t1:b1, l1:r1] = True
        assert torch.all(scenes.images[k, 0][~inside] == 0)  # nothing outside the two boxes
        for side, (t, lft, b, r) in enumerate(scenes.boxes[k].tolist()):
            crop = scenes.images[k, :, t:b, lft:r]
            match = (images - crop).flatten(1).abs().amax(1) == 0
            assert match.any() and int(labels[match][0]) == int(scenes.labels[k, side])
    again = two_digit_scenes(images, labels, 20, seed=3)
    assert torch.equal(again.images, scenes.images)


def test_two_digit_scenes_reject_bad_input():
    images, labels = load_digits(size=16, seed=0, device=CPU).test.tensors
    with pytest.raises(ValueError, match="canvas"):
        two_digit_scenes(images, labels, 2, canvas=31)
    with pytest.raises(ValueError, match="single class"):
        two_digit_scenes(images[:3], torch.zeros(3, dtype=torch.long), 2)
    with pytest.raises(ValueError, match="labels has"):
        two_digit_scenes(images, labels[:5], 2)
    with pytest.raises(TypeError):
        two_digit_scenes(images.numpy(), labels, 2)


def test_random_inputs_lie_on_the_sphere_and_are_seeded():
    x = random_inputs(5, (1, 4, 6), 3.0, seed=1, device=CPU)
    assert x.shape == (5, 1, 4, 6) and bool((x >= 0).all())
    torch.testing.assert_close(
        x.flatten(1).norm(dim=1), torch.full((5,), 3.0), rtol=1e-6, atol=0
    )
    assert torch.equal(x, random_inputs(5, (1, 4, 6), 3.0, seed=1, device=CPU))
    with pytest.raises(ValueError, match="norm"):
        random_inputs(5, (1, 4, 6), 0.0)


def test_experiments_check_their_arguments():
    with pytest.raises(TypeError, match="InsideNet"):
        embedding_experiment(net="digits", device=CPU)
    with pytest.raises(ValueError, match="margin"):
        embedding_experiment(margin=1.5, device=CPU)
    with pytest.raises(ValueError, match="patch"):
        occlusion_experiment(patch=0, device=CPU)
    with pytest.raises(ValueError, match="lr"):
        activation_maximization_experiment(lr=-1.0, device=CPU)
    with pytest.raises(TypeError, match="num_threads"):
        train_inside_lenet(num_threads=1.5, device=CPU)


# ----------------------------------------------------------------------------- the claims


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_learned_features_separate_the_classes_better_than_pixels(nets, seed):
    net = nets(seed)
    result = embedding_experiment(net, seed=seed, device=CPU)
    assert isinstance(result, ExperimentResult)
    assert result.claim_holds, result.sentence()
    assert result.gain >= 0.4, result.table()  # the measured margin is about 0.6: twice the claim's
    assert result.scores["features"]["PCA"] > result.scores["pixels"]["PCA"] + 0.2
    assert result.sentence().startswith("Experiment:") and "holds" in result.sentence()
    assert result.maps["features"]["t-SNE"].shape == (360, 2)
    assert result.features.shape == (360, 84)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_occlusion_map_peaks_on_the_digit_asked_about(nets, seed):
    result = occlusion_experiment(nets(seed), seed=seed, device=CPU)
    assert result.claim_holds, result.sentence()
    assert len(result.hits) == 2 * result.n_scenes == 120
    assert result.hit_rate >= 0.72, result.sentence()  # the claim asks for 0.65
    assert result.hit_rate >= result.control_rate + 0.22, result.sentence()  # the claim: 0.15
    assert 0.3 <= result.control_rate <= 0.7, result.sentence()  # the untrained net: chance
    assert result.example_maps.shape == (2, 13, 13)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_activation_maximization_rises_far_above_random_inputs(nets, seed):
    result = activation_maximization_experiment(nets(seed), seed=seed, device=CPU)
    assert result.claim_holds, result.sentence()
    assert result.smallest_ratio >= 8.0, result.ratios  # the claim asks for 5
    assert np.all(result.reached > result.digit_mean), (result.reached, result.digit_mean)
    norms = result.images.flatten(1).norm(dim=1)
    torch.testing.assert_close(norms, torch.full((10,), 8.0), rtol=1e-5, atol=0)
    for history in result.histories:  # backtracking: the score never goes down
        assert all(b >= a for a, b in zip(history, history[1:], strict=False))


@pytest.mark.slow
def test_a_claim_that_fails_says_so(nets):
    net = nets(0)
    strict = activation_maximization_experiment(net, seed=0, ratio=1e6, steps=5, device=CPU)
    assert not strict.claim_holds and "does NOT hold" in strict.sentence()
    assert net.test_accuracy > 0.8
