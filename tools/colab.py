"""Write every lesson's bootstrap lines and its "Open in Colab" / Binder badges from one URL.

Where the course is installed from is declared once: the ``Repository`` entry of
``[project.urls]`` in ``pyproject.toml``. From it this script writes, in every lesson
(and the template):

* the bootstrap at the top of the setup cell (between the two ``course bootstrap``
  comment lines, after ``%matplotlib inline`` and the cell's "# Setup" comment). It works unchanged everywhere: on Colab it installs the course from
  the repository with ``pip --no-deps`` (so Colab's torch, numpy and ipywidgets stay as
  they are; the two small packages Colab lacks are named explicitly) and switches on
  Colab's custom widget manager; in JupyterLab, VS Code or a JupyterHub it does nothing
  but find the course. Where the course is not installed (a VS Code kernel that is not
  the course's ``.venv``, a Colab runtime while no repository URL is set) it stops with
  one line saying what to do, instead of an ``ImportError`` from deep in an import;
* the badges under each lesson's title and in the README (only once the URL is a
  GitHub repository; without one there are none).

``tests/test_colab.py`` runs ``--check``: it fails when a notebook or the README is out
of step with ``pyproject.toml``. After changing the URL or adding a lesson:

    .venv/bin/python tools/colab.py
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN = "# --- course bootstrap (tools/colab.py writes these lines) ---"
END = "# --- end of course bootstrap ---"
BADGES_BEGIN = "<!-- badges (tools/colab.py) -->"
BADGES_END = "<!-- end of badges -->"
# Runtime packages a Colab runtime does not have; the rest (torch, numpy, scikit-learn,
# matplotlib, ipywidgets, tqdm, threadpoolctl) are Colab's own and stay untouched.
NOT_ON_COLAB = ("array-api-compat", "platformdirs")
NOT_INSTALLED = (
    "course_lib is not installed in this kernel. VS Code: select the course's .venv kernel "
    "(build it with `make venv`). Elsewhere: `pip install .` in the course folder. "
    "See the README, 'Open the course'."
)


def repository_url(pyproject: Path = ROOT / "pyproject.toml") -> str | None:
    """The ``Repository`` URL of ``[project.urls]``, or None while it is not set."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    url = project.get("urls", {}).get("Repository")
    return url.rstrip("/") if url else None


def _github(url: str | None) -> tuple[str, str] | None:
    match = re.match(r"^https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?$", url or "")
    return (match.group(1), match.group(2)) if match else None


def colab_requirements(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The runtime requirements Colab lacks, with their ranges from pyproject.toml."""
    deps = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    out = []
    for dep in deps:
        name = re.match(r"^\s*([A-Za-z0-9_.\-]+)", dep).group(1)
        if name in NOT_ON_COLAB:
            out.append(dep.replace(" ", ""))
    return out


def bootstrap(url: str | None, requirements: list[str]) -> list[str]:
    """The bootstrap lines of a setup cell (see the module docstring)."""
    lines = [BEGIN, "import importlib.util", "import sys", ""]
    if url:
        install = [f"course_lib @ git+{url}", *requirements]
        lines += [
            'if "google.colab" in sys.modules:  # on Colab: install the course, keep Colab\'s packages',
            '    if importlib.util.find_spec("course_lib") is None:',
            "        import subprocess",
            "",
            '        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]',
            f"        subprocess.run([*pip, {', '.join(map(repr, install))}], check=True)",
            "        importlib.invalidate_caches()",
        ]
    else:
        lines += ['if "google.colab" in sys.modules:  # on Colab: let the widgets show']
    lines += [
        "    from google.colab import output",
        "",
        "    output.enable_custom_widget_manager()",
        'if importlib.util.find_spec("course_lib") is None:',
        f"    raise SystemExit({NOT_INSTALLED!r})",
        END,
    ]
    return lines


def badges(url: str | None, notebook: str) -> str:
    """Markdown badges opening ``notebooks/<notebook>`` in Colab and on Binder ('' without a URL)."""
    repo = _github(url)
    if repo is None:
        return ""
    owner, name = repo
    colab = f"https://colab.research.google.com/github/{owner}/{name}/blob/main/notebooks/{notebook}"
    binder = f"https://mybinder.org/v2/gh/{owner}/{name}/HEAD?labpath=notebooks/{notebook}"
    return (
        f"[![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab}) "
        f"[![Launch on Binder](https://mybinder.org/badge_logo.svg)]({binder})"
    )


def _remove_badges(text: str) -> str:
    return re.sub(rf"\n\n{re.escape(BADGES_BEGIN)}.*?{re.escape(BADGES_END)}\n", "\n", text, flags=re.S)


def _with_badges(text: str, badge: str) -> str:
    """The badges (or none) on their own line after the first (title) line."""
    title, newline, after = _remove_badges(text).partition("\n")
    if not badge:
        return title + newline + after
    return f"{title}\n\n{BADGES_BEGIN}{badge}{BADGES_END}\n{after}"


def rewrite_setup(source: str, lines: list[str]) -> str:
    """The setup cell with its bootstrap (re)written right after ``%matplotlib inline``."""
    body = re.sub(rf"{re.escape(BEGIN)}.*?{re.escape(END)}\n", "", source, flags=re.S)
    first, _, rest = body.partition("\n")
    if first.strip() != "%matplotlib inline":
        raise ValueError("the setup cell must start with %matplotlib inline")
    head = [first]
    if rest.startswith("# Setup"):  # the cell's own first comment stays on top
        comment, _, rest = rest.partition("\n")
        head.append(comment)
    return "\n".join([*head, *lines, rest])


def _cell_text(cell: dict) -> str:
    return "".join(cell["source"])


def _set_text(cell: dict, text: str) -> None:
    lines = text.split("\n")
    cell["source"] = [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])


def render_notebook(text: str, name: str, url: str | None, requirements: list[str]) -> str:
    nb = json.loads(text)
    code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    _set_text(code, rewrite_setup(_cell_text(code), bootstrap(url, requirements)))
    title = nb["cells"][0]
    if title["cell_type"] == "markdown" and _cell_text(title).startswith("# "):
        _set_text(title, _with_badges(_cell_text(title), badges(url, name)))
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def render_readme(text: str, url: str | None) -> str:
    return _with_badges(text, badges(url, "00_start_here.ipynb"))


def targets() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")) + sorted(
        (ROOT / "templates").glob("*.ipynb")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if stale")
    args = parser.parse_args(argv)
    url, requirements = repository_url(), colab_requirements()
    stale = []
    for path in targets():
        old = path.read_text(encoding="utf-8")
        new = render_notebook(old, path.name, url, requirements)
        if new != old:
            stale.append(path)
            if not args.check:
                path.write_text(new, encoding="utf-8")
    readme = ROOT / "README.md"
    old = readme.read_text(encoding="utf-8")
    new = render_readme(old, url)
    if new != old:
        stale.append(readme)
        if not args.check:
            readme.write_text(new, encoding="utf-8")
    for path in stale:
        verb = "out of step with pyproject.toml" if args.check else "rewritten"
        print(f"{path.relative_to(ROOT)}: {verb}", file=sys.stderr)
    return 1 if (stale and args.check) else 0


if __name__ == "__main__":
    raise SystemExit(main())
