"""Every lesson's setup cell works unchanged in JupyterLab, VS Code and Colab.

The bootstrap lines at the top of each setup cell, and the badges, are written by
``tools/colab.py`` from the one repository URL in ``pyproject.toml``. Colab is
simulated: a stand-in ``google.colab`` module, the course package made to look
absent, and ``subprocess.run`` recorded instead of run (no network).
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("course_colab", ROOT / "tools" / "colab.py")
colab = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(colab)
URL = "https://github.com/example/cnn-course"
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _bootstrap_of(setup_cell: str) -> str:
    match = re.search(rf"{re.escape(colab.BEGIN)}.*?{re.escape(colab.END)}", setup_cell, re.S)
    assert match, "the setup cell has no course bootstrap: run tools/colab.py"
    return match.group(0)


def _setup_cell(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return next("".join(c["source"]) for c in cells if c["cell_type"] == "code")


class FakeColab:
    """google.colab in sys.modules, an optionally absent course, recorded pip calls."""

    def __init__(self, monkeypatch, *, course_installed: bool, on_colab: bool = True):
        self.pip_calls: list[list[str]] = []
        self.manager_enabled = False
        self.installed = course_installed
        if on_colab:
            output = types.SimpleNamespace(enable_custom_widget_manager=self._enable)
            module = types.ModuleType("google.colab")
            module.output = output
            monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
            monkeypatch.setitem(sys.modules, "google.colab", module)
        real_find_spec = importlib.util.find_spec

        def find_spec(name, *args):
            if name == "course_lib" and not self.installed:
                return None
            return real_find_spec(name, *args)

        monkeypatch.setattr(importlib.util, "find_spec", find_spec)
        monkeypatch.setattr(subprocess, "run", self._run)

    def _enable(self):
        self.manager_enabled = True

    def _run(self, args, check=False, **kwargs):
        self.pip_calls.append(list(args))
        self.installed = True  # what the real pip install would do
        return subprocess.CompletedProcess(args, 0)


def test_every_lesson_and_the_readme_are_in_step_with_pyproject():
    assert colab.main(["--check"]) == 0, "run .venv/bin/python tools/colab.py"
    for path in LESSONS:
        _bootstrap_of(_setup_cell(path))


def test_on_colab_the_setup_cell_installs_the_course_without_resolving_dependencies(monkeypatch):
    code = "\n".join(colab.bootstrap(URL, colab.colab_requirements()))
    fake = FakeColab(monkeypatch, course_installed=False)
    exec(compile(code, "<setup>", "exec"), {})
    (call,) = fake.pip_calls
    assert call[:6] == [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
    assert call[6] == f"course_lib @ git+{URL}"
    names = [re.match(r"[\w-]+", arg).group(0) for arg in call[7:]]
    assert names == ["array-api-compat", "platformdirs"]  # Colab lacks these; torch etc. untouched
    assert not {"torch", "numpy", "ipywidgets"} & set(names)
    assert fake.manager_enabled


def test_on_colab_with_the_course_installed_only_the_widget_manager_is_switched_on(monkeypatch):
    code = "\n".join(colab.bootstrap(URL, colab.colab_requirements()))
    fake = FakeColab(monkeypatch, course_installed=True)
    exec(compile(code, "<setup>", "exec"), {})
    assert fake.pip_calls == [] and fake.manager_enabled


@pytest.mark.parametrize("path", LESSONS[:1] + LESSONS[-1:], ids=lambda p: p.stem)
def test_the_lessons_own_cell_without_a_url_says_in_one_line_how_to_install(monkeypatch, path):
    """No repository URL is set yet: on Colab the cell switches widgets on and then stops
    with one line saying how to install the course, not with an ImportError."""
    assert colab.repository_url() is None or "git+" in _setup_cell(path)
    code = _bootstrap_of(_setup_cell(path))
    fake = FakeColab(monkeypatch, course_installed=False)
    with pytest.raises(SystemExit) as stop:
        exec(compile(code, "<setup>", "exec"), {})
    message = str(stop.value)
    assert "\n" not in message and "course_lib is not installed" in message and "make venv" in message
    assert fake.manager_enabled and (fake.pip_calls == [] or colab.repository_url())


def test_elsewhere_the_bootstrap_does_nothing(monkeypatch):
    code = _bootstrap_of(_setup_cell(LESSONS[0]))
    fake = FakeColab(monkeypatch, course_installed=True, on_colab=False)
    exec(compile(code, "<setup>", "exec"), {})
    assert fake.pip_calls == [] and not fake.manager_enabled


def test_badges_come_from_the_url_and_only_from_a_github_one():
    assert colab.badges(None, "01_x.ipynb") == ""
    assert colab.badges("https://gitlab.com/a/b", "01_x.ipynb") == ""
    badge = colab.badges(URL, "01_x.ipynb")
    assert "colab.research.google.com/github/example/cnn-course/blob/main/notebooks/01_x.ipynb" in badge
    assert "mybinder.org/v2/gh/example/cnn-course/HEAD?labpath=notebooks/01_x.ipynb" in badge
    text = "# 01 · Title\n\nSome words.\n"
    with_badges = colab._with_badges(text, badge)
    assert with_badges != text and colab._with_badges(with_badges, "") == text
    assert colab._with_badges(with_badges, badge) == with_badges


def test_the_setup_cell_rewrite_is_its_own_inverse():
    source = _setup_cell(LESSONS[0])
    lines = colab.bootstrap(URL, colab.colab_requirements())
    rewritten = colab.rewrite_setup(source, lines)
    assert colab.rewrite_setup(rewritten, lines) == rewritten
    assert colab.rewrite_setup(rewritten, colab.bootstrap(None, [])) == colab.rewrite_setup(
        source, colab.bootstrap(None, [])
    )
    with pytest.raises(ValueError, match="%matplotlib inline"):
        colab.rewrite_setup("import numpy as np\n", lines)
