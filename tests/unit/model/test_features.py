"""Vectorised per-device scans equal the obvious sequential loops, with carries across batches."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flead.model.features import group_rows, previous_observed, segmented_run, time_features

pytestmark = pytest.mark.unit


def _naive_prev(x: np.ndarray, keys: np.ndarray, seed: dict[int, np.ndarray]) -> np.ndarray:
    out = np.empty_like(x)
    last = {k: v.copy() for k, v in seed.items()}
    for i, k in enumerate(keys):
        out[i] = last[k]
        last[k] = np.where(np.isnan(x[i]), last[k], x[i])
    return out


def _naive_run(inc: np.ndarray, brk: np.ndarray, keys: np.ndarray, seed: dict) -> np.ndarray:
    out = np.empty(inc.shape, dtype=np.int64)
    run = {k: v.copy() for k, v in seed.items()}
    for i, k in enumerate(keys):
        run[k] = np.where(brk[i], 0, run[k] + inc[i])
        out[i] = run[k]
    return out


@settings(max_examples=60, deadline=None)
@given(
    keys=st.lists(st.integers(0, 3), min_size=1, max_size=40),
    data=st.data(),
)
def test_scans_equal_sequential_loops(keys: list[int], data: st.DataObject) -> None:
    """previous_observed and segmented_run match a per-row loop for any interleaving of devices."""
    keys_a = np.array(keys)
    n, f = len(keys), 2
    raw = data.draw(st.lists(st.sampled_from([np.nan, 1.0, 2.0]), min_size=n * f, max_size=n * f))
    x = np.array(raw).reshape(n, f)
    seed_v = {k: np.array([np.nan, 1.0]) if k % 2 else np.array([2.0, 2.0]) for k in range(4)}
    seed_r = {k: np.array([k, 0]) for k in range(4)}
    order, group, pos, starts = group_rows(keys_a)
    sk, xs = keys_a[order], x[order]
    row_start = starts[group]
    prev = previous_observed(xs, row_start, np.stack([seed_v[k] for k in sk]))
    np.testing.assert_array_equal(prev, _naive_prev(x, keys_a, seed_v)[order])
    valid = ~np.isnan(xs)
    same = valid & (xs == prev)
    run = segmented_run(same, valid & ~same, row_start, np.stack([seed_r[k] for k in sk]))
    valid0 = ~np.isnan(x)
    prev0 = _naive_prev(x, keys_a, seed_v)
    same0 = valid0 & (x == prev0)
    np.testing.assert_array_equal(run, _naive_run(same0, valid0 & ~same0, keys_a, seed_r)[order])
    assert (pos == np.arange(n) - starts[group]).all()
    assert (sk[starts] == np.unique(keys_a)).all()


def test_group_rows_is_stable() -> None:
    """Rows of one device keep their arrival order (the sequence the scans rely on)."""
    keys = np.array([2, 0, 2, 1, 0, 2])
    order, group, pos, starts = group_rows(keys)
    assert order.tolist() == [1, 4, 3, 0, 2, 5]
    assert group.tolist() == [0, 0, 1, 2, 2, 2]
    assert pos.tolist() == [0, 1, 0, 0, 1, 2]
    assert starts.tolist() == [0, 2, 3]


def test_time_features_are_daily() -> None:
    """Time features repeat every 24 h and differ between 01:00 and 13:00."""
    tf = time_features(np.array([3600.0, 3600.0 + 86400.0 * 5, 13 * 3600.0]))
    np.testing.assert_allclose(tf[0], tf[1], atol=1e-6)
    assert not np.allclose(tf[0], tf[2])
