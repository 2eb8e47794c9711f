"""Fixtures for the browser tests: one JupyterLab server and one Chromium per session.

The tests run only when selected with ``-m browser`` (``make test-browser``); a
plain ``pytest tests`` reports them as skipped, so ``make test`` does not start a
browser. Without Debian's Chromium they skip with the command that installs it.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from lab_driver import CHROMIUM, CHROMIUM_ARGS, INSTALL_HINT, LabServer, copy_course

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    if "browser" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(
        reason="browser test: run it with `make test-browser` (pytest -m browser)"
    )
    for item in items:
        if "browser" in item.keywords and HERE in Path(str(item.path)).parents:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        pytest.skip(INSTALL_HINT)
    return CHROMIUM


@pytest.fixture(scope="session")
def lab_root(tmp_path_factory) -> Path:
    """A copy of the course's notebooks (and a link to data/) for the server to serve."""
    root = tmp_path_factory.mktemp("lab") / "root"
    copy_course(REPO, root)
    (root / "scratch").mkdir()
    return root


@pytest.fixture(scope="session")
def lab(chromium, lab_root, tmp_path_factory):
    server = LabServer(lab_root, tmp_path_factory.mktemp("jupyter"), token=secrets.token_hex(16))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser_context(chromium, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 1000},
        )
        yield context
        context.close()


@pytest.fixture
def page(browser_context, lab):
    """A fresh tab; afterwards the tab is closed unsaved and every kernel shut down."""
    tab = browser_context.new_page()
    tab.set_default_timeout(60_000)
    yield tab
    tab.close(run_before_unload=False)
    lab.shutdown_kernels()
