"""Runs of a mask within each device: boundaries at device and fault-type changes."""

import numpy as np
import pytest

from flead.evaluation.events import device_order, runs

pytestmark = pytest.mark.unit


def test_runs_break_at_device_and_kind_changes() -> None:
    """Consecutive True rows form one run unless the device or the fault type changes."""
    codes = np.array([0, 0, 0, 0, 1, 1, 1])
    mask = np.array([1, 1, 1, 0, 1, 1, 0], dtype=bool)
    kind = np.array(["a", "a", "b", "", "a", "a", ""])
    r = runs(codes, mask, kind)
    assert r.start.tolist() == [0, 2, 4]
    assert r.stop.tolist() == [2, 3, 6]
    r = runs(codes, np.ones(7, dtype=bool))
    assert r.start.tolist() == [0, 4]
    assert r.stop.tolist() == [4, 7]


def test_hits_and_first() -> None:
    """hits: does any row of a run satisfy a mask; first: the position of the first such row."""
    r = runs(np.zeros(8, dtype=int), np.array([0, 1, 1, 1, 0, 1, 1, 0], dtype=bool))
    alarm = np.array([0, 0, 0, 1, 1, 0, 0, 0], dtype=bool)
    assert r.hits(alarm).tolist() == [True, False]
    assert r.first(alarm).tolist() == [3, -1]


def test_empty_and_device_order() -> None:
    """No rows give no runs; device_order groups by device, then time."""
    assert len(runs(np.zeros(0, dtype=int), np.zeros(0, dtype=bool))) == 0
    order = device_order(
        np.array(["b", "a", "b", "a"], dtype=object), np.array([2.0, 3.0, 1.0, 0.0])
    )
    assert order.tolist() == [3, 1, 2, 0]
