"""The learner's progress record: every check's verdict, kept across lessons and sessions.

Each time an exercise check runs (:mod:`course_lib.checks`), one line is appended to
``progress.jsonl`` in the learner's own space::

    {"exercise": "Exercise 4.1", "lesson": "04", "status": "passed", "time": "2026-12-01T10:00:00+00:00"}

Where: ``$COURSE_PROGRESS_DIR`` if set (``make test`` and the tests point it at a
temporary folder), else the user-level data folder of this operating system
(``platformdirs.user_data_dir("cnn-course")``: ``~/.local/share/cnn-course`` on Linux),
never a folder inside a course checkout that others may share. Where that folder
cannot be written (a read-only file system, a quota), the check still works and says
"progress not saved" once.

:func:`progress_table` shows the latest status of every exercise of every lesson, the
ones never attempted included, as a table in a notebook (lesson 00) and as text from
the command line::

    python -m course_lib.progress

The list of exercises is :data:`EXERCISES`, written from the lessons' headings by
``tools/exercises.py`` (a test keeps it in step with the notebooks).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from platformdirs import user_data_dir

from course_lib.validate import check_path

__all__ = [
    "ENV_VAR",
    "EXERCISES",
    "EXERCISE_ID",
    "Progress",
    "latest_status",
    "lesson_of",
    "progress_dir",
    "progress_file",
    "progress_table",
    "read_records",
    "record",
]

ENV_VAR = "COURSE_PROGRESS_DIR"
FILE_NAME = "progress.jsonl"
STATUSES = ("passed", "failed", "not attempted")
EXERCISE_ID = re.compile(r"^Exercise (\d+)\.(\d+)$")  # what a lesson's check is called
_warned: set[str] = set()


def _load_exercises() -> tuple[tuple[str, str, str, str], ...]:
    text = resources.files("course_lib").joinpath("exercises.json").read_text(encoding="utf-8")
    return tuple(
        (row["lesson"], row["exercise"], row["kind"], row["title"]) for row in json.loads(text)
    )


# (lesson, exercise id, kind, title) for every exercise of every lesson, in course order.
EXERCISES: tuple[tuple[str, str, str, str], ...] = _load_exercises()


def progress_dir() -> Path:
    """The folder the record lives in (see the module docstring)."""
    override = os.environ.get(ENV_VAR, "").strip()
    return Path(override).expanduser() if override else Path(user_data_dir("cnn-course", False))


def progress_file() -> Path:
    return progress_dir() / FILE_NAME


def lesson_of(exercise: str) -> str:
    """'Exercise 4.1' -> '04'."""
    if not isinstance(exercise, str):
        raise TypeError(f"exercise must be a string such as 'Exercise 4.1', not {type(exercise).__name__}")
    match = EXERCISE_ID.match(exercise)
    if not match:
        raise ValueError(f"exercise={exercise!r} is not of the form 'Exercise N.k'")
    return f"{int(match.group(1)):02d}"


def record(exercise: str, status: str) -> str | None:
    """Append one verdict; return None, or a one-line note when it could not be saved.

    Never raises for a file-system problem: a check must work on a read-only disk.
    """
    lesson = lesson_of(exercise)
    if not isinstance(status, str):
        raise TypeError(f"status must be a string, one of {STATUSES}, not {type(status).__name__}")
    if status not in STATUSES:
        raise ValueError(f"status={status!r} is not one of {STATUSES}")
    line = json.dumps({
        "exercise": exercise, "lesson": lesson, "status": status,
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    })  # fmt: skip
    path = progress_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
    except OSError as exc:
        note = f"progress not saved ({path.parent}: {exc.strerror or exc}); set {ENV_VAR} to a writable folder"
        if str(path) in _warned:
            return None
        _warned.add(str(path))
        return note
    return None


def read_records(path: str | os.PathLike | None = None) -> list[dict]:
    """Every saved verdict, oldest first; lines that are not valid records are skipped."""
    path = check_path("path", path, allow_none=True) or progress_file()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (UnicodeDecodeError, IsADirectoryError) as exc:
        raise ValueError(f"path={str(path)!r} is not a progress record (a UTF-8 text file): {exc}") from None
    out = []
    for line in text.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and {"exercise", "status", "time"} <= set(rec):
            out.append(rec)
    return out


def latest_status(records: list[dict]) -> dict[str, tuple[str, str]]:
    """exercise id -> (its latest status, when), a pass staying a pass.

    A learner who passed an exercise and later reran the lesson with the stub back in
    place (``not attempted``) has still done it; a later failure after a pass is shown,
    since the learner changed a right answer into a wrong one.
    """
    if not isinstance(records, (list, tuple)):
        raise TypeError(f"records must be a list of dicts (read_records()), not {type(records).__name__}")
    for i, rec in enumerate(records):
        if not (isinstance(rec, dict) and {"exercise", "status", "time"} <= set(rec)):
            raise ValueError(f"records[{i}]={rec!r} is not a dict with exercise, status and time")
    latest: dict[str, tuple[str, str]] = {}
    for rec in records:
        exercise, status, when = rec["exercise"], rec["status"], rec["time"]
        if status == "not attempted" and latest.get(exercise, ("",))[0] == "passed":
            continue
        latest[exercise] = (status, when)
    return latest


@dataclass(frozen=True)
class Progress:
    """The table :func:`progress_table` returns: rows of (lesson, exercise, kind, title,
    status, time) and the file they were read from."""

    rows: tuple[tuple[str, str, str, str, str, str], ...]
    path: Path

    @property
    def counts(self) -> dict[str, int]:
        return {s: sum(r[4] == s for r in self.rows) for s in STATUSES}

    def summary(self) -> str:
        c = self.counts
        total = sum(c.values())
        return (
            f"{c['passed']} of {total} exercises passed, {c['failed']} not yet right, "
            f"{c['not attempted']} not attempted (record: {self.path})"
        )

    def __str__(self) -> str:
        lines = [f"{'lesson':<7}{'exercise':<15}{'kind':<13}{'status':<15}{'when':<27}title"]
        for lesson, exercise, kind, title, status, when in self.rows:
            lines.append(f"{lesson:<7}{exercise:<15}{kind:<13}{status:<15}{when:<27}{title}")
        return "\n".join([*lines, self.summary()])

    def _repr_html_(self) -> str:
        colour = {"passed": "#1b7f3b", "failed": "#b3261e"}
        cells = []
        for lesson, exercise, kind, title, status, when in self.rows:
            style = f' style="color:{colour[status]}"' if status in colour else ""
            cells.append(
                f"<tr><td>{lesson}</td><td>{html.escape(exercise)}</td><td>{kind}</td>"
                f"<td>{html.escape(title)}</td><td{style}>{status}</td><td>{when}</td></tr>"
            )
        return (
            '<table class="course-progress"><tr><th>lesson</th><th>exercise</th><th>kind</th>'
            "<th>title</th><th>status</th><th>when</th></tr>"
            + "".join(cells)
            + f"</table><p>{html.escape(self.summary())}</p>"
        )


def progress_table(path: str | os.PathLike | None = None) -> Progress:
    """The latest status of every exercise of every lesson ('not attempted' included)."""
    path = check_path("path", path, allow_none=True) or progress_file()
    latest = latest_status(read_records(path))
    rows = []
    for lesson, exercise, kind, title in EXERCISES:
        status, when = latest.get(exercise, ("not attempted", ""))
        rows.append((lesson, exercise, kind, title, status, when))
    return Progress(tuple(rows), path)


if __name__ == "__main__":  # python -m course_lib.progress
    print(progress_table())
