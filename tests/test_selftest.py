"""The environment self-test: passes here, reports (never raises) a failing check."""

from __future__ import annotations

import pytest
import torch

import course_lib.selftest as selftest


def test_report_passes_here_and_names_every_check():
    report = selftest.environment_report(device="cpu")
    assert report.ok, str(report)
    names = [c.name for c in report.checks]
    for dist in (
        "numpy",
        "torch",
        "scikit-learn",
        "matplotlib",
        "ipywidgets",
        "tqdm",
        "platformdirs",
    ):
        assert f"package {dist}" in names
    # the frontend is the learner's: Colab and VS Code have no JupyterLab, and need none
    assert "package jupyterlab" not in names
    for part in (
        "Python version",
        "notebook frontend",
        "device in use",
        "torch computes a convolution",
        "bundled photos load offline",
        "ipywidgets controls work",
    ):
        assert part in names
    assert report.device == "cpu"
    text = str(report)
    assert "All" in text and "passed" in text and "torch 2." in text
    html = report._repr_html_()
    assert "<table>" in html and "pass" in html


def test_required_packages_come_from_metadata():
    names = [name for name, _ in selftest.required_packages()]
    assert "torch" in names and "pytest" not in names  # dev extras are not needed to learn


def test_unknown_device_is_a_failed_check_not_an_exception():
    report = selftest.environment_report(device="gpu")
    assert not report.ok
    (failed,) = report.failures
    assert failed.name == "device in use" and "gpu" in failed.detail
    assert "FAIL" in str(report) and "1 of" in str(report)
    assert "FAIL" in report._repr_html_()


def test_missing_package_is_reported(monkeypatch):
    monkeypatch.setattr(
        selftest, "required_packages", lambda: (("numpy", ">=1.24"), ("no-such-package", ""))
    )
    report = selftest.environment_report(device="cpu")
    failed = {c.name: c.detail for c in report.failures}
    assert list(failed) == ["package no-such-package"]
    assert "No module named" in failed["package no-such-package"]


def test_version_outside_range_is_reported(monkeypatch):
    monkeypatch.setattr(selftest, "required_packages", lambda: (("numpy", "<1.0"),))
    report = selftest.environment_report(device="cpu")
    assert [c.name for c in report.failures] == ["package numpy"]
    assert "needs <1.0" in report.failures[0].detail


def test_a_device_of_the_wrong_type_is_a_type_error_naming_it():
    with pytest.raises(TypeError, match="device=3 must be None, a string"):
        selftest.environment_report(device=3)
    assert selftest.environment_report(device=torch.device("cpu")).device == "cpu"
