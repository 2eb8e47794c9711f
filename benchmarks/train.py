"""Overhead of course_lib.train.fit over a bare PyTorch loop, and epoch times.

Both loops train the same freshly seeded model on the same tensors with Adam,
cross-entropy, the same batch size and the same shuffling (a seeded randperm per
epoch, batches by indexing); fit additionally tracks per-step loss and accuracy,
calls its (empty) callback list and checks the time budget; the bare loop keeps the
same per-step loss and accuracy tensors, read back once per epoch. No validation pass.
After one short warm-up run of each, every configuration runs ``--repeats`` times, the
order of bare and fit alternating between repeats; the median and the range of the
seconds per epoch are reported, and both loops must end at the same loss for the same
seed (the script stops otherwise). Run:

    .venv/bin/python benchmarks/train.py            # LeNet-5 on digits + FCN-8s on shapes
    .venv/bin/python benchmarks/train.py --quick    # fewer repeats
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch
import torch.nn.functional as F

from course_lib.data import load_digits, make_shapes_segmentation
from course_lib.device import set_seed
from course_lib.experiments.deep_or_not import train_lenet
from course_lib.models import fcn, lenet5
from course_lib.recipes import LENET_RECIPE
from course_lib.train import fit


def bare_loop(model, x, y, *, epochs: int, batch_size: int, seed: int) -> tuple[float, float]:
    """The loop a learner would write by hand, doing fit's work; returns (seconds, last loss).

    Like fit it keeps each step's loss and number of correct labels on the device and
    reads them back once per epoch.
    """
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    start = time.perf_counter()
    step_loss: list[float] = []
    for _ in range(epochs):
        model.train()
        order = torch.randperm(x.shape[0], generator=gen)
        losses, corrects = [], []
        for i in range(0, x.shape[0], batch_size):
            idx = order[i : i + batch_size]
            xb, yb = x[idx], y[idx]
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.detach())
            corrects.append((logits.detach().max(1).indices == yb).sum())
        step_loss += torch.stack(losses).float().tolist()
        torch.stack(corrects).tolist()
    return time.perf_counter() - start, step_loss[-1]


def with_fit(model, x, y, *, epochs: int, batch_size: int, seed: int) -> tuple[float, float]:
    start = time.perf_counter()
    h = fit(
        model,
        (x, y),
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        device="cpu",
        progress=False,
    )
    return time.perf_counter() - start, h.step_loss[-1]


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):6.3f} [{min(values):.3f}-{max(values):.3f}]"


def compare(name: str, make, x, y, *, epochs: int, batch_size: int, repeats: int) -> None:
    """Median and range of s/epoch over ``repeats``; the order of the two alternates."""
    runners = {"bare": bare_loop, "fit": with_fit}
    for runner in runners.values():  # warm-up: allocator, kernels, lazy imports
        set_seed(0)
        runner(make(), x[: 4 * batch_size], y[: 4 * batch_size], epochs=1,
               batch_size=batch_size, seed=0)  # fmt: skip
    times: dict[str, list[float]] = {"bare": [], "fit": []}
    ratios = []
    for r in range(repeats):
        order = ("bare", "fit") if r % 2 == 0 else ("fit", "bare")
        final = {}
        for key in order:
            set_seed(r)
            seconds, final[key] = runners[key](
                make(), x, y, epochs=epochs, batch_size=batch_size, seed=r
            )
            times[key].append(seconds / epochs)
        if not math.isclose(final["bare"], final["fit"], rel_tol=1e-5, abs_tol=1e-7):
            raise AssertionError(
                f"{name}, seed {r}: bare loop ends at loss {final['bare']:.6f} but fit at "
                f"{final['fit']:.6f}; the two loops no longer do the same work"
            )
        ratios.append(times["fit"][-1] / times["bare"][-1])
    print(
        f"{name:<30} s/epoch median [min-max]: bare {_spread(times['bare'])}   "
        f"fit {_spread(times['fit'])}   overhead {100 * (statistics.median(ratios) - 1):+5.1f}% "
        f"(median of paired runs; {repeats} runs x {epochs} epochs; same final loss "
        f"{final['fit']:.4f} on the last seed)"
    )


def digits_recipe() -> None:
    """Lesson 05's own recipe (``train_lenet``): wall time and test accuracy, three seeds."""
    d = load_digits(device="cpu")
    for seed in range(3):
        run = train_lenet(d, LENET_RECIPE.replace(seed=seed, num_threads=None), device="cpu")
        print(
            f"LeNet-5 digits recipe, seed {seed}: {run.train_seconds:5.1f} s, "
            f"test accuracy {run.test_accuracy:.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats instead of 7")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    repeats = 3 if args.quick else 7
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), CPU")
    d = load_digits(device="cpu")
    x, y = d.train.tensors
    compare("LeNet-5, digits, batch 64", lenet5, x, y, epochs=5, batch_size=64, repeats=repeats)
    images, masks = make_shapes_segmentation(1000, device="cpu")
    compare(
        "FCN-8s small, shapes, batch 32",
        lambda: fcn("8s"),
        images[:300],
        masks[:300],
        epochs=2,
        batch_size=32,
        repeats=repeats,
    )
    digits_recipe()


if __name__ == "__main__":
    main()
