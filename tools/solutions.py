"""A lesson's solutions, found and run as plain Python: one reading for every tool that does it.

A solution lives in a markdown cell as a collapsed ``<details>`` block whose summary is
``Solution to Exercise N.k``, holding one or more python code fences; each is
self-contained given the lesson's setup cell (its IPython magics left out) and ends with
its check call. ``tests/test_solutions.py`` runs every one and wants it passed,
``tests/test_progress.py`` runs lesson 01's to fill a progress record, and
``tools/build_site.py`` puts each one's verdict inside its toggle on the website.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Sequence
from typing import Any

FENCE = re.compile(r"```python\n(.*?)```", re.S)
SUMMARY = re.compile(r"<summary>Solution to (Exercise \d+\.\d+)</summary>")


def _text(cell: Any) -> str:
    return "".join(cell["source"])  # a list of lines (JSON) or one string (nbformat)


def python_only(code: str) -> str:
    """Drop IPython magics (``%matplotlib inline``, ``!pip``) so a cell runs as plain Python."""
    return "\n".join(line for line in code.splitlines() if not line.lstrip().startswith(("%", "!")))


def setup_code(cells: Sequence[Any]) -> str:
    """The lesson's setup cell (its first code cell) as plain Python."""
    return python_only(next(_text(c) for c in cells if c["cell_type"] == "code"))


def solutions(cells: Sequence[Any]) -> Iterator[tuple[int, str, str]]:
    """(cell index, exercise id, code) of every solution fence, in lesson order."""
    for index, cell in enumerate(cells):
        text = _text(cell)
        match = SUMMARY.search(text) if cell["cell_type"] == "markdown" else None
        if match and "<details>" in text:
            for code in FENCE.findall(text):
                yield index, match.group(1), code


def run_and_return_last(code: str, namespace: dict) -> Any:
    """Run ``code`` in ``namespace``; the value of its last line if that is an expression."""
    tree = ast.parse(code)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, "<solution>", "exec"), namespace)
    if last is None:
        return None
    return eval(compile(ast.Expression(last.value), "<solution>", "eval"), namespace)
