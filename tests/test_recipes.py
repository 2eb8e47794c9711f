"""course_lib.recipes: one frozen dataclass holds every setting of a training run."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from course_lib.recipes import LENET_RECIPE, Recipe
from course_lib.train import fit


def test_fit_kwargs_are_fit_keywords_and_carry_the_recipe():
    recipe = LENET_RECIPE.replace(epochs=3, batch_size=16, seed=5)
    kwargs = recipe.fit_kwargs()
    assert set(kwargs) <= set(inspect.signature(fit).parameters)
    assert (kwargs["epochs"], kwargs["batch_size"], kwargs["seed"]) == (3, 16, 5)
    assert kwargs["transform"] is LENET_RECIPE.augment and kwargs["scheduler"] == "onecycle"


def test_recipe_normalises_numbers_and_refuses_bad_settings():
    assert Recipe(epochs=np.int64(2)).epochs == 2 and type(Recipe(lr=np.float32(0.5)).lr) is float
    with pytest.raises(ValueError, match="lr=0.0"):
        Recipe(lr=0.0)
    with pytest.raises(TypeError, match="epochs=2.5"):
        Recipe(epochs=2.5)
    with pytest.raises(TypeError, match="not Recipe settings"):
        LENET_RECIPE.replace(learning_rate=0.1)
