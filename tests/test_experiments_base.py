"""Every experiment result follows one protocol: ``sentence()`` and ``claim_holds``."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil

import pytest

import course_lib.experiments as experiments
from course_lib.experiments.base import ExperimentResult
from course_lib.experiments.output_size import output_size_experiment
from course_lib.experiments.pooling import conv_vs_fc_params


def _result_classes():
    for info in pkgutil.iter_modules(experiments.__path__):
        module = importlib.import_module(f"{experiments.__name__}.{info.name}")
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and obj.__module__ == module.__name__
                and dataclasses.is_dataclass(obj)
                and any(word in name for word in ("Result", "Report", "Outcome", "Comparison", "Run"))
            ):
                yield obj


@pytest.mark.parametrize("cls", list(_result_classes()), ids=lambda c: c.__name__)
def test_result_class_has_a_sentence_and_a_claim(cls):
    assert callable(getattr(cls, "sentence", None)), f"{cls.__name__} has no sentence()"
    assert isinstance(inspect.getattr_static(cls, "claim_holds", None), property), (
        f"{cls.__name__}.claim_holds must be a property"
    )
    assert not hasattr(cls, "summary"), f"{cls.__name__}: use sentence(), not summary()"


def test_cheap_results_satisfy_the_protocol_and_their_claims():
    for result in (conv_vs_fc_params((6, 32)), output_size_experiment()):
        assert isinstance(result, ExperimentResult)
        assert result.sentence().startswith("Experiment:")
        assert result.claim_holds is True
