"""Shared test set-up: fixed seeds, headless matplotlib, GPU marker handling."""

from __future__ import annotations

import os

import matplotlib
import pytest
import torch
from hypothesis import settings

matplotlib.use("Agg")
# In CI, hypothesis draws the same examples every run: a red build is reproducible.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

CUDA = torch.cuda.is_available()


def pytest_collection_modifyitems(config, items):
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU; none is visible to torch here")
    for item in items:
        if "gpu" in item.keywords and not CUDA:
            item.add_marker(skip_gpu)


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)
    yield
