"""Run every lesson notebook and tabulate what it costs and what it found.

For each ``notebooks/NN_*.ipynb``, one after another (so the timings do not
compete for the CPU), in a fresh kernel started from this Python, working in
``notebooks/``:

- wall time: from starting the kernel to the last cell's end (a learner's Run All);
- peak RSS: the largest resident memory of the kernel's process tree (the kernel
  and any worker processes it starts), sampled every 0.1 s and never below the
  kernel's own high-water mark (``VmHWM``);
- experiment outcome: the printed lines that start with ``Experiment:`` (the
  course's convention for a lesson's measured result).

Writes a markdown table to stdout and, with ``--out``, to a file, and says
whether the course meets its targets (whole course under 10 minutes, every lesson
under 60 s, lesson 12 (FCN) under 120 s, every lesson under 2 GB). Exits with 1 when a
notebook fails, 2 when a target is missed. The lessons in ``notebooks/`` are read,
never written; with ``--executed DIR`` each executed copy (outputs included) is saved
there with ``<lesson>.json`` (its time, memory and outcome), which is what
``make site`` builds the course's website from: report and site come from one run.

    python tools/report.py --out build/report.md --executed build/executed
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = "Experiment:"
COURSE_LIMIT_S = 10 * 60
LESSON_LIMIT_S = 60
LESSON_LIMIT_S_BY_NUMBER = {"12": 120}  # the FCN lesson trains three networks
LESSON_LIMIT_BYTES = 2 * 1024**3


@dataclass
class LessonRun:
    notebook: Path
    wall_s: float = 0.0
    peak_rss: int = 0
    experiments: list[str] = field(default_factory=list)
    error: str = ""
    executed: nbformat.NotebookNode | None = field(default=None, repr=False)


def experiment_lines(nb: nbformat.NotebookNode) -> list[str]:
    """The ``Experiment:`` lines a run printed, in cell order (stdout streams only)."""
    lines = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stdout":
                text = output.get("text", "")
                lines += [ln.strip() for ln in text.splitlines() if ln.startswith(EXPERIMENT)]
    return lines


def _vm_hwm(pid: int) -> int:
    """A process's peak resident set size in bytes, from /proc (0 where unavailable)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class TreePeak(threading.Thread):
    """Samples the RSS of the kernel's process tree until stopped; keeps the peak."""

    def __init__(self, client: NotebookClient, interval_s: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.client, self.interval_s = client, interval_s
        self.peak = 0
        self._done = threading.Event()

    def _kernel_pid(self) -> int | None:
        km = getattr(self.client, "km", None)
        provisioner = getattr(km, "provisioner", None) if km is not None else None
        return getattr(provisioner, "pid", None) if provisioner is not None else None

    def sample(self) -> None:
        pid = self._kernel_pid()
        if pid is None:
            return
        try:
            kernel = psutil.Process(pid)
            tree = [kernel, *kernel.children(recursive=True)]
        except psutil.Error:
            return
        total = 0
        for proc in tree:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                pass  # a worker that just ended
        self.peak = max(self.peak, total, _vm_hwm(pid))

    def run(self) -> None:
        while not self._done.is_set():
            self.sample()
            self._done.wait(self.interval_s)

    def stop(self) -> int:
        self._done.set()
        self.join()
        return self.peak


def run_notebook(path: Path, timeout_s: int) -> LessonRun:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout_s,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    # The kernel's peak must be read before the kernel is shut down: sample on every
    # cell's end too, so the last reading is taken while the kernel is still alive.
    sampler = TreePeak(client)
    client.on_cell_executed = lambda **_: sampler.sample()
    run = LessonRun(path)
    sampler.start()
    start = time.perf_counter()
    try:
        client.execute()
    except CellTimeoutError as exc:
        run.error = f"timeout after {timeout_s} s: {str(exc).splitlines()[0]}"
    except CellExecutionError as exc:
        run.error = f"{exc.ename}: {exc.evalue}"
    finally:
        run.wall_s = time.perf_counter() - start
        run.peak_rss = sampler.stop()
    run.experiments = experiment_lines(nb)
    run.executed = nb
    return run


def save_run(run: LessonRun, folder: Path, how: str) -> None:
    """The executed notebook and its figures (<lesson>.json), for tools/build_site.py."""
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(run.executed, folder / run.notebook.name)
    figures = {"notebook": run.notebook.name, "wall_s": round(run.wall_s, 1),
               "peak_mb": round(run.peak_rss / 2**20), "experiments": run.experiments,
               "error": run.error, "measured_by": how, "cpu_cores": psutil.cpu_count()}  # fmt: skip
    (folder / f"{run.notebook.stem}.json").write_text(json.dumps(figures, indent=1) + "\n")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(runs: list[LessonRun]) -> str:
    rows = [
        "| lesson | wall time | peak RSS | experiment outcome |",
        "|---|---:|---:|---|",
    ]
    for run in runs:
        outcome = "<br>".join(_cell(line[len(EXPERIMENT) :].strip()) for line in run.experiments)
        if run.error:
            outcome = f"**failed**: {_cell(run.error)}" + (f"<br>{outcome}" if outcome else "")
        elif not outcome:
            outcome = f"(no `{EXPERIMENT}` line printed)"
        rows.append(
            f"| {run.notebook.stem} | {run.wall_s:.0f} s | {run.peak_rss / 2**20:,.0f} MB "
            f"| {outcome} |"
        )
    total = sum(r.wall_s for r in runs)
    peak = max((r.peak_rss for r in runs), default=0)
    clean = sum(not r.error for r in runs)
    rows.append(
        f"| **total** | **{total / 60:.1f} min** | **{peak / 2**20:,.0f} MB** (largest) "
        f"| {clean} of {len(runs)} lessons ran without error |"
    )
    return "\n".join(rows)


def targets(runs: list[LessonRun]) -> tuple[str, bool]:
    total = sum(r.wall_s for r in runs)
    heavy = [r.notebook.stem for r in runs if r.peak_rss >= LESSON_LIMIT_BYTES]
    slow = [
        r.notebook.stem
        for r in runs
        if r.wall_s > LESSON_LIMIT_S_BY_NUMBER.get(r.notebook.stem[:2], LESSON_LIMIT_S)
    ]
    met = total < COURSE_LIMIT_S and not heavy and not slow
    lines = [
        f"- whole course under 10 min: {'met' if total < COURSE_LIMIT_S else 'MISSED'} "
        f"({total / 60:.1f} min)",
        f"- every lesson under 60 s (lesson 12: 120 s): "
        f"{'met' if not slow else 'MISSED by ' + ', '.join(slow)}",
        f"- every lesson under 2 GB peak: {'met' if not heavy else 'MISSED by ' + ', '.join(heavy)}",
    ]
    return "\n".join(lines), met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/NN_*.ipynb")
    parser.add_argument("--out", type=Path, help="also write the report to this markdown file")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    parser.add_argument("--executed", type=Path, help="save the executed notebooks here")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        print("no notebooks found in notebooks/", file=sys.stderr)
        return 1
    runs = []
    for path in paths:
        print(f"running {path.name} ...", file=sys.stderr, flush=True)
        run = run_notebook(path.resolve(), args.timeout)
        print(
            f"  {run.wall_s:.0f} s, {run.peak_rss / 2**20:,.0f} MB"
            + (f", FAILED: {run.error}" if run.error else ""),
            file=sys.stderr,
            flush=True,
        )
        runs.append(run)
    summary, met = targets(runs)
    text = (
        f"{markdown(runs)}\n\nTargets (measured on {psutil.cpu_count()} CPU cores, "
        f"one notebook at a time):\n{summary}\n"
    )
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    for run in runs if args.executed else ():
        save_run(run, args.executed, "make report, one lesson at a time")
    if any(r.error for r in runs):
        return 1
    return 0 if met else 2


if __name__ == "__main__":
    sys.exit(main())
