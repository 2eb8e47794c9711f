"""Build the course's website into build/site/ from the lessons as ``make report`` ran them.

One execution of every lesson serves both the report and the site: ``tools/report.py
--executed build/executed`` (and ``make test``'s fresh-kernel run of each lesson) keeps
each executed notebook and its figures (``<lesson>.json``); this script turns them into
a static site with Sphinx, myst-nb (which executes nothing) and the book theme. It
refuses executed copies whose cells differ from the lessons in ``notebooks/`` (a page
built from a stale run); ``--up-to-date`` only says whether they all match.

* a home page: what the course is, the syllabus with each lesson's measured runtime
  and experiment outcome (from its ``<lesson>.json``), and how to start it (JupyterLab,
  VS Code, Colab, JupyterHub or Binder);
* one page per lesson, with its figures, every widget app as the picture it carries
  (``image/png``), each solution and Think answer as a toggle, and inside each
  solution's toggle the verdict its check gives that solution (run here, never shown
  outside the toggle);
* maths by a copy of MathJax 3 from the ``django-static-mathjax`` package (a plain
  copy of MathJax's files; Django is not needed): nothing is loaded from outside the
  site (``tests/browser/test_site.py`` checks every page).

    .venv/bin/python tools/build_site.py [--executed build/executed] [--out build/site]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mathjax
import matplotlib
import nbformat
import solutions  # tools/solutions.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = "Experiment:"


def _title(nb: nbformat.NotebookNode) -> str:
    first = "".join(nb.cells[0].source).splitlines()[0]
    return first.lstrip("# ").strip()


def solution_verdicts(nb: nbformat.NotebookNode) -> dict[str, str]:
    """exercise id -> the check's verdict on the lesson's own solution, run here."""
    namespace: dict = {}
    verdicts = {}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(solutions.setup_code(nb.cells), "<setup>", "exec"), namespace)
        for _, exercise, code in solutions.solutions(nb.cells):
            result = solutions.run_and_return_last(code, namespace)
            if hasattr(result, "status") and hasattr(result, "message"):
                verdicts[exercise] = str(result).splitlines()[0]
    return verdicts


LIBRARY_LINK = re.compile(r"\[([^\]]+)\]\((\.\./[^)\s]+)\)")


def unlink_library(nb: nbformat.NotebookNode) -> None:
    """Links into the course folder (../course_lib/...) have no page here: keep their text."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = LIBRARY_LINK.sub(r"\1", "".join(cell.source))


def add_verdicts(nb: nbformat.NotebookNode, verdicts: dict[str, str]) -> None:
    """Put each verdict inside its solution's toggle, after the code."""
    for cell in nb.cells:
        text = "".join(cell.source)
        match = solutions.SUMMARY.search(text) if cell.cell_type == "markdown" else None
        if match and match.group(1) in verdicts and "</details>" in text:
            verdict = verdicts[match.group(1)]
            note = f'\n<p class="course-verdict">The check, run on this solution: {verdict}</p>\n\n'
            cell.source = text.replace("</details>", note + "</details>", 1)


def lesson_runs(executed: Path) -> list[dict]:
    """Each lesson's figures, in course order; raises if one is missing or stale."""
    runs, problems = [], []
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        figures, copy = executed / f"{path.stem}.json", executed / path.name
        if not (figures.exists() and copy.exists()):
            problems.append(f"{path.name}: never executed")
            continue
        sources = [c.source for c in nbformat.read(path, as_version=4).cells]
        if [c.source for c in nbformat.read(copy, as_version=4).cells] != sources:
            problems.append(f"{path.name}: changed since it was executed")
            continue
        runs.append(json.loads(figures.read_text()))
    if problems:
        raise LookupError("; ".join(problems))
    return runs


def syllabus(runs: list[dict], titles: dict[str, str]) -> str:
    rows = ["| lesson | runtime | what its experiment measured |", "|---|---:|---|"]
    for lesson in runs:
        name = lesson["notebook"]
        outcome = "<br>".join(
            line[len(EXPERIMENT):].strip().replace("|", "\\|") for line in lesson["experiments"]
        ) or "(no experiment: the course's set-up and its self-test)"
        if lesson["error"]:
            outcome = f"**did not run**: {lesson['error']}"
        page = Path(name).stem
        rows.append(f"| [{titles[name]}]({page}.ipynb) | {lesson['wall_s']:.0f} s | {outcome} |")
    total = sum(lesson["wall_s"] for lesson in runs)
    rows.append(f"| **all {len(runs)} lessons** | **{total / 60:.1f} min** | |")
    how = sorted({f"{r['measured_by']} on {r['cpu_cores']} CPU cores" for r in runs})
    return "\n".join(rows) + f"\n\nRuntimes measured by {' and '.join(how)}."


def assemble(executed: Path, src: Path, runs: list[dict]) -> list[str]:
    """The Sphinx source folder, from :func:`lesson_runs`; returns the page names in order."""
    if src.exists():
        shutil.rmtree(src)
    shutil.copytree(ROOT / "website", src)
    # MathJax 3 with SVG output: no web fonts, one script plus what it loads on demand
    es5 = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    target = src / "_static" / "mathjax"
    target.mkdir(parents=True)
    shutil.copy2(es5 / "tex-svg.js", target)
    for part in ("input/tex/extensions", "ui", "a11y", "sre"):  # loaded on demand
        shutil.copytree(es5 / part, target / part)
    titles, pages = {}, []
    cwd = os.getcwd()
    os.chdir(ROOT / "notebooks")  # solutions read files relative to their lesson
    try:
        for lesson in runs:
            nb = nbformat.read(executed / lesson["notebook"], as_version=4)
            titles[lesson["notebook"]] = _title(nb)
            add_verdicts(nb, solution_verdicts(nb))
            unlink_library(nb)
            nbformat.write(nb, src / lesson["notebook"])
            pages.append(Path(lesson["notebook"]).stem)
    finally:
        os.chdir(cwd)
    index = (ROOT / "website" / "index.md").read_text(encoding="utf-8")
    index = index.replace("{{ syllabus }}", syllabus(runs, titles))
    index = index.replace("{{ toctree }}", "\n".join(pages))
    (src / "index.md").write_text(index, encoding="utf-8")
    return pages


def build(executed: Path, out: Path, runs: list[dict]) -> float:
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="course-site-") as tmp:
        src = Path(tmp) / "src"
        assemble(executed, src, runs)
        if out.exists():
            shutil.rmtree(out)
        subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "--keep-going",
                        "-d", str(Path(tmp) / "doctrees"), str(src), str(out)], check=True)  # fmt: skip
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executed", type=Path, default=ROOT / "build" / "executed")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site")
    parser.add_argument("--up-to-date", action="store_true",
                        help="build nothing; exit 1 unless every lesson has a current run")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        runs = lesson_runs(args.executed)
    except LookupError as exc:
        print(f"site: {exc}: run `make report` (or `make site`, which runs it)", file=sys.stderr)
        return 1
    if args.up_to_date:
        return 0
    matplotlib.use("Agg")
    os.environ.setdefault("COURSE_PROGRESS_DIR", tempfile.mkdtemp(prefix="course-progress-"))
    seconds = build(args.executed.resolve(), args.out.resolve(), runs)
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    pages = len(list(args.out.glob("[0-9][0-9]_*.html")))
    print(f"site: {pages} lesson pages in {args.out} ({size / 2**20:.1f} MB), built in {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
