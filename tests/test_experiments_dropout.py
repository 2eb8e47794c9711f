"""Lesson 06's experiments: the data slice, the network and its pluggable dropout, the claims.

The fast tests pin down the pieces (the slice and its wrong labels, the layers, the
learner's dropout inside autograd checked against the library layer and a numerical
gradient, the thinned-network arithmetic); the per-seed tests run every claim of the
notebook on its seed 0 and on seeds 1 to 4, and assert each margin. Measured on seeds
0, 1, 2, 3, 4:

- gap narrowed by dropout (p_drop = 0.2), points: 20.2, 23.9, 17.1, 18.8, 21.6 (claim >= 10);
- without dropout, gap on the clean slice: 5.6, 9.2, 7.2, 6.7, 6.1 (claim >= 3); with 50
  wrong labels: 28.6, 28.1, 22.2, 25.1, 29.7 (claim >= 15); wrong labels learnt 100, 100,
  100, 98, 100% (claim >= 90%);
- agreement of 1,000 averaged thinned nets with the scaled net: 95.0, 96.4, 98.6, 98.6,
  95.8% (claim >= 90%; one thinned net: 73.9, 75.3, 80.0, 79.4, 76.7%);
- clean slice, gap narrowing: -2.5, -1.4, +0.8, -1.4, -1.4 points (Think 6.5: small, either way).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch
from torch import nn

from course_lib import layers, ops
from course_lib.checks.lesson06 import classic_dropout, inverted_dropout, inverted_dropout_backward
from course_lib.data import load_digits
from course_lib.experiments.base import ExperimentResult
from course_lib.experiments.dropout import (
    DROPOUT_RECIPE,
    DigitsSlice,
    build_dropout_net,
    digits_slice,
    dropout_gap_experiment,
    expectation_experiment,
    overfitting_experiment,
    same_as_library_experiment,
    thinned_average_experiment,
    thinned_forward,
    thinned_layer_experiment,
    train_dropout_net,
)
from course_lib.ops.gradcheck import gradient_check
from course_lib.shapes import count_parameters

CPU = torch.device("cpu")
SEEDS = (0, 1, 2, 3, 4)  # 0 is the notebook's


@pytest.fixture(autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


# ----------------------------------------------------------------------------- the slice


def test_digits_slice_has_n_per_class_and_exactly_the_asked_wrong_labels():
    s = digits_slice(20, 0.25, seed=3, device=CPU)
    x, given = s.data.train.tensors
    assert x.shape == (200, 1, 8, 8) and s.n_train == 200
    assert torch.bincount(s.true_labels, minlength=10).tolist() == [20] * 10
    assert s.n_wrong == 50
    assert torch.equal(given != s.true_labels, s.mislabelled), "wrong exactly where marked"
    assert "50 of them mislabelled" in repr(s)


def test_digits_slice_images_and_true_labels_come_from_the_training_split():
    s = digits_slice(5, 0.4, seed=1, device=CPU)
    full = load_digits(size=8, device="cpu")
    fx, fy = full.train.tensors
    x = s.data.train.tensors[0]
    for img, label in zip(x, s.true_labels, strict=True):
        match = (fx == img).flatten(1).all(1)
        assert match.any() and int(fy[match][0]) == int(label)
    assert torch.equal(s.data.test.tensors[0], full.test.tensors[0])  # test digits untouched
    assert torch.equal(s.data.test.tensors[1], full.test.tensors[1])


def test_digits_slice_is_fixed_by_its_seed():
    a, b, c = (digits_slice(10, 0.2, seed=s, device=CPU) for s in (7, 7, 8))
    assert torch.equal(a.data.train.tensors[0], b.data.train.tensors[0])
    assert torch.equal(a.data.train.tensors[1], b.data.train.tensors[1])
    assert not torch.equal(a.data.train.tensors[0], c.data.train.tensors[0])
    assert digits_slice(10, 0.0, seed=7, device=CPU).n_wrong == 0


def test_digits_slice_refuses_more_digits_than_a_class_has():
    assert digits_slice(100, 0.0, device=CPU).n_train == 1000  # every class has more than 100
    with pytest.raises(ValueError, match="n_per_class=101"):
        digits_slice(101, device=CPU)
    with pytest.raises(ValueError, match="label_noise"):
        digits_slice(10, 1.5, device=CPU)


# ----------------------------------------------------------------------------- the network


def test_network_layers_names_and_parameter_count():
    net = build_dropout_net(0.3)
    names = [n for n, _ in net.named_children()]
    assert names == ["flatten", "drop0", "fc1", "relu1", "drop1", "fc2", "relu2", "drop2", "out"]
    drops = [m for m in net if isinstance(m, nn.Dropout)]
    assert len(drops) == 3 and all(type(m) is layers.Dropout and m.p == 0.3 for m in drops)
    assert count_parameters(net) == (64 * 256 + 256) + (256 * 256 + 256) + (256 * 10 + 10)
    assert count_parameters(build_dropout_net(0.0)) == count_parameters(net)  # no parameters
    assert net(torch.zeros(4, 1, 8, 8)).shape == (4, 10)


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"forward_fn": inverted_dropout}, ValueError, "backward_fn=None"),
        ({"backward_fn": inverted_dropout_backward}, ValueError, "forward_fn=None"),
        ({"forward_fn": 3, "backward_fn": inverted_dropout_backward}, TypeError, "forward_fn=3"),
        ({"p_drop": 1.0}, ValueError, "p_drop"),
    ],
)
def test_network_refuses_half_a_pair_of_functions(kwargs, error, words):
    with pytest.raises(error, match=words):
        build_dropout_net(**kwargs)


def _your_layer(p: float, fwd=inverted_dropout, bwd=inverted_dropout_backward) -> nn.Module:
    return build_dropout_net(p, forward_fn=fwd, backward_fn=bwd).drop1


def test_your_dropout_matches_the_library_layer_forward_and_backward():
    """Oracle: course_lib.layers.Dropout with the same torch seed (float64)."""
    x = torch.randn(6, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    up = torch.randn(6, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    outs, grads = [], []
    for layer in (layers.Dropout(0.3), _your_layer(0.3)):
        xi = x.clone().requires_grad_(True)
        torch.manual_seed(5)
        out = layer(xi)
        (out * up).sum().backward()
        outs.append(out.detach())
        grads.append(xi.grad)
    torch.testing.assert_close(outs[1], outs[0], rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-12, atol=1e-14)
    keep = outs[0] != 0
    assert 0 < int(keep.sum()) < keep.numel()
    torch.testing.assert_close(outs[0], x * keep / 0.7, rtol=1e-12, atol=1e-14)


def test_your_dropout_backward_passes_a_numerical_gradient_check():
    layer = _your_layer(0.4)
    x = torch.linspace(-2, 2, 20, dtype=torch.float64).reshape(4, 5)
    df = torch.cos(torch.arange(20, dtype=torch.float64)).reshape(4, 5)

    def f(v):  # the same mask on every call: reseed before the draw
        torch.manual_seed(2)
        return layer(v)

    xi = x.clone().requires_grad_(True)
    (f(xi) * df).sum().backward()
    check = gradient_check(lambda v: f(v).detach(), x, df, analytic=xi.grad)
    assert check.passed, check.error


def test_your_dropout_runs_your_inference_and_is_the_identity_at_p_zero():
    layer = _your_layer(0.5).eval()
    x = torch.randn(3, 4)
    assert torch.equal(layer(x), x)
    scaled = _your_layer(0.5, fwd=classic_dropout).eval()  # classic: x * p_keep at inference
    torch.testing.assert_close(scaled(x), 0.5 * x)
    idle = _your_layer(0.0).train()
    state = torch.get_rng_state()
    assert torch.equal(idle(x), x)
    assert torch.equal(torch.get_rng_state(), state), "p = 0 draws no mask, like the library"


@pytest.mark.parametrize(
    ("fwd", "words"),
    [
        (lambda x, m, p, training=True: x[:1], "returned shape"),
        (lambda x, m, p, training=True: None, "returned None"),
        (lambda x, m, p, training=True: [1.0], "returned a list"),
    ],
)
def test_your_dropout_reports_a_malformed_answer(fwd, words):
    layer = _your_layer(0.5, fwd=fwd)
    with pytest.raises((ValueError, TypeError), match=words):
        layer(torch.randn(3, 4))


def test_your_dropout_gets_numpy_copies_so_changing_them_harms_nothing():
    def in_place(x, m, p, training=True):
        x *= m / (1 - p)
        return x

    layer = _your_layer(0.5, fwd=in_place)
    x = torch.randn(3, 4)
    before = x.clone()
    layer(x)
    assert torch.equal(x, before)


# ----------------------------------------------------------------------------- one run


TINY = DROPOUT_RECIPE.replace(epochs=3)


def test_runs_are_deterministic_and_start_from_the_same_weights():
    data = digits_slice(5, 0.2, seed=0, device=CPU)
    a, b = (train_dropout_net(data, 0.2, TINY, device=CPU) for _ in range(2))
    assert a.train_accuracy == b.train_accuracy and a.step_loss == b.step_loss
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k])
    c = train_dropout_net(data, 0.0, TINY, device=CPU)
    assert c.step_loss[0] != a.step_loss[0]  # dropout changes the first forward pass ...
    fresh = []
    for p in (0.0, 0.2):  # ... but not the initial weights
        torch.manual_seed(TINY.seed)
        fresh.append(build_dropout_net(p))
    torch.testing.assert_close(fresh[0].fc1.weight, fresh[1].fc1.weight, rtol=0, atol=0)
    assert a.epochs == 3 and len(a.test_accuracy) == 3
    assert a.gap == pytest.approx(a.final_train - a.final_test)
    assert set(a.as_history()) == {"train_accuracy", "test_accuracy"}


def test_curves_are_eval_mode_accuracies():
    data = digits_slice(5, 0.0, seed=0, device=CPU)
    run = train_dropout_net(data, 0.5, TINY, device=CPU)
    run.model.eval()
    with torch.no_grad():
        x, y = data.data.train.tensors
        train = float((run.model(x).argmax(1) == y).double().mean())
        xt, yt = data.data.test.tensors
        test = float((run.model(xt).argmax(1) == yt).double().mean())
    assert run.final_train == pytest.approx(train) and run.final_test == pytest.approx(test)
    assert math.isnan(run.memorised)


def test_inputs_are_checked():
    with pytest.raises(TypeError, match="DigitsSlice"):
        train_dropout_net("digits", 0.2)
    with pytest.raises(TypeError, match="Recipe"):
        dropout_gap_experiment(recipe={"epochs": 3})
    with pytest.raises(ValueError, match="p_drop"):
        dropout_gap_experiment(p_drop=0.0)
    with pytest.raises(TypeError, match="forward_fn"):
        same_as_library_experiment("f", inverted_dropout_backward)


# ----------------------------------------------------------------------------- the claims, per seed


@functools.cache
def _gap(seed: int, noise: float = 0.25):
    data = digits_slice(20, noise, seed=seed, device=CPU)
    return data, dropout_gap_experiment(data, DROPOUT_RECIPE.replace(seed=seed), device=CPU)


@pytest.mark.parametrize("seed", SEEDS)
def test_dropout_narrows_the_gap_by_a_clear_margin(seed):
    data, result = _gap(seed)
    assert isinstance(result, ExperimentResult)
    assert result.sentence().startswith("Experiment:")
    assert result.claim_holds, result.sentence()
    assert result.narrowing >= 0.15, f"seed {seed}: margin {result.narrowing:.3f}"  # claim: 0.10
    assert result.dropped.final_test > result.baseline.final_test
    assert result.dropped.memorised < result.baseline.memorised


@pytest.mark.parametrize("seed", SEEDS[:4])
def test_average_of_thinned_networks_chooses_like_the_scaled_network(seed):
    data, result = _gap(seed)
    x, y = data.data.test.tensors
    avg = thinned_average_experiment(result.dropped.model, x, y, device=CPU)
    assert avg.claim_holds, avg.sentence()
    assert avg.agreement[-1] >= 0.94 and avg.agreement[-1] - avg.agreement[0] >= 0.15
    assert avg.distance[-1] < 0.6 * avg.distance[0]
    assert abs(avg.accuracy[-1] - avg.full_accuracy) <= 0.02


@pytest.mark.parametrize("seed", SEEDS[:4])
def test_on_a_clean_slice_dropout_changes_the_gap_by_a_few_points_at_most(seed):
    """Think 6.5's answer: little to memorise, so little effect, in either direction."""
    _, result = _gap(seed, 0.0)
    assert result.baseline.final_train == 1.0 and result.dropped.final_train >= 0.99
    assert abs(result.narrowing) <= 0.04, result.table()


