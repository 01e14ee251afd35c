"""The bed-bound suites (services, operator_scale) turn their measured numbers into Figures
correctly, checked without the bed."""

from __future__ import annotations

import pytest
from benchmarks.operator_scale import ScaleRun
from benchmarks.services import latency_figures

pytestmark = pytest.mark.unit


def test_latency_figures_carry_the_p99_and_judge_it_against_each_bound() -> None:
    """value is the p99 in ms, the detail shows p50 and p99, the raw p99 is the baseline; the
    anomaly p99s of 50 ms (MongoDB) and 30 ms (the topic) meet <= 100 ms, the committed p99 of
    2 s misses <= 1.5 s."""
    topic, anomaly, committed = latency_figures(
        10_000, [0.03] * 50, [0.05] * 100, [2.0] * 10, [0.01] * 10
    )
    assert (topic.value, topic.met) == (pytest.approx(30.0), True)
    assert topic.benchmark.startswith("produce -> anomaly record in the anomalies topic p99")
    assert (anomaly.value, anomaly.unit, anomaly.baseline_value) == pytest.approx(
        (50.0, "ms", 10.0)
    )
    assert anomaly.detail == "p50 50 / p99 50 ms"
    assert anomaly.ratio == pytest.approx(5.0)
    assert anomaly.met is True
    assert committed.value == pytest.approx(2000.0)
    assert committed.met is False
    assert (
        committed.benchmark == "produce -> offset committed (durable) p99 at 10,000/s (10 samples)"
    )


def test_no_anomaly_samples_is_no_verdict() -> None:
    """With no anomaly seen, the p99 is unmeasured: met is None and the JSON value null."""
    topic, anomaly, _ = latency_figures(2_000, [], [], [1.0], [0.01])
    assert topic.met is None
    assert anomaly.met is None
    assert anomaly.as_row()["value"] is None


def test_operator_figures_judge_time_writes_and_report_memory() -> None:
    """1,000 devices Ready in 20.1 s meets <= 30 s; 2.31 writes per device misses <= 1.2 against
    a minimum of 1.75 (one status write per device plus a ServiceAccount, a device ConfigMap
    and a Deployment per trainer)."""
    ready, writes, rss = ScaleRun(1000, 250, 4.6, 20.1, 2310, 85.0).figures()
    assert (ready.value, ready.baseline_value, ready.met) == (20.1, 4.6, True)
    assert ready.target == "≤ 30 s"
    assert writes.value == pytest.approx(2.31)
    assert writes.baseline_value == pytest.approx(1.75)
    assert writes.met is False
    assert (rss.value, rss.unit, rss.met) == (85.0, "MB", None)


def test_a_size_without_a_target_has_no_verdict() -> None:
    """A size the issue sets no time bound for is reported without met/missed."""
    ready, _, _ = ScaleRun(200, 50, 1.0, 5.0, 250, 40.0).figures()
    assert (ready.target, ready.met) == ("", None)
