"""Device choice and seeding."""

from __future__ import annotations

import pytest
import torch

from course_lib.train import get_device, set_seed


def test_cpu_can_be_forced_by_environment(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")


def test_default_is_best_available(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available() and torch.backends.mps.is_available():
        expected = "mps"
    assert get_device().type == expected


def test_unknown_device_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "tpu")
    with pytest.raises(ValueError, match="'tpu'.*cpu, cuda, mps"):
        get_device()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_missing_cuda_is_a_clear_error():
    with pytest.raises(ValueError, match="no CUDA GPU"):
        get_device("cuda")


def test_set_seed_repeats_random_draws():
    set_seed(3)
    a = torch.randn(5)
    set_seed(3)
    assert torch.equal(a, torch.randn(5))
    g1, g2 = set_seed(4), set_seed(4)
    assert torch.equal(torch.rand(3, generator=g1), torch.rand(3, generator=g2))


def test_set_seed_rejects_bad_seed():
    with pytest.raises(ValueError, match="seed=-1"):
        set_seed(-1)