@pytest.mark.parametrize("seed", SEEDS)
def test_overfitting_claim_with_margins(seed):
    result = overfitting_experiment(DROPOUT_RECIPE.replace(seed=seed), device=CPU)
    assert result.claim_holds, result.sentence()
    assert result.clean.gap >= 0.05 and result.noisy.gap >= 0.2  # claims: 0.03 and 0.15
    assert result.noisy.memorised >= 0.95 and result.noisy.final_train >= 0.99


# ----------------------------------------------------------------------------- yours = library's


def _divide(x, keep_mask, p_drop, training=True):
    return x * keep_mask / (1 - p_drop) if training else x


def _where(x, keep_mask, p_drop, training=True):
    p_keep = 1 - p_drop
    return np.where(keep_mask, x / p_keep, 0.0).astype(x.dtype) if training else x.copy()


def _backward(dout, keep_mask, p_drop):
    return np.where(keep_mask, dout * (1 / (1 - p_drop)), 0.0)


SHORT = DROPOUT_RECIPE.replace(epochs=10)


@pytest.mark.parametrize(
    ("fwd", "bwd"), [(_divide, _backward), (_where, inverted_dropout_backward)]
)
def test_right_answers_written_differently_train_the_library_network(fwd, bwd):
    result = same_as_library_experiment(fwd, bwd, recipe=SHORT, device=CPU)
    assert result.claim_holds, result.sentence()
    assert result.max_weight_difference < 1e-5 and result.max_loss_difference < 1e-5


