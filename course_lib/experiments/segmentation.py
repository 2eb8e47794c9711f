"""Lesson 12's experiment: FCN-32s, FCN-16s and FCN-8s on the course's segmentation scenes.

The claim, from the skip table of Long, Shelhamer and Darrell (2015), "Fully
convolutional networks for semantic segmentation" (CVPR, Table 2): fusing the scores of
finer layers refines the output, so in mean IU

    FCN-8s >= FCN-16s >= FCN-32s.

:func:`skip_experiment` builds the three variants of :func:`course_lib.models.fcn` on the
same small backbone (five conv 3x3 + BN + ReLU + 2x2 pool stages; after
``set_seed(seed)`` their backbone and head start from identical weights, and the skip
scorers start at zero, as in the paper), trains each with the same recipe (the same
number of Adam steps on the same scenes, in the same order) and scores the validation
scenes with the four metrics of :mod:`course_lib.metrics`. The claim holds when each
step, 32s -> 16s -> 8s, adds at least ``margin`` to the mean IU.

The scenes are :func:`course_lib.data.make_shapes_segmentation` with
``class_colours=True``: each class has its own colour family, so what is hard is where a
boundary runs, not which class a blob is; small objects and the cross's thin arms are
a few pixels across, far below FCN-32s's 32-pixel output stride.

:func:`score_map_sizes` gives the sizes of the stride-8, -16 and -32 maps of an input
(pools round up, ``ceil_mode=True``); :func:`vgg16_fcn_table` tabulates the full VGG-16
FCN layer by layer on torch's ``meta`` device (shapes only: no memory, no arithmetic).

Source: lesson 12; Long, Shelhamer and Darrell (2015), sections 4.2 and 5.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from course_lib.data import SHAPE_CLASSES, make_shapes_segmentation
from course_lib.device import resolve_device, set_seed, torch_threads
from course_lib.metrics import per_class_iou, segmentation_scores
from course_lib.models import fcn
from course_lib.recipes import Recipe
from course_lib.shapes import Summary, count_parameters, summary
from course_lib.train import fit, predict
from course_lib.validate import check_bool, check_int, check_number, check_shape

__all__ = [
    "METRICS",
    "SEGMENTATION_RECIPE",
    "STRIDES",
    "VARIANTS",
    "SkipResult",
    "score_map_sizes",
    "skip_experiment",
    "vgg16_fcn_table",
]

VARIANTS = ("32s", "16s", "8s")
STRIDES = (8, 16, 32)  # pool3, pool4, pool5 (and conv7's scores)
METRICS = ("pixel_accuracy", "mean_accuracy", "mean_iou", "fw_iou")
_METRIC_NAMES = {
    "pixel_accuracy": "pixel acc.",
    "mean_accuracy": "mean acc.",
    "mean_iou": "mean IU",
    "fw_iou": "f.w. IU",
}

# 8 epochs of 15 batches of 16 scenes (240 scenes): 120 Adam steps, one-cycle peaking at 0.01.
SEGMENTATION_RECIPE = Recipe(epochs=8, lr=0.01, batch_size=16, time_budget_s=None)


def score_map_sizes(height: int, width: int) -> tuple[tuple[int, int], ...]:
    """Sizes (h, w) of the stride-8, -16 and -32 maps (pool3, pool4, pool5) of an input.

    Pools round up (``ceil_mode=True``, Caffe's rule, which the course's FCN keeps), so
    a side n gives ceil(n / 8), ceil(n / 16) and ceil(n / 32): a 500 x 375 image gives
    (63, 47), (32, 24) and (16, 12).
    """
    height = check_int("height", height, minimum=1)
    width = check_int("width", width, minimum=1)
    return tuple((math.ceil(height / s), math.ceil(width / s)) for s in STRIDES)


def vgg16_fcn_table(
    variant: str = "8s", input_size: int | tuple[int, int] = 512, *, num_classes: int = 21
) -> Summary:
    """The full VGG-16 FCN (``variant``) layer by layer on an input of ``input_size``.

    Built and run on torch's ``meta`` device: every output shape and parameter count is
    real, but no weight is stored and nothing is computed (the network has about 134M
    parameters). ``input_size`` is a side or an (H, W) pair. The last row is the final
    upsampling before the crop to H x W (a slice, not a layer): 512 x 384 for a 500 x 375
    input, whose stride-32 map is 16 x 12. No pretrained weights are
    loaded (torchvision would fetch VGG-16's ImageNet weights through its weights API,
    ``torchvision.models.vgg16(weights="IMAGENET1K_V1")``, which needs a network).
    """
    if isinstance(input_size, tuple | list):
        h, w = check_shape("input_size", input_size, length=2, layout="(H, W)")
    else:
        h = w = check_int("input_size", input_size, minimum=1)
    if h > 8192 or w > 8192:
        raise ValueError(f"input_size={(h, w)} must be at most 8192 on each side")
    num_classes = check_int("num_classes", num_classes, minimum=1, maximum=1000)
    with torch.device("meta"):
        model = fcn(variant, backbone="vgg16", num_classes=num_classes)
    return summary(model, (3, h, w))


@dataclass(frozen=True)
class SkipResult:
    """The outcome of :func:`skip_experiment`, per variant ("32s", "16s", "8s").

    ``scores[v]``: the four metrics (fractions) on the validation scenes;
    ``class_iou[v]``: per-class IU (num_classes,), NaN for a class absent from both;
    ``predictions[v]``: predicted labels (N, H, W) int64 on the CPU; ``params[v]``: trainable
    parameters (the fixed final upsampling left out); ``images`` (N, 3,
    H, W) and ``masks`` (N, H, W) are the validation scenes (CPU); ``final_loss[v]``
    the last epoch's mean training loss; ``seconds[v]`` training wall time.
    """

    scores: dict[str, dict[str, float]]
    class_iou: dict[str, np.ndarray]
    predictions: dict[str, torch.Tensor]
    params: dict[str, int]
    final_loss: dict[str, float]
    seconds: dict[str, float]
    images: torch.Tensor
    masks: torch.Tensor
    class_names: tuple[str, ...]
    steps: int
    n_train: int
    margin: float
    seed: int

    @property
    def n_val(self) -> int:
        return len(self.masks)

    def gain(self, finer: str, coarser: str) -> float:
        """Mean IU of ``finer`` minus that of ``coarser`` (a fraction)."""
        return self.scores[finer]["mean_iou"] - self.scores[coarser]["mean_iou"]

    @property
    def gains(self) -> tuple[float, float]:
        """(16s - 32s, 8s - 16s) in mean IU."""
        return self.gain("16s", "32s"), self.gain("8s", "16s")

    @property
    def claim_holds(self) -> bool:
        return min(self.gains) >= self.margin

    def table(self) -> str:
        """The four metrics (percent) per variant, the layout of the paper's Table 2."""
        head = f"{'':<9}" + "".join(f"{_METRIC_NAMES[m]:>12}" for m in METRICS)
        rows = [
            f"FCN-{v:<5}" + "".join(f"{100 * self.scores[v][m]:>12.1f}" for m in METRICS)
            for v in VARIANTS
        ]
        return "\n".join([head, *rows])

    def sentence(self) -> str:
        iu = {v: 100 * self.scores[v]["mean_iou"] for v in VARIANTS}
        g16, g8 = (100 * g for g in self.gains)
        verdict = "holds" if self.claim_holds else "does NOT hold"
        return (
            f"Experiment: after the same {self.steps} training steps on {self.n_train} scenes, "
            f"mean IU on {self.n_val} validation scenes was FCN-32s {iu['32s']:.1f}%, "
            f"FCN-16s {iu['16s']:.1f}%, FCN-8s {iu['8s']:.1f}%: the pool4 skip added "
            f"{g16:.1f} points and the pool3 skip {g8:.1f} more; the claim (FCN-8s >= "
            f"FCN-16s >= FCN-32s, each step by at least {100 * self.margin:.0f} points) "
            f"{verdict}."
        )


