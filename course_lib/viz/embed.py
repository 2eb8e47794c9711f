"""Two-dimensional maps of high-dimensional features, and a number for how well they separate.

Lesson 13 embeds raw pixels and a trained network's last-layer features with t-SNE
(van der Maaten & Hinton, 2008), PCA for contrast, and compares the two with
:func:`embedding_separation`. All three functions are deterministic for a seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_lib.viz.plots import to_numpy

__all__ = ["tsne_embed", "pca_embed", "embedding_separation"]


def _features(features: Any) -> np.ndarray:
    f = to_numpy(features, "features").astype(np.float64)
    if f.ndim < 2:
        raise ValueError(f"features has shape {tuple(f.shape)}: expected (N, D) or (N, C, H, W)")
    if not np.all(np.isfinite(f)):
        raise ValueError("features contain NaN or infinite values")
    return f.reshape(len(f), -1)  # (N, ...) -> (N, D)


def pca_embed(features: Any, *, n_components: int = 2) -> np.ndarray:
    """Project ``(N, ...)`` features (flattened to ``(N, D)``) onto their top principal axes.

    Returns ``(N, n_components)``. Uses an exact SVD, so the result does not depend on
    a seed (up to the usual sign convention, which scikit-learn fixes).
    """
    from sklearn.decomposition import PCA  # imported on use: scikit-learn takes seconds to load

    f = _features(features)
    if not 1 <= n_components <= min(f.shape):
        raise ValueError(
            f"n_components={n_components!r} must be between 1 and min(N, D) = {min(f.shape)}"
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
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    f = _features(features)
    n = len(f)
    if not 0 < perplexity < n:
        raise ValueError(
            f"perplexity={perplexity!r} must be positive and smaller than the number of points N={n}"
        )
    if pca_first is not None:
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
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    e = _features(embedding)
    y = to_numpy(labels, "labels").reshape(-1)
    if len(y) != len(e):
        raise ValueError(f"labels has {len(y)} entries but embedding has {len(e)} points")
    _, counts = np.unique(y, return_counts=True)
    if len(counts) < 2:
        raise ValueError("labels hold a single class: separation needs at least two")
    if not isinstance(folds, int) or folds < 2 or counts.min() < folds:
        raise ValueError(
            f"folds={folds!r} must be an int >= 2 and at most the smallest class size ({counts.min()})"
        )
    n_train = len(e) - int(np.ceil(len(e) / folds))
    if not isinstance(k, int) or not 1 <= k <= n_train:
        raise ValueError(f"k={k!r} must be an int between 1 and the training fold size {n_train}")
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    scores = cross_val_score(KNeighborsClassifier(n_neighbors=k), e, y, cv=splitter)
    return float(np.mean(scores))
