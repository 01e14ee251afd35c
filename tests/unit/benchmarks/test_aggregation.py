"""The aggregation benchmark runs the service path on a tiny fleet and checks it against Flower."""

from __future__ import annotations

import pytest
from benchmarks.aggregation import bench_case

pytestmark = pytest.mark.unit


def test_bench_case_figures_are_complete() -> None:
    """Every figure has our value, Flower's and a ratio (results equal Flower's, no timing asserted)."""
    figures = bench_case(12, 3, repeat=1)
    assert [f.benchmark for f in figures] == [
        f"{name}, 12 devices over 3 trainers"
        for name in ("fedavg round", "fedavg close", "updates/s", "trainer build", "median round")
    ]
    assert [f.unit for f in figures] == ["ms", "ms", "device updates/s", "ms", "ms"]
    for figure in figures:
        assert figure.value > 0
        assert figure.baseline_value is not None
        assert figure.baseline_value > 0
        assert figure.ratio is not None
        assert figure.ratio > 0
        assert figure.met is None  # no target
