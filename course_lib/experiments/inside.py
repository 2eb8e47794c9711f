"""Lesson 13's experiments: looking inside a trained LeNet-5.

One network serves every question: lesson 05's LeNet-5 (:func:`course_lib.models.lenet5`),
trained in a few seconds by :func:`train_inside_lenet` on the course digits shrunk to
16x16 and placed anywhere on a 32x32 canvas (:func:`course_lib.data.load_digits_anywhere`,
the data of lesson 05's "deep or not"). Three claims, each measured by a pure function
that returns a frozen result with ``sentence()`` and ``claim_holds``
(:mod:`course_lib.experiments.base`):

* :func:`embedding_experiment`: the last hidden layer (the 84 ReLU units before the
  classifier) separates the classes in a 2-D t-SNE map (van der Maaten & Hinton, 2008)
  better than the raw pixels do, by at least ``margin`` in cross-validated 5-nearest-
  neighbour accuracy in the map (:func:`course_lib.viz.embedding_separation`). PCA maps
  are measured too, for contrast.
* :func:`occlusion_experiment`: on scenes of two test digits of different classes side
  by side (:func:`two_digit_scenes`, so where each digit is is known), the occlusion map
  (Zeiler & Fergus, 2014; :func:`course_lib.viz.occlusion_map`) for one digit's class
  peaks on that digit, not on the other one, in at least ``target`` of the queries, and
  15 points more often than for an untrained LeNet-5 with the same layers (the control:
  about one half, as its map peaks on whichever digit has the stronger strokes).
* :func:`activation_maximization_experiment`: projected gradient ascent on the input,
  ``x* = argmax_{||x|| = rho} h_i(theta, x)`` (Erhan et al., 2009;
  :func:`course_lib.viz.activation_maximization`), raises every class score ``h_i`` of
  the output layer to at least ``ratio`` times its typical size on random inputs of the
  same norm (the mean of ``|h_i|`` over ``n_random`` Gaussian images scaled to ``rho``).

Every function takes ``seed=`` (data split and placement, initialisation, t-SNE, scenes,
random inputs), ``device=`` and ``num_threads=`` (torch intra-op threads, default 1;
``None`` leaves torch's setting alone).

Source: lesson 13 ("Looking inside a CNN").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from course_lib.data import DataSplits, load_digits, load_digits_anywhere
from course_lib.device import resolve_device, set_seed, torch_threads
from course_lib.experiments.deep_or_not import LeNetRun, train_lenet
from course_lib.models import lenet5
from course_lib.recipes import Recipe
from course_lib.validate import check_array, check_int, check_number, check_seed
from course_lib.viz import (
    activation_maximization,
    embedding_separation,
    layer_output,
    occlusion_map,
    pca_embed,
    tsne_embed,
)

__all__ = [
    "FEATURE_LAYER",
    "INSIDE_RECIPE",
    "SCORE_LAYER",
    "ActivationMaximizationResult",
    "EmbeddingResult",
    "InsideNet",
    "OcclusionResult",
    "Scenes",
    "activation_maximization_experiment",
    "embedding_experiment",
    "occlusion_experiment",
    "random_inputs",
    "train_inside_lenet",
    "two_digit_scenes",
]

# 40 epochs of Adam peaking at 1e-2, no augmentation: a few seconds on one CPU thread.
INSIDE_RECIPE = Recipe(epochs=40, lr=1e-2, time_budget_s=60.0)
FEATURE_LAYER = "classifier.4"  # LeNet-5's last hidden layer: the 84 units after their ReLU
SCORE_LAYER = "classifier.5"  # the output layer: ten class scores (logits, before softmax)
DIGIT_SIZE, CANVAS = 16, 32
CONTROL_GAP = 0.15  # the occlusion claim: this far above the untrained control's hit rate


# --------------------------------------------------------------------------- the network


@dataclass(frozen=True)
class InsideNet:
    """A trained LeNet-5 and the data it was trained on (``data.test`` it never saw)."""

    run: LeNetRun
    data: DataSplits
    seed: int

    @property
    def model(self) -> nn.Module:
        return self.run.model

    @property
    def test_accuracy(self) -> float:
        return self.run.test_accuracy


def _threads(num_threads) -> int | None:
    if num_threads is None:
        return None
    return check_int("num_threads", num_threads, minimum=1, maximum=1024)


def _check_net(net) -> None:
    if net is not None and not isinstance(net, InsideNet):
        raise TypeError(
            f"net is a {type(net).__name__}; expected None (train one) or an InsideNet "
            "from train_inside_lenet(...)"
        )


def train_inside_lenet(
    *,
    seed: int = 0,
    epochs: int = INSIDE_RECIPE.epochs,
    device: torch.device | str | None = None,
    num_threads: int | None = 1,
) -> InsideNet:
    """Lesson 05's LeNet-5 trained on :func:`~course_lib.data.load_digits_anywhere` (``seed``).

    The recipe is :data:`INSIDE_RECIPE` with ``epochs`` and ``seed`` replaced: 1,257
    training digits of 16x16 at random places on a 32x32 canvas, 40 epochs of Adam.
    """
    seed = check_seed("seed", seed)
    epochs = check_int("epochs", epochs, minimum=1)
    num_threads = _threads(num_threads)
    device = resolve_device(device)
    data = load_digits_anywhere(digit_size=DIGIT_SIZE, canvas=CANVAS, seed=seed, device=device)
    recipe = INSIDE_RECIPE.replace(epochs=epochs, seed=seed, num_threads=num_threads)
    run = train_lenet(data, recipe, target_accuracy=0.5, device=device)
    return InsideNet(run=run, data=data, seed=seed)


def _net(net: InsideNet | None, seed: int, device, num_threads) -> InsideNet:
    _check_net(net)
    return net if net is not None else train_inside_lenet(
        seed=seed, device=device, num_threads=num_threads
    )


# --------------------------------------------------------------------------- embeddings


@dataclass(frozen=True)
class EmbeddingResult:
    """2-D maps of the test digits, from raw pixels and from the last hidden layer.

    ``maps[source][method]`` is an ``(N, 2)`` array and ``scores[source][method]`` its
    cross-validated 5-NN accuracy, for source "pixels" or "features" and method
    "t-SNE" or "PCA"; ``labels`` (N,) are the digits' classes and ``features`` (N, 84)
    their last-hidden-layer values.
    """

    maps: dict[str, dict[str, np.ndarray]]
    scores: dict[str, dict[str, float]]
    labels: np.ndarray
    features: np.ndarray
    perplexity: float
    margin: float
    n_points: int
    test_accuracy: float

    @property
    def gain(self) -> float:
        """How much better the features' t-SNE map separates the classes than the pixels'."""
        return self.scores["features"]["t-SNE"] - self.scores["pixels"]["t-SNE"]

    @property
    def claim_holds(self) -> bool:
        return self.gain >= self.margin

    def table(self) -> str:
        lines = [f"{'':<22}{'t-SNE':>8}{'PCA':>8}"]
        for source, name in (("pixels", "raw pixels (1,024)"), ("features", "last hidden layer (84)")):
            s = self.scores[source]
            lines.append(f"{name:<22}{100 * s['t-SNE']:>7.1f}%{100 * s['PCA']:>7.1f}%")
        return "\n".join(lines)

    def sentence(self) -> str:
        verdict = "holds" if self.claim_holds else "does NOT hold"
        return (
            f"Experiment: in a t-SNE map (perplexity {self.perplexity:g}) of {self.n_points} "
            f"test digits, 5-nearest-neighbour accuracy is "
            f"{100 * self.scores['features']['t-SNE']:.1f}% for LeNet-5's last hidden layer "
            f"and {100 * self.scores['pixels']['t-SNE']:.1f}% for the raw pixels (PCA: "
            f"{100 * self.scores['features']['PCA']:.1f}% and "
            f"{100 * self.scores['pixels']['PCA']:.1f}%); the features separate the classes "
            f"better by {100 * self.gain:.1f} points, and the claim (at least "
            f"{100 * self.margin:.0f} points better) {verdict}."
        )


def embedding_experiment(
    net: InsideNet | None = None,
    *,
    seed: int = 0,
    perplexity: float = 30.0,
    max_iter: int = 500,
    margin: float = 0.2,
    device: torch.device | str | None = None,
    num_threads: int | None = 1,
) -> EmbeddingResult:
    """t-SNE and PCA of ``net.data.test`` as pixels and as last-hidden-layer features.

    ``net`` defaults to ``train_inside_lenet(seed=seed)``; ``seed`` also seeds t-SNE
    and the cross-validation folds. The claim: the features' t-SNE score beats the
    pixels' by at least ``margin``. ``max_iter``: t-SNE's iterations (500 gives the same
    scores as 1,000 on these digits, in half the time).
    """
    seed = check_seed("seed", seed)
    perplexity = check_number("perplexity", perplexity, positive=True)
    max_iter = check_int("max_iter", max_iter, minimum=250, maximum=10_000)
    margin = check_number("margin", margin, minimum=0.0, below=1.0, what="a fraction in [0, 1)")
    num_threads = _threads(num_threads)
    device = resolve_device(device)
    net = _net(net, seed, device, num_threads)
    images, labels = net.data.test.tensors
    with torch_threads(num_threads):
        features = layer_output(net.model, FEATURE_LAYER, images, device=device)  # (N, 84)
    y = labels.cpu().numpy()
    sources = {"pixels": images.cpu().flatten(1).numpy(), "features": features.numpy()}
    maps, scores = {}, {}
    for source, values in sources.items():
        maps[source] = {
            "t-SNE": tsne_embed(values, seed=seed, perplexity=perplexity, max_iter=max_iter,
                                threads=num_threads),
            "PCA": pca_embed(values),
        }
        scores[source] = {m: embedding_separation(e, y, seed=seed) for m, e in maps[source].items()}
    return EmbeddingResult(
        maps=maps,
        scores=scores,
        labels=y,
        features=sources["features"],
        perplexity=perplexity,
        margin=margin,
        n_points=len(y),
        test_accuracy=net.test_accuracy,
    )


# --------------------------------------------------------------------------- occlusion


@dataclass(frozen=True)
class Scenes:
    """Two digits side by side on a canvas, where each one is known.

    ``images`` (N, 1, canvas, canvas); ``labels`` (N, 2) the classes of the left and the
    right digit (always different); ``boxes`` (N, 2, 4) their (top, left, bottom, right)
    in pixels, bottom/right exclusive. The left digit fills columns ``0 .. s - 1``, the
    right one ``canvas - s .. canvas - 1``, each at its own random height.
    """

    images: torch.Tensor
    labels: torch.Tensor
    boxes: torch.Tensor

    def __len__(self) -> int:
        return len(self.images)


def two_digit_scenes(
    images: torch.Tensor, labels: torch.Tensor, n: int, *, canvas: int = CANVAS, seed: int = 0
) -> Scenes:
    """``n`` scenes, each of two of the (M, 1, s, s) ``images`` with different ``labels``.

    Scene k puts image ``k mod M`` on the left or the right (at random) and a random image of
    another class on the other side, each at a random height; ``canvas`` >= 2 s, so the
    two never overlap. Deterministic for ``seed``; tensors stay on ``images``' device.
    """
    check_array("images", images, ndim=4, layout="(M, 1, s, s)", floating=True, allow_empty=False)
    if not isinstance(images, torch.Tensor) or not isinstance(labels, torch.Tensor):
        raise TypeError("images and labels must be torch tensors")
    check_array("labels", labels, ndim=1, layout="(M,)")
    m, c, h, w = images.shape
    if len(labels) != m:
        raise ValueError(f"labels has {len(labels)} entries but images has {m}")
    if h != w:
        raise ValueError(f"images are {h}x{w}; expected square digits")
    n = check_int("n", n, minimum=1)
    canvas = check_int("canvas", canvas, minimum=2 * w, what=f"an int >= 2 * {w} (two digits)")
    seed = check_seed("seed", seed)
    if len(torch.unique(labels)) < 2:
        raise ValueError("labels hold a single class: a scene needs two digits of different classes")
    gen = torch.Generator().manual_seed(seed)
    lab = labels.cpu()
    out = images.new_zeros(n, c, canvas, canvas)
    pair = torch.zeros(n, 2, dtype=torch.long)
    boxes = torch.zeros(n, 2, 4, dtype=torch.long)
    for k in range(n):
        first = k % m
        others = torch.nonzero(lab != lab[first]).flatten()
        second = int(others[torch.randint(len(others), (1,), generator=gen)])
        order = (first, second) if torch.rand(1, generator=gen) < 0.5 else (second, first)
        for side, index in enumerate(order):
            top = int(torch.randint(canvas - h + 1, (1,), generator=gen))
            left = 0 if side == 0 else canvas - w
            out[k, :, top : top + h, left : left + w] = images[index]
            pair[k, side] = lab[index]
            boxes[k, side] = torch.tensor([top, left, top + h, left + w])
    return Scenes(images=out, labels=pair.to(images.device), boxes=boxes.to(images.device))


def _peak_side(heat: torch.Tensor, patch: int, stride: int, canvas: int) -> int:
    """0 if the occlusion map's strongest patch is centred in the left half, else 1."""
    _, width = heat.shape
    col = int(heat.argmax()) % width
    centre = col * stride + patch / 2  # the peak patch's centre column, in pixels
    return 0 if centre < canvas / 2 else 1


