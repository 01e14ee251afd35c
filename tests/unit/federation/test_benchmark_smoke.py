"""The aggregation benchmark runs end to end on a tiny case and reports comparable rows."""

from __future__ import annotations

import pytest
from benchmarks.aggregation import bench_case, production_shapes

pytestmark = pytest.mark.unit


def test_bench_case_rows_are_complete() -> None:
    """Every rule yields one row with positive timings and a speed-up (no timing is asserted)."""
    rows = bench_case("tiny", 5, [(3, 2), (2,)], repeat=1)
    assert [r["rule"] for r in rows][:3] == [
        "fedavg",
        "RoundAccumulator add+close",
        "RoundAccumulator close() only",
    ]
    assert len(rows) == 6
    for row in rows:
        assert row["ours_ms"] > 0
        assert row["baseline_ms"] > 0
        assert row["speedup"] == pytest.approx(row["baseline_ms"] / row["ours_ms"])
        assert row["baseline"].startswith("flwr ")


def test_production_shapes_always_available() -> None:
    """The production shapes come from flead.model when it exists, else from the fallback."""
    shapes, source = production_shapes()
    assert source in ("flead.model", "fallback")
    assert shapes
    assert all(isinstance(s, tuple) for s in shapes)
