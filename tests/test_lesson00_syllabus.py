"""Lesson 00's syllabus: every lesson 00-14 is listed; only files that exist are linked."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "00_start_here.ipynb"
LINK = re.compile(r"\]\(([^)#\s]+\.ipynb)\)")


def _markdown() -> str:
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def test_every_linked_notebook_exists():
    links = LINK.findall(_markdown())
    assert links, "lesson 00 links no lessons"
    missing = [link for link in links if not (NOTEBOOK.parent / link).exists()]
    assert not missing, f"lesson 00 links notebooks that do not exist: {missing}"


def test_every_lesson_row_is_present_and_existing_lessons_are_linked():
    text = _markdown()
    rows = re.findall(r"^\| (\d\d) \| (.+?) \|", text, flags=re.M)
    assert [num for num, _ in rows] == [f"{i:02d}" for i in range(15)], rows
    for num, cell in rows:
        files = sorted((ROOT / "notebooks").glob(f"{num}_*.ipynb"))
        if files:
            assert f"]({files[0].name})" in cell, f"lesson {num} exists but lesson 00 does not link it"
        else:
            assert "coming soon" in cell, f"lesson {num} has no notebook yet: mark it 'coming soon'"
