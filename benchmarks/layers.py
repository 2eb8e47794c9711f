"""Epoch time of LeNet-5 built from the course's layers against LeNet-5 from torch.nn's.

Both networks are ``course_lib.models.lenet5`` (``layers="course"`` and
``layers="torch"``): the same architecture, the same seeded initial weights, trained
by ``course_lib.train.fit`` on the course digits (1,257 training images, batches of
64, Adam, no augmentation, no validation pass) for ``--epochs`` epochs. The course
version computes every conv, pool, ReLU and linear layer, forward and backward, with
the course's own ops (``course_lib.layers``); torch's uses its native kernels.

After one short warm-up run of each, the two run alternately ``--repeats`` times (the
first of each pair alternating too) so that both see the same load on a shared
machine. Printed: the seconds per epoch, median and range, of each, and the median
of the paired ratios course / torch (target: at most 3). Run from the repository root:

    .venv/bin/python benchmarks/layers.py               # 7 pairs, 1 thread
    .venv/bin/python benchmarks/layers.py --threads 2 --repeats 9
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from course_lib.data import load_digits  # noqa: E402
from course_lib.device import set_seed, torch_threads  # noqa: E402
from course_lib.models import lenet5  # noqa: E402
from course_lib.train import fit  # noqa: E402

LAYERS = ("torch", "course")


def seconds_per_epoch(layers: str, x, y, *, epochs: int, seed: int) -> tuple[float, float]:
    """Train a freshly seeded LeNet-5; return (seconds per epoch, last step's loss)."""
    set_seed(seed)
    model = lenet5(layers=layers)
    start = time.perf_counter()
    history = fit(
        model, (x, y), epochs=epochs, batch_size=64, seed=seed, device="cpu", progress=False
    )
    return (time.perf_counter() - start) / epochs, history.step_loss[-1]


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):7.3f}  [{min(values):.3f} - {max(values):.3f}]"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="alternating pairs (default 7)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per run (default 2)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args(argv)
    data = load_digits(device="cpu")
    x, y = data.train.tensors
    times: dict[str, list[float]] = {name: [] for name in LAYERS}
    ratios: list[float] = []
    with torch_threads(args.threads):
        for name in LAYERS:  # warm-up: allocator, lazy imports
            seconds_per_epoch(name, x[:256], y[:256], epochs=1, seed=0)
        for r in range(args.repeats):
            order = LAYERS if r % 2 == 0 else LAYERS[::-1]
            losses = {}
            for name in order:
                seconds, losses[name] = seconds_per_epoch(name, x, y, epochs=args.epochs, seed=r)
                times[name].append(seconds)
            ratios.append(times["course"][-1] / times["torch"][-1])
        threads = torch.get_num_threads()
    print(
        f"torch {torch.__version__}, {threads} thread(s), CPU; LeNet-5 on digits "
        f"({len(x)} images, batches of 64), {args.repeats} alternating pairs x "
        f"{args.epochs} epochs"
    )
    header = f"{'layers':<10}{'s/epoch median  [min - max]':>34}"
    print(header)
    print("-" * len(header))
    for name in LAYERS:
        print(f"{name:<10}{_spread(times[name]):>34}")
    print(
        f"\ncourse / torch: {statistics.median(ratios):.2f}x (median of paired ratios; "
        f"range {min(ratios):.2f}-{max(ratios):.2f}x; target <= 3x). Last losses: "
        f"torch {losses['torch']:.4f}, course {losses['course']:.4f}"
    )


if __name__ == "__main__":
    main()
