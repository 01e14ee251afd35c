"""Event-wise F1 (no point adjustment), false alarms per device-day, latency and per-fault metrics."""

import numpy as np
import pytest

from flead.evaluation.scores import Truth, evaluate, f1, worst_fraction

pytestmark = pytest.mark.unit


def _truth() -> Truth:
    """Two devices, 10 rows each a minute apart; device a has a spike event, device b a drift."""
    device = np.array(["a"] * 10 + ["b"] * 10, dtype=object)
    time = np.concatenate([np.arange(10), np.arange(10)]) * 60.0
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
    """Two stray alarms a minute apart are ONE false alarm; 2 devices x 9 min of device-days."""
    t = _truth()
    alarm = np.zeros(20, dtype=bool)
    alarm[[0, 1]] = True  # one episode on healthy rows of device a
    alarm[[4, 17]] = True  # detected 1 and 2 minutes after the events start
    m = evaluate(t, alarm.astype(float), alarm)
    assert m["false_alarms"] == 1
    assert m["false_alarms_per_device_day"] == pytest.approx(1 / (2 * 540 / 86400))
    assert m["latency_seconds_median"] == pytest.approx(90.0)
    assert m["per_fault_type"]["drift"]["latency_seconds_median"] == pytest.approx(120.0)
    alarm[[6]] = True  # 6 minutes after row 0: a second false episode
    assert evaluate(t, alarm.astype(float), alarm)["false_alarms"] == 2


def test_alarms_after_fault_end_counts_healthy_echoes() -> None:
    """An alarm on the row after the spike ends is an echo (1 of 2 events); an alarm inside the
    following rows of device b's drift would count too, one 11 rows later would not."""
    t = _truth()
    alarm = np.zeros(20, dtype=bool)
    alarm[[3, 5, 15]] = True
    m = evaluate(t, alarm.astype(float), alarm)
    assert m["alarms_after_fault_end"] == pytest.approx(0.5)
    assert m["per_fault_type"]["spike"]["alarms_after_fault_end"] == 1.0
    assert m["per_fault_type"]["drift"]["alarms_after_fault_end"] == 0.0
    late = np.zeros(20, dtype=bool)
    late[3] = True
    assert evaluate(t, late.astype(float), late)["alarms_after_fault_end"] == 0.0


def test_injected_macro_leaves_the_natural_failure_out() -> None:
    """A perfectly ranked natural failure lifts AUC-PR but neither injected-type number."""
    device = np.array(["a"] * 40, dtype=object)
    time = np.arange(40) * 60.0
    label = np.zeros(40, dtype=np.int8)
    fault = np.full(40, "", dtype=object)
    label[5:25], fault[5:25] = 1, "natural_stuck"
    label[[30, 35]], fault[[30, 35]] = 1, "spike"
    score = np.zeros(40)
    score[5:25] = 10.0  # the natural failure on top
    score[[30, 35]] = 0.5
    score[[0, 1, 2]] = 1.0  # three healthy rows above the spikes
    m = evaluate(Truth.of(device, time, label, fault), score, score > 5)
    assert m["auc_pr"] > 0.9
    spike = m["per_fault_type"]["spike"]["auc_pr"]
    assert m["auc_pr_injected_macro"] == pytest.approx(spike)
    assert spike == pytest.approx(2 / 5)  # both spikes tie below three healthy rows
    assert m["auc_pr_excluding_natural"] == pytest.approx(spike)
    assert m["device_auc_pr_injected_macro"] == {"a": pytest.approx(spike)}


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