@dataclass(frozen=True)
class OcclusionResult:
    """Where the occlusion maps of two-digit scenes peak, for a trained and an untrained net.

    ``hits`` / ``control_hits``: one bool per query (scene, side): the map for that side's
    digit's class peaks on that side. ``example_maps`` (2, H', W') are the maps of the first
    scene for its left and right digit.
    """

    hits: np.ndarray
    control_hits: np.ndarray
    patch: int
    stride: int
    fill: float
    target: float
    n_scenes: int
    example_maps: torch.Tensor

    @property
    def hit_rate(self) -> float:
        return float(np.mean(self.hits))

    @property
    def control_rate(self) -> float:
        return float(np.mean(self.control_hits))

    @property
    def claim_holds(self) -> bool:
        return self.hit_rate >= self.target and self.hit_rate >= self.control_rate + CONTROL_GAP

    def sentence(self) -> str:
        verdict = "holds" if self.claim_holds else "does NOT hold"
        return (
            f"Experiment: on {self.n_scenes} scenes of two test digits side by side, the "
            f"occlusion map ({self.patch}x{self.patch} patch, stride {self.stride}) for one "
            f"digit's class peaked on that digit in {100 * self.hit_rate:.1f}% of the "
            f"{len(self.hits)} queries (an untrained LeNet-5: {100 * self.control_rate:.1f}%; "
            f"chance: 50%); the claim (at least {100 * self.target:.0f}%, and "
            f"{100 * CONTROL_GAP:.0f} points above the untrained network) {verdict}."
        )


