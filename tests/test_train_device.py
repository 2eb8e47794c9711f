"""Device choice and seeding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_lib.device import get_device, set_seed, torch_threads


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


def test_set_seed_refuses_seeds_numpy_cannot_take_and_takes_numpy_bools():
    with pytest.raises(ValueError, match=r"seed=4294967296 must be an int seed in \[0, 2\*\*32 - 1\]"):
        set_seed(2**32)
    g = set_seed(2**32 - 1, deterministic=np.bool_(False))
    assert torch.equal(torch.rand(3, generator=g), torch.rand(3, generator=set_seed(2**32 - 1)))
    with pytest.raises(TypeError, match="deterministic=1 must be True or False"):
        set_seed(1, deterministic=1)


def test_torch_threads_names_its_parameter_and_refuses_huge_counts():
    old = torch.get_num_threads()
    with torch_threads(num_threads=np.int64(1)):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == old
    with pytest.raises(ValueError, match=r"num_threads=2000 must be an int in \[1, 1024\]"):
        with torch_threads(2000):
            pass
    with pytest.raises(TypeError, match="num_threads=2.5"):
        with torch_threads(2.5):
            pass
    assert torch.get_num_threads() == old
