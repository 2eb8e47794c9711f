"""The learner's progress record: verdicts saved where the learner owns them, shown per lesson."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from course_lib import progress
from course_lib.checks import check_value
from course_lib.progress import (
    ENV_VAR,
    EXERCISES,
    latest_status,
    lesson_of,
    progress_dir,
    progress_table,
    read_records,
    record,
)

ROOT = Path(__file__).resolve().parents[1]



def _tool(name: str):
    spec = importlib.util.spec_from_file_location(f"course_{name}", ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


exercises_tool = _tool("exercises")
solutions = _tool("solutions")


@pytest.fixture
def folder(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "progress"))
    return tmp_path / "progress"


def test_the_exercise_list_is_in_step_with_the_notebooks():
    on_disk = (ROOT / "course_lib" / "exercises.json").read_text(encoding="utf-8")
    assert on_disk == exercises_tool.render(exercises_tool.exercises()), (
        "course_lib/exercises.json is stale: run .venv/bin/python tools/exercises.py"
    )
    lessons = {lesson for lesson, *_ in EXERCISES}
    notebooks = {p.name[:2] for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    assert lessons <= notebooks and "01" in lessons


def test_a_check_appends_its_verdict(folder):
    check_value("Exercise 4.2", 0.25, 0.25)
    check_value("Exercise 4.2", 0.5, 0.25)
    check_value("Exercise 3.1", ..., 280)
    check_value("not an exercise id", 1, 1)  # a check used outside a lesson: not recorded
    recs = read_records()
    assert [(r["exercise"], r["lesson"], r["status"]) for r in recs] == [
        ("Exercise 4.2", "04", "passed"), ("Exercise 4.2", "04", "failed"),
        ("Exercise 3.1", "03", "not attempted"),
    ]  # fmt: skip
    assert (folder / "progress.jsonl").is_file()


def test_the_latest_status_keeps_a_pass_over_a_later_untouched_stub():
    recs = [
        {"exercise": "Exercise 1.1", "status": "failed", "time": "1"},
        {"exercise": "Exercise 1.1", "status": "passed", "time": "2"},
        {"exercise": "Exercise 1.1", "status": "not attempted", "time": "3"},
        {"exercise": "Exercise 1.2", "status": "passed", "time": "4"},
        {"exercise": "Exercise 1.2", "status": "failed", "time": "5"},
    ]
    assert latest_status(recs) == {"Exercise 1.1": ("passed", "2"), "Exercise 1.2": ("failed", "5")}


def test_the_default_folder_is_the_users_own_not_the_checkout(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    where = progress_dir().resolve()
    assert where.is_absolute() and ROOT.resolve() not in where.parents
    assert "cnn-course" in where.parts


def test_an_unwritable_folder_degrades_to_one_line(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(ENV_VAR, str(blocker / "progress"))  # a folder under a file: never writable
    monkeypatch.setattr(progress, "_warned", set())
    first = check_value("Exercise 4.2", 0.25, 0.25)
    second = check_value("Exercise 4.2", 0.25, 0.25)
    assert first.passed and second.passed
    assert first.message.count("progress not saved") == 1 and ENV_VAR in first.message
    assert "progress not saved" not in second.message  # said once, not on every check


def test_bad_records_and_arguments(folder):
    folder.mkdir(parents=True)
    (folder / "progress.jsonl").write_text('not json\n{"exercise": "Exercise 1.1"}\n[1]\n')
    assert read_records() == []
    with pytest.raises(ValueError, match="'Exercise 4'"):
        lesson_of("Exercise 4")
    with pytest.raises(TypeError, match="exercise"):
        record(4.1, "passed")
    with pytest.raises(ValueError, match="status='done'"):
        record("Exercise 4.1", "done")


def _run_solutions(notebook: Path) -> int:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    namespace: dict = {}
    exec(compile(solutions.setup_code(cells), "<setup>", "exec"), namespace)
    count = 0
    for _, _, code in solutions.solutions(cells):
        exec(compile(code, "<solution>", "exec"), namespace)
        count += 1
    return count


def test_the_command_line_lists_lesson_01_passed_and_the_rest_not_attempted(folder):
    notebook = next((ROOT / "notebooks").glob("01_*.ipynb"))
    assert _run_solutions(notebook) >= 2
    out = subprocess.run(
        [sys.executable, "-m", "course_lib.progress"], capture_output=True, text=True,
        env={**os.environ, ENV_VAR: str(folder)}, timeout=120, check=True,
    ).stdout  # fmt: skip
    rows = [line.split() for line in out.splitlines() if re.match(r"^\d\d\s+Exercise", line)]
    assert len(rows) == len(EXERCISES)
    for row in rows:
        lesson, status = row[0], "not attempted" if row[4] == "not" else row[4]
        assert status == ("passed" if lesson == "01" else "not attempted"), row
    table = progress_table()
    assert table.counts["passed"] == sum(lesson == "01" for lesson, *_ in EXERCISES)
    assert "course-progress" in table._repr_html_()
