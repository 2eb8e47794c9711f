"""Lesson 04's experiments: linear stacks collapse; sigmoid gradients vanish, ReLU's do not."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_lib.experiments.vanishing_gradients import (
    best_affine_fit_error,
    build_mlp,
    collapse_linear_stack,
    dead_unit_fractions,
    layer_gradient_norms,
    linear_collapse_demo,
    vanishing_gradient_experiment,
)

CPU = torch.device("cpu")


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("init", ["auto", "torch_default", "xavier", "kaiming"])
def test_ten_layer_sigmoid_first_layer_gradient_is_1000x_below_relu(seed, init):
    """The lesson's claim (>= 3 orders of magnitude), for several seeds and initialisations."""
    result = vanishing_gradient_experiment(10, init=init, seed=seed, device=CPU)
    assert result.ratio >= 1000, result.sentence()
    assert result.orders_of_magnitude >= 3
    assert result.sentence().startswith("Experiment:")


def test_sigmoid_gradients_shrink_towards_the_input_and_with_depth():
    norms = layer_gradient_norms(10, "sigmoid", device=CPU)
    assert norms.shape == (10,)
    assert np.all(np.diff(norms) > 0), f"sigmoid norms should grow from layer 1 to 10: {norms}"
    first = [layer_gradient_norms(d, "sigmoid", device=CPU)[0] for d in (2, 5, 10)]
    assert first[0] > first[1] > first[2], first


def test_relu_gradients_stay_within_one_order_of_magnitude_across_layers():
    norms = layer_gradient_norms(10, "relu", device=CPU)
    assert norms.max() / norms.min() < 10, norms


def test_same_arguments_give_the_same_numbers_and_seed_changes_them():
    a = layer_gradient_norms(6, "tanh", seed=3, device=CPU)
    b = layer_gradient_norms(6, "tanh", seed=3, device=CPU)
    c = layer_gradient_norms(6, "tanh", seed=4, device=CPU)
    np.testing.assert_allclose(a, b, rtol=0, atol=0)
    assert not np.allclose(a, c)


def test_one_layer_gradient_matches_the_softmax_formula():
    """Oracle: for one Linear layer, dL/dW = (softmax(x W^T + b) - onehot(y))^T x / N."""
    from course_lib.experiments.vanishing_gradients import _fixed_batch

    net = build_mlp(1, "linear", in_features=5, out_features=4, seed=7, device=CPU)
    x, y = _fixed_batch(5, 4, 32, 7, CPU)
    w, b = net[0].weight.detach(), net[0].bias.detach()
    p = torch.softmax(x @ w.T + b, dim=1)  # (N, 4)
    grad = (p - torch.nn.functional.one_hot(y, 4).double()).T @ x / x.shape[0]  # (4, 5)
    got = layer_gradient_norms(
        1, "linear", in_features=5, out_features=4, batch_size=32, seed=7, device=CPU
    )
    torch.testing.assert_close(torch.tensor(got[0], dtype=torch.float64), grad.norm())


def test_build_mlp_layout_and_init():
    net = build_mlp(4, "relu", in_features=3, width=200, out_features=2, device=CPU)
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Linear", "ReLU", "Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert net[2].weight.dtype == torch.float64
    # He init: std sqrt(2 / fan_in) = 0.1 for fan_in 200
    assert abs(net[2].weight.std().item() - 0.1) < 0.005
    leaky = build_mlp(2, "leaky_relu", slope=0.2, device=CPU)
    assert isinstance(leaky[1], torch.nn.LeakyReLU) and leaky[1].negative_slope == 0.2


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"depth": 0, "activation": "relu"}, ValueError, "depth=0"),
        ({"depth": 3, "activation": "softmax"}, ValueError, "activation='softmax'"),
        ({"depth": 3, "activation": "relu", "init": "he"}, ValueError, "init='he'"),
        ({"depth": 3, "activation": "relu", "width": 2.5}, TypeError, "width=2.5"),
        ({"depth": 3, "activation": "leaky_relu", "slope": -0.1}, ValueError, "slope=-0.1"),
        ({"depth": 3, "activation": 3}, TypeError, "activation=3"),
    ],
)
def test_bad_arguments_say_which_and_why(kwargs, error, words):
    with pytest.raises(error, match=words.replace("(", r"\(")):
        build_mlp(**kwargs, device=CPU)


def test_experiment_needs_sigmoid_and_relu():
    with pytest.raises(ValueError, match="must include 'relu'"):
        vanishing_gradient_experiment(3, activations=("sigmoid", "tanh"), device=CPU)


