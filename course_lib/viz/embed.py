"""Two-dimensional maps of high-dimensional features, and a number for how well they separate.

Lesson 13 embeds raw pixels and a trained network's last-layer features with t-SNE
(van der Maaten & Hinton, 2008), PCA for contrast, and compares the two with
:func:`embedding_separation`. All three functions are deterministic for a seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from threadpoolctl import threadpool_limits  # installed with scikit-learn

from course_lib.validate import check_int, check_number
from course_lib.viz.plots import to_numpy

__all__ = ["tsne_embed", "pca_embed", "embedding_separation"]


def _features(features: Any, name: str = "features", *, at_least: int = 1) -> np.ndarray:
    """``(N, ...)`` numbers as a float64 ``(N, D)`` array, N >= ``at_least``, D >= 1."""
    f = to_numpy(features, name)
    if not (np.issubdtype(f.dtype, np.number) or f.dtype == bool):
        raise TypeError(f"{name} has dtype {f.dtype}; expected numbers")
    f = f.astype(np.float64)
    if f.ndim < 2:
        raise ValueError(f"{name} has shape {tuple(f.shape)}: expected (N, D) or (N, C, H, W)")
    if len(f) < at_least or f[0].size == 0:
        raise ValueError(
            f"{name} has shape {tuple(f.shape)}: expected at least {at_least} points "
            "with at least one value each"
        )
    if not np.all(np.isfinite(f)):
        raise ValueError(f"{name} contain NaN or infinite values")
    return f.reshape(len(f), -1)  # (N, ...) -> (N, D)


def pca_embed(features: Any, *, n_components: int = 2) -> np.ndarray:
    """Project ``(N, ...)`` features (flattened to ``(N, D)``) onto their top principal axes.

    Returns ``(N, n_components)``. Uses an exact SVD, so the result does not depend on
    a seed (up to the usual sign convention, which scikit-learn fixes).
    """

    f = _features(features)
    n_components = check_int("n_components", n_components, minimum=1)
    if not 1 <= n_components <= min(f.shape):
        raise ValueError(
            f"n_components={n_components!r} must be between 1 and min(N, D) = {min(f.shape)} "
            f"for features of {f.shape[0]} points with {f.shape[1]} values each"
        )
    return PCA(n_components=n_components, svd_solver="full").fit_transform(f)


def tsne_embed(
    features: Any,
    *,
    seed: int = 0,
    perplexity: float = 30.0,
    pca_first: int | None = 50,
    max_iter: int = 1000,
    threads: int | None = 1,
) -> np.ndarray:
    """t-SNE map of ``(N, ...)`` features (flattened to ``(N, D)``) to ``(N, 2)``.

    With ``pca_first`` and D larger than it, the features are first reduced to that many
    principal components (the usual speed-up; it also removes noise directions).
    ``perplexity`` (roughly the number of neighbours each point attends to) must be
    below N. Initialised from PCA with ``random_state=seed``, so the same seed gives
    the same map.

    ``threads``: OpenMP threads for scikit-learn's Barnes-Hut t-SNE (``None``: all
    cores). One by default: on a busy shared CPU its spinning threads made 1,000
    points take about 130 s instead of 15 s in a trial on the course machine.
    """

    f = _features(features, at_least=2)
    n = len(f)
    seed = check_int("seed", seed, minimum=0, maximum=2**32 - 1)
    perplexity = check_number("perplexity", perplexity, positive=True)
    what = "an int >= 250 (scikit-learn's minimum)"
    max_iter = check_int("max_iter", max_iter, minimum=250, what=what)
    if threads is not None:  # OpenMP crashes on absurd thread counts, so cap them
        threads = check_int("threads", threads, minimum=1, maximum=1024)
    if not 0 < perplexity < n:
        raise ValueError(
            f"perplexity={perplexity!r} must be positive and smaller than the number of points "
            f"in features, N={n}"
        )
    largest = float(np.abs(f).max()) if f.size else 0.0
    if largest > 1e8 or 0.0 < largest < 1e-8:
        # scikit-learn's t-SNE crashes the process (or fails deep inside) on features of
        # extreme scale; one global factor changes no distance ratio, so no neighbourhood
        f = f / largest
    if f.size == 0 or float(np.ptp(f, axis=0).max()) == 0.0:
        raise ValueError(
            f"features has shape {tuple(f.shape)} with all {n} points equal: t-SNE needs "
            "points that differ (it crashes on identical ones)"
        )
    if pca_first is not None:
        pca_first = check_int("pca_first", pca_first, what="an int >= 2 or None")
        if pca_first < 2:
            raise ValueError(f"pca_first={pca_first!r} must be at least 2, or None to skip PCA")
        if f.shape[1] > pca_first and n > pca_first:
            f = PCA(n_components=pca_first, svd_solver="full").fit_transform(f)  # (N, pca_first)
    tsne = TSNE(
        n_components=2,
        perplexity=perplexity,
        init="pca",
        learning_rate="auto",
        random_state=seed,
        max_iter=max_iter,
    )
    with threadpool_limits(limits=threads):
        return tsne.fit_transform(f)  # (N, 2)


def embedding_separation(
    embedding: Any, labels: Any, *, k: int = 5, folds: int = 5, seed: int = 0
) -> float:
    """How well classes separate in an embedding: cross-validated k-NN accuracy, in [0, 1].

    Each point's class is predicted by a majority vote of its ``k`` nearest neighbours
    among the other folds' points (stratified ``folds``-fold split, shuffled with
    ``seed``); the score is the mean accuracy. 1.0 means every neighbourhood is pure;
    chance is about the share of the largest class. Works for any ``(N, d)`` embedding
    (or raw ``(N, ...)`` features, flattened). Note that a t-SNE map was fitted on all
    points, so this measures separation in the map, not generalisation to new images.
    """
    e = _features(embedding, "embedding")
    k = check_int("k", k, minimum=1)
    folds = check_int("folds", folds, minimum=2)
    seed = check_int("seed", seed, minimum=0, maximum=2**32 - 1)
    y = to_numpy(labels, "labels").reshape(-1)
    if len(y) != len(e):
        raise ValueError(f"labels has {len(y)} entries but embedding has {len(e)} points")
    _, counts = np.unique(y, return_counts=True)
    if len(counts) < 2:
        raise ValueError("labels hold a single class: separation needs at least two")
    if counts.min() < folds:
        raise ValueError(
            f"folds={folds!r} must be an int >= 2 and at most the smallest class size ({counts.min()})"
        )
    n_train = len(e) - int(np.ceil(len(e) / folds))
    if not 1 <= k <= n_train:
        raise ValueError(f"k={k!r} must be an int between 1 and the training fold size {n_train}")
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    scores = cross_val_score(KNeighborsClassifier(n_neighbors=k), e, y, cv=splitter)
    return float(np.mean(scores))