@pytest.mark.parametrize(
    ("fwd", "bwd"),
    [
        (_divide, lambda d, m, p: d * m),  # backward without 1 / p_keep: other weights
        (lambda x, m, p, training=True: x * m / (1 - p) if training else x * (1 - p),
         inverted_dropout_backward),  # scales at inference: other predictions
        (lambda x, m, p, training=True: x * m / p if training else x,
         lambda d, m, p: d * m / p),  # divides by p_drop
    ],
)  # fmt: skip
def test_wrong_answers_do_not_train_the_library_network(fwd, bwd):
    result = same_as_library_experiment(fwd, bwd, recipe=SHORT, device=CPU)
    assert not result.claim_holds, result.sentence()
    assert "does NOT hold" in result.sentence()


# ----------------------------------------------------------------------------- expectation


def test_expectation_of_both_variants():
    result = expectation_experiment(inverted_dropout, classic_dropout)
    assert result.claim_holds, result.sentence()
    np.testing.assert_allclose(result.inference_inverted, [1, 2, 3, 4, 5])
    np.testing.assert_allclose(result.inference_classic, [0.8, 1.6, 2.4, 3.2, 4.0])
    np.testing.assert_allclose(result.mean_inverted, [1, 2, 3, 4, 5], atol=0.05)
    x = np.linspace(-1.0, 2.0, 6).reshape(2, 3)
    other = expectation_experiment(inverted_dropout, classic_dropout, x, 0.6, n_masks=5000)
    assert other.claim_holds, other.sentence()


