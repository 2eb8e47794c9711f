"""The course as a learner installs it: a fresh venv, `pip install .` and ipykernel, nothing else.

Colab, VS Code and a JupyterHub bring their own frontend, so the course's runtime
dependencies must be exactly what a notebook needs. This check builds a new virtual
environment in a temporary folder, installs the course (with the exact versions of
``constraints.txt``) and ``ipykernel`` into it, shows that none of the development or
browser tools came along, registers that environment as a Jupyter kernel, and runs
every lesson top to bottom in it under nbclient (driven from this interpreter),
with no network but loopback (``tools/offline.sh``). CI runs it (``.ci/run``):

    .venv/bin/python tools/fresh_venv_check.py [--lessons 00 01 ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOT_RUNTIME = ("jupyterlab", "pytest", "nbval", "playwright", "hypothesis", "ruff", "notebook")


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=True, text=True, capture_output=True, **kwargs)


def build(venv: Path) -> Path:
    """The fresh venv's python, with the course and ipykernel installed."""
    _run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    _run([*pip, "-c", str(ROOT / "constraints.txt"), str(ROOT), "ipykernel"])
    return python


def installed(python: Path) -> set[str]:
    out = _run([str(python), "-m", "pip", "list", "--format", "json"]).stdout
    return {row["name"].lower().replace("_", "-") for row in json.loads(out)}


def register_kernel(python: Path, where: Path) -> str:
    """A kernelspec for the fresh venv in ``where`` (put on JUPYTER_PATH); its name."""
    name = "course-fresh-venv"
    spec = where / "kernels" / name
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "course (fresh venv)", "language": "python",
    }))  # fmt: skip
    return name


def run_lesson(path: Path, kernel: str) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name=kernel,
                   resources={"metadata": {"path": str(path.parent)}}).execute()  # fmt: skip
    return time.perf_counter() - start


def run_lessons(python: Path, lessons: list[str], tmp: Path) -> int:
    extra = sorted(set(NOT_RUNTIME) & installed(python))
    if extra:
        print(f"FAIL: `pip install .` brought in {extra}", file=sys.stderr)
        return 1
    os.environ["JUPYTER_PATH"] = str(tmp / "jupyter")
    os.environ["COURSE_PROGRESS_DIR"] = str(tmp / "progress")
    kernel = register_kernel(python, tmp / "jupyter")
    for number in lessons:
        (path,) = sorted((ROOT / "notebooks").glob(f"{number}_*.ipynb"))
        seconds = run_lesson(path, kernel)
        print(f"{path.name}: ran top to bottom in the fresh venv in {seconds:.0f} s", flush=True)
    offline = "offline" if os.environ.get("COURSE_OFFLINE") else "WITH the network"
    print(f"fresh venv check passed ({offline}): {len(lessons)} lessons; "
          f"none of {', '.join(NOT_RUNTIME)} installed")  # fmt: skip
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    every = [p.name[:2] for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))]
    parser.add_argument("--lessons", nargs="+", default=every, help="default: every lesson")
    parser.add_argument("--venv", type=Path, help="an already built venv: only run the lessons")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="course-fresh-venv-") as tmp:
        tmp = Path(tmp)
        if args.venv is not None:
            return run_lessons(args.venv / "bin" / "python", args.lessons, tmp)
        start = time.perf_counter()
        build(tmp / "venv")  # needs the package registry
        print(f"fresh venv built in {time.perf_counter() - start:.0f} s", flush=True)
        # the lessons run with no network but loopback, like make test
        return subprocess.call([str(ROOT / "tools" / "offline.sh"), sys.executable, __file__,
                                "--venv", str(tmp / "venv"), "--lessons", *args.lessons])  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
