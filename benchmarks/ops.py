"""Speed and memory of the from-scratch ops against torch's own kernels (CPU, and CUDA if present).

Run from the repository root:

    .venv/bin/python benchmarks/ops.py            # about half a minute on a laptop
    .venv/bin/python benchmarks/ops.py --quick    # fewer repeats

Prints a table: for each op, the median time of our version and of torch's (each
median over ``--repeats`` runs), and their ratio. Targets (issue 3): conv2d within 3x
of ``F.conv2d`` for (32, 16, 32, 32) * (32, 16, 3, 3), padding 1, for numpy and torch
inputs; conv2d's peak memory within 3x of its im2col matrix. The naive four-loop
conv is timed on a smaller batch (``--naive-batch``, default 2) because at the full
size it takes tens of seconds; its slowdown is per image, against ``F.conv2d`` on the
same small batch.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from course_lib.ops import (  # noqa: E402
    avg_pool2d,
    batch_norm,
    conv2d,
    conv2d_backward,
    conv2d_naive,
    conv_transpose2d,
    max_pool2d,
)


def median_time(fn, repeats: int, *, sync=None) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeats`` runs, after one warm-up."""
    return paired_medians(fn, None, repeats, sync=sync)[0]


def paired_medians(ours, theirs, repeats: int, *, sync=None) -> tuple[float, float]:
    """Median times of two functions, run alternately so that both see the same load."""
    fns = [f for f in (ours, theirs) if f is not None]
    times: list[list[float]] = [[] for _ in fns]
    for f in fns:  # warm-up
        f()
    if sync:
        sync()
    for _ in range(repeats):
        for k, f in enumerate(fns):
            start = time.perf_counter()
            f()
            if sync:
                sync()
            times[k].append(time.perf_counter() - start)
    medians = [statistics.median(t) for t in times]
    return medians[0], (medians[1] if len(medians) > 1 else float("nan"))


def rows_for(device: str, dtype: torch.dtype, repeats: int):
    """(label, ours_s, torch_s) for the ops on one device and dtype."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 16, 32, 32, generator=g, dtype=dtype)
    w = torch.randn(32, 16, 3, 3, generator=g, dtype=dtype)
    b = torch.randn(32, generator=g, dtype=dtype)
    sync = torch.cuda.synchronize if device == "cuda" else None
    xt, wt, bt = x.to(device), w.to(device), b.to(device)
    out = F.conv2d(xt, wt, bt, padding=1)
    dout = torch.randn(out.shape, generator=g, dtype=dtype).to(device)
    gamma, beta = (
        torch.ones(16, dtype=dtype, device=device),
        torch.zeros(16, dtype=dtype, device=device),
    )
    rm, rv = torch.zeros_like(gamma), torch.ones_like(gamma)
    wT = torch.randn(16, 8, 4, 4, generator=g, dtype=dtype).to(device)

    def conv_autograd_backward():
        xg, wg = xt.detach().requires_grad_(), wt.detach().requires_grad_()
        F.conv2d(xg, wg, padding=1).backward(dout)

    cases = [
        (
            "conv2d, torch input",
            lambda: conv2d(xt, wt, bt, padding=1),
            lambda: F.conv2d(xt, wt, bt, padding=1),
        ),
        (
            "conv2d_backward vs autograd",
            lambda: conv2d_backward(dout, xt, wt, padding=1),
            conv_autograd_backward,
        ),
        ("max_pool2d 2x2", lambda: max_pool2d(xt, 2), lambda: F.max_pool2d(xt, 2)),
        ("avg_pool2d 2x2", lambda: avg_pool2d(xt, 2), lambda: F.avg_pool2d(xt, 2)),
        (
            "batch_norm (training)",
            lambda: batch_norm(xt, gamma, beta, rm, rv, training=True),
            lambda: F.batch_norm(xt, rm.clone(), rv.clone(), gamma, beta, training=True),
        ),
        (
            "conv_transpose2d 2x",
            lambda: conv_transpose2d(xt, wT, stride=2, padding=1),
            lambda: F.conv_transpose2d(xt, wT, stride=2, padding=1),
        ),
    ]
    if device == "cpu":
        xn, wn, bn = x.numpy(), w.numpy(), b.numpy()
        cases.insert(
            0,
            (
                "conv2d, numpy input",
                lambda: conv2d(xn, wn, bn, padding=1),
                lambda: F.conv2d(x, w, b, padding=1),
            ),
        )
    for label, ours, theirs in cases:
        yield label, *paired_medians(ours, theirs, repeats, sync=sync)


def naive_row(batch: int, dtype: torch.dtype, repeats: int):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(batch, 16, 32, 32, generator=g, dtype=dtype)
    w = torch.randn(32, 16, 3, 3, generator=g, dtype=dtype)
    xn, wn = x.numpy(), w.numpy()
    ours = median_time(lambda: conv2d_naive(xn, wn, padding=1), max(1, repeats // 3))
    fast, theirs = paired_medians(
        lambda: conv2d(xn, wn, padding=1), lambda: F.conv2d(x, w, padding=1), repeats
    )
    return ours, fast, theirs


def peak_memory_ratio(dtype) -> tuple[float, float]:
    """Peak bytes numpy conv2d allocates (tracemalloc) / bytes of its im2col matrix."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 16, 32, 32)).astype(dtype)
    w = rng.standard_normal((32, 16, 3, 3)).astype(dtype)
    im2col = 32 * (16 * 3 * 3) * (32 * 32) * x.itemsize  # (N, C*KH*KW, OH*OW)
    tracemalloc.start()
    tracemalloc.reset_peak()
    out = conv2d(x, w, padding=1)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del out
    return peak / 2**20, peak / im2col