@pytest.mark.parametrize(
    ("inverted", "classic"),
    [
        (lambda x, m, p, training=True: x * m if training else x, classic_dropout),
        (inverted_dropout, inverted_dropout),  # the "classic" one scales in training
        (inverted_dropout, lambda x, m, p, training=True: x * m if training else x),
    ],
)
def test_expectation_catches_a_variant_that_is_off_on_average(inverted, classic):
    result = expectation_experiment(inverted, classic, n_masks=20_000)
    assert not result.claim_holds, result.sentence()


# ----------------------------------------------------------------------------- thinned networks


@pytest.mark.parametrize(("n", "p"), [(1, 0.5), (5, 0.1), (12, 0.9)])
def test_every_thinned_layer_averages_to_the_full_layer(n, p):
    result = thinned_layer_experiment(n, 4, p, seed=n)
    assert result.n_thinned == 2**n
    assert result.claim_holds, result.sentence()
    assert abs(result.total_probability - 1.0) < 1e-12


def test_thinned_layer_average_against_a_monte_carlo_estimate():
    """Oracle: sampled masks through torch in float64 approach the exact enumeration."""
    result = thinned_layer_experiment(6, 2, 0.3, seed=1)
    layer = nn.Linear(6, 2).double()
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(result.weight))
        layer.bias.copy_(torch.from_numpy(result.bias))
        x = torch.from_numpy(result.x)
        torch.manual_seed(0)
        masked = torch.nn.functional.dropout(x.expand(200_000, 6), 0.3, training=True)
        estimate = layer(masked).mean(0).numpy()  # (2,) torch's own inverted dropout, sampled
        full = layer(x).numpy()
    np.testing.assert_allclose(result.full, full, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(result.exact_mean, full, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(estimate, result.exact_mean, atol=0.01)


def test_thinned_forward_keeps_linear_layers_exact_on_average():
    torch.manual_seed(0)
    net = nn.Sequential(
        layers.Linear(5, 8), layers.ReLU(), layers.Dropout(0.5), layers.Linear(8, 3)
    )
    x = torch.randn(4, 5)
    full = net.eval()(x)
    net.train()
    passes = torch.stack([thinned_forward(net, x, generator=g) for g in range(4000)])
    torch.testing.assert_close(passes.mean(0), full, rtol=0.0, atol=0.05)
    assert net.training, "the model's mode is restored"
    again = [thinned_forward(net, x, generator=3) for _ in range(2)]
    torch.testing.assert_close(again[0], again[1], rtol=0.0, atol=0.0)
    none = nn.Sequential(nn.Flatten(), layers.Dropout(0.0), layers.Linear(5, 2))
    torch.testing.assert_close(thinned_forward(none, x, generator=1), none.eval()(x))


def test_thinned_average_refuses_bad_counts():
    net = build_dropout_net(0.2)
    x, y = torch.zeros(3, 1, 8, 8), torch.zeros(3, dtype=torch.int64)
    with pytest.raises(ValueError, match="strictly increasing"):
        thinned_average_experiment(net, x, y, counts=(10, 5))
    with pytest.raises(ValueError, match="y has 2 labels; expected 3"):
        thinned_average_experiment(net, x, y[:2])
    with pytest.raises(TypeError, match="integer class labels"):
        thinned_average_experiment(net, x, y.float())
    with pytest.raises(ValueError, match="does not fit the model"):
        thinned_average_experiment(net, torch.zeros(3, 1, 4, 4), y)
    with pytest.raises(TypeError, match="nn.Sequential"):
        thinned_forward(nn.Linear(3, 2), torch.zeros(2, 3))


def test_digits_slice_type():
    assert isinstance(digits_slice(2, device=CPU), DigitsSlice)


@pytest.mark.gpu
def test_your_dropout_trains_the_library_network_on_cuda():
    result = same_as_library_experiment(_divide, _backward, recipe=SHORT, device="cuda")
    assert result.claim_holds, result.sentence()
    data = digits_slice(20, 0.25, seed=0, device="cuda")
    gap = dropout_gap_experiment(data, DROPOUT_RECIPE, device="cuda")
    assert gap.claim_holds, gap.sentence()


def test_dropout_mask_draw_is_the_library_draw():
    """The hook's mask is exactly ops.dropout's: same seed, same mask."""
    x = torch.ones(50, 40)
    layer = _your_layer(0.25)  # built first: its initialisation draws random numbers too
    torch.manual_seed(4)
    out = layer(x)
    torch.manual_seed(4)
    _, keep = ops.dropout(x, 0.25)
    assert torch.equal(out != 0, keep)
