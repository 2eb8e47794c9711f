"""Every lesson's experiment on a CUDA GPU, as the notebooks run it: `make test-gpu`.

Run after the GPU-marked tests, so that a short loan of a GPU machine is spent
running checks, not preparing them. Prints one line per experiment (its
``Experiment:`` sentence, whether its claim held, the seconds it took) and exits 1 if
any claim failed or any experiment raised. Without CUDA it says so and exits 0, so
the command's dry run works on any machine.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback

import numpy as np
import torch

from course_lib.data import load_digits, load_digits_anywhere, load_photo
from course_lib.device import set_seed
from course_lib.experiments.augmentation import augmentation_experiment, flip_harm_experiment
from course_lib.experiments.batch_norm import (
    activation_percentiles_experiment,
    bias_gradient_demo,
    deep_sigmoid_experiment,
    folding_demo,
    learning_rate_experiment,
    placement_experiment,
    restore_identity_demo,
    steps_to_target_experiment,
)
from course_lib.experiments.deep_or_not import deep_or_not_experiment, train_lenet
from course_lib.experiments.dense_prediction import (
    bilinear_experiment,
    convolutionalised_experiment,
)
from course_lib.experiments.detection import agreement_experiment, rcnn_experiment
from course_lib.experiments.dropout import DROPOUT_RECIPE, dropout_gap_experiment
from course_lib.experiments.inception import (
    aux_heads_experiment,
    gap_experiment,
    multiplication_experiment,
)
from course_lib.experiments.inside import (
    activation_maximization_experiment,
    embedding_experiment,
    occlusion_experiment,
    train_inside_lenet,
)
from course_lib.experiments.learned_filter import learn_filter
from course_lib.experiments.output_size import output_size_experiment
from course_lib.experiments.pooling import shift_unchanged_fractions
from course_lib.experiments.residual import degradation_experiment
from course_lib.experiments.segmentation import skip_experiment
from course_lib.experiments.transfer import transfer_experiment
from course_lib.experiments.vanishing_gradients import vanishing_gradient_experiment
from course_lib.recipes import LENET_RECIPE, Recipe


def experiments(device: torch.device):
    """(lesson, name, thunk) for each lesson's experiment, with the notebook's settings."""
    yield "01", "learned Sobel filter", lambda: learn_filter("sobel_horizontal", seed=0, device=device)
    yield "02", "output-size formula vs torch", lambda: output_size_experiment(device=device)
    yield "03", "max pooling and one-pixel shifts", lambda: shift_unchanged_fractions(
        load_photo("china"), source="'china' photo", seed=0, device=device
    )
    yield "04", "vanishing gradients", lambda: vanishing_gradient_experiment(10, device=device)
    # the time budget is generous: the claim on a GPU is about accuracy, and the first
    # CUDA call pays for kernel loading
    yield "05", "LeNet-5 on digits", lambda: train_lenet(
        load_digits(device=device), LENET_RECIPE.replace(num_threads=None), device=device
    )
    yield "05", "deep or not", lambda: deep_or_not_experiment(
        load_digits_anywhere(seed=0, device=device),
        Recipe(num_threads=None),
        device=device,
    )
    yield "06", "dropout narrows the train/test gap", lambda: dropout_gap_experiment(
        recipe=DROPOUT_RECIPE.replace(num_threads=None), device=device
    )
    yield "07", "gamma and beta restore the identity", lambda: restore_identity_demo(device=device)
    yield "07", "no bias gradient before batch norm", lambda: bias_gradient_demo(device=device)
    yield "07", "batch norm folded into the conv", lambda: folding_demo(device=device)
    yield "07", "batch norm: steps to 90%", lambda: steps_to_target_experiment(
        device=device, num_threads=None
    )
    yield "07", "batch norm at learning rate 0.3", lambda: learning_rate_experiment(
        device=device, num_threads=None
    )
    yield "07", "batch norm in a deep sigmoid net", lambda: deep_sigmoid_experiment(
        device=device, num_threads=None
    )
    yield "07", "batch norm before or after ReLU", lambda: placement_experiment(
        device=device, num_threads=None
    )
    yield "07", "a unit's input percentiles", lambda: activation_percentiles_experiment(
        device=device, num_threads=None
    )
    yield "08", "augmentation on 50 digits", lambda: augmentation_experiment(
        seed=0, device=device, num_threads=None
    )
    yield "08", "flips where left and right matter", lambda: flip_harm_experiment(
        seed=0, device=device, num_threads=None
    )
    yield "08", "frozen features vs scratch", lambda: transfer_experiment(
        seed=0, device=device, num_threads=None
    )
    yield "09", "degradation: plain-56 vs plain-20 vs residual-56", lambda: degradation_experiment(
        seed=0, device=device, num_threads=None
    )
    yield "10", "1x1 bottleneck multiplication counts", lambda: multiplication_experiment(
        seed=0, device=device, num_threads=None
    )
    yield "10", "global average pooling vs flatten + FC", lambda: gap_experiment(
        load_digits(device=device), seed=0, device=device, num_threads=None
    )
    yield "10", "small GoogLeNet with and without auxiliary heads", lambda: aux_heads_experiment(
        load_digits(device=device), seed=0, device=device, num_threads=None
    )
    yield "11", "LeNet-5 convolutionalised", lambda: convolutionalised_experiment(
        seed=0, device=device, num_threads=None
    )
    yield "11", "bilinear transposed conv vs interpolation", lambda: bilinear_experiment(
        factor=4, seed=0, device=device, num_threads=None
    )
    yield "12", "FCN-8s >= FCN-16s >= FCN-32s in mean IU", lambda: skip_experiment(
        seed=0, device=device, num_threads=None
    )
    inside = []  # lesson 13's one trained network, shared by its three experiments

    def net13():
        inside[:] = inside or [train_inside_lenet(seed=0, device=device, num_threads=None)]
        return inside[0]

    yield "13", "t-SNE: features vs pixels", lambda: embedding_experiment(
        net13(), seed=0, device=device, num_threads=None
    )
    yield "13", "occlusion peaks on the digit asked about", lambda: occlusion_experiment(
        net13(), seed=0, device=device, num_threads=None
    )
    yield "13", "activation maximization vs random inputs", lambda: activation_maximization_experiment(
        net13(), seed=0, device=device, num_threads=None
    )
    yield "14", "IoU and NMS vs the definitions", lambda: agreement_experiment(
        n_trials=200, seed=0, device=device, num_threads=None
    )
    yield "14", "R-CNN on digit scenes", lambda: rcnn_experiment(
        n_train_scenes=400, n_test_scenes=40, epochs=6, seed=0, device=device, num_threads=None
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="torch device (default: cuda)")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("gpu_check: no CUDA device visible to torch; skipped (nothing failed)")
        return 0
    device = torch.device(args.device)
    if device.type == "cuda":
        print(f"gpu_check: {torch.cuda.get_device_name(device)}, torch {torch.__version__}")
    failures = 0
    for lesson, name, run in experiments(device):
        set_seed(0)
        start = time.perf_counter()
        try:
            result = run()
        except Exception:  # report every experiment, then fail
            failures += 1
            print(f"[{lesson}] {name}: RAISED\n{traceback.format_exc()}")
            continue
        seconds = time.perf_counter() - start
        verdict = "claim holds" if result.claim_holds else "CLAIM FAILED"
        failures += not result.claim_holds
        print(f"[{lesson}] {name}: {verdict} in {seconds:.1f} s\n     {result.sentence()}")
    print(f"gpu_check: {failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    sys.exit(main())
