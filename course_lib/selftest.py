"""The environment self-test that lesson 00 runs: is everything the course needs here?

:func:`environment_report` runs a handful of quick checks (each well under a second
once the packages are imported) and returns an :class:`EnvironmentReport`: one line
per check with pass/fail and a detail, ``.ok`` when all passed, shown as a table in
a notebook and as plain text in a terminal
(``python -m course_lib.selftest``). A check that fails never raises: it says what
went wrong and how to fix it.
"""

from __future__ import annotations

import html
import importlib
import importlib.metadata as metadata
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from course_lib.frontend import detect_frontend, frontend_name, widgets_render

__all__ = ["Check", "EnvironmentReport", "environment_report", "required_packages"]

MIN_PYTHON = (3, 11)
# Distribution name -> module name, where they differ.
_MODULE_OF = {"scikit-learn": "sklearn", "array-api-compat": "array_api_compat"}
# Used only when course_lib's own metadata is missing (a checkout that was never installed).
_FALLBACK_REQUIREMENTS = (
    "numpy",
    "torch",
    "array-api-compat",
    "scikit-learn",
    "matplotlib",
    "ipywidgets",
    "tqdm",
    "platformdirs",
)


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    name: str
    ok: bool
    detail: str
    seconds: float = 0.0


@dataclass(frozen=True)
class EnvironmentReport:
    """All checks, the device the course will compute on, and whether all passed."""

    checks: tuple[Check, ...]
    device: str

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.ok)

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        width = max(len(c.name) for c in self.checks)
        lines = [
            f"[{'PASS' if c.ok else 'FAIL'}] {c.name:<{width}}  {c.detail}" for c in self.checks
        ]
        verdict = (
            f"All {len(self.checks)} checks passed; the course computes on {self.device}."
            if self.ok
            else f"{len(self.failures)} of {len(self.checks)} checks failed: see README, Troubleshooting."
        )
        return "\n".join([*lines, verdict])

    __repr__ = __str__

    def _repr_html_(self) -> str:
        rows = []
        for c in self.checks:
            colour, mark = ("#1b7f3b", "&#10004; pass") if c.ok else ("#b3261e", "&#10008; FAIL")
            rows.append(
                f'<tr><td style="color:{colour};white-space:nowrap">{mark}</td>'
                f"<td style='text-align:left'>{html.escape(c.name)}</td>"
                f"<td style='text-align:left'>{html.escape(c.detail)}</td></tr>"
            )
        verdict = str(self).splitlines()[-1]
        colour = "#1b7f3b" if self.ok else "#b3261e"
        return (
            '<div class="course-selftest"><table>'
            "<tr><th></th><th style='text-align:left'>check</th>"
            "<th style='text-align:left'>detail</th></tr>"
            + "".join(rows)
            + f'</table><p style="color:{colour}"><b>{html.escape(verdict)}</b></p></div>'
        )


def required_packages() -> tuple[tuple[str, str], ...]:
    """(distribution name, version range) for every package the course needs to run.

    Read from course_lib's installed metadata (its ``pyproject.toml`` dependencies,
    without the development extras).
    """
    try:
        requirements = metadata.requires("course_lib") or []
    except metadata.PackageNotFoundError:
        return tuple((name, "") for name in _FALLBACK_REQUIREMENTS)
    out = []
    for req in requirements:
        if "extra ==" in req:
            continue
        match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*([^;]*)", req)
        if match:
            out.append((match.group(1), match.group(2).strip()))
    return tuple(out)


def _run(name: str, fn: Callable[[], str]) -> Check:
    start = time.perf_counter()
    try:
        detail = fn()
        ok = True
    except Exception as exc:  # a failed check is reported, never raised
        detail, ok = f"{type(exc).__name__}: {exc}", False
    return Check(name, ok, detail, time.perf_counter() - start)


def _check_python() -> str:
    version = ".".join(str(v) for v in sys.version_info[:3])
    if sys.version_info[:2] < MIN_PYTHON:
        raise RuntimeError(
            f"Python {version} is too old; the course needs {MIN_PYTHON[0]}.{MIN_PYTHON[1]} or newer"
        )
    return f"Python {version}"


def _check_package(dist: str, spec: str) -> Callable[[], str]:
    def check() -> str:
        module = _MODULE_OF.get(dist, dist.replace("-", "_"))
        importlib.import_module(module)
        version = metadata.version(dist)
        if spec:
            try:
                from packaging.specifiers import SpecifierSet
            except ImportError:  # packaging is not a course dependency; skip the range test
                return f"{dist} {version} (imports as {module})"
            if not SpecifierSet(spec).contains(version, prereleases=True):
                raise RuntimeError(f"{dist} {version} is installed, but the course needs {spec}")
            return f"{dist} {version} (needs {spec})"
        return f"{dist} {version}"

    return check


def _check_ipywidgets() -> str:
    import ipywidgets

    slider = ipywidgets.IntSlider(value=3, min=0, max=10)
    slider.value = 7
    if slider.value != 7:
        raise RuntimeError("an IntSlider did not keep the value it was given")
    return f"ipywidgets {ipywidgets.__version__}: controls can be created and changed"


