"""Overhead of course_lib.train.fit over a bare PyTorch loop, and epoch times.

Both loops train the same freshly seeded model on the same tensors with Adam,
cross-entropy, the same batch size and the same shuffling (a seeded randperm per
epoch, batches by indexing); fit additionally tracks per-step loss and accuracy,
calls its (empty) callback list and checks the time budget. No validation pass.
Each configuration runs ``--repeats`` times, alternating bare and fit; medians are
reported. Run:

    .venv/bin/python benchmarks/train.py            # LeNet-5 on digits + FCN-8s on shapes
    .venv/bin/python benchmarks/train.py --quick    # fewer repeats
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from course_lib.data import Augment, load_digits, make_shapes_segmentation
from course_lib.models import fcn, lenet5
from course_lib.train import evaluate, fit, set_seed


def bare_loop(model, x, y, *, epochs: int, batch_size: int, seed: int) -> float:
    """The loop a learner would write by hand; returns seconds."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(x.shape[0], generator=gen)
        for i in range(0, x.shape[0], batch_size):
            idx = order[i : i + batch_size]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return time.perf_counter() - start


def with_fit(model, x, y, *, epochs: int, batch_size: int, seed: int) -> float:
    start = time.perf_counter()
    fit(
        model,
        (x, y),
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        device="cpu",
        progress=False,
    )
    return time.perf_counter() - start


def compare(name: str, make, x, y, *, epochs: int, batch_size: int, repeats: int) -> None:
    bare, ours = [], []
    for r in range(repeats):
        set_seed(r)
        bare.append(bare_loop(make(), x, y, epochs=epochs, batch_size=batch_size, seed=r))
        set_seed(r)
        ours.append(with_fit(make(), x, y, epochs=epochs, batch_size=batch_size, seed=r))
    mb, mf = statistics.median(bare), statistics.median(ours)
    print(
        f"{name:<28} bare {mb / epochs:6.3f} s/epoch   fit {mf / epochs:6.3f} s/epoch   "
        f"overhead {100 * (mf - mb) / mb:+5.1f}%   (medians of {repeats} runs x {epochs} epochs)"
    )


def digits_recipe() -> None:
    """The lesson 05 recipe: wall time and test accuracy over three seeds."""
    d = load_digits(device="cpu")
    for seed in range(3):
        set_seed(seed)
        model = lenet5()
        h = fit(
            model,
            d.train,
            d.val,
            epochs=30,
            lr=3e-3,
            scheduler="onecycle",
            transform=Augment(degrees=10, shift=0.08),
            seed=seed,
            device="cpu",
            progress=False,
        )
        acc = evaluate(model, d.test, device="cpu")["accuracy"]
        print(f"LeNet-5 digits recipe, seed {seed}: {h.wall_time:5.1f} s, test accuracy {acc:.3f}")


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
