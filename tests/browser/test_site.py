"""The course's website (``make site``, in build/site/) as a reader meets it, in Chromium.

Served from a local HTTP server on 127.0.0.1: every lesson page loads with no console
error and no request leaving the machine; its figures and widget pictures are there
(as many loaded images as the executed lesson has ``image/png`` outputs); its maths is
typeset; a solution toggle opens. The home page lists every lesson, and dark mode
follows the reader's system. Without a built site the tests skip (and fail in CI,
where ``.ci/run`` builds it first).
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SITE = REPO / "build" / "site"
EXECUTED = REPO / "build" / "executed"
pytestmark = pytest.mark.browser


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site() -> str:
    if not (SITE / "index.html").exists():
        if os.environ.get("CI"):
            pytest.fail("build/site is missing: .ci/run builds it with `make site` first")
        pytest.skip("no site built: run `make site` first")
    handler = functools.partial(_Quiet, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def _lessons() -> list[str]:
    return [json.loads(p.read_text())["notebook"] for p in sorted(EXECUTED.glob("[0-9][0-9]_*.json"))]


def _png_outputs(notebook: str) -> int:
    nb = json.loads((EXECUTED / notebook).read_text())
    return sum(
        "image/png" in out.get("data", {})
        for cell in nb["cells"] if cell["cell_type"] == "code"
        for out in cell.get("outputs", [])
    )  # fmt: skip


class Visit:
    """A page opened with every request and console error recorded."""

    def __init__(self, context, base: str, path: str):
        self.page = context.new_page()
        self.base = base
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("response", lambda r: self.errors.append(f"{r.status} {r.url}")
                     if r.status >= 400 else None)  # fmt: skip
        self.page.goto(base + path)
        self.page.wait_for_load_state("networkidle")

    @property
    def outside(self) -> list[str]:
        return [u for u in self.requests if not u.startswith((self.base, "data:", "blob:"))]

    def close(self):
        self.page.close()


@pytest.fixture
def visit(browser_context, site):
    opened = []

    def open_(path: str) -> Visit:
        v = Visit(browser_context, site, path)
        opened.append(v)
        return v

    yield open_
    for v in opened:
        v.close()


def test_the_home_page_lists_every_lesson_with_its_runtime(visit):
    home = visit("index.html")
    assert not home.errors and not home.outside, (home.errors, home.outside)
    rows = home.page.locator("table tbody tr")
    lessons = _lessons()
    assert lessons and rows.count() == len(lessons) + 1  # and the total
    text = rows.all_inner_texts()
    for name, row in zip(lessons, text, strict=False):
        assert name[:2] in row and " s" in row, row
    assert home.page.locator("input[type=search], .search-button").count() > 0


@pytest.mark.parametrize("notebook", _lessons() or ["(no report)"])
def test_each_lesson_page_loads_offline_with_its_pictures(visit, notebook):
    if notebook == "(no report)":
        pytest.skip("nothing in build/executed: run `make site` first")
    lesson = visit(Path(notebook).stem + ".html")
    lesson.page.wait_for_timeout(500)  # MathJax typesets after load
    assert not lesson.outside, f"requests leaving the machine: {lesson.outside}"
    assert not lesson.errors, f"console errors: {lesson.errors}"
    images = lesson.page.evaluate(
        "Array.from(document.querySelectorAll('.cell_output img'))"
        ".map(i => i.complete && i.naturalWidth > 0)"
    )
    assert len(images) == _png_outputs(notebook) and all(images), images
    outputs = " ".join(lesson.page.locator(".cell_output").all_inner_texts())
    assert "Box(children" not in outputs and "widget-view+json" not in outputs
    if "$" in (EXECUTED / notebook).read_text():
        assert lesson.page.locator("mjx-container").count() > 0, "maths was not typeset"
    toggles = lesson.page.locator("details")
    if toggles.count():
        first = toggles.first
        first.locator("summary").click()
        assert first.evaluate("d => d.open") and first.locator("pre, p").first.is_visible()


def test_dark_mode_follows_the_readers_system(browser_context, site):
    page = browser_context.new_page()
    try:
        page.emulate_media(color_scheme="dark")
        page.goto(site + "index.html")
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    finally:
        page.close()
