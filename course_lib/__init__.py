"""course_lib: the tested helper library behind the CNN course notebooks."""

__version__ = "0.1.0"
