"""Event-wise F1 (no point adjustment), false alarms per device-day, latency and per-fault metrics."""

import numpy as np
import pytest

from flead.evaluation.scores import Truth, evaluate, f1, worst_fraction

pytestmark = pytest.mark.unit


def _truth() -> Truth:
    """Two devices, 10 rows each one hour apart; device a has a spike event, device b a drift."""
    device = np.array(["a"] * 10 + ["b"] * 10, dtype=object)
    time = np.concatenate([np.arange(10), np.arange(10)]) * 3600.0
    label = np.zeros(20, dtype=np.int8)
    fault = np.full(20, "", dtype=object)
    label[3:5], fault[3:5] = 1, "spike"
    label[15:18], fault[15:18] = 1, "drift"
    return Truth.of(device, time, label, fault)


def test_event_f1_counts_events_not_rows() -> None:
    """One alarm inside each event and one stray alarm: recall 1, precision 2/3, F1 0.8."""
    t = _truth()
    alarm = np.zeros(20, dtype=bool)
    alarm[[4, 17, 8]] = True
    m = evaluate(t, alarm.astype(float), alarm)
    assert m["event_recall"] == 1.0
    assert m["event_precision"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(0.8)
    # point-wise F1 is lower (2 of 5 labelled rows), point adjustment inflates it
    assert m["f1_point"] < m["f1"]
    assert m["f1_point_adjusted"] > m["f1_point"]


def test_false_alarms_per_device_day_and_latency() -> None:
    """A stray alarm episode of 2 rows is ONE false alarm; 2 devices x 9 h = 0.75 device-days."""
    t = _truth()
    alarm = np.zeros(20, dtype=bool)
    alarm[[0, 1]] = True  # one episode on healthy rows of device a
    alarm[[4, 17]] = True  # detected 1 h and 2 h after the events start
    m = evaluate(t, alarm.astype(float), alarm)
    assert m["false_alarms"] == 1
    assert m["false_alarms_per_device_day"] == pytest.approx(1 / 0.75)
    assert m["latency_seconds_median"] == pytest.approx(5400.0)


def test_per_fault_type_against_healthy_rows() -> None:
    """Each fault type is ranked against healthy rows only; recall uses the alarms."""
    t = _truth()
    score = np.zeros(20)
    score[3:5] = 5.0  # spike ranked on top
    score[15:18] = [0.0, 0.0, 5.0]
    alarm = score > 1
    m = evaluate(t, score, alarm)
    assert m["per_fault_type"]["spike"]["auc_pr"] == pytest.approx(1.0)
    assert m["per_fault_type"]["spike"]["recall"] == 1.0
    assert m["per_fault_type"]["drift"]["recall"] == pytest.approx(1 / 3)
    assert m["per_fault_type"]["drift"]["event_recall"] == 1.0
    assert set(m["device_auc_pr"]) == {"a", "b"}


def test_helpers() -> None:
    """f1 of zeros is 0; the worst 10% of 20 values is the mean of the lowest two."""
    assert f1(0.0, 0.0) == 0.0
    assert worst_fraction([float(i) for i in range(20)]) == pytest.approx(0.5)
    assert worst_fraction([]) is None