def cuda_peak_ratio(dtype) -> float:
    """Peak CUDA bytes during conv2d on a torch tensor (beyond its inputs) / im2col bytes."""
    x = torch.randn(32, 16, 32, 32, dtype=dtype, device="cuda")
    w = torch.randn(32, 16, 3, 3, dtype=dtype, device="cuda")
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    conv2d(x, w, padding=1)
    torch.cuda.synchronize()
    im2col = 32 * 144 * 1024 * x.element_size()
    return (torch.cuda.max_memory_allocated() - base) / im2col


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--naive-batch", type=int, default=2)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--quick", action="store_true", help="5 repeats")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    args = parser.parse_args(argv)
    repeats = 5 if args.quick else args.repeats
    dtype = getattr(torch, args.dtype)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, numpy {np.__version__}, {args.dtype}, "
        f"{torch.get_num_threads()} torch threads, median of {repeats} runs"
    )
    print("conv: x (32, 16, 32, 32), w (32, 16, 3, 3), padding 1\n")
    header = f"{'op':<34}{'device':>7}{'ours ms':>10}{'torch ms':>10}{'ratio':>8}"
    print(header)
    print("-" * len(header))
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        for label, ours, theirs in rows_for(device, dtype, repeats):
            print(
                f"{label:<34}{device:>7}{ours * 1e3:>10.2f}{theirs * 1e3:>10.2f}{ours / theirs:>7.1f}x"
            )
    naive, fast, theirs = naive_row(args.naive_batch, dtype, repeats)
    print(
        f"\nnaive four-loop conv2d, batch {args.naive_batch} (numpy, cpu): {naive * 1e3:,.0f} ms; "
        f"vectorized conv2d {fast * 1e3:.2f} ms; F.conv2d {theirs * 1e3:.2f} ms"
    )
    print(
        f"  naive is {naive / theirs:,.0f}x slower than F.conv2d and {naive / fast:,.0f}x slower than conv2d"
    )
    peak_mib, ratio = peak_memory_ratio(np.dtype(args.dtype))
    print(
        f"\npeak memory of conv2d (numpy, tracemalloc): {peak_mib:.1f} MiB = {ratio:.2f}x the im2col matrix"
    )
    if torch.cuda.is_available():
        print(
            f"peak CUDA memory of conv2d (torch): {cuda_peak_ratio(dtype):.2f}x the im2col matrix"
        )


if __name__ == "__main__":
    main()
