"""The course as a whole: repeatable, offline, and served safely.

- ``tools/report.py`` reads a lesson's outcome from the printed lines starting
  ``Experiment:`` and tabulates it.
- Idempotence: every lesson run twice in one kernel, and again in a fresh kernel,
  prints the same ``Experiment:`` lines.
- Offline: `make test` runs the unit tests and every notebook, kernels included, inside a
  network namespace where only loopback exists, so nothing can be downloaded.
- Security: the server ``make lab`` starts refuses requests without its token and
  listens on 127.0.0.1 only.
"""

from __future__ import annotations

import errno
import http.client
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

_spec = importlib.util.spec_from_file_location("course_report", ROOT / "tools" / "report.py")
report = importlib.util.module_from_spec(_spec)
sys.modules["course_report"] = report  # dataclasses look their module up there
_spec.loader.exec_module(report)


@pytest.fixture
def jupyter_dirs(tmp_path, monkeypatch) -> dict[str, str]:
    """Jupyter's and IPython's config/data/runtime dirs in a throw-away folder."""
    for var in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR",
                "JUPYTERLAB_WORKSPACES_DIR", "IPYTHONDIR"):  # fmt: skip
        if var not in os.environ or var == "JUPYTER_RUNTIME_DIR":
            path = tmp_path / var.lower()
            path.mkdir()
            monkeypatch.setenv(var, str(path))
    return dict(os.environ)


# ------------------------------------------------------------------ experiment lines


def test_experiment_lines_read_stdout_only():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="noise\nExperiment: a = 1\n"),
        nbformat.v4.new_output("stream", name="stderr", text="Experiment: from stderr\n"),
        nbformat.v4.new_output("stream", name="stdout", text="  Experiment: indented\n"),
    ]
    nb.cells = [cell, nbformat.v4.new_markdown_cell("Experiment: prose")]
    assert report.experiment_lines(nb) == ["Experiment: a = 1"]


def test_report_table_and_targets():
    fast = report.LessonRun(Path("00_a.ipynb"), 30.0, 500 * 2**20, ["Experiment: x | y"])
    heavy = report.LessonRun(Path("01_b.ipynb"), 900.0, 3 * 2**30, [], error="ValueError: no")
    table = report.markdown([fast, heavy])
    assert "| 00_a | 30 s | 500 MB | x \\| y |" in table
    assert "**failed**: ValueError: no" in table
    assert "**15.5 min**" in table and "1 of 2 lessons" in table
    summary, met = report.targets([fast, heavy])
    assert not met and "MISSED (15.5 min)" in summary and "MISSED by 01_b" in summary
    assert report.targets([fast]) == (report.targets([fast])[0], True)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_report_measures_the_kernels_process_tree(tmp_path, jupyter_dirs):
    """A child process of the kernel holding 600 MB for 2 s must show in the peak:
    the kernel alone stays near 100 MB, so only the tree's sum can pass."""
    child = "import numpy as np, time; a = np.ones(600 * 2**20 // 8); a[::512] += 1; time.sleep(2)"
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {child!r}], check=True)"),
        nbformat.v4.new_code_cell('print("Experiment: the child ran")'),
    ]  # fmt: skip
    path = tmp_path / "99_memory.ipynb"
    nbformat.write(nb, path)
    run = report.run_notebook(path, timeout_s=120)
    assert not run.error, run.error
    assert run.experiments == ["Experiment: the child ran"]
    assert run.wall_s >= 2.0
    assert run.peak_rss >= 600 * 2**20, f"peak {run.peak_rss / 2**20:.0f} MB misses the child"
    assert run.peak_rss < 2 * 2**30, f"peak {run.peak_rss / 2**20:.0f} MB is implausibly large"


# ------------------------------------------------------------------ idempotence


def _client(nb):
    from nbclient import NotebookClient

    return NotebookClient(
        nb, timeout=600, kernel_name="python3",
        resources={"metadata": {"path": str(ROOT / "notebooks")}},
    )  # fmt: skip


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_WIDGET_REPR = re.compile(r"^\s*(VBox|HBox|Box|GridBox|Tab|Accordion|Output|Image|[A-Z]\w*Slider)\(")


def widget_output_problems(nb) -> list[str]:
    """Outputs a plain viewer would show as nothing useful.

    A widget view must come as display_data (Colab attaches its widget manager to
    nothing else) with an ``image/png`` beside it (what GitHub, nbconvert HTML, the
    site and a frontend without a widget manager show); and no output may be only a
    widget's repr such as ``VBox(children=...)``.
    """
    problems = []
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            text = data.get("text/plain", "") if data else out.get("text", "")
            text = "".join(text) if isinstance(text, list) else text
            where = f"cell {index}"
            if WIDGET_VIEW in data:
                if out.get("output_type") != "display_data":
                    problems.append(f"{where}: a widget sent as {out.get('output_type')}")
                if "image/png" not in data:
                    problems.append(f"{where}: a widget without its picture (image/png)")
            elif _WIDGET_REPR.match(text) and set(data) <= {"text/plain"}:
                problems.append(f"{where}: only a widget's repr: {text[:60]!r}")
    return problems


