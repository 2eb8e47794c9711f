"""Shared test set-up: fixed seeds, headless matplotlib, GPU marker handling, and the
learner's progress record kept in a throw-away folder (never the user's own)."""

from __future__ import annotations

import os
import tempfile

import matplotlib
import pytest
import torch
from hypothesis import settings

matplotlib.use("Agg")
# Every check a test runs appends to the progress record: keep it out of the user's
# folder, here and in the kernels the notebook tests start (they inherit os.environ).
# `make test` sets its own throw-away folder first; this covers a bare pytest run.
if not os.environ.get("COURSE_PROGRESS_DIR"):
    os.environ["COURSE_PROGRESS_DIR"] = tempfile.mkdtemp(prefix="course-progress-")
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
