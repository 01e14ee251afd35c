"""The aggregation benchmark runs the service path on a tiny fleet and checks it against Flower."""

from __future__ import annotations

import pytest
from benchmarks.aggregation import bench_case

pytestmark = pytest.mark.unit


def test_bench_case_rows_are_complete() -> None:
    """Every figure has our value, Flower's and a ratio (results equal Flower's, no timing asserted)."""
    rows = bench_case(12, 3, repeat=1)
    assert [r["figure"] for r in rows] == [
        "fedavg round",
        "fedavg close",
        "updates/s",
        "trainer build",
        "median round",
    ]
    for row in rows:
        assert (row["devices"], row["trainers"]) == (12, 3)
        assert row["ratio"].endswith("x")
