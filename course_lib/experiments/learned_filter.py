"""Lesson 01's experiment: gradient descent learns an edge filter from examples.

Claim: starting from random numbers, plain gradient descent on one 3x3 kernel
recovers a hand-made edge filter (Sobel, say) from pairs (photo crop, its edge map)
alone; the learned kernel's cosine similarity with the target exceeds 0.9.

The data: square crops of scikit-learn's two bundled photos (offline), each crop
shifted to mean 0 and all scaled to standard deviation 1, and their edge maps made
by filtering with the target kernel (:func:`course_lib.ops.conv2d`, valid mode).
The model: the same ``conv2d`` with the unknown kernel W. The loss: mean squared
difference between ``conv2d(X, W)`` and the edge map. The gradient comes from torch's
autograd.

Why the answer is unique: the loss is a quadratic in the 9 weights,
mean over patches p of (p . W - p . K)^2 = (W - K)^T C (W - K), with C = E[p p^T]
the 9x9 uncentred second-moment matrix of the crops' 3x3 patches (the mean is not
subtracted, so it is not a covariance). When every eigenvalue of C is positive, K is
its one and only minimum. Crops whose rows are constant (``data="stripes"``) make
six eigenvalues zero: only the kernel's row sums can be learned, and gradient
descent keeps whatever the random start had in the other six directions.

Source: lesson 01; the idea that filter weights are learned, not hand-made, is from
Andrew Ng's "Convolutional Neural Networks" notes (seed 004).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from course_lib.data import PHOTOS, load_photo
from course_lib.device import resolve_device
from course_lib.filters import KERNEL_NAMES, kernel
from course_lib.ops import conv2d
from course_lib.validate import as_float_array, check_choice, check_int, check_number, check_seed

__all__ = [
    "DATA_KINDS",
    "LearnedFilterResult",
    "cosine_similarity",
    "learn_filter",
    "make_edge_pairs",
    "patch_covariance_eigenvalues",
]

DATA_KINDS = ("photos", "stripes")


@dataclass(frozen=True)
class LearnedFilterResult:
    """What :func:`learn_filter` measured. Kernels are (3, 3) float64 arrays.

    losses[t] and cosines[t] are the loss and the cosine similarity with the target
    after t steps (so index 0 is the random start, and there are steps + 1 of each); ``snapshots`` holds
    (step, kernel) pairs along the way, for pictures.
    """

    target_name: str
    target: np.ndarray
    initial: np.ndarray
    learned: np.ndarray
    losses: np.ndarray
    cosines: np.ndarray
    snapshots: tuple[tuple[int, np.ndarray], ...]
    eigenvalues: np.ndarray
    steps: int
    lr: float
    n_pairs: int
    data: str
    seconds: float

    @property
    def cosine(self) -> float:
        """Cosine similarity between the learned and the target kernel."""
        return float(self.cosines[-1])

    @property
    def max_abs_error(self) -> float:
        """Largest difference between a learned and a target weight."""
        return float(np.abs(self.learned - self.target).max())

    @property
    def claim_holds(self) -> bool:
        """The lesson's claim: from a start that is not already close (cosine < 0.9),
        gradient descent learns a kernel with cosine similarity > 0.9 to the target."""
        return self.cosines[0] < 0.9 < self.cosine

    def sentence(self) -> str:
        return (
            f"Experiment: from a random start, {self.steps} steps of gradient descent on "
            f"{self.n_pairs} (crop, edge map) pairs ({self.data}) learned a 3x3 kernel whose "
            f"cosine similarity with {self.target_name} is {self.cosine:.4f} (it started at "
            f"{self.cosines[0]:+.3f}); the largest weight error is {self.max_abs_error:.3f} "
            f"and the loss fell from {self.losses[0]:.3g} to {self.losses[-1]:.3g}."
        )


def cosine_similarity(a: Any, b: Any) -> float:
    """cos(angle) between two kernels seen as vectors: sum(a*b) / (|a| |b|)."""
    a, b = as_float_array("a", a), as_float_array("b", b)
    if a.shape != b.shape:
        raise ValueError(
            f"a has shape {a.shape} but b has shape {b.shape}; expected two kernels of one shape"
        )
    if a.size == 0:
        raise ValueError(f"a and b have shape {a.shape}, which is empty; expected kernels")
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    for name, norm in (("a", na), ("b", nb)):
        if norm == 0:
            raise ValueError(f"{name} is all zero; cosine similarity is undefined for it")
    return float((a * b).sum() / (na * nb))


def _dtype_for(device: torch.device) -> torch.dtype:
    return torch.float32 if device.type == "mps" else torch.float64  # MPS has no float64


def make_edge_pairs(
    target: Any,
    *,
    n_pairs: int = 16,
    crop_size: int = 24,
    data: str = "photos",
    seed: int = 0,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Training pairs: photo crops X (N, 1, S, S) and edge maps Y (N, 1, S-2, S-2).

    Crops come alternately from the bundled photos at positions drawn from ``seed``;
    each is shifted to mean 0, then all are scaled together to standard deviation 1.
    With ``data="stripes"`` every crop row is replaced by its mean (rows constant).
    Y = conv2d(X, target) in valid mode, with the library's ``conv2d``.
    """
    check_choice("data", data, DATA_KINDS)
    n_pairs = check_int("n_pairs", n_pairs, minimum=1)
    crop_size = check_int(
        "crop_size", crop_size, minimum=3, maximum=400, what="an int from 3 to 400 (pixels)"
    )
    seed = check_seed("seed", seed)
    device = resolve_device(device)
    dtype = _dtype_for(device)
    tgt = torch.from_numpy(as_float_array("target", target)).to(device=device, dtype=dtype)
    if tgt.shape != (3, 3):
        raise ValueError(f"target has shape {tuple(tgt.shape)}; expected a (3, 3) kernel")
    gen = torch.Generator().manual_seed(seed)
    photos = [torch.from_numpy(load_photo(name, grey=True)) for name in PHOTOS]
    crops = []
    for i in range(n_pairs):
        photo = photos[i % len(photos)]
        r = int(torch.randint(0, photo.shape[0] - crop_size + 1, (1,), generator=gen))
        c = int(torch.randint(0, photo.shape[1] - crop_size + 1, (1,), generator=gen))
        crops.append(photo[r : r + crop_size, c : c + crop_size])
    x = torch.stack(crops)[:, None]  # (N, 1, S, S)
    if data == "stripes":
        x = x.mean(dim=3, keepdim=True).expand_as(x).clone()  # every row constant
    x = x - x.mean(dim=(2, 3), keepdim=True)
    x = (x / x.std()).to(device=device, dtype=dtype)
    y = conv2d(x, tgt[None, None])  # (N, 1, S-2, S-2)
    return x, y


