"""The pattern every lesson widget follows: controls -> pure draw function -> picture.

A :class:`FigureApp` holds named ipywidgets controls and a ``draw`` function that
takes the controls' values as keyword arguments and returns a matplotlib
``Figure``. Whenever a control changes, the figure is redrawn and shown as a PNG
in an ``ipywidgets.Image``; a ``ValueError`` from ``draw`` (an invalid combination
of settings) is shown as a message instead, so the learner reads why.

Tests drive an app headlessly: set ``app.controls["name"].value`` and look at
``app.png``, ``app.message`` or ``app.result``.

Shown in a notebook, an app is sent as ``display_data`` (never as a cell's
``execute_result``, which Colab's widget manager does not attach to) carrying the
widget view *and* its current picture as ``image/png``: JupyterLab, VS Code and Colab
with its widget manager render the live widget; a plain viewer (GitHub, nbconvert
HTML, a static site) or a frontend without a widget manager shows the picture.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as widgets
from IPython.display import display
from matplotlib.figure import Figure

from course_lib.validate import check_choice, check_int


def figure_to_png(fig: Figure, *, dpi: int = 80) -> bytes:
    """Render a matplotlib figure to PNG bytes (no pyplot, no global state)."""
    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure, not {type(fig).__name__}")
    dpi = check_int("dpi", dpi, minimum=10, maximum=600)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


class FigureApp:
    """Controls on top, the figure they drive below, a message line under it.

    ``draw(**values)`` returns either a ``Figure`` or a ``(Figure, result)`` pair;
    ``result`` (any value, e.g. a number the picture shows) is kept as
    ``app.result`` for tests and for the notebook to print.
    """

    def __init__(
        self,
        controls: Mapping[str, widgets.Widget],
        draw: Callable[..., Any],
        *,
        title: str | None = None,
        dpi: int = 80,
        layout: str = "vertical",
    ) -> None:
        if not isinstance(controls, Mapping) or not all(
            isinstance(c, widgets.ValueWidget) for c in controls.values()
        ):
            raise TypeError("controls must be a dict {name: ipywidgets control with a value}")
        if not controls:
            raise ValueError("controls is empty: an app needs at least one control to drive it")
        if not callable(draw):
            raise TypeError(f"draw must be a function of the controls' values, not {draw!r}")
        if title is not None and not isinstance(title, str):
            raise TypeError(f"title={title!r} must be a string or None")
        dpi = check_int("dpi", dpi, minimum=10, maximum=600)
        layout = check_choice("layout", layout, ("vertical", "horizontal"))
        self.controls = dict(controls)
        self.draw = draw
        self.title = title
        self.dpi = dpi
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self.image.add_class("course-figure")
        self.status = widgets.HTML()
        self.status.add_class("course-message")
        self.result: Any = None
        self.message: str = ""
        self.png: bytes = b""
        box = widgets.HBox if layout == "horizontal" else widgets.VBox
        parts: list[widgets.Widget] = []
        if title:
            parts.append(widgets.HTML(f"<b>{html.escape(title)}</b>"))
        parts += [box(list(self.controls.values())), self.image, self.status]
        self.widget = widgets.VBox(parts)
        self.widget.add_class("course-app")
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        self.refresh()

    def values(self) -> dict[str, Any]:
        return {name: control.value for name, control in self.controls.items()}

    def refresh(self) -> None:
        """Redraw from the current control values."""
        try:
            out = self.draw(**self.values())
        except ValueError as exc:  # an invalid setting: say why, keep the last picture
            self.message = str(exc)
            self.status.value = (
                f'<span style="color:#b3261e">&#9888; {html.escape(self.message)}</span>'
            )
            self.result = None
            return
        fig, result = out if isinstance(out, tuple) else (out, None)
        self.png = figure_to_png(fig, dpi=self.dpi)
        self.image.value = self.png
        self.result = result
        self.message = "" if result is None else str(result)
        self.status.value = html.escape(self.message)

    def _on_change(self, _change: dict) -> None:
        self.refresh()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """The widget view, its current picture as PNG, and a line of plain text."""
        bundle = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        if self.png:
            bundle["image/png"] = base64.b64encode(self.png).decode("ascii")
        title = self.title or "widget app"
        bundle["text/plain"] = (
            f"[{title}: an interactive widget; run the notebook in JupyterLab, VS Code or Colab "
            "to move its controls]"
        )
        return bundle

    def _ipython_display_(self) -> None:
        # IPython calls this for a cell's last value too, so the app always goes out
        # as display_data, which every frontend attaches its widget manager to.
        display(self._repr_mimebundle_(), raw=True)
