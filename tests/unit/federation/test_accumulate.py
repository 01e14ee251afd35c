"""Round state: the running weighted sum and the growable rows hold exactly what was added."""

from __future__ import annotations

import numpy as np
import pytest

from flead.federation.accumulate import Rows, WeightedSum

pytestmark = pytest.mark.unit


def test_weighted_sum_adds_and_resets() -> None:
    """total = sum of weight * step in float64; reset empties it."""
    s = WeightedSum(3)
    s.add(np.array([1, 2, 3], np.float32), 2.0)
    s.add(np.array([1, 0, 0], np.float32), 0.5)
    np.testing.assert_allclose(s.total, [2.5, 4.0, 6.0])
    assert s.count == 2
    s.reset()
    assert (s.count, float(np.abs(s.total).sum())) == (0, 0.0)


def test_rows_grow_past_their_capacity_and_keep_order() -> None:
    """More rows than the initial capacity are kept, in order."""
    r = Rows(2, capacity=1)
    for i in range(5):
        r.add(np.full(2, i, np.float32))
    np.testing.assert_array_equal(r.matrix[:, 0], [0, 1, 2, 3, 4])
    r.reset()
    assert r.matrix.shape == (0, 2)