def patch_covariance_eigenvalues(images: Any, size: int = 3) -> np.ndarray:
    """Eigenvalues (ascending) of the uncentred second-moment matrix E[p p^T] of all patches.

    p runs over every size x size patch, flattened; the mean is not subtracted.

    images: (N, 1, H, W). All positive means exactly one kernel fits the data
    perfectly; k zeros mean a k-dimensional family of kernels fits it equally well.
    """
    x = torch.from_numpy(as_float_array("images", images))
    if x.ndim != 4 or x.shape[1] != 1 or x.numel() == 0:
        raise ValueError(f"images have shape {tuple(x.shape)}; expected (N, 1, H, W), not empty")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("images hold NaN or infinite values; expected finite pixels")
    side = min(x.shape[2:])
    size = check_int(
        "size", size, minimum=1, maximum=side, what=f"an int in [1, {side}] (the patch side)"
    )
    patches = x[:, 0].unfold(1, size, 1).unfold(2, size, 1)  # (N, H', W', size, size)
    patches = patches.reshape(-1, size * size)  # (N*H'*W', size*size)
    cov = patches.T @ patches / patches.shape[0]  # (size*size, size*size)
    return torch.linalg.eigvalsh(cov).numpy()


def learn_filter(
    target: str | Any = "sobel_horizontal",
    *,
    steps: int = 200,
    lr: float = 0.1,
    n_pairs: int = 16,
    crop_size: int = 24,
    data: str = "photos",
    init_scale: float = 0.5,
    seed: int = 0,
    snapshot_every: int = 25,
    device: torch.device | str | None = None,
) -> LearnedFilterResult:
    """Learn a 3x3 kernel by plain gradient descent on (crop, edge map) pairs.

    target: a kernel name from :mod:`course_lib.filters` or a (3, 3) array.
    The start is init_scale * N(0, 1) noise drawn from ``seed``; each step is
    W <- W - lr * dL/dW with L the mean squared error. Deterministic for a given
    seed and device. Returns a :class:`LearnedFilterResult`.
    """
    steps = check_int("steps", steps, minimum=1)
    lr = check_number("lr", lr, positive=True)
    snapshot_every = check_int("snapshot_every", snapshot_every, minimum=1)
    init_scale = check_number("init_scale", init_scale, positive=True)
    seed = check_seed("seed", seed)
    if isinstance(target, str):
        name, target_k = target, kernel(check_choice("target", target, KERNEL_NAMES))
    else:
        name, target_k = "the target kernel", as_float_array("target", target)
    device = resolve_device(device)
    dtype = _dtype_for(device)
    start = time.perf_counter()
    x, y = make_edge_pairs(
        target_k, n_pairs=n_pairs, crop_size=crop_size, data=data, seed=seed, device=device
    )
    gen = torch.Generator().manual_seed(seed + 1)
    w0 = init_scale * torch.randn(3, 3, generator=gen, dtype=torch.float64)
    w = w0.to(device=device, dtype=dtype, copy=True).requires_grad_(True)
    losses, cosines, snapshots = [], [], []
    for step in range(steps + 1):
        current = w.detach().cpu().numpy().astype(np.float64)
        cosines.append(cosine_similarity(current, target_k))
        if step % snapshot_every == 0 or step == steps:
            snapshots.append((step, current))
        loss = ((conv2d(x, w[None, None]) - y) ** 2).mean()  # (N, 1, S-2, S-2) -> scalar
        losses.append(float(loss.detach()))
        if step == steps:
            break
        (grad,) = torch.autograd.grad(loss, w)
        with torch.no_grad():
            w -= lr * grad
    seconds = time.perf_counter() - start
    return LearnedFilterResult(
        target_name=name,
        target=target_k,
        initial=w0.numpy(),
        learned=w.detach().cpu().numpy().astype(np.float64),
        losses=np.array(losses),
        cosines=np.array(cosines),
        snapshots=tuple(snapshots),
        eigenvalues=patch_covariance_eigenvalues(x),
        steps=steps,
        lr=float(lr),
        n_pairs=n_pairs,
        data=data,
        seconds=seconds,
    )
