"""Interactive apps for the lessons, one module per lesson topic.

Every app is thin: the computation is a pure function in the same module (or
elsewhere in ``course_lib``) that the tests call directly; the app only wires
ipywidgets controls to it and shows the figure it draws. See
:class:`course_lib.widgets.base.FigureApp`.
"""

from course_lib.widgets.base import FigureApp, figure_to_png

__all__ = ["FigureApp", "figure_to_png"]