def test_linear_stack_collapses_to_one_map():
    demo = linear_collapse_demo(6, device=CPU)
    assert demo.weight.shape == (3, 8) and demo.bias.shape == (3,)
    assert demo.max_abs_difference < 1e-12
    # the product matrix is the chain of weights, independent of how it was computed
    net = build_mlp(6, "linear", in_features=8, width=16, out_features=3,
                    init="torch_default", seed=0, device=CPU)
    product = torch.linalg.multi_dot([m.weight.detach() for m in net if hasattr(m, "weight")][::-1])
    torch.testing.assert_close(demo.weight, product)


def test_a_nonlinear_stack_does_not_collapse():
    with pytest.raises(TypeError, match="ReLU"):
        collapse_linear_stack(build_mlp(3, "relu", device=CPU))
    x = torch.randn(400, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert best_affine_fit_error(build_mlp(5, "linear", device=CPU), x) < 1e-10
    assert best_affine_fit_error(build_mlp(5, "relu", device=CPU), x) > 0.1


def test_large_negative_bias_kills_relu_units_but_not_leaky_ones():
    from course_lib.experiments.vanishing_gradients import dead_unit_fractions

    rows = dead_unit_fractions((0.0, -4.0, -8.0), device=CPU)
    assert [r.bias_shift for r in rows] == [0.0, -4.0, -8.0]
    assert rows[0].relu_dead == 0.0
    assert rows[0].relu_dead < rows[1].relu_dead < rows[2].relu_dead
    assert rows[2].relu_dead > 0.9
    assert all(r.leaky_dead == 0.0 for r in rows)


def test_a_dead_unit_really_gets_no_weight_gradient():
    """Oracle: torch autograd through torch.relu; a unit dead on the batch has zero weight grad."""
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(4, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    x = torch.randn(50, 3, generator=gen, dtype=torch.float64)
    b = torch.tensor([0.0, 0.0, -20.0, 0.0], dtype=torch.float64)
    (grad,) = torch.autograd.grad(torch.relu(x @ w.T + b).sum(), w)
    assert grad[2].abs().max().item() == 0.0 and grad[0].abs().max().item() > 0


def test_affine_fit_needs_more_rows_than_parameters():
    net = build_mlp(2, "relu", in_features=4, device=CPU)
    with pytest.raises(ValueError, match="5 rows for 4 features"):
        best_affine_fit_error(net, torch.zeros(5, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="2-D tensor"):
        best_affine_fit_error(net, torch.zeros(10, 4, 1, dtype=torch.float64))


def test_vanishing_gradient_arguments_are_checked_by_name():
    plain = linear_collapse_demo(3, in_features=4, width=5, out_features=2, batch_size=8, seed=1,
                                 device=CPU)  # fmt: skip
    odd = linear_collapse_demo(np.int64(3), in_features=4, width=5, out_features=2,
                               batch_size=np.int64(8), seed=torch.tensor(1), device=CPU)
    assert type(odd.n_layers) is int and odd.max_abs_difference == plain.max_abs_difference
    norms = layer_gradient_norms(3, "tanh", in_features=4, width=5, out_features=2, batch_size=8,
                                 seed=np.int64(1), device=CPU)  # fmt: skip
    ref = layer_gradient_norms(3, "tanh", in_features=4, width=5, out_features=2, batch_size=8,
                               seed=1, device=CPU)  # fmt: skip
    np.testing.assert_array_equal(norms, ref)
    with pytest.raises(TypeError, match="activations=None must be a list"):
        vanishing_gradient_experiment(3, None)
    with pytest.raises(TypeError, match="net must be an nn.Sequential"):
        collapse_linear_stack(None)
    with pytest.raises(TypeError, match="net must be a torch.nn.Module"):
        best_affine_fit_error("net", torch.zeros(8, 2, dtype=torch.float64))
    with pytest.raises(TypeError, match="x has dtype torch.int64"):
        best_affine_fit_error(build_mlp(2, "linear", in_features=2, width=3, out_features=2),
                              torch.zeros(8, 2, dtype=torch.int64))  # fmt: skip
    with pytest.raises(TypeError, match="bias_shifts='ab' must be a list of numbers"):
        dead_unit_fractions("ab")
    with pytest.raises(TypeError, match=r"bias_shifts\[1\]=None must be a number"):
        dead_unit_fractions((0.0, None))
