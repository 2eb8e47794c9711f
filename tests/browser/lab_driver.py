"""Drive JupyterLab in Chromium the way a learner does, and say what went wrong.

Everything here is plain functions over a Playwright ``Page`` and a running
JupyterLab server: open a notebook, run all its cells, find a course widget
(a :class:`course_lib.widgets.base.FigureApp`, rendered as ``.course-app`` with
its picture in ``.course-figure``), move one control, and compare screenshots of
the picture before and after. :func:`check_widget` returns a list of problems
in words (empty when the learner would have seen a working widget), so a test
can assert on it and a test of the test can show that a broken widget is caught.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

CHROMIUM = os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_HINT = (
    "the browser tests drive Debian's Chromium at /usr/bin/chromium, which is not installed: "
    "`sudo apt-get update && sudo apt-get install -y chromium` (never `playwright install`)"
)
IDLE = '.jp-Notebook-ExecutionIndicator[data-status="idle"]:visible'

# JupyterLab user settings for the test server: keep every cell in the page (no
# virtual scrolling, so all outputs can be inspected), never autosave (the served
# notebooks are copies, but a learner's file must never be touched by a test), and
# no news or update checks (no network).
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


@dataclass(frozen=True)
class WidgetCase:
    """One row of the browser table: which widget to move and what must change.

    ``notebook`` is a path relative to the served root. ``app`` picks the
    ``.course-app`` whose text contains it (``None``: the first one). ``control``
    is the control's description label (``None``: the app's first control).
    ``move`` is how to move it: ``"right:N"`` / ``"left:N"`` presses an arrow key N
    times on a slider handle, ``"select:VALUE"`` / ``"select:next"`` picks a dropdown
    option, ``"click"`` toggles a checkbox or the next toggle button, ``"auto"``
    picks by kind (slider: ``right:3``; dropdown: ``select:next``; else ``click``).
    ``must_change`` is ``"figure"`` (the rendered picture) or ``"message"`` (the
    line under it) or ``"figure+message"``.
    """

    notebook: str
    app: str | None = None
    control: str | None = None
    move: str = "auto"
    must_change: str = "figure"

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9]+", "_", Path(self.notebook).stem)


# --------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def jupyter_env(base: Path) -> dict[str, str]:
    """Environment with Jupyter's config, data, runtime and workspace dirs under ``base``."""
    env = dict(os.environ)
    for var, sub in [
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"),
        ("JUPYTERLAB_SETTINGS_DIR", "settings"),
        ("IPYTHONDIR", "ipython"),
    ]:
        (base / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(base / sub)
    env["BROWSER"] = "true"  # should anything try to open a browser: a no-op command
    return env


def _lab_launcher():
    """tools/lab.py, the module behind `make lab`."""
    path = Path(__file__).resolve().parents[2] / "tools" / "lab.py"
    spec = importlib.util.spec_from_file_location("course_lab_launcher", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class LabServer:
    """``jupyter lab`` with the arguments ``make lab`` uses (tools/lab.py: 127.0.0.1,
    no port retries, token auth, ``--allow-root`` as root), plus ``--no-browser``."""

    def __init__(self, root: Path, base: Path, token: str) -> None:
        self.root, self.token, self.port = root, token, free_port()
        env = jupyter_env(base)
        settings = Path(env["JUPYTERLAB_SETTINGS_DIR"])
        for name, values in LAB_SETTINGS.items():
            (settings / name).parent.mkdir(parents=True, exist_ok=True)
            (settings / name).write_text(json.dumps(values))
        # the very arguments `make lab` uses (tools/lab.py), plus --no-browser
        cmd = [
            sys.executable, "-m", "jupyterlab", "--no-browser",
            *_lab_launcher().lab_arguments(self.port, str(root), token, None),
        ]  # fmt: skip
        self.log_path = base / "lab.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            cmd, env=env, cwd=root, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{self.port}"
        self._wait_until_up(timeout=90)

    def _wait_until_up(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited early; log:\n{self.log_path.read_text()}")
            try:
                self.api("GET", "/api/status")
                return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(
            f"jupyter lab did not answer in {timeout} s; log:\n{self.log_path.read_text()}"
        )

    def api(self, method: str, path: str) -> object:
        request = urllib.request.Request(
            self.url + path, method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """Close every session, so each notebook starts in a fresh kernel and
        finished kernels stop holding memory."""
        for session in self.api("GET", "/api/sessions"):
            self.api("DELETE", f"/api/sessions/{session['id']}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()


def copy_course(repo: Path, root: Path) -> None:
    """Serve copies of the notebooks, so nothing a test does can touch the repo's
    files; ``data/`` is linked so that notebooks reading ``../data`` still find it."""
    (root / "notebooks").mkdir(parents=True, exist_ok=True)
    for path in sorted((repo / "notebooks").glob("*.ipynb")):
        shutil.copy2(path, root / "notebooks" / path.name)
    if (repo / "data").is_dir() and not (root / "data").exists():
        (root / "data").symlink_to(repo / "data", target_is_directory=True)


# --------------------------------------------------------------------------- page


def open_notebook(page, server: LabServer, notebook: str, timeout_s: float = 120) -> None:
    # ?reset: start from an empty workspace, not the tabs an earlier test left open
    page.goto(f"{server.url}/lab/tree/{notebook}?reset&token={server.token}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=timeout_s * 1000)
    _accept_kernel_dialog(page)
    wait_kernel_idle(page, timeout_s)


def _accept_kernel_dialog(page) -> None:
    """A notebook saved without kernel metadata makes Lab ask for one: take the default."""
    try:
        page.wait_for_selector(".jp-Dialog", timeout=3000)
    except Exception:  # no dialog: the kernel starts by itself
        return
    page.click(".jp-Dialog .jp-mod-accept")


def wait_kernel_idle(page, timeout_s: float) -> None:
    page.wait_for_selector(IDLE, timeout=timeout_s * 1000)


def _prompts(page) -> list[str]:
    return page.locator(".jp-Notebook .jp-CodeCell .jp-InputArea-prompt").all_inner_texts()


def run_all(page, timeout_s: float = 600) -> list[str]:
    """Run > Run All Cells, then wait until no cell is queued or running and the
    kernel is idle. Returns the problems seen (cells left unexecuted)."""
    page.click('.lm-MenuBar-itemLabel:text-is("Run")')
    page.click('.lm-Menu-itemLabel:text-is("Run All Cells")')
    deadline = time.monotonic() + timeout_s
    started = False
    while time.monotonic() < deadline:
        prompts = [p.strip() for p in _prompts(page)]
        busy = any("*" in p for p in prompts)
        started = started or busy or all(re.fullmatch(r"\[\d+\]:", p) for p in prompts)
        idle = page.locator(IDLE).count() > 0
        if started and not busy and idle:
            break
        page.wait_for_timeout(500)
    else:
        return [f"cells still running after {timeout_s:.0f} s: prompts {prompts}"]
    unrun = [i for i, p in enumerate(prompts) if not re.fullmatch(r"\[\d+\]:", p)]
    if unrun:
        return [f"code cells {unrun} were not executed (Run All stops at an error)"]
    return []


def error_outputs(page) -> list[str]:
    """Text of every error output in the notebook, plus widgets that failed to render.

    JupyterLab renders a cell's error (a traceback) with the stderr renderer, so an
    error output is a stderr output holding a traceback; warnings and progress bars,
    also on stderr, are not errors.
    """
    found = []
    stderr = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
    for output in stderr.all():
        text = output.inner_text()
        if "Traceback (most recent call last)" in text:
            found.append(text.strip()[-600:])
    for widget_error in page.get_by_text("Error displaying widget").all():
        found.append(widget_error.inner_text().strip())
    return found


def find_app(page, app: str | None):
    apps = page.locator(".course-app")
    return apps.filter(has_text=app).first if app else apps.first


def find_control(app_locator, control: str | None):
    controls = app_locator.locator(
        ".widget-slider, .widget-dropdown, .widget-checkbox, .widget-toggle-buttons"
    )
    if control is None:
        return controls.first
    label = re.compile(rf"^\s*{re.escape(control)}\s*$")
    return controls.filter(has=app_locator.page.locator("label.widget-label", has_text=label)).first


def control_value(control) -> str:
    return control.evaluate(
        """el => {
            const h = el.querySelector('.noUi-handle');
            if (h) return h.getAttribute('aria-valuetext') ?? h.getAttribute('aria-valuenow');
            const s = el.querySelector('select'); if (s) return s.value;
            const c = el.querySelector('input[type=checkbox]'); if (c) return String(c.checked);
            const b = el.querySelector('.mod-active'); if (b) return b.textContent;
            return el.textContent;
        }"""
    )


def move_control(control, move: str) -> None:
    if move == "auto":  # whatever a learner does first with this kind of control
        if control.locator(".noUi-handle").count():
            move = "right:3"
        elif control.locator("select").count():
            move = "select:next"
        else:
            move = "click"
    action, _, arg = move.partition(":")
    if action in ("right", "left"):
        handle = control.locator(".noUi-handle").first
        handle.focus()
        key = "ArrowRight" if action == "right" else "ArrowLeft"
        for _ in range(int(arg or 1)):
            handle.press(key)
    elif action == "select":
        select = control.locator("select")
        if arg == "next":
            values = select.locator("option").evaluate_all("os => os.map(o => o.value)")
            current = select.input_value()
            others = [v for v in values if v != current]
            if not others:
                raise ValueError(f"dropdown has no option other than {current!r}")
            arg = others[0]
        select.select_option(arg)
    elif action == "click":
        checkbox = control.locator("input[type=checkbox]")
        if checkbox.count():
            checkbox.first.click()
        else:
            control.locator("button:not(.mod-active)").first.click()
    else:
        raise ValueError(f"move {move!r}: expected right:N, left:N, select:VALUE or click")


def pixel_difference(png_a: bytes, png_b: bytes) -> float:
    """Fraction of pixels that differ (1.0 when the sizes differ)."""
    a = np.asarray(Image.open(io.BytesIO(png_a)).convert("RGB"), dtype=np.int16)
    b = np.asarray(Image.open(io.BytesIO(png_b)).convert("RGB"), dtype=np.int16)
    if a.shape != b.shape:
        return 1.0
    return float(np.mean(np.any(np.abs(a - b) > 0, axis=-1)))


def _wait_image_loaded(figure) -> None:
    figure.wait_for(state="visible", timeout=60_000)
    figure.evaluate(
        "img => img.complete && img.naturalWidth > 0 ? null"
        " : new Promise(r => { img.onload = r; img.onerror = r; })"
    )


def check_widget(page, server: LabServer, case: WidgetCase, shots: Path) -> list[str]:
    """Open, run, move, compare. Returns the problems a learner would have met.

    Screenshots go to ``shots``: ``<slug>-before.png`` and ``<slug>-after.png``
    (the widget's picture) and ``<slug>-page.png`` (the whole window at the end).
    """
    shots.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    try:
        open_notebook(page, server, case.notebook)
        problems += run_all(page)
        errors_before = error_outputs(page)
        problems += [f"error output in a cell:\n{e}" for e in errors_before]
        apps = page.locator(".course-app")
        if apps.count() == 0:
            return problems + ["no course widget (.course-app) appeared after running all cells"]
        app = find_app(page, case.app)
        if app.count() == 0:
            return problems + [f"no course widget containing {case.app!r}"]
        app.scroll_into_view_if_needed()
        figure = app.locator(".course-figure").first
        message = app.locator(".course-message").first
        _wait_image_loaded(figure)
        control = find_control(app, case.control)
        if control.count() == 0:
            return problems + [f"no control labelled {case.control!r} in the widget"]
        before_png = figure.screenshot(path=shots / f"{case.slug}-before.png")
        before_src = figure.get_attribute("src")
        before_msg = message.inner_text() if message.count() else ""
        before_value = control_value(control)

        move_control(control, case.move)
        after_value = control_value(control)
        if after_value == before_value:
            problems.append(f"the control did not move ({case.move}); value stays {before_value}")
        what = f"after moving {case.control or 'the first control'} {before_value} -> {after_value}"

        if "figure" in case.must_change:
            try:  # the kernel redraws and sends a new PNG: the image gets a new blob URL
                page.wait_for_function(
                    "([img, src]) => img.getAttribute('src') !== src",
                    arg=[figure.element_handle(), before_src],
                    timeout=60_000,
                )
            except Exception:
                problems.append(f"the figure was not redrawn within 60 s {what}")
            _wait_image_loaded(figure)
        else:
            try:
                page.wait_for_function(
                    "([el, text]) => el.innerText !== text",
                    arg=[message.element_handle(), before_msg],
                    timeout=60_000,
                )
            except Exception:
                pass  # reported below
        after_png = figure.screenshot(path=shots / f"{case.slug}-after.png")
        changed = pixel_difference(before_png, after_png)
        if "figure" in case.must_change and changed == 0.0 and not problems:
            problems.append(f"the figure's pixels are identical {what}")
        if "message" in case.must_change:
            after_msg = message.inner_text() if message.count() else ""
            if after_msg == before_msg:
                problems.append(f"the message under the figure stayed {before_msg!r} {what}")
        new_errors = [e for e in error_outputs(page) if e not in errors_before]
        problems += [f"error output after moving the control:\n{e}" for e in new_errors]
        return problems
    finally:
        page.screenshot(path=shots / f"{case.slug}-page.png", full_page=True)