def test_widget_output_problems_are_found():
    ok = nbformat.v4.new_output(
        "display_data", data={WIDGET_VIEW: {"model_id": "1"}, "image/png": "iVBO", "text/plain": "app"}
    )
    no_png = nbformat.v4.new_output("display_data", data={WIDGET_VIEW: {"model_id": "1"}})
    as_result = nbformat.v4.new_output(
        "execute_result", data={WIDGET_VIEW: {"model_id": "1"}, "image/png": "iVBO"}, execution_count=1
    )
    bare = nbformat.v4.new_output("execute_result", data={"text/plain": "VBox(children=(IntSlider(value=1),))"},
                                  execution_count=2)  # fmt: skip
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("", outputs=[o]) for o in (ok, no_png, as_result, bare)]
    assert widget_output_problems(nb) == [
        "cell 1: a widget without its picture (image/png)",
        "cell 2: a widget sent as execute_result",
        "cell 3: only a widget's repr: 'VBox(children=(IntSlider(value=1),))'",
    ]


def test_an_app_goes_out_as_display_data_with_its_picture():
    """A FigureApp as a cell's last value, run in a real kernel."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "from course_lib.widgets.activations import activation_app\nactivation_app()"
    )]  # fmt: skip
    _client(nb).execute()
    (out,) = nb.cells[0].outputs
    assert out.output_type == "display_data" and {WIDGET_VIEW, "image/png"} <= set(out.data)
    assert not widget_output_problems(nb)


@pytest.mark.slow
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_experiment_outcome_repeats(path, jupyter_dirs):
    """Same kernel twice, then a fresh kernel: the printed outcomes agree, and every
    widget the fresh run shows also carries its picture (see widget_output_problems)."""
    nb = nbformat.read(path, as_version=4)
    client = _client(nb)
    client.reset_execution_trackers()
    runs = []
    with client.setup_kernel():
        for _ in range(2):
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
            runs.append(report.experiment_lines(nb))
    # the fresh kernel's run is the report's own (time, peak memory, outcome); with
    # COURSE_EXECUTED_DIR set (make test) it is kept for the website (tools/build_site.py)
    run = report.run_notebook(path, 600)
    assert not run.error, f"{path.name}: {run.error}"
    fresh = run.executed
    if os.environ.get("COURSE_EXECUTED_DIR"):
        report.save_run(run, Path(os.environ["COURSE_EXECUTED_DIR"]),
                        "make test, two lessons at a time alongside the unit tests")  # fmt: skip
    runs.append(report.experiment_lines(fresh))

    assert not widget_output_problems(fresh), widget_output_problems(fresh)
    assert runs[0], f"{path.name} printed no {report.EXPERIMENT!r} line"
    assert runs[1] == runs[0], f"second run in the same kernel differs:\n{runs[0]}\n{runs[1]}"
    assert runs[2] == runs[0], f"a fresh kernel's run differs:\n{runs[0]}\n{runs[2]}"


# ------------------------------------------------------------------ offline

# `make test` runs pytest and every notebook through tools/offline.sh, inside a
# network namespace where only loopback exists (COURSE_OFFLINE=1 is then set).
# A lesson that downloaded anything would fail there.
OFFLINE = ROOT / "tools" / "offline.sh"
_REACH = (
    "import socket\n"
    "srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen()\n"
    "cli = socket.create_connection(srv.getsockname(), timeout=3); cli.close()\n"
    "s = socket.socket(); s.settimeout(3)\n"
    "print('interfaces:', ','.join(name for _, name in socket.if_nameindex()))\n"
    "print('outside:', s.connect_ex(('93.184.216.34', 443)))\n"
)
_UNREACHABLE = (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ETIMEDOUT)


def _probe(command_prefix: list[str]) -> tuple[list[str], int, str]:
    """(network interfaces, errno of a connection to an outside address, stderr)."""
    result = subprocess.run(
        [*command_prefix, sys.executable, "-c", _REACH], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    interfaces = result.stdout.split("interfaces:")[1].split("\n")[0].strip().split(",")
    return interfaces, int(result.stdout.split("outside:")[1]), result.stderr


def test_offline_wrapper_blocks_all_but_loopback():
    """tools/offline.sh is what `make test` claims: loopback works, nothing else."""
    interfaces, code, stderr = _probe([str(OFFLINE)])
    if "running WITH the network" in stderr:
        pytest.skip(stderr.strip())
    # A namespace of our own holds loopback alone; the host (even one whose firewall
    # drops outside traffic) has more, so this cannot pass without the namespace.
    assert interfaces == ["lo"], f"offline.sh ran with network interfaces {interfaces}"
    assert code in _UNREACHABLE, f"an outside address answered through offline.sh (code {code})"


def test_this_test_run_is_offline():
    """The suite itself (and so every notebook kernel `make test` starts) has no network."""
    if os.environ.get("COURSE_OFFLINE") != "1":
        pytest.skip("not started through tools/offline.sh (run `make test` for the offline run)")
    interfaces, code, _ = _probe([])
    assert interfaces == ["lo"], f"COURSE_OFFLINE=1, yet this run sees interfaces {interfaces}"
    assert code in _UNREACHABLE, f"COURSE_OFFLINE=1, yet an outside address answered ({code})"


# ------------------------------------------------------------------ security


def _get(port: int, path: str, headers: dict[str, str] | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("Location") or ""
    finally:
        conn.close()


@pytest.fixture
def make_lab(jupyter_dirs, tmp_path):
    """``make lab`` on a free port, exactly as a learner starts it (the Makefile's
    recipe, its own random token), under a user config that tries to switch the token
    off and open all interfaces; yields (port, token, pid of jupyter)."""
    if shutil.which("make") is None:
        pytest.skip("`make` is not installed")
    if not (ROOT / ".venv" / "bin" / "jupyter").exists():
        pytest.skip("the course's .venv is not installed: run `make lab` once")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # A hostile user config: no token, all interfaces. `make lab` must override both.
    config_dir = tmp_path / "hostile-config"
    config_dir.mkdir()
    (config_dir / "jupyter_server_config.py").write_text(
        'c.IdentityProvider.token = ""\nc.ServerApp.ip = "0.0.0.0"\n'
    )
    # BROWSER: a no-op, so nothing opens a window
    env = dict(jupyter_dirs, JUPYTER_CONFIG_DIR=str(config_dir), BROWSER="true")
    log = open(tmp_path / "lab.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        # -o: use the installed .venv as it is (this test is about the server)
        ["make", "--no-print-directory", "-o", ".venv/.installed-stamp", "lab", f"PORT={port}"],
        cwd=ROOT, env=env,
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    runtime = Path(env["JUPYTER_RUNTIME_DIR"])
    try:
        deadline = time.monotonic() + 90
        info = None
        while time.monotonic() < deadline and proc.poll() is None:
            for path in runtime.glob("jpserver-*.json"):
                info = json.loads(path.read_text())
            if info:
                try:
                    _get(port, "/api/status")
                    break
                except OSError:
                    pass
            time.sleep(0.3)
        else:
            pytest.fail(f"`make lab` did not come up:\n{(tmp_path / 'lab.log').read_text()}")
        yield port, info["token"], info["pid"]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


@pytest.mark.timeout(180)
def test_make_lab_refuses_requests_without_its_token(make_lab):
    port, token, _ = make_lab
    assert token, "make lab started a server with no token: anyone on this machine could use it"
    status, _ = _get(port, "/api/contents")
    assert status == 403, f"/api/contents without a token answered {status}"
    status, _ = _get(port, "/api/contents", {"Authorization": "token not-the-token"})
    assert status == 403, f"/api/contents with a wrong token answered {status}"
    status, location = _get(port, "/lab")
    assert status in (302, 303) and "/login" in location, (
        f"/lab without a token: {status} {location}"
    )
    status, _ = _get(port, "/api/contents", {"Authorization": f"token {token}"})
    assert status == 200, f"/api/contents with the token answered {status}"
    status, _ = _get(port, f"/lab?token={token}")
    assert status == 200, f"/lab?token=... answered {status}"


@pytest.mark.timeout(180)
def test_make_lab_does_not_ask_about_jupyter_news(make_lab):
    """JupyterLab asks "Would you like to get notified about official Jupyter news?" while
    the setting fetchNews is "none" (its default); tools/lab.py's app-level overrides make
    the default "false", so the lesson is the first thing a learner sees."""
    port, token, _ = make_lab
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        plugin = "@jupyterlab/apputils-extension:notification"
        conn.request("GET", f"/lab/api/settings/{plugin}", headers={"Authorization": f"token {token}"})
        response = conn.getresponse()
        body = json.loads(response.read())
    finally:
        conn.close()
    assert response.status == 200, f"the settings API answered {response.status}"
    default = body["schema"]["properties"]["fetchNews"]["default"]
    assert default == "false", f"fetchNews defaults to {default!r}: JupyterLab will ask about news"


@pytest.mark.timeout(180)
def test_make_lab_listens_on_loopback_only(make_lab):
    port, _, pid = make_lab
    listening = [
        c.laddr.ip
        for c in psutil.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN and c.laddr.port == port
    ]
    assert listening, f"nothing listens on port {port} (jupyter pid {pid})"
    assert set(listening) == {"127.0.0.1"}, f"port {port} is open on {listening}"
    outside = [
        a.address
        for addrs in psutil.net_if_addrs().values()
        for a in addrs
        if a.family == socket.AF_INET and not a.address.startswith("127.")
    ]
    for address in outside:  # the machine's other addresses must refuse the port
        with socket.socket() as sock:
            sock.settimeout(3)
            assert sock.connect_ex((address, port)) != 0, f"port {port} answers on {address}"