def _check_conv(device_name: str) -> Callable[[], str]:
    def check() -> str:
        import torch

        device = torch.device(device_name)
        # Lesson 01's worked example: a bright left half next to a dark right half.
        image = torch.tensor([[10.0, 10, 10, 0, 0, 0]] * 6, device=device)  # (6, 6)
        kernel = torch.tensor([[1.0, 0, -1]] * 3, device=device)  # (3, 3)
        out = torch.nn.functional.conv2d(image[None, None], kernel[None, None])[0, 0]  # (4, 4)
        expected = np.array([[0.0, 30, 30, 0]] * 4)
        got = out.cpu().double().numpy()
        if got.shape != expected.shape or not np.allclose(got, expected, atol=1e-4):
            raise RuntimeError(f"6x6 * 3x3 on {device} gave\n{got}\nexpected\n{expected}")
        return f"6x6 * 3x3 -> 4x4 edge example is right on {device}"

    return check


def _torch_build(torch: Any) -> str:
    cuda = torch.version.cuda
    build = f"CUDA {cuda} build" if cuda else "CPU-only build"
    return f"torch {torch.__version__.split('+')[0]}, {build}"


def _check_device(device_name: str) -> str:
    import torch

    if device_name.startswith("cuda"):
        name = torch.cuda.get_device_name(torch.device(device_name))
        return f"{device_name}: {name} ({_torch_build(torch)})"
    if device_name.startswith("mps"):
        return f"{device_name}: Apple-silicon GPU (Metal) ({_torch_build(torch)})"
    hint = (
        "a CPU-only torch cannot see a GPU; fine, every lesson is sized for a CPU"
        if torch.version.cuda is None
        else "no CUDA GPU visible (or COURSE_DEVICE=cpu); every lesson is sized for a CPU"
    )
    return f"{device_name} ({_torch_build(torch)}): {hint}"


def _check_frontend() -> str:
    frontend = detect_frontend()
    return f"{frontend_name(frontend)}: {widgets_render(frontend)[1]}"


def _check_photos() -> str:
    from course_lib.data import PHOTOS, load_photo

    shapes = []
    for name in PHOTOS:
        photo = load_photo(name)
        if photo.ndim != 3 or photo.shape[2] != 3:
            raise RuntimeError(f"photo {name!r} has shape {photo.shape}; expected (H, W, 3)")
        if not (0.0 <= photo.min() and photo.max() <= 1.0):
            raise RuntimeError(f"photo {name!r} has values outside [0, 1]")
        shapes.append(f"{name} {photo.shape[0]}x{photo.shape[1]}")
    return "bundled with scikit-learn, no download: " + ", ".join(shapes)


def _check_matplotlib() -> str:
    import matplotlib
    from matplotlib.figure import Figure

    from course_lib.widgets.base import figure_to_png

    fig = Figure(figsize=(1, 1))
    fig.add_subplot().plot([0, 1], [0, 1])
    png = figure_to_png(fig)
    if not png.startswith(b"\x89PNG"):
        raise RuntimeError("a figure did not render to PNG")
    return f"matplotlib {matplotlib.__version__} draws figures ({len(png)} byte PNG)"


def environment_report(*, device: Any = None) -> EnvironmentReport:
    """Run every check and return the report (never raises for a failed check).

    device: the device to test, ``None`` (default: :func:`course_lib.device.get_device`,
    which honours ``COURSE_DEVICE``), a name such as ``"cuda"`` or a ``torch.device``.
    A device that is not available is a failed check; a ``device`` of another type
    (a number, say) is a ``TypeError``, since no check could fix it.
    """
    if not (device is None or isinstance(device, str) or type(device).__name__ == "device"):
        raise TypeError(
            f"device={device!r} must be None, a string such as 'cpu' or 'cuda', or a "
            f"torch.device, not {type(device).__name__}"
        )
    # Imported here, not at the top: the report must still run (and say so) when torch,
    # which course_lib.device needs, is missing or broken.
    from course_lib.device import resolve_device

    checks = [_run("Python version", _check_python), _run("notebook frontend", _check_frontend)]
    for dist, spec in required_packages():
        checks.append(_run(f"package {dist}", _check_package(dist, spec)))
    chosen: list[str] = []

    def pick_device() -> str:
        chosen.append(str(resolve_device(device)))
        return _check_device(chosen[0])

    checks.append(_run("device in use", pick_device))
    device_name = chosen[0] if chosen else "cpu"
    checks.append(_run("torch computes a convolution", _check_conv(device_name)))
    checks.append(_run("bundled photos load offline", _check_photos))
    checks.append(_run("ipywidgets controls work", _check_ipywidgets))
    checks.append(_run("matplotlib renders figures", _check_matplotlib))
    return EnvironmentReport(tuple(checks), device_name)


if __name__ == "__main__":  # python -m course_lib.selftest
    report = environment_report()
    print(report)
    raise SystemExit(0 if report.ok else 1)
