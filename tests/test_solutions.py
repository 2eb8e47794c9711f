"""Every solution shown in a notebook really passes its own check.

Convention (see CONTRIBUTING in the README, and ``tools/solutions.py``, which finds and
runs them): a solution lives in a markdown cell as a collapsed ``<details>`` block
headed ``Solution to Exercise N.k`` holding one python code fence. The code is
self-contained given the notebook's first code cell (the setup cell, run with its
IPython magics such as ``%matplotlib inline`` left out) and ends with the check call,
whose result must be a passed ``CheckResult``.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import matplotlib
import pytest

from course_lib.checks import CheckResult

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("course_solutions", ROOT / "tools" / "solutions.py")
solutions = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(solutions)


def _solutions():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        setup = solutions.setup_code(cells)
        for i, _, code in solutions.solutions(cells):
            yield pytest.param(setup, code, id=f"{path.stem}-cell{i}")


SOLUTIONS = list(_solutions())


def test_every_notebook_with_exercises_has_solutions():
    assert SOLUTIONS, "no solution blocks found in notebooks/"


@pytest.mark.parametrize(("setup", "code"), SOLUTIONS)
def test_solution_passes_its_check(setup, code):
    namespace: dict = {}
    exec(compile(setup, "<setup>", "exec"), namespace)
    result = solutions.run_and_return_last(code, namespace)
    assert isinstance(result, CheckResult), "a solution block must end with its check call"
    assert result.passed, str(result)
