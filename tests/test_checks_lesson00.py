"""Lesson 00's checks: the reference answers pass, plausible wrong ones get their own feedback."""

from __future__ import annotations

import numpy as np
import torch

from course_lib.checks.lesson00 import check_count_values, check_invert


def test_invert_reference_passes_numpy_and_torch():
    assert check_invert(lambda image: 1.0 - image).passed
    assert check_invert(lambda image: 1 - torch.as_tensor(image)).passed


def test_invert_stub_is_not_attempted():
    def stub(image):
        raise NotImplementedError

    assert check_invert(stub).status == "not attempted"


def test_invert_negation_gets_its_feedback():
    result = check_invert(lambda image: -image)
    assert result.status == "failed" and "negated" in result.message


def test_invert_255_gets_its_feedback():
    result = check_invert(lambda image: 255 - image)
    assert (
        result.status == "failed"
        and "255" in result.message
        and "between 0 and 1" in result.message
    )


def test_invert_reciprocal_gets_its_feedback_without_warnings(recwarn):
    result = check_invert(lambda image: 1 / np.where(image == 0, 1e-300, image))
    assert result.status == "failed"
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_invert_in_place_is_caught():
    def in_place(image):
        image *= -1
        image += 1
        return image

    result = check_invert(in_place)
    assert result.status == "failed" and "in place" in result.message


def test_count_values():
    assert check_count_values(1000 * 1000 * 3).passed
    assert check_count_values(...).status == "not attempted"
    one_channel = check_count_values(1_000_000)
    assert one_channel.status == "failed" and "three" in one_channel.message
    added = check_count_values(3000)
    assert added.status == "failed" and "multiplying" in added.message


def test_invert_as_a_list_is_refused_with_a_hint():
    result = check_invert(lambda image: (1.0 - image).tolist())
    assert result.status == "failed" and "np.array(your_list)" in result.message


def test_invert_into_an_integer_array_gets_the_dtype_hint():
    def into_ints(image):
        out = np.zeros(image.shape, dtype=int)
        out[:] = 1 - image
        return out

    result = check_invert(into_ints)
    assert result.status == "failed" and "holds integers" in result.message


def test_invert_in_float32_passes():
    assert check_invert(lambda image: 1 - torch.as_tensor(image, dtype=torch.float32)).passed
    assert check_invert(lambda image: (1 - image).astype(np.float32)).passed


def test_count_values_accepts_any_kind_of_whole_number():
    for value in (np.int64(3_000_000), torch.tensor(3_000_000), 3e6, 1000.0 * 1000 * 3):
        assert check_count_values(value).passed, value
    assert not check_count_values(3_000_000.5).passed