def occlusion_experiment(
    net: InsideNet | None = None,
    *,
    seed: int = 0,
    n_scenes: int = 60,
    patch: int = 8,
    stride: int = 2,
    fill: float = 0.0,
    target: float = 0.65,
    device: torch.device | str | None = None,
    num_threads: int | None = 1,
) -> OcclusionResult:
    """Occlusion maps of ``n_scenes`` two-digit scenes, asked once for each digit's class.

    The scenes are built from the test split at 16x16 (the same split as ``net.data``,
    digits the network never trained on) by :func:`two_digit_scenes` with ``seed``. A
    query hits when the strongest drop of the asked class's score is centred on the
    asked digit's half. The control is ``lenet5()`` initialised after ``set_seed(seed)``,
    untrained. The claim: the trained network hits in at least ``target`` of the queries
    (65%: with 120 queries, more than three standard deviations above chance) and at least
    :data:`CONTROL_GAP` more often than the control.
    """
    seed = check_seed("seed", seed)
    n_scenes = check_int("n_scenes", n_scenes, minimum=1)
    patch = check_int("patch", patch, minimum=1, maximum=CANVAS)
    stride = check_int("stride", stride, minimum=1, maximum=CANVAS)
    fill = check_number("fill", fill)
    target = check_number("target", target, minimum=0.0, maximum=1.0, what="a fraction in [0, 1]")
    num_threads = _threads(num_threads)
    device = resolve_device(device)
    net = _net(net, seed, device, num_threads)
    small = load_digits(size=DIGIT_SIZE, seed=net.seed, device=device).test  # same split
    scenes = two_digit_scenes(*small.tensors, n_scenes, seed=seed)
    set_seed(seed)
    control = lenet5(in_channels=1, num_classes=len(net.data.classes)).to(device)
    hits, control_hits, example = [], [], []
    with torch_threads(num_threads):
        for k in range(n_scenes):
            for side in (0, 1):
                cls = int(scenes.labels[k, side])
                for model, out in ((net.model, hits), (control, control_hits)):
                    heat = occlusion_map(
                        model, scenes.images[k], cls, patch=patch, stride=stride, fill=fill,
                        device=device,
                    )
                    out.append(_peak_side(heat, patch, stride, CANVAS) == side)
                    if k == 0 and model is net.model:
                        example.append(heat)
    return OcclusionResult(
        hits=np.array(hits),
        control_hits=np.array(control_hits),
        patch=patch,
        stride=stride,
        fill=fill,
        target=target,
        n_scenes=n_scenes,
        example_maps=torch.stack(example),
    )


