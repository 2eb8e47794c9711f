"""The project's own promises: files agree with each other, notebooks are clean."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CONDA_TO_PIP = {"pytorch": "torch"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _split(requirement: str) -> tuple[str, str]:
    match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", requirement)
    assert match, requirement
    return _norm(match.group(1)), match.group(2).replace(" ", "")


def _pyproject_requirements(*, runtime_only: bool = False) -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    if not runtime_only:
        for extra in project["optional-dependencies"].values():
            reqs += extra
    return dict(_split(r) for r in reqs)


def _conda_requirements(path: Path = ROOT / "environment.yml") -> dict[str, str]:
    """Parse an environment file's plain dependency lines (no YAML library needed)."""
    reqs: dict[str, str] = {}
    text = path.read_text()
    for line in text.split("\ndependencies:\n", 1)[1].splitlines():
        match = re.match(r"^  - ([A-Za-z0-9_.\-]+)([<>=!~].*)?$", line) or re.match(
            r"^      - ([A-Za-z][A-Za-z0-9_.\-]*)([<>=!~].*)?$", line  # under "- pip:"
        )
        if match and match.group(1) not in ("python", "pip"):
            name = CONDA_TO_PIP.get(match.group(1), match.group(1))
            reqs[_norm(name)] = (match.group(2) or "").replace(" ", "")
    return reqs


def _agree(pip: dict[str, str], conda: dict[str, str], what: str) -> None:
    assert pip, "no requirements parsed from pyproject.toml"
    assert set(conda) == set(pip), (
        f"only in pyproject.toml: {sorted(set(pip) - set(conda))}; "
        f"only in {what}: {sorted(set(conda) - set(pip))}"
    )
    differing = {k: (pip[k], conda[k]) for k in pip if pip[k] != conda[k]}
    assert not differing, f"version ranges differ (pyproject, {what}): {differing}"


def test_environment_yml_agrees_with_pyproject():
    _agree(_pyproject_requirements(), _conda_requirements(), "environment.yml")


def test_binder_environment_is_the_runtime_packages_only():
    """The learner image (Binder, a JupyterHub) gets what a notebook needs, no dev tools."""
    binder = ROOT / "binder" / "environment.yml"
    _agree(_pyproject_requirements(runtime_only=True), _conda_requirements(binder), "binder/")
    post = (ROOT / "binder" / "postBuild").read_text()
    assert "--no-deps" in post and re.search(r"pip install .*\.$", post, re.M), post


def test_repo2docker_builds_the_learner_image_from_binder():
    """What Binder and a JupyterHub image builder would run, without building it."""
    r2d = Path(sys.executable).parent / "jupyter-repo2docker"
    assert r2d.exists(), "jupyter-repo2docker is a dev dependency: run make test (or make venv)"
    out = subprocess.run([str(r2d), "--no-build", "--debug", str(ROOT)], capture_output=True,
                         text=True, timeout=300, check=True)  # fmt: skip
    dockerfile = out.stdout + out.stderr
    assert '--file "binder/environment.yml"' in dockerfile and "./binder/postBuild" in dockerfile
    for tool in ("pytest", "playwright", "nbval", "hypothesis", "ruff", "requirements"):
        assert tool not in dockerfile, f"the learner image's build file names {tool!r}"


def test_constraints_pin_every_direct_dependency_inside_its_range():
    from packaging.requirements import Requirement

    pinned = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pinned[_norm(name)] = version
    for name, spec in _pyproject_requirements().items():
        assert name in pinned, f"{name} is a dependency but constraints.txt does not pin it"
        assert Requirement(f"{name}{spec}").specifier.contains(pinned[name], prereleases=True), (
            f"constraints.txt pins {name}=={pinned[name]}, outside pyproject's range {spec}"
        )


def test_torch_range_keeps_the_cpu_build():
    spec = _pyproject_requirements()["torch"]
    assert "<2.14" in spec, f"torch range {spec!r} would let pip pick the multi-GB CUDA 2.14 build"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    dirty = [
        i
        for i, cell in enumerate(nb["cells"])
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count"))
    ]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs or execution counts; strip them"
    assert "widgets" not in nb.get("metadata", {}), f"{path.name}: saved widget state; strip it"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_cell_has_its_own_id(path):
    """nbformat 4.5 cells carry an id (a missing one is a warning today, an error later)."""
    ids = [cell.get("id") for cell in json.loads(path.read_text())["cells"]]
    assert None not in ids, f"{path.name}: cells {[i for i, x in enumerate(ids) if x is None]} have no id"
    assert len(set(ids)) == len(ids), f"{path.name}: repeated cell ids"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_setup_cell_turns_on_inline_figures(path):
    cells = json.loads(path.read_text())["cells"]
    setup = "".join(next(c for c in cells if c["cell_type"] == "code")["source"])
    assert "%matplotlib inline" in setup, (
        f"{path.name}: without %matplotlib inline in the setup cell, a returned Figure shows as text"
    )


def test_notebooks_are_numbered_in_teaching_order():
    names = [p.name for p in NOTEBOOKS]
    assert names and names[0] == "00_start_here.ipynb"
    numbers = [int(n[:2]) for n in names]
    assert numbers == list(range(len(numbers))), f"gaps or repeats in lesson numbers: {names}"


def test_readme_has_exactly_the_two_setup_commands():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "README's 'Two commands' section has no bash block"
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]
    assert commands == ["make lab", "make test"], commands
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M), ".ci/run must call the README's `make test`"