def skip_experiment(
    *,
    n_train: int = 240,
    n_val: int = 100,
    size: int = 64,
    texture: float = 0.5,
    recipe: Recipe = SEGMENTATION_RECIPE,
    margin: float = 0.05,
    seed: int = 0,
    num_threads: int | None = 1,
    device: torch.device | str | None = None,
    progress: bool = False,
) -> SkipResult:
    """Train FCN-32s, -16s and -8s by the same ``recipe`` on the same scenes; score them.

    Training scenes come from ``make_shapes_segmentation(n_train, size, 1000 + seed,
    class_colours=True, texture=texture)``, validation scenes from seed ``2000 + seed``.
    Each variant is built after ``set_seed(seed)`` (identical backbone weights) and
    trained with ``recipe.replace(seed=seed, num_threads=num_threads)``, without a time
    budget unless the recipe has one, so the result depends only on the arguments.
    """
    n_train = check_int("n_train", n_train, minimum=1, maximum=100_000)
    n_val = check_int("n_val", n_val, minimum=1, maximum=100_000)
    size = check_int("size", size, minimum=16, maximum=512, what="an int in [16, 512] (pixels)")
    texture = check_number("texture", texture, minimum=0.0, maximum=1.0)
    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe is a {type(recipe).__name__}; expected a course_lib.recipes.Recipe")
    margin = check_number("margin", margin, minimum=0.0, below=1.0, what="a fraction in [0, 1)")
    seed = check_int("seed", seed, minimum=0, maximum=2**32 - 2001)  # scene seeds stay in range
    if num_threads is not None:
        num_threads = check_int("num_threads", num_threads, minimum=1, maximum=1024)
    progress = check_bool("progress", progress)
    device = resolve_device(device)
    recipe = recipe.replace(seed=seed, num_threads=num_threads)
    scenes = {"class_colours": True, "texture": texture, "device": device}
    x_train, y_train = make_shapes_segmentation(n_train, size, 1000 + seed, **scenes)
    x_val, y_val = make_shapes_segmentation(n_val, size, 2000 + seed, **scenes)
    k = len(SHAPE_CLASSES)
    scores, class_iou, predictions, params, final_loss, seconds = {}, {}, {}, {}, {}, {}
    for v in VARIANTS:
        set_seed(seed)
        model = fcn(v, num_classes=k)
        with torch_threads(recipe.num_threads):
            history = fit(
                model, (x_train, y_train), None, **recipe.fit_kwargs(), device=device,
                progress=progress,
            )  # fmt: skip
            labels = predict(model, x_val, device=device, batch_size=50).argmax(1)  # (N, H, W)
        scores[v] = segmentation_scores(y_val, labels, k)
        class_iou[v] = per_class_iou(y_val, labels, k)
        predictions[v] = labels.cpu()
        params[v] = count_parameters(model, trainable_only=True)
        final_loss[v] = history.train_loss[-1]
        seconds[v] = history.wall_time
    steps = recipe.epochs * math.ceil(n_train / recipe.batch_size)
    return SkipResult(
        scores=scores,
        class_iou=class_iou,
        predictions=predictions,
        params=params,
        final_loss=final_loss,
        seconds=seconds,
        images=x_val.cpu(),
        masks=y_val.cpu(),
        class_names=SHAPE_CLASSES,
        steps=steps,
        n_train=n_train,
        margin=margin,
        seed=seed,
    )
