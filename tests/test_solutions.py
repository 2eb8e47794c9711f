"""Every solution shown in a notebook really passes its own check.

Convention (see CONTRIBUTING in the README): a solution lives in a markdown cell
as a collapsed ``<details>`` block holding one python code fence. The code is
self-contained given the notebook's first code cell (the setup cell, run with
its IPython magics such as ``%matplotlib inline`` left out) and ends
with the check call, whose result must be a passed ``CheckResult``.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import matplotlib
import pytest

from course_lib.checks import CheckResult

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"```python\n(.*?)```", re.S)


def _solutions():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        setup = next("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        for i, cell in enumerate(cells):
            text = "".join(cell["source"])
            if cell["cell_type"] == "markdown" and "<details>" in text and "Solution" in text:
                for code in FENCE.findall(text):
                    yield pytest.param(setup, code, id=f"{path.stem}-cell{i}")


SOLUTIONS = list(_solutions())


def _python_only(code: str) -> str:
    """Drop IPython magics (``%matplotlib inline``) so a cell runs as plain Python."""
    return "\n".join(line for line in code.splitlines() if not line.lstrip().startswith(("%", "!")))


def _run_and_return_last(code: str, namespace: dict):
    tree = ast.parse(code)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, "<solution>", "exec"), namespace)
    if last is None:
        return None
    return eval(compile(ast.Expression(last.value), "<solution>", "eval"), namespace)


def test_every_notebook_with_exercises_has_solutions():
    assert SOLUTIONS, "no solution blocks found in notebooks/"


@pytest.mark.parametrize(("setup", "code"), SOLUTIONS)
def test_solution_passes_its_check(setup, code):
    namespace: dict = {}
    exec(compile(_python_only(setup), "<setup>", "exec"), namespace)
    result = _run_and_return_last(code, namespace)
    assert isinstance(result, CheckResult), "a solution block must end with its check call"
    assert result.passed, str(result)
