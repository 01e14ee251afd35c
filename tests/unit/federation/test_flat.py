"""Flattening updates into vectors and [K, P] matrices loses nothing and rejects mismatches."""

from __future__ import annotations

import numpy as np
import pytest

from flead.federation.flat import flatten, gather_layer, size_of, stack, unflatten
from tests.unit.federation.helpers import SHAPES, random_results

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


def test_stack_rows_are_flattened_updates() -> None:
    """Row k of the stacked matrix is flatten(update k)."""
    results = random_results(np.random.default_rng(2), 7)
    matrix, shapes = stack(results)
    assert matrix.shape == (7, size_of(SHAPES))
    assert shapes == SHAPES
    for k, (w, _) in enumerate(results):
        np.testing.assert_array_equal(matrix[k], flatten(w)[0])


def test_gather_layer_names_the_mismatched_update() -> None:
    """Same total size but a different leading dimension is still caught, naming the update."""
    arrays: list[np.ndarray] = [np.zeros((3, 2)), np.zeros((2, 2)), np.zeros((4, 2))]
    out = np.empty((3, 6), np.float32)
    with pytest.raises(ValueError, match=r"update 1: shape \(2, 2\)"):
        gather_layer(arrays, (3, 2), out)


def test_stack_rejects_a_missing_array() -> None:
    """An update with fewer arrays than the first is refused."""
    results = random_results(np.random.default_rng(3), 3)
    results[2] = (results[2][0][:-1], 5)
    with pytest.raises(ValueError, match="update 2"):
        stack(results)
