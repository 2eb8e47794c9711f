"""Each lesson's widget works where the learner meets it: JupyterLab in a real browser.

For every lesson notebook: open it in JupyterLab (served as ``make lab`` serves
it), Run All, find the widget, move one control, and check that the picture the
widget draws changed (screenshots compared pixel by pixel) and that no cell shows
an error. The table below says, per lesson, which widget and control; a lesson
with no row gets the default (its first widget, its first control). Rows for
lessons not written yet are skipped. Screenshots (before, after, whole page) are
kept in each test's temporary folder: pytest prints it when a test fails.

The scratch tests show the checker itself works and can fail: a working
``FigureApp`` passes, one whose draw function raises on change is reported, and so
is a cell that raises.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from lab_driver import WidgetCase, check_widget

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"

# notebook number -> the widget to move and what must change (see WidgetCase).
TABLE: dict[str, WidgetCase] = {
    "00": WidgetCase(
        "notebooks/00_start_here.ipynb", app="A photo is a grid of numbers", control="size",
        move="right:2",
    ),
    "01": WidgetCase(
        "notebooks/01_convolution_and_edge_detection.ipynb", app="Kernel explorer",
        control="kernel", move="select:next",
    ),
    "02": WidgetCase(
        "notebooks/02_padding_stride_output_size.ipynb", app="Sliding window",
        control="stride s", move="right:1",
    ),
    "03": WidgetCase(
        "notebooks/03_volumes_pooling_1x1.ipynb", app="Pooling a photo", control="pooling",
        move="select:next",
    ),
    "04": WidgetCase(
        "notebooks/04_activation_functions.ipynb", app="An activation and its slope",
        control="function", move="select:next",
    ),
    "05": WidgetCase("notebooks/05_building_and_training_a_cnn.ipynb"),
}  # fmt: skip


def _lesson_cases() -> list:
    """One case per lesson: a table row where there is one, else the default row.

    A row's notebook is found by its number, so a lesson renamed while written is
    still matched; a row whose lesson does not exist yet is skipped, not failed.
    """
    present = {p.name[:2]: p for p in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))}
    cases = []
    for number in sorted(set(TABLE) | set(present)):
        row = TABLE.get(number)
        if number in present:
            notebook = f"notebooks/{present[number].name}"
            case = WidgetCase(notebook) if row is None else _with_notebook(row, notebook)
            cases.append(pytest.param(case, id=present[number].stem))
        else:
            mark = pytest.mark.skip(reason=f"lesson {number} is not written yet ({row.notebook})")
            cases.append(pytest.param(row, id=Path(row.notebook).stem, marks=mark))
    return cases


def _with_notebook(row: WidgetCase, notebook: str) -> WidgetCase:
    return WidgetCase(notebook, row.app, row.control, row.move, row.must_change)


def _report(problems: list[str], shots: Path) -> str:
    return "\n".join(problems) + f"\nscreenshots: {shots}"


@pytest.mark.browser
@pytest.mark.timeout(900)
@pytest.mark.parametrize("case", _lesson_cases())
def test_lesson_widget_responds_in_jupyterlab(page, lab, case, tmp_path):
    problems = check_widget(page, lab, case, tmp_path)
    assert not problems, _report(problems, tmp_path)


# --------------------------------------------------------------- the checker itself

SCRATCH_APP = """\
import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from course_lib.widgets.base import FigureApp

FIRST = {{"frequency": 2, "colour": "tab:red"}}


def draw(frequency, colour):
    {fault}
    fig = Figure(figsize=(4, 2.5))
    ax = fig.add_subplot()
    x = np.linspace(0, 1, 200)
    ax.plot(x, np.sin(2 * np.pi * frequency * x), color=colour)
    return fig, f"frequency {{frequency}}, {{colour}}"


app = FigureApp(
    {{
        "frequency": widgets.IntSlider(value=2, min=1, max=9, description="frequency"),
        "colour": widgets.Dropdown(options=["tab:red", "tab:blue"], description="colour"),
    }},
    draw,
    title="Scratch sine",
)
app
"""
HEALTHY = "pass"
# Raises on the first change only: the opening picture draws, the callback breaks.
# A RuntimeError (not the ValueError FigureApp turns into a message) goes to the
# kernel's log, where the learner never sees it: only the picture staying put shows it.
BROKEN = (
    "if (frequency, colour) != tuple(FIRST.values()):\n"
    '        raise RuntimeError("broken on purpose")'
)


def _scratch(lab_root: Path, name: str, fault: str, extra: str | None = None) -> str:
    cells = [nbformat.v4.new_code_cell(SCRATCH_APP.format(fault=fault))]
    cells.append(nbformat.v4.new_code_cell('print("Experiment: the scratch widget was drawn")'))
    if extra:
        cells.append(nbformat.v4.new_code_cell(extra))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, lab_root / "scratch" / f"{name}.ipynb")
    return f"scratch/{name}.ipynb"


@pytest.mark.browser
@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    "control, move",
    [("frequency", "right:3"), ("colour", "select:next")],
    ids=["slider", "dropdown"],
)
def test_checker_passes_a_working_widget(page, lab, lab_root, tmp_path, control, move):
    notebook = _scratch(lab_root, f"healthy_{control}", HEALTHY)
    case = WidgetCase(notebook, app="Scratch sine", control=control, move=move,
                      must_change="figure+message")  # fmt: skip
    problems = check_widget(page, lab, case, tmp_path)
    assert not problems, _report(problems, tmp_path)
    assert (tmp_path / f"{case.slug}-before.png").stat().st_size > 0
    assert (tmp_path / f"{case.slug}-after.png").stat().st_size > 0


@pytest.mark.browser
@pytest.mark.timeout(600)
def test_checker_reports_a_broken_callback(page, lab, lab_root, tmp_path):
    notebook = _scratch(lab_root, "broken_callback", BROKEN)
    case = WidgetCase(notebook, app="Scratch sine", control="frequency", move="right:3")
    problems = check_widget(page, lab, case, tmp_path)
    assert any(re.search(r"figure was not redrawn|pixels are identical", p) for p in problems), (
        _report(problems or ["(no problem reported)"], tmp_path)
    )


@pytest.mark.browser
@pytest.mark.timeout(600)
def test_checker_reports_an_error_in_a_cell(page, lab, lab_root, tmp_path):
    notebook = _scratch(lab_root, "error_cell", HEALTHY, extra="1 / 0")
    case = WidgetCase(notebook, app="Scratch sine", control="frequency", move="right:3")
    problems = check_widget(page, lab, case, tmp_path)
    assert any("ZeroDivisionError" in p for p in problems), _report(
        problems or ["(no problem reported)"], tmp_path
    )
    assert not any("figure" in p for p in problems), _report(problems, tmp_path)
