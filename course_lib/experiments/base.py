"""What every lesson experiment returns: one protocol, so notebooks, tests and tools agree.

A result is a frozen dataclass of the numbers measured, plus

- ``sentence()``: the outcome as one sentence starting with ``"Experiment:"``, which
  the notebook prints (``tools/report.py`` and the idempotence test read it), and
- ``claim_holds``: whether the lesson's claim held on these numbers, which the
  notebook asserts and the tests check on other seeds.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["ExperimentResult"]


@runtime_checkable
class ExperimentResult(Protocol):
    @property
    def claim_holds(self) -> bool: ...

    def sentence(self) -> str: ...
