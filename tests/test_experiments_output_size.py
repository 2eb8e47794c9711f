"""Lesson 02's experiment: the output-size formula against torch's conv2d shapes."""

from __future__ import annotations

import pytest

from course_lib.experiments.output_size import (
    OutputSizeReport,
    default_grid,
    output_size_experiment,
)


def test_formula_agrees_with_torch_on_at_least_500_settings():
    """Oracle: torch.nn.functional.conv2d, run on every setting of the default grid."""
    report = output_size_experiment(device="cpu")
    assert report.settings >= 500
    assert report.all_agree, report.disagreements[:5]
    assert report.agreements == report.settings
    # the grid really tests both sides: many valid sizes and many refusals
    assert report.both_valid_and_equal >= 300 and report.both_refused >= 100
    assert report.sentence().startswith("Experiment:")
    assert f"{report.settings} of {report.settings}" in report.sentence()


def test_default_grid_has_distinct_settings_including_invalid_ones():
    grid = default_grid()
    assert len(grid) == len(set(grid)) >= 500
    assert any(s == 0 for _, _, _, s in grid)  # a stride torch refuses
    assert any(f > n + 2 * p for n, f, p, _ in grid)  # kernels that do not fit


def test_small_grid_counts_sizes_and_refusals():
    report = output_size_experiment([(7, 3, 0, 2), (3, 5, 0, 1), (7, 3, 0, 0)], device="cpu")
    assert report.all_agree and report.both_refused == 2 and report.both_valid_and_equal == 1


def test_a_wrong_formula_is_caught(monkeypatch):
    """The experiment can fail: a formula that ignores the stride disagrees with torch."""
    import course_lib.experiments.output_size as module

    monkeypatch.setattr(module, "conv_output_size", lambda n, f, p, s: n + 2 * p - f + 1)
    report = module.output_size_experiment([(7, 3, 0, 1), (7, 3, 0, 2), (3, 5, 0, 1)], device="cpu")
    assert not report.all_agree
    assert [d[0] for d in report.disagreements] == [(7, 3, 0, 2), (3, 5, 0, 1)]
    assert "2 settings disagree" in report.sentence()


def test_summary_names_the_first_disagreement():
    broken = OutputSizeReport(2, 1, 0, [((7, 3, 0, 3), 3, 2)])
    assert not broken.all_agree
    assert "1 settings disagree" in broken.sentence() and "(7, 3, 0, 3)" in broken.sentence()


def test_a_grid_that_is_not_settings_is_named():
    for bad, exc in (("abc", TypeError), (object(), TypeError), ([(5, 3, 0)], ValueError)):
        with pytest.raises(exc, match="grid"):
            output_size_experiment(bad, device="cpu")
