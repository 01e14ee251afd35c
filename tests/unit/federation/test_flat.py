"""Flattening tensors into one vector and back loses nothing and rejects a wrong length."""

from __future__ import annotations

import numpy as np
import pytest

from flead.federation.flat import flatten, size_of, unflatten
from tests.unit.federation.helpers import SHAPES

pytestmark = pytest.mark.unit


def test_flatten_unflatten_round_trip() -> None:
    """unflatten(flatten(w)) gives back every array with its shape, as float32."""
    rng = np.random.default_rng(1)
    weights = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    vector, shapes = flatten(weights)
    assert vector.dtype == np.float32
    assert vector.size == size_of(SHAPES)
    back = unflatten(vector, shapes)
    for a, b in zip(weights, back, strict=True):
        assert b.shape == a.shape
        np.testing.assert_array_equal(a, b)


def test_unflatten_rejects_wrong_length() -> None:
    """A vector that does not fill the shapes exactly is refused."""
    with pytest.raises(ValueError, match="need"):
        unflatten(np.zeros(5, np.float32), [(2, 2)])
