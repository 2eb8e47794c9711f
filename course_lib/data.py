"""Data for the lessons: shipped with installed packages or generated, never downloaded.

See ``data/README.md`` for every dataset's origin, licence, size and recipe.
"""

from __future__ import annotations

import numpy as np

PHOTOS = ("china", "flower")


def load_photo(name: str = "china", *, grey: bool = False) -> np.ndarray:
    """One of scikit-learn's two bundled photographs as floats in [0, 1].

    Returns shape (H, W, 3), or (H, W) with ``grey=True`` (ITU-R 601 luma weights).
    The JPEG files ship inside scikit-learn, so this works offline.
    """
    if name not in PHOTOS:
        raise ValueError(f"name={name!r} is not a bundled photo; expected one of {PHOTOS}")
    from sklearn.datasets import load_sample_image

    rgb = load_sample_image(f"{name}.jpg").astype(np.float64) / 255.0  # (H, W, 3)
    if grey:
        return rgb @ np.array([0.299, 0.587, 0.114])
    return rgb
