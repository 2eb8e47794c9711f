"""Where the course is running: which notebook frontend, and whether widgets render there.

The course is opened in JupyterLab (``make lab``), VS Code, Colab, a class's
JupyterHub or Binder, or run from a terminal. A few things differ between them: the
setup cell installs the course on Colab only; Colab shows ipywidgets 8 only once its
custom widget manager is enabled, and ``tqdm.auto``'s widget bar stays blank there, so
``fit`` prints a text bar instead; the self-test says what the learner will see.

Detection reads ``sys.modules`` and the environment only (standard library, no
imports of the frontends themselves), so it is cheap and safe anywhere:

* ``colab``: the ``google.colab`` module is loaded (it is in every Colab runtime);
* ``vscode``: a kernel whose environment has ``VSCODE_PID`` (set by VS Code for the
  processes it starts, the way plotly detects it);
* ``jupyterhub`` / ``binder``: a kernel with ``JUPYTERHUB_USER`` / ``BINDER_LAUNCH_HOST``
  or ``BINDER_REPO_URL`` set (Binder runs a JupyterHub, so Binder is tested first);
* ``jupyter``: any other Jupyter kernel (JupyterLab, Notebook 7, nbclient, nbval);
* ``ipython``: a terminal IPython; ``python``: plain Python (a script, pytest).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

__all__ = ["FRONTENDS", "detect_frontend", "frontend_name", "in_colab", "widgets_render"]

FRONTENDS = ("colab", "vscode", "binder", "jupyterhub", "jupyter", "ipython", "python")
_NAMES = {
    "colab": "Google Colab",
    "vscode": "VS Code (Jupyter extension)",
    "binder": "Binder (JupyterHub)",
    "jupyterhub": "a JupyterHub",
    "jupyter": "JupyterLab or Jupyter Notebook",
    "ipython": "a terminal IPython",
    "python": "plain Python (a script or a test run)",
}


def _shell_kind(modules: Mapping[str, Any]) -> str | None:
    """'kernel', 'terminal' or None, from IPython's running shell if IPython is loaded."""
    ipython = modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    shell = get() if callable(get) else None
    if shell is None:
        return None
    name = type(shell).__name__
    if name == "ZMQInteractiveShell" or "google.colab" in modules:
        return "kernel"
    return "terminal" if name == "TerminalInteractiveShell" else None


def detect_frontend(
    environ: Mapping[str, str] | None = None, modules: Mapping[str, Any] | None = None
) -> str:
    """One of :data:`FRONTENDS` (see the module docstring for how each is told apart).

    ``environ`` and ``modules`` default to ``os.environ`` and ``sys.modules``; tests
    pass their own.
    """
    environ = os.environ if environ is None else environ
    modules = sys.modules if modules is None else modules
    if not isinstance(environ, Mapping):
        raise TypeError(f"environ must be a mapping such as os.environ, not {type(environ).__name__}")
    if not isinstance(modules, Mapping):
        raise TypeError(f"modules must be a mapping such as sys.modules, not {type(modules).__name__}")
    if in_colab(modules):
        return "colab"
    shell = _shell_kind(modules)
    if shell == "kernel":
        if "VSCODE_PID" in environ:
            return "vscode"
        if "BINDER_LAUNCH_HOST" in environ or "BINDER_REPO_URL" in environ:
            return "binder"
        if "JUPYTERHUB_USER" in environ:
            return "jupyterhub"
        return "jupyter"
    return "ipython" if shell == "terminal" else "python"


def in_colab(modules: Mapping[str, Any] | None = None) -> bool:
    """True in a Colab runtime."""
    modules = sys.modules if modules is None else modules
    if not isinstance(modules, Mapping):
        raise TypeError(f"modules must be a mapping such as sys.modules, not {type(modules).__name__}")
    return "google.colab" in modules


def frontend_name(frontend: str) -> str:
    """A frontend's name as a learner knows it."""
    if not isinstance(frontend, str):
        raise TypeError(f"frontend must be a string, one of {FRONTENDS}, not {type(frontend).__name__}")
    if frontend not in _NAMES:
        raise ValueError(f"frontend={frontend!r} is not one of {FRONTENDS}")
    return _NAMES[frontend]


def widgets_render(frontend: str) -> tuple[bool, str]:
    """(whether the lessons' widget apps render live there, what to do if not)."""
    frontend_name(frontend)  # checks the argument
    if frontend == "colab":
        return True, (
            "widget apps render once the lesson's setup cell has enabled Colab's custom "
            "widget manager (run that cell first)"
        )
    if frontend == "vscode":
        return True, "widget apps render with the Jupyter extension and the .venv kernel selected"
    if frontend in ("jupyter", "jupyterhub", "binder"):
        return True, "widget apps render (JupyterLab 4 and Notebook 7 bring the widget manager)"
    return False, (
        "widget apps do not render here: open a lesson in JupyterLab (make lab), VS Code or "
        "Colab (outside a notebook each app still shows its picture)"
    )
