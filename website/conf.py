"""Sphinx configuration of the course's website (built by ``make site``, see tools/build_site.py).

The pages are the lessons as executed once by ``make report`` (myst-nb renders them,
executing nothing); maths is rendered by a local copy of MathJax, so the site loads
nothing from outside itself.
"""

project = "Convolutional neural networks, hands-on"
author = "The CNN course team"
copyright = "2026, The CNN course team"

extensions = ["myst_nb"]
nb_execution_mode = "off"  # the notebooks come executed, from the make report run
# A widget's saved view needs a live kernel; every app also carries its picture.
nb_mime_priority_overrides = [
    ("html", "application/vnd.jupyter.widget-view+json", None),
    ("html", "image/png", 5),
]
nb_ipywidgets_js = {}  # no widget manager from a CDN: the pictures stand in for the widgets
nb_output_stderr = "remove"  # progress bars and kernel warnings
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
suppress_warnings = ["mystnb.unknown_mime_type", "myst.header"]

exclude_patterns = ["_build", "**.ipynb_checkpoints"]
html_theme = "sphinx_book_theme"
html_title = project
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_favicon = "_static/favicon.png"  # a Sobel kernel
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "navigation_with_keys": True,
}
html_context = {"default_mode": "auto"}  # light or dark, as the reader's system is
html_last_updated_fmt = None
html_show_sourcelink = False
# MathJax 3 (SVG output, so no web fonts), copied into _static/mathjax by tools/build_site.py
mathjax_path = "mathjax/tex-svg.js"
