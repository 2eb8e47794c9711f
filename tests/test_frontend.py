"""Where the course runs: each frontend told apart, and what the course does there."""

from __future__ import annotations

import sys
import types

import pytest
import torch
from torch import nn

from course_lib import frontend, train
from course_lib.frontend import FRONTENDS, detect_frontend, frontend_name, in_colab, widgets_render


def _ipython(shell_class: str | None) -> types.ModuleType:
    """A stand-in IPython module whose get_ipython() returns a shell of that class."""
    module = types.ModuleType("IPython")
    shell = None if shell_class is None else type(shell_class, (), {})()
    module.get_ipython = lambda: shell
    return module


KERNEL = {"IPython": _ipython("ZMQInteractiveShell")}


@pytest.mark.parametrize(
    ("environ", "modules", "expected"),
    [
        ({}, {"google.colab": types.ModuleType("google.colab"), **KERNEL}, "colab"),
        ({"VSCODE_PID": "123"}, KERNEL, "vscode"),
        ({"JUPYTERHUB_USER": "ada", "BINDER_LAUNCH_HOST": "https://mybinder.org/"}, KERNEL, "binder"),
        ({"JUPYTERHUB_USER": "ada"}, KERNEL, "jupyterhub"),
        ({}, KERNEL, "jupyter"),
        ({"VSCODE_PID": "123"}, {"IPython": _ipython("TerminalInteractiveShell")}, "ipython"),
        ({"VSCODE_PID": "123"}, {"IPython": _ipython(None)}, "python"),
        ({}, {}, "python"),
    ],
)
def test_each_frontend_is_told_apart(environ, modules, expected):
    assert detect_frontend(environ, modules) == expected
    assert in_colab(modules) is (expected == "colab")


def test_this_test_run_is_plain_python():
    assert detect_frontend() == "python" and not in_colab()


def test_every_frontend_has_a_name_and_a_widget_verdict():
    for name in FRONTENDS:
        assert frontend_name(name)
        renders, what = widgets_render(name)
        assert renders is (name not in ("ipython", "python")) and what
    with pytest.raises(ValueError, match="frontend='lab'"):
        widgets_render("lab")
    with pytest.raises(TypeError, match="frontend"):
        frontend_name(3)
    with pytest.raises(TypeError, match="environ"):
        detect_frontend(environ=["VSCODE_PID"])


def test_fit_prints_a_text_bar_on_colab(monkeypatch):
    made = []

    class Bar(list):
        def set_postfix(self, **kwargs):
            pass

        def close(self):
            pass

    def spy(kind):
        def bar(iterable, **kwargs):
            made.append(kind)
            return Bar(iterable)

        return bar

    monkeypatch.setattr(train, "text_bar", spy("text"))
    monkeypatch.setattr(train, "widget_or_text_bar", spy("auto"))
    model = nn.Linear(2, 2)
    x, y = torch.zeros(4, 2), torch.tensor([0, 1, 0, 1])
    train.fit(model, (x, y), epochs=1, batch_size=2, progress=True)
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    train.fit(model, (x, y), epochs=1, batch_size=2, progress=True)
    assert made == ["auto", "text"]
    assert frontend.in_colab()
