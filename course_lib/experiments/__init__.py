"""Lesson experiments: each a pure function that runs a small study and returns its numbers."""