# --------------------------------------------------------------------------- activation maximization


def random_inputs(
    n: int, shape: Sequence[int], norm: float, *, seed: int = 0, device: torch.device | str | None = None
) -> torch.Tensor:
    """``n`` images of uniform noise in [0, 1) (like pixel intensities, never negative) of
    ``shape`` (C, H, W), each scaled to Euclidean norm ``norm``: random points of the
    sphere ``||x|| = norm`` where images live."""
    n = check_int("n", n, minimum=1)
    if not isinstance(shape, tuple | list) or len(shape) != 3:
        raise TypeError(f"shape={shape!r} must be a (C, H, W) tuple")
    c, h, w = (check_int("shape", v, minimum=1) for v in shape)
    norm = check_number("norm", norm, positive=True)
    seed = check_seed("seed", seed)
    device = resolve_device(device)
    x = torch.rand((n, c, h, w), generator=torch.Generator().manual_seed(seed))
    x = x * (norm / x.flatten(1).norm(dim=1)).view(n, 1, 1, 1)  # every image on the sphere
    return x.to(device)


@dataclass(frozen=True)
class ActivationMaximizationResult:
    """Per class score ``i``: ``reached[i] = h_i(x*_i)``, ``random_size[i]`` the mean of
    ``|h_i|`` and ``random_max[i]`` the largest ``h_i`` over the random inputs, ``digit_mean[i]``
    the mean score of the test digits of class i; ``images`` (K, 1, H, W) the x*; ``steps[i]``
    how many steps ran; ``histories[i]`` the score after each one."""

    reached: np.ndarray
    random_size: np.ndarray
    random_max: np.ndarray
    digit_mean: np.ndarray
    images: torch.Tensor
    steps: np.ndarray
    histories: tuple[tuple[float, ...], ...]
    norm: float
    lr: float
    max_steps: int
    tol: float
    ratio: float
    n_random: int

    @property
    def ratios(self) -> np.ndarray:
        return self.reached / self.random_size

    @property
    def smallest_ratio(self) -> float:
        return float(np.min(self.ratios))

    @property
    def claim_holds(self) -> bool:
        return self.smallest_ratio >= self.ratio and bool(np.all(self.reached > self.random_max))

    def sentence(self) -> str:
        verdict = "holds" if self.claim_holds else "does NOT hold"
        beat = int(np.sum(self.reached > self.random_max))
        return (
            f"Experiment: gradient ascent on inputs of norm {self.norm:g} (learning rate "
            f"{self.lr:g}, at most {self.max_steps} steps, tol {self.tol:g}) raised each of the "
            f"{len(self.reached)} class scores to between {self.smallest_ratio:.1f} and "
            f"{float(np.max(self.ratios)):.1f} times its mean size on {self.n_random} random "
            f"inputs of the same norm, above every random input for {beat} of them; the claim "
            f"(every score at least {self.ratio:g} times, above every random input) {verdict}."
        )


