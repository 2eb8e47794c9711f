"""Lesson 11's experiments: from a classifier to a score map, and back up to pixels.

* :func:`scene_tasks` reads the four tasks of lesson 11 off one labelled scene of
  :func:`course_lib.data.make_shapes_segmentation`: classification (one label),
  localisation (one label and its box), detection (a box and label per object) and
  semantic vs instance segmentation (a class per pixel vs an object per pixel).
* :func:`convolutionalised_experiment` trains LeNet-5 (lesson 05's network, whose
  first FC layer reads a 5x5 map as VGG-16's fc6 reads a 7x7 one) on the 32x32
  digits, turns its fully connected head into convolutions with
  :func:`course_lib.models.fc_to_conv` and measures, in float64: the converted net's
  scores on the test digits against the original's; on a larger canvas of digits, its
  score map against classifying every window separately (:func:`sliding_window_scores`);
  and what each way costs in
  multiplications (:func:`sliding_window_cost`, counted by
  :func:`course_lib.shapes.summary`). The claim: identical outputs (within float64
  rounding) on the input size, and the same scores as the sliding window on larger
  inputs, at a fraction of its cost.
* :func:`bilinear_experiment` upsamples a random feature map with a transposed
  convolution initialised by :func:`course_lib.ops.bilinear_kernel` and compares it
  with bilinear interpolation (``F.interpolate(mode="bilinear",
  align_corners=False)``). The claim: equal away from the border; within
  ``factor // 2`` pixels of it they differ, because the transposed convolution sees
  zeros outside the map where interpolation repeats the edge value.
* :func:`conv_matrix` writes a convolution as the matrix it is, so that a transposed
  convolution can be seen to be that matrix's transpose (its adjoint), not its inverse.

Every run uses one intra-op CPU thread by default (``num_threads=1``; ``None`` leaves
torch's setting), like the other lessons' experiments.

Sources: lesson 11 ("From classification to dense prediction"); Long, Shelhamer and
Darrell (2015), "Fully convolutional networks for semantic segmentation" (Sections 3.1
and 3.3); Sermanet et al. (2014), "OverFeat"; Dumoulin and Visin (2016), "A guide to
convolution arithmetic for deep learning" (transposed convolution as a transpose).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.ndimage
import torch
import torch.nn.functional as F
from torch import nn

from course_lib import ops
from course_lib.data import SHAPE_CLASSES, DataSplits, load_digits
from course_lib.device import resolve_device, set_seed, torch_threads
from course_lib.models import fc_to_conv, lenet5
from course_lib.recipes import Recipe, train_with
from course_lib.shapes import conv_output_size, summary
from course_lib.validate import (
    check_array,
    check_int,
    check_pair,
    check_seed,
    check_shape,
)

__all__ = [
    "BORDER_GAP",
    "DIGIT_SIZE",
    "MAX_SLOTS",
    "NET_STRIDE",
    "SAME_TOLERANCE",
    "BilinearResult",
    "ConvolutionalisedResult",
    "SceneTasks",
    "SlidingWindowCost",
    "bilinear_experiment",
    "conv_matrix",
    "convolutionalise",
    "convolutionalised_experiment",
    "digit_canvas",
    "scene_tasks",
    "sliding_window_cost",
    "sliding_window_scores",
]

DIGIT_SIZE = 32  # LeNet-5's input: 32 -> conv 28 -> pool 14 -> conv 10 -> pool 5
NET_STRIDE = 4  # two 2x2 pools: one step of the score map is 4 input pixels
SAME_TOLERANCE = 1e-9  # float64: "identical" means equal up to rounding, relative to the scores
MAX_SLOTS = 8  # cells per side of a digit canvas (256 pixels)
BORDER_GAP = 1e-3  # the border band must differ by at least this much (it differs by ~0.5)


# --------------------------------------------------------------------------- the four tasks


def _check_int_map(name: str, x, ndim: int, layout: str) -> np.ndarray:
    check_array(name, x, ndim=ndim, layout=layout)
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} has dtype {arr.dtype}; expected integer class labels")
    return arr


@dataclass(frozen=True)
class SceneTasks:
    """The four tasks' outputs for one scene (boxes as (x0, y0, x1, y1), pixel edges).

    ``label``/``box``: classification and localisation, for the largest object;
    ``boxes``/``box_labels``: detection, one per object; ``semantic`` (H, W): a class
    per pixel; ``instances`` (H, W): 0 for background, 1..n one id per object, where an
    object is a connected region of one class (two touching objects of one class merge).
    """

    label: int
    box: tuple[int, int, int, int]
    boxes: tuple[tuple[int, int, int, int], ...]
    box_labels: tuple[int, ...]
    semantic: np.ndarray
    instances: np.ndarray
    class_names: tuple[str, ...]

    @property
    def n_objects(self) -> int:
        return len(self.boxes)


def scene_tasks(mask, *, class_names=SHAPE_CLASSES, min_pixels: int = 4) -> SceneTasks:
    """Classification, localisation, detection, semantic and instance outputs of a mask.

    mask: (H, W) integer labels, 0 the background (a mask of
    :func:`course_lib.data.make_shapes_segmentation`). Objects are the connected
    regions (4-neighbours) of each class with at least ``min_pixels`` pixels.
    """
    arr = _check_int_map("mask", mask, 2, "(H, W): one class label per pixel")
    if not isinstance(class_names, tuple | list) or not all(
        isinstance(c, str) for c in class_names
    ):
        raise TypeError(f"class_names={class_names!r} must be a tuple of class names")
    min_pixels = check_int("min_pixels", min_pixels, minimum=1)
    if arr.size and (arr.min() < 0 or arr.max() >= len(class_names)):
        raise ValueError(
            f"mask holds labels {int(arr.min())}..{int(arr.max())}; expected labels in "
            f"[0, {len(class_names)}) of class_names"
        )
    instances = np.zeros(arr.shape, dtype=np.int64)
    boxes, labels, sizes = [], [], []
    for k in range(1, len(class_names)):
        regions, n = scipy.ndimage.label(arr == k)
        for r in range(1, n + 1):
            where = regions == r
            if where.sum() < min_pixels:
                continue
            rows, cols = np.nonzero(where)
            x0, y0 = int(cols.min()), int(rows.min())
            boxes.append((x0, y0, int(cols.max()) + 1, int(rows.max()) + 1))
            labels.append(k)
            sizes.append(int(where.sum()))
            instances[where] = len(boxes)
    if not boxes:
        raise ValueError(f"mask holds no object of at least min_pixels={min_pixels} pixels")
    main = int(np.argmax(sizes))
    return SceneTasks(
        label=labels[main],
        box=boxes[main],
        boxes=tuple(boxes),
        box_labels=tuple(labels),
        semantic=arr.astype(np.int64),
        instances=instances,
        class_names=tuple(class_names),
    )


# --------------------------------------------------------------------------- the classifier


def _parts(model) -> tuple[nn.Module, nn.Module]:
    if isinstance(model, nn.Sequential) and len(model) == 2:
        return model[0], model[1]
    features, head = getattr(model, "features", None), getattr(model, "classifier", None)
    if isinstance(features, nn.Module) and isinstance(head, nn.Module):
        return features, head
    raise TypeError(
        f"model must have .features and .classifier (LeNet-5, VGG) or be an "
        f"nn.Sequential(features, head), not {type(model).__name__}"
    )


def convolutionalise(model, feature_shape) -> nn.Sequential:
    """A classifier -> ``Sequential(features, head as convolutions)``, any input size.

    model: a LeNet-5 or VGG (``.features`` and ``.classifier``) or an
    ``nn.Sequential(features, head)``. feature_shape: (C, h, w), what the head reads
    on the classifier's own input: (16, 5, 5) for LeNet-5 (its first FC layer becomes
    a 5x5 conv), (512, 7, 7) for VGG-16 (fc6 becomes a 7x7 conv). VGG's adaptive
    average pool is left out: on a 224x224 input it maps 7x7 to 7x7, doing nothing,
    and on a larger input it would squash the map back to 7x7. The features are
    shared, not copied; the head goes through :func:`course_lib.models.fc_to_conv`.
    """
    features, head = _parts(model)
    feature_shape = check_shape("feature_shape", feature_shape, length=3, layout="(C, h, w)")
    try:
        conv_head = fc_to_conv(head, feature_shape)
    except ValueError as err:
        raise ValueError(f"feature_shape={feature_shape}: {err}") from err
    return nn.Sequential(features, conv_head)


# --------------------------------------------------------------------------- sliding windows


def _check_model(name: str, model) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, not {type(model).__name__}")
    return model


def _model_place(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    p = next(model.parameters(), None)
    return (p.device, p.dtype) if p is not None else (torch.device("cpu"), torch.float32)


def sliding_window_scores(classifier, images, *, window=DIGIT_SIZE, stride=NET_STRIDE,
                          batch_size: int = 256) -> torch.Tensor:  # fmt: skip
    """Classify every ``window`` crop of ``images`` separately: the slow, obvious way.

    images: (N, C, H, W) on the classifier's device; window: an int or (h, w); the
    crops start every ``stride`` pixels. Returns (N, K, rows, cols) with
    ``rows = floor((H - h) / stride) + 1`` (lesson 02's formula), in eval mode.
    """
    classifier = _check_model("classifier", classifier)
    images = check_array("images", images, ndim=4, layout="(N, C, H, W)", floating=True,
                         allow_empty=False)  # fmt: skip
    if not isinstance(images, torch.Tensor):
        raise TypeError("images must be a torch tensor (N, C, H, W), not a numpy array")
    wh, ww = check_pair("window", window, minimum=1)
    sh, sw = check_pair("stride", stride, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    n, c, h, w = images.shape
    if wh > h or ww > w:
        raise ValueError(f"window {wh}x{ww} is larger than the images, {h}x{w}")
    rows, cols = conv_output_size(h, wh, 0, sh), conv_output_size(w, ww, 0, sw)
    crops = images.unfold(2, wh, sh).unfold(3, ww, sw)  # (N, C, rows, cols, wh, ww), a view
    crops = crops.permute(0, 2, 3, 1, 4, 5).reshape(n * rows * cols, c, wh, ww)  # one per window
    was_training = classifier.training
    classifier.eval()
    try:
        with torch.no_grad():
            scores = torch.cat([classifier(crops[i : i + batch_size])
                                for i in range(0, len(crops), batch_size)])  # fmt: skip
    except RuntimeError as err:  # the crops do not fit the classifier
        raise ValueError(
            f"window={window!r}: the classifier cannot take {wh}x{ww} crops "
            f"({str(err).splitlines()[0]})"
        ) from err
    finally:
        classifier.train(was_training)
    scores = scores.reshape(n, rows, cols, -1)  # (N, rows, cols, K)
    return scores.permute(0, 3, 1, 2).contiguous()  # (N, K, rows, cols)


@dataclass(frozen=True)
class SlidingWindowCost:
    """Multiplications of classifying every window separately vs one convolutional pass."""

    window: tuple[int, int]
    canvas: tuple[int, int]
    stride: int
    windows: tuple[int, int]
    per_window: int
    one_pass: int

    @property
    def n_windows(self) -> int:
        return self.windows[0] * self.windows[1]

    @property
    def sliding(self) -> int:
        return self.n_windows * self.per_window

    @property
    def ratio(self) -> float:
        """How many times more the sliding window costs than the one pass."""
        return self.sliding / self.one_pass

    def __str__(self) -> str:
        return (
            f"{self.n_windows:,} windows ({self.windows[0]} x {self.windows[1]}) of "
            f"{self.window[0]}x{self.window[1]} at stride {self.stride} on a "
            f"{self.canvas[0]}x{self.canvas[1]} input: {self.n_windows:,} x "
            f"{self.per_window:,} = {self.sliding:,} multiplications one by one, "
            f"{self.one_pass:,} in one pass of the convolutional net ({self.ratio:.1f}x fewer)"
        )


def sliding_window_cost(classifier, conv_net, window_shape, canvas, *,
                        stride: int = NET_STRIDE) -> SlidingWindowCost:  # fmt: skip
    """Count both ways' multiplications with :func:`course_lib.shapes.summary`.

    window_shape: (C, h, w), the classifier's input; canvas: (H, W) of the larger
    input; ``stride`` is the net's total stride (the product of its pools' strides),
    the step between windows that the one pass computes. Models on torch's ``meta``
    device are counted without computing anything (VGG-16 on a 512x512 input).
    """
    classifier = _check_model("classifier", classifier)
    conv_net = _check_model("conv_net", conv_net)
    c, wh, ww = check_shape("window_shape", window_shape, length=3, layout="(C, h, w)")
    ch, cw = check_shape("canvas", canvas, length=2, layout="(H, W)")
    stride = check_int("stride", stride, minimum=1)
    if wh > ch or ww > cw:
        raise ValueError(f"window {wh}x{ww} is larger than the canvas {ch}x{cw}")
    windows = (conv_output_size(ch, wh, 0, stride), conv_output_size(cw, ww, 0, stride))
    try:
        per_window = summary(classifier, (c, wh, ww)).total_mults
    except ValueError as err:
        raise ValueError(f"window_shape={(c, wh, ww)} does not fit the classifier: {err}") from err
    try:
        one = summary(conv_net, (c, ch, cw))
    except ValueError as err:
        raise ValueError(f"canvas={(ch, cw)} does not fit conv_net: {err}") from err
    out_shape = one.rows[-1].output_shape if one.rows else ()
    if len(out_shape) != 3 or tuple(out_shape[1:]) != windows:
        raise ValueError(
            f"conv_net gives {out_shape} on a {ch}x{cw} input; expected a (K, {windows[0]}, "
            f"{windows[1]}) score map, one score per window at stride {stride}"
        )
    return SlidingWindowCost((wh, ww), (ch, cw), stride, windows, per_window, one.total_mults)


# --------------------------------------------------------------------------- the experiment


def digit_canvas(images, labels, *, slots=(2, 3), fill: int = 4, seed: int = 0):
    """Digits pasted into a grid of ``slots`` (rows, cols) of 32x32 cells, some left blank.

    images (N, 1, 32, 32), labels (N,): ``fill`` of them, drawn by ``seed``, go into
    ``fill`` random cells. Returns ``(canvas (1, 1, 32 * rows, 32 * cols), cells,
    digit_labels)``: the (row, col) of each filled cell and its digit's label. A cell's
    corner sits on a multiple of 32, so of the net's stride 4 as well.
    """
    images = check_array("images", images, ndim=4, layout="(N, 1, 32, 32)", floating=True)
    labels = check_array("labels", labels, ndim=1, layout="(N,): one label per image")
    if not isinstance(images, torch.Tensor) or not isinstance(labels, torch.Tensor):
        raise TypeError("images and labels must be torch tensors")
    if tuple(images.shape[2:]) != (DIGIT_SIZE, DIGIT_SIZE):
        raise ValueError(f"images have shape {tuple(images.shape)}; expected (N, C, 32, 32)")
    if len(labels) != len(images):
        raise ValueError(f"labels has {len(labels)} entries for {len(images)} images")
    rows, cols = check_shape("slots", slots, length=2, layout="(rows, cols)")
    if max(rows, cols) > MAX_SLOTS:
        raise ValueError(f"slots={slots!r}: at most {MAX_SLOTS} cells per side")
    fill = check_int("fill", fill, minimum=1, maximum=min(rows * cols, len(images)),
                     what=f"an int in [1, {min(rows * cols, len(images))}] (cells, images)")
    seed = check_seed("seed", seed)
    rng = np.random.default_rng(seed)
    cells = sorted(rng.choice(rows * cols, size=fill, replace=False).tolist())
    picks = rng.choice(len(images), size=fill, replace=False).tolist()
    canvas = images.new_zeros(1, images.shape[1], DIGIT_SIZE * rows, DIGIT_SIZE * cols)
    placed = []
    for cell, i in zip(cells, picks, strict=True):
        r, c = divmod(cell, cols)
        top, left = r * DIGIT_SIZE, c * DIGIT_SIZE
        canvas[0, :, top : top + DIGIT_SIZE, left : left + DIGIT_SIZE] = images[i]
        placed.append((r, c))
    return canvas, tuple(placed), tuple(int(labels[i]) for i in picks)


@dataclass(frozen=True)
class ConvolutionalisedResult:
    """What :func:`convolutionalised_experiment` measured (differences in float64,
    relative to the largest score)."""

    test_accuracy: float
    n_test: int
    same_size_difference: float
    canvas_shape: tuple[int, int]
    score_map_shape: tuple[int, int]
    expected_map_shape: tuple[int, int]
    window_difference: float
    cost: SlidingWindowCost
    canvas: torch.Tensor
    score_map: torch.Tensor
    cells: tuple[tuple[int, int], ...]
    digit_labels: tuple[int, ...]
    cell_predictions: tuple[int, ...]
    tolerance: float
    model: nn.Module
    conv_net: nn.Module

    @property
    def margin(self) -> float:
        """How many times below the tolerance the larger of the two differences is."""
        worst = max(self.same_size_difference, self.window_difference)
        return math.inf if worst == 0 else self.tolerance / worst

    @property
    def claim_holds(self) -> bool:
        return (
            self.same_size_difference <= self.tolerance
            and self.window_difference <= self.tolerance
            and self.score_map_shape == self.expected_map_shape
            and self.cost.ratio > 1
        )

    def sentence(self) -> str:
        verdict = "holds" if self.claim_holds else "does NOT hold"
        (h, w), (r, c) = self.canvas_shape, self.score_map_shape
        return (
            f"Experiment: with its FC head turned into convolutions, LeNet-5 "
            f"({100 * self.test_accuracy:.1f}% test accuracy) gives the same scores on the "
            f"{self.n_test} 32x32 test digits (largest relative difference "
            f"{self.same_size_difference:.1e}); on a {h}x{w} canvas it gives a {r}x{c} score "
            f"map in one pass, equal to classifying the {self.cost.n_windows} 32x32 windows "
            f"one by one (largest relative difference {self.window_difference:.1e}) with "
            f"{self.cost.ratio:.1f}x fewer multiplications; the claim (differences below "
            f"{self.tolerance:.0e}, a {self.expected_map_shape[0]}x{self.expected_map_shape[1]} "
            f"map, a cheaper pass) {verdict}."
        )


def _relative_gap(a: torch.Tensor, b: torch.Tensor) -> float:
    scale = max(float(b.abs().max()), 1e-300)
    return float((a - b).abs().max()) / scale


def convolutionalised_experiment(
    data: DataSplits | None = None,
    *,
    seed: int = 0,
    epochs: int = 10,
    slots: tuple = (2, 3),
    device: torch.device | str | None = None,
    num_threads: int | None = 1,
) -> ConvolutionalisedResult:
    """Train LeNet-5 on the 32x32 digits, convolutionalise it, compare.

    Trains ``epochs`` epochs (Adam, one-cycle, batches of 64; about 0.5 s an epoch on
    one CPU thread) on ``data``, by default :func:`course_lib.data.load_digits` (32x32,
    split by ``seed``), then in float64: the converted net against the original on the test
    digits; on a canvas of ``slots`` cells (:func:`digit_canvas`) its score map
    against :func:`sliding_window_scores`; and the cost of both ways
    (:func:`sliding_window_cost`).
    """
    device = resolve_device(device)
    seed = check_seed("seed", seed)
    epochs = check_int("epochs", epochs, minimum=1)
    slots = check_shape("slots", slots, length=2, layout="(rows, cols) of 32x32 cells")
    if max(slots) > MAX_SLOTS:
        raise ValueError(f"slots={slots!r}: at most {MAX_SLOTS} cells per side")
    if num_threads is not None:
        num_threads = check_int("num_threads", num_threads, minimum=1)
    if data is None:
        data = load_digits(size=DIGIT_SIZE, seed=seed, device=device)
    if not isinstance(data, DataSplits):
        raise TypeError(
            f"data must be None or a course_lib.data.DataSplits, not {type(data).__name__}"
        )
    if tuple(data.train.tensors[0].shape[1:]) != (1, DIGIT_SIZE, DIGIT_SIZE):
        raise ValueError(
            f"data holds images of shape {tuple(data.train.tensors[0].shape[1:])}; expected "
            "(1, 32, 32), LeNet-5's input"
        )
    set_seed(seed)
    model = lenet5()
    recipe = Recipe(epochs=epochs, lr=3e-3, time_budget_s=None, seed=seed, num_threads=num_threads)
    _, accuracy = train_with(model, data, recipe, device=device)
    model = model.to(device=device, dtype=torch.float64).eval()
    side = 5  # LeNet-5's first FC layer reads a 16 x 5 x 5 volume
    conv_net = convolutionalise(model, (16, side, side)).eval()
    x_test, y_test = data.test.tensors
    x_test = x_test.to(device=device, dtype=torch.float64)
    fill = min(4, slots[0] * slots[1], len(y_test))
    canvas, cells, digit_labels = digit_canvas(
        data.test.tensors[0], y_test, slots=slots, fill=fill, seed=seed
    )
    canvas = canvas.to(device=device, dtype=torch.float64)
    with torch_threads(num_threads), torch.no_grad():
        original = model(x_test)  # (N, 10)
        converted = conv_net(x_test)  # (N, 10, 1, 1)
        same = _relative_gap(converted.flatten(1), original)
        score_map = conv_net(canvas)  # (1, 10, rows, cols)
        windows = sliding_window_scores(model, canvas)  # (1, 10, rows, cols)
        gap = _relative_gap(score_map, windows) if score_map.shape == windows.shape else math.inf
        cost = sliding_window_cost(model, conv_net, (1, DIGIT_SIZE, DIGIT_SIZE),
                                   tuple(canvas.shape[2:]))  # fmt: skip
    step = DIGIT_SIZE // NET_STRIDE  # one 32-pixel cell is 8 steps of the score map
    predictions = tuple(int(score_map[0, :, r * step, c * step].argmax()) for r, c in cells)
    expected = tuple(
        conv_output_size(n, DIGIT_SIZE, 0, NET_STRIDE) for n in canvas.shape[2:]
    )
    return ConvolutionalisedResult(
        test_accuracy=float(accuracy),
        n_test=len(x_test),
        same_size_difference=same,
        canvas_shape=tuple(canvas.shape[2:]),
        score_map_shape=tuple(score_map.shape[2:]),
        expected_map_shape=expected,
        window_difference=gap,
        cost=cost,
        canvas=canvas[0, 0].cpu(),
        score_map=score_map[0].cpu(),
        cells=cells,
        digit_labels=digit_labels,
        cell_predictions=predictions,
        tolerance=SAME_TOLERANCE,
        model=model,
        conv_net=conv_net,
    )


# --------------------------------------------------------------------------- bilinear


@dataclass(frozen=True)
class BilinearResult:
    """Transposed conv with a bilinear kernel vs bilinear interpolation, in float64.

    ``interior_difference``: largest |difference| more than ``border`` pixels from the
    edge; ``border_difference``: largest within the band; ``padded_difference``: largest
    anywhere once the input is edge-padded by one pixel first (the fix).
    """

    factor: int
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    reference_shape: tuple[int, ...]
    border: int
    interior_difference: float
    border_difference: float
    padded_difference: float
    tolerance: float

    @property
    def margin(self) -> float:
        """How many times below the tolerance the interior difference is."""
        return math.inf if self.interior_difference == 0 else (
            self.tolerance / self.interior_difference
        )

    @property
    def claim_holds(self) -> bool:
        return (
            self.output_shape == self.reference_shape
            and self.interior_difference <= self.tolerance
            and self.border_difference >= BORDER_GAP
            and self.padded_difference <= self.tolerance
        )

    def sentence(self) -> str:
        verdict = "holds" if self.claim_holds else "does NOT hold"
        (h, w), (oh, ow) = self.input_shape[-2:], self.output_shape[-2:]
        return (
            f"Experiment: upsampling a {h}x{w} map {self.factor}x to {oh}x{ow}, the "
            f"bilinear-initialised transposed convolution matches bilinear interpolation to "
            f"{self.interior_difference:.1e} away from the border, but differs by up to "
            f"{self.border_difference:.2f} within {self.border} pixel(s) of it (it sees zeros "
            f"beyond the edge; interpolation repeats the edge); edge-padding the input first "
            f"removes the gap ({self.padded_difference:.1e}); the claim (equal inside, to "
            f"{self.tolerance:.0e}, different only at the border) {verdict}."
        )


def bilinear_experiment(
    *,
    factor: int = 4,
    size: tuple = (6, 9),
    channels: int = 3,
    seed: int = 0,
    device: torch.device | str | None = None,
    num_threads: int | None = 1,
) -> BilinearResult:
    """Upsample a random (1, channels, *size) map both ways and compare, in float64.

    The transposed convolution is :func:`course_lib.ops.conv_transpose2d` with
    :func:`course_lib.ops.bilinear_kernel`, ``stride=factor, padding=factor // 2``;
    the reference is ``F.interpolate(..., mode="bilinear", align_corners=False)``.
    The border band is ``factor // 2`` output pixels wide: there an output pixel's
    centre lies outside the outermost input pixel centres.
    """
    device = resolve_device(device)
    factor = check_int("factor", factor, minimum=2, maximum=16, what="an int in [2, 16]")
    h, w = check_shape("size", size, length=2, layout="(H, W)")
    if max(h, w) > 256:
        raise ValueError(f"size={size!r}: at most 256 pixels per side (a small test map)")
    channels = check_int("channels", channels, minimum=1, maximum=64)
    seed = check_seed("seed", seed)
    if num_threads is not None:
        num_threads = check_int("num_threads", num_threads, minimum=1)
    if min(h, w) < 2:
        raise ValueError(f"size={size!r} must be at least 2x2 so that the map has an inside")
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(1, channels, h, w, generator=generator, dtype=torch.float64).to(device)
    weight = ops.bilinear_kernel(channels, factor, like=x)
    with torch_threads(num_threads):
        out = ops.conv_transpose2d(x, weight, stride=factor, padding=factor // 2)
        ref = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
        padded = F.pad(x, (1, 1, 1, 1), mode="replicate")  # repeat the edge, as interpolate does
        fixed = ops.conv_transpose2d(padded, weight, stride=factor, padding=factor // 2)
        fixed = fixed[..., factor:-factor, factor:-factor]  # drop the extra pixel's outputs
    band = factor // 2
    same_shape = out.shape == ref.shape
    if same_shape:
        diff = (out - ref).abs()  # (1, C, OH, OW)
        inside = diff[..., band:-band, band:-band]
        interior = float(inside.max()) if inside.numel() else 0.0
        border = float(diff.max())
        padded_gap = float((fixed - ref).abs().max()) if fixed.shape == ref.shape else math.inf
    else:
        interior = border = padded_gap = math.inf
    return BilinearResult(
        factor=factor,
        input_shape=tuple(x.shape),
        output_shape=tuple(out.shape),
        reference_shape=tuple(ref.shape),
        border=band,
        interior_difference=interior,
        border_difference=border,
        padded_difference=padded_gap,
        tolerance=SAME_TOLERANCE,
    )


# --------------------------------------------------------------------------- the adjoint


def conv_matrix(weight, input_size, *, stride: int = 1, padding: int = 0):
    """The matrix C of ``conv2d(., weight)`` on one (C_in, H, W) input: ``y = C @ x``.

    weight: (C_out, C_in, KH, KW), numpy or torch; input_size: (H, W). Returns C of
    shape (C_out*OH*OW, C_in*H*W) as the weight's kind, dtype and device, column j
    being the convolution of the j-th unit input (flattened C-order). Then
    ``conv_transpose2d(y, weight)`` equals ``C.T @ y``: the transposed convolution is
    the transpose (the adjoint), not the inverse.
    """
    weight = check_array("weight", weight, ndim=4, layout="(C_out, C_in, KH, KW)", floating=True)
    h, w = check_shape("input_size", input_size, length=2, layout="(H, W)")
    stride = check_int("stride", stride, minimum=1)
    padding = check_int("padding", padding, minimum=0)
    _, c_in, kh, kw = weight.shape
    if c_in * h * w > 4096:
        raise ValueError(
            f"input_size={(h, w)} with {c_in} channels gives {c_in * h * w} columns; expected "
            "at most 4096 (a matrix for a small example)"
        )
    if padding >= max(kh, kw):
        raise ValueError(f"padding={padding} must be smaller than the kernel, {kh}x{kw}")
    conv_output_size(h, kh, padding, stride)  # refuses a kernel larger than the padded input
    conv_output_size(w, kw, padding, stride)
    n = c_in * h * w
    if isinstance(weight, torch.Tensor):
        eye = torch.eye(n, dtype=weight.dtype, device=weight.device)
    else:
        eye = np.eye(n, dtype=weight.dtype)
    units = eye.reshape(n, c_in, h, w)  # (n, C_in, H, W): one unit input per column
    out = ops.conv2d(units, weight, stride=stride, padding=padding)  # (n, C_out, OH, OW)
    return out.reshape(n, -1).T  # (C_out*OH*OW, n)
