"""Experiment (lesson 02): the output-size formula against the shapes torch produces.

For every setting (n, f, p, s) on a grid, compare
:func:`course_lib.shapes.conv_output_size` (``floor((n + 2p - f)/s) + 1``, or a
``ValueError`` for an invalid setting) with what ``torch.nn.functional.conv2d``
does on an ``n x n`` input and an ``f x f`` kernel: the output side, or a refusal
(an exception). The claim: they agree on every setting; in particular torch refuses
exactly the settings the formula calls invalid.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from course_lib.device import resolve_device
from course_lib.shapes import conv_output_size
from course_lib.validate import check_shape

__all__ = ["OutputSizeReport", "default_grid", "output_size_experiment"]

Setting = tuple[int, int, int, int]  # (n, f, p, s)


@dataclass(frozen=True)
class OutputSizeReport:
    """Counts from the experiment; ``disagreements`` lists (setting, formula, torch)."""

    settings: int
    both_valid_and_equal: int
    both_refused: int
    disagreements: list[tuple[Setting, object, object]] = field(default_factory=list)

    @property
    def agreements(self) -> int:
        return self.both_valid_and_equal + self.both_refused

    @property
    def all_agree(self) -> bool:
        return self.settings > 0 and not self.disagreements

    @property
    def claim_holds(self) -> bool:
        """The formula agrees with torch on every setting tried."""
        return self.all_agree

    def sentence(self) -> str:
        text = (
            f"Experiment: the formula floor((n + 2p - f)/s) + 1 agreed with torch on "
            f"{self.agreements} of {self.settings} (n, f, p, s) settings: "
            f"{self.both_valid_and_equal} output sizes matched exactly, and torch refused "
            f"{self.both_refused} settings that the formula also calls invalid."
        )
        if self.disagreements:
            setting, ours, theirs = self.disagreements[0]
            text += (
                f" {len(self.disagreements)} settings disagree, e.g. (n, f, p, s) = {setting}: "
                f"formula {ours}, torch {theirs}."
            )
        return text


def default_grid() -> list[Setting]:
    """1,200 settings: n 1..12, f 1..5 (even kernels too), p 0..4, s 0..3.

    The grid holds valid settings, kernels larger than the padded input, a stride of
    0 and padding larger than the kernel, so both refusals and sizes are tested.
    """
    return list(itertools.product(range(1, 13), range(1, 6), range(0, 5), range(0, 4)))


def _torch_side(n: int, f: int, p: int, s: int, device: torch.device) -> int | str:
    x = torch.zeros(1, 1, n, n, device=device)  # (N, C, H, W)
    w = torch.zeros(1, 1, f, f, device=device)  # (C_out, C_in, f, f)
    try:
        y = F.conv2d(x, w, stride=s, padding=p)
    except (RuntimeError, ValueError) as exc:
        return f"refused ({type(exc).__name__})"
    if y.shape[-1] != y.shape[-2]:
        return f"non-square output {tuple(y.shape[-2:])}"
    return int(y.shape[-1])


def _check_grid(grid) -> list[Setting]:
    """``grid`` as a list of (n, f, p, s) tuples of Python ints, each >= 0."""
    zero_d = getattr(grid, "ndim", None) == 0  # a 0-d array claims to be iterable
    if isinstance(grid, str | bytes | dict) or not isinstance(grid, Iterable) or zero_d:
        raise TypeError(
            f"grid={grid!r} must be a list of (n, f, p, s) settings or None, not "
            f"{type(grid).__name__}"
        )
    return [
        check_shape(f"grid[{i}]", setting, length=4, minimum=0, layout="(n, f, p, s)")
        for i, setting in enumerate(grid)
    ]


def output_size_experiment(
    grid: Iterable[Setting] | None = None, *, device: torch.device | str | None = None
) -> OutputSizeReport:
    """Compare the formula and torch on every (n, f, p, s) of ``grid`` (default :func:`default_grid`)."""
    device = resolve_device(device)
    settings = default_grid() if grid is None else _check_grid(grid)
    equal = refused = 0
    disagreements: list[tuple[Setting, object, object]] = []
    for n, f, p, s in settings:
        try:
            ours: int | str = conv_output_size(n, f, p, s)
        except ValueError:
            ours = "invalid"
        theirs = _torch_side(n, f, p, s, device)
        if isinstance(ours, int) and isinstance(theirs, int) and ours == theirs:
            equal += 1
        elif ours == "invalid" and isinstance(theirs, str) and theirs.startswith("refused"):
            refused += 1
        else:
            disagreements.append(((n, f, p, s), ours, theirs))
    return OutputSizeReport(len(settings), equal, refused, disagreements)
