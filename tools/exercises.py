"""Write course_lib/exercises.json, the list of every lesson's exercises, from the notebooks.

The progress record (course_lib.progress) lists every exercise, the ones never
attempted included, also where the notebooks are not beside the package (Colab, a
pip install); so the list ships with the package. Its source is each lesson's
``### Exercise N.k (kind) · title`` headings; ``tests/test_progress.py`` fails when the
file is out of step with them. Run after adding or renaming an exercise:

    .venv/bin/python tools/exercises.py
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADING = re.compile(r"^### (Exercise \d+\.\d+) \((\w+)\) · (.+?)\s*$", re.M)


def exercises(notebooks: Path = ROOT / "notebooks") -> list[dict[str, str]]:
    rows = []
    for path in sorted(notebooks.glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for cell in cells:
            if cell["cell_type"] != "markdown":
                continue
            for exercise, kind, title in HEADING.findall("".join(cell["source"])):
                rows.append({"lesson": path.name[:2], "exercise": exercise, "kind": kind,
                             "title": title, "notebook": path.name})  # fmt: skip
    return rows


def render(rows: list[dict[str, str]]) -> str:
    return json.dumps(rows, indent=1, ensure_ascii=False) + "\n"


def main() -> int:
    out = ROOT / "course_lib" / "exercises.json"
    out.write_text(render(exercises()), encoding="utf-8")
    print(f"wrote {out.relative_to(ROOT)}: {len(exercises())} exercises", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
