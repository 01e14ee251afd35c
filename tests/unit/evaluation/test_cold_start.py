"""Cold start: only the late joiners' first day counts, with no warm-up, binned by hours since joining."""

import numpy as np
import pytest

from flead.evaluation.cold_start import BIN_HOURS, ColdStart, cold_start_metrics

pytestmark = pytest.mark.unit


def _stream() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Devices a (from t=0) and b (joins at 1 day), a row every 10 minutes for 3 days."""
    t = np.arange(0, 3 * 86400, 600.0)
    a = np.column_stack([np.full(len(t), "a", dtype=object), t])
    tb = t[t >= 86400]
    b = np.column_stack([np.full(len(tb), "b", dtype=object), tb])
    rows = np.vstack([a, b])
    device, time = rows[:, 0], rows[:, 1].astype(float)
    label = np.zeros(len(time), dtype=np.int8)
    fault = np.full(len(time), "", dtype=object)
    hit = (device == "b") & (((time - 86400) // 600) % 20 == 3)  # one spike every 200 min
    label[hit], fault[hit] = 1, "spike"
    return device, time, label, fault


def test_rows_are_the_late_joiners_first_day_without_warm_up() -> None:
    """b's rows in [join, join + 1 day), its very first row included; none of a's."""
    device, time, label, fault = _stream()
    cs = ColdStart.of(device, time, label, fault, 86400.0, ("b",))
    picked = time[cs.rows]
    assert set(device[cs.rows]) == {"b"}
    assert picked.min() == 86400.0
    assert picked.max() < 2 * 86400.0
    assert cs.rows.sum() == 144  # one day of 10-minute rows


def test_metrics_and_curve_per_mode() -> None:
    """A perfect score gets AUC-PR 1 in every bin with a spike; a constant score gets the base
    rate; false alarms per device-day come from the same episodes as the main table."""
    device, time, label, fault = _stream()
    cs = ColdStart.of(device, time, label, fault, 86400.0, ("b",))
    perfect = label.astype(float)
    flat = np.ones(len(time))
    m = cold_start_metrics(cs, {"federated": (perfect, perfect > 0.5), "local": (flat, flat > 2)})
    assert m["devices"] == ["b"]
    assert m["join_time"] == 86400.0
    assert m["join_hours_after_start"] == 24.0
    fed, loc = m["modes"]["federated"], m["modes"]["local"]
    assert fed["auc_pr"] == 1.0
    assert fed["auc_pr_injected_macro"] == 1.0
    assert fed["false_alarms_per_device_day"] == 0.0
    assert loc["auc_pr"] == pytest.approx(label[cs.rows].mean())
    assert len(fed["curve"]) == int(24 / BIN_HOURS)
    assert all(c["auc_pr"] == 1.0 for c in fed["curve"] if c["positives"])
    assert sum(c["rows"] for c in fed["curve"]) == 144
    cumulative = fed["curve_cumulative"]
    assert [c["rows"] for c in cumulative] == [18 * (i + 1) for i in range(8)]  # 3 h = 18 rows
    assert cumulative[-1]["auc_pr"] == 1.0
