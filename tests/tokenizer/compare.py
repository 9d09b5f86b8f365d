"""Comparing our tokenizer's outputs, and its errors, with transformers' on the same call."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pytest
import torch
import transformers

HF = transformers.M2M100Tokenizer
LAYOUTS = ["saved", "hub", "fresh", "wmt21"]


def assert_same(ours: Any, expected: Any, where: object = "") -> None:
    """Equal values of equal types: dicts key by key and in the same key order, tensors and arrays
    with equal dtype, shape and values (object arrays row by row), lists and tuples as such."""
    if isinstance(expected, (Mapping, transformers.BatchEncoding)):
        expected = dict(expected)
        assert isinstance(ours, Mapping), (where, type(ours))
        assert list(ours) == list(expected), (where, list(ours), list(expected))
        for key in expected:
            assert_same(ours[key], expected[key], (where, key))
    elif isinstance(expected, torch.Tensor):
        assert isinstance(ours, torch.Tensor), (where, type(ours))
        assert (ours.dtype, ours.shape) == (expected.dtype, expected.shape), (where, ours, expected)
        assert torch.equal(ours, expected), (where, ours, expected)
    elif isinstance(expected, np.ndarray):
        assert isinstance(ours, np.ndarray), (where, type(ours))
        assert (ours.dtype, ours.shape) == (expected.dtype, expected.shape), (where, ours, expected)
        if expected.dtype == object:
            for a, b in zip(ours, expected):
                assert_same(a, b, where)
        else:
            assert np.array_equal(ours, expected), (where, ours, expected)
    else:
        assert type(ours) is type(expected) and ours == expected, (where, ours, expected)


def outcome(call: Callable[[], Any]) -> Any:
    """The call's result, or the exception it raised."""
    try:
        return call()
    except Exception as error:  # any error is an outcome to compare
        return error


def assert_same_outcome(ours: Callable[[], Any], reference: Callable[[], Any], where: object = "") -> Any:
    """Run both calls: the same result, or an exception of the type transformers raises."""
    expected = outcome(reference)
    if isinstance(expected, Exception):
        with pytest.raises(type(expected)):
            ours()
        return expected
    assert_same(ours(), expected, where)
    return expected
