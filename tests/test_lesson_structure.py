"""Every lesson follows the template (templates/lesson_template.ipynb) and the "New lesson"
checklist in CONTRIBUTING.md: header, one setup cell, numbered sections, typed and
numbered exercises with collapsed solutions, numbered Think items with collapsed
answers, an asserted ``Experiment:`` line, a summary and a link to the next lesson."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
TEMPLATE = ROOT / "templates" / "lesson_template.ipynb"
KINDS = ("coding", "think", "interactive")


def _cells(path: Path) -> list[dict]:
    cells = json.loads(path.read_text())["cells"]
    for c in cells:
        c["text"] = "".join(c["source"])
    return cells


def _number(path: Path) -> str:
    return "NN" if path == TEMPLATE else path.name[:2]


def _short(number: str) -> str:
    """Exercise numbers drop the leading zero: lesson 04's exercises are 4.1, 4.2, ..."""
    return "NN" if number == "NN" else str(int(number))


NOTEBOOKS = [*LESSONS, TEMPLATE]
IDS = [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_header_names_objectives_prerequisites_and_time(path):
    head = _cells(path)[0]
    assert head["cell_type"] == "markdown"
    title = head["text"].splitlines()[0]
    assert re.fullmatch(rf"# {_number(path)} · \S.*", title), f"title {title!r}: expected '# NN · Title'"
    for part in ("**By the end you can:**", "**Prerequisites:**", "**Time:** about "):
        assert part in head["text"], f"{path.name}: the header lacks {part!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_one_setup_cell_and_no_imports_elsewhere(path):
    code = [c for c in _cells(path) if c["cell_type"] == "code"]
    setup = code[0]["text"]
    assert setup.startswith("%matplotlib inline"), "the setup cell must start with %matplotlib inline"
    assert "set_seed(" in setup and "get_device(" in setup
    for cell in code[1:]:
        lines = [ln for ln in cell["text"].splitlines() if not ln.startswith(("%", "!"))]
        tree = ast.parse("\n".join(lines))
        imports = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
        assert not imports, f"{path.name}: an import outside the setup cell:\n{cell['text'][:200]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_sections_are_numbered_in_order_and_end_with_summary_and_next(path):
    heads = [
        line
        for c in _cells(path)
        if c["cell_type"] == "markdown"
        for line in c["text"].splitlines()
        if line.startswith("## ")
    ]
    numbered = [h for h in heads if h not in ("## Summary", "## Next")]
    for i, h in enumerate(numbered, start=1):
        assert re.fullmatch(rf"## {i}\. \S.*", h), f"{path.name}: section {h!r}, expected '## {i}. Title'"
    assert heads[-2:] == ["## Summary", "## Next"], f"{path.name}: must end with Summary, then Next"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_exercises_are_typed_numbered_and_coding_ones_checked_and_solved(path):
    cells = _cells(path)
    short = _short(_number(path))
    pattern = re.compile(rf"^### Exercise {re.escape(short)}\.(\d+) \((\w+)\) · \S", re.M)
    found = [(i, m) for i, c in enumerate(cells) if c["cell_type"] == "markdown"
             for m in pattern.finditer(c["text"])]  # fmt: skip
    loose = [
        line
        for c in cells
        if c["cell_type"] == "markdown"
        for line in c["text"].splitlines()
        if line.startswith("### Exercise") and not pattern.match(line)
    ]
    assert not loose, f"{path.name}: exercise headings not in the template's form: {loose}"
    assert found, f"{path.name}: no exercises"
    assert [int(m.group(1)) for _, m in found] == list(range(1, len(found) + 1))
    for i, m in found:
        number, kind = f"{short}.{m.group(1)}", m.group(2)
        assert kind in KINDS, f"Exercise {number}: kind {kind!r} is not one of {KINDS}"
        if kind != "coding":
            continue
        stub = next(c for c in cells[i + 1 :] if c["cell_type"] == "code")["text"]
        assert f'NotImplementedError("Exercise {number}")' in stub or f"# Exercise {number}" in stub, (
            f"Exercise {number}: the stub must raise NotImplementedError(\"Exercise {number}\") "
            f"or mark its value with '# Exercise {number}'"
        )
        assert "check_" in stub, f"Exercise {number}: the stub cell must call its check"
        after = "".join(c["text"] for c in cells[i + 1 : i + 4] if c["cell_type"] == "markdown")
        assert f"<details><summary>Solution to Exercise {number}</summary>" in after


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_think_items_are_numbered_with_collapsed_answers(path):
    text = "\n".join(c["text"] for c in _cells(path) if c["cell_type"] == "markdown")
    short = _short(_number(path))
    thinks = re.findall(r"\*\*Think( [\w.]+)?\.\*\*", text)
    numbers = re.findall(rf"\*\*Think {re.escape(short)}\.(\d+)\.\*\*", text)
    assert len(numbers) == len(thinks), f"{path.name}: Think items must read '**Think {short}.k.**'"
    assert [int(n) for n in numbers] == list(range(1, len(numbers) + 1))
    for n in numbers:
        assert f"<details><summary>Answer to Think {short}.{n}</summary>" in text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_experiment_is_printed_then_asserted(path):
    code = [c["text"] for c in _cells(path) if c["cell_type"] == "code"]
    printing = [i for i, t in enumerate(code) if "Experiment:" in t or ".sentence()" in t]
    assert printing, f"{path.name}: no cell prints an 'Experiment:' sentence"
    assert any(
        i + 1 < len(code) and code[i + 1].lstrip().startswith("assert") for i in printing
    ), f"{path.name}: the cell after the Experiment line must assert the claim"


@pytest.mark.parametrize("path", LESSONS, ids=[p.name for p in LESSONS])
def test_next_links_the_following_lesson(path):
    nxt = next(c for c in _cells(path) if c["text"].startswith("## Next"))["text"]
    later = [p for p in LESSONS if p.name > path.name]
    if later:
        assert f"({later[0].name})" in nxt, f"{path.name}: ## Next must link {later[0].name}"