def activation_maximization_experiment(
    net: InsideNet | None = None,
    *,
    seed: int = 0,
    norm: float = 8.0,
    lr: float = 1.0,
    steps: int = 300,
    tol: float = 1e-3,
    n_random: int = 100,
    ratio: float = 5.0,
    device: torch.device | str | None = None,
    num_threads: int | None = 1,
) -> ActivationMaximizationResult:
    """Maximise each class score of LeNet-5 over images of norm ``norm`` (the lesson's x*).

    Uses :func:`course_lib.viz.activation_maximization` with backtracking (a step that
    lowers the score is refused and the learning rate halved), each unit started from
    its own noise image (:func:`random_inputs`, seed ``seed + 1``). Compares with
    ``n_random`` other noise images (seed ``seed``) and with the test digits (norm about 7). The claim: every score reaches
    at least ``ratio`` times its mean size on random inputs, and more than any of them.
    """
    seed = check_seed("seed", seed)
    norm = check_number("norm", norm, positive=True)
    lr = check_number("lr", lr, positive=True)
    steps = check_int("steps", steps, minimum=1)
    tol = check_number("tol", tol, minimum=0.0)
    n_random = check_int("n_random", n_random, minimum=1)
    ratio = check_number("ratio", ratio, positive=True)
    num_threads = _threads(num_threads)
    device = resolve_device(device)
    net = _net(net, seed, device, num_threads)
    images, labels = net.data.test.tensors
    shape = tuple(images.shape[1:])
    k = len(net.data.classes)
    noise = random_inputs(n_random, shape, norm, seed=seed, device=device)
    starts = random_inputs(k, shape, norm, seed=(seed + 1) % 2**32, device=device)
    with torch_threads(num_threads):
        on_noise = layer_output(net.model, SCORE_LAYER, noise, device=device)  # (n_random, K)
        on_digits = layer_output(net.model, SCORE_LAYER, images, device=device)  # (N, K)
        best, histories = [], []
        for unit in range(k):
            x, history = activation_maximization(
                net.model, SCORE_LAYER, unit, input_shape=shape, norm=norm, lr=lr, steps=steps,
                tol=tol, backtrack=True, start=starts[unit], device=device,
            )
            best.append(x)
            histories.append(tuple(history))
    y = labels.cpu()
    return ActivationMaximizationResult(
        reached=np.array([max(h) for h in histories]),
        random_size=on_noise.abs().mean(0).double().numpy(),
        random_max=on_noise.max(0).values.double().numpy(),
        digit_mean=np.array([float(on_digits[y == c, c].mean()) for c in range(k)]),
        images=torch.stack(best),
        steps=np.array([len(h) - 1 for h in histories]),
        histories=tuple(histories),
        norm=norm,
        lr=lr,
        max_steps=steps,
        tol=tol,
        ratio=ratio,
        n_random=n_random,
    )
