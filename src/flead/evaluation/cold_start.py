"""Cold start: quality on each late joiner's first day after joining, overall and over time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from flead.evaluation.ranking import auc_pr
from flead.evaluation.scores import DAY, Truth, evaluate

__all__ = ["BIN_HOURS", "ColdStart", "cold_start_metrics"]

BIN_HOURS = 3.0  # width of the cold-start curve's bins


@dataclass(frozen=True)
class ColdStart:
    """The late joiners' first-day rows (no evaluation warm-up) and their hour since joining."""

    rows: np.ndarray  # bool mask over the stream's rows
    truth: Truth
    hours: np.ndarray  # per device-ordered position: hours since the device joined
    join_time: float
    devices: tuple[str, ...]
    start_time: float = 0.0  # the stream's first reading

    @staticmethod
    def of(
        device: np.ndarray,
        time: np.ndarray,
        label: np.ndarray,
        fault: np.ndarray | None,
        join_time: float,
        devices: tuple[str, ...],
    ) -> ColdStart:
        """Every row of a late joiner in [join_time, join_time + 1 day) (`time` sorted)."""
        t = np.asarray(time, dtype=np.float64)
        rows = np.isin(np.asarray(device).astype(str), devices) & (t >= join_time)
        rows &= t < join_time + DAY
        truth = Truth.of(device[rows], t[rows], label[rows], None if fault is None else fault[rows])
        start = float(t[0]) if len(t) else 0.0
        hours = (truth.time - join_time) / 3600.0
        return ColdStart(rows, truth, hours, join_time, devices, start)


def _curve(cs: ColdStart, score: np.ndarray, cumulative: bool) -> list[dict[str, Any]]:
    """AUC-PR of the late joiners' rows pooled per BIN_HOURS bin since joining (or, cumulative,
    of all their rows from joining to each bin's end)."""
    s = np.asarray(score, dtype=np.float64)[cs.truth.order]
    out = []
    for lo in np.arange(0.0, 24.0, BIN_HOURS):
        pick = (cs.hours >= (0.0 if cumulative else lo)) & (cs.hours < lo + BIN_HOURS)
        unnatural = pick & (cs.truth.fault != "natural_stuck")
        out.append({
            "hours_from": float(lo), "hours_to": float(lo + BIN_HOURS), "rows": int(pick.sum()),
            "positives": int(cs.truth.label[pick].sum()),
            "auc_pr": auc_pr(cs.truth.label[pick], s[pick]),
            "auc_pr_excluding_natural": auc_pr(cs.truth.label[unnatural], s[unnatural]),
        })  # fmt: skip
    return out


def cold_start_metrics(
    cs: ColdStart, runs: dict[str, tuple[np.ndarray, np.ndarray]]
) -> dict[str, Any]:
    """metrics.json `cold_start`: per mode (score, anomaly over the stream's rows) the late
    joiners' first-day AUC-PR, injected-types macro AUC-PR, false alarms, and the curve."""
    modes: dict[str, Any] = {}
    for mode, (score, anomaly) in runs.items():
        m = evaluate(cs.truth, score[cs.rows], anomaly[cs.rows])
        modes[mode] = {
            "auc_pr": m["auc_pr"],
            "auc_pr_injected_macro": m["auc_pr_injected_macro"],
            "auc_pr_excluding_natural": m["auc_pr_excluding_natural"],
            "false_alarms_per_device_day": m["false_alarms_per_device_day"],
            "event_recall": m["event_recall"],
            "device_auc_pr_injected_macro": m["device_auc_pr_injected_macro"],
            "curve": _curve(cs, score[cs.rows], cumulative=False),
            "curve_cumulative": _curve(cs, score[cs.rows], cumulative=True),
        }
    return {
        "join_time": cs.join_time,
        "join_hours_after_start": (cs.join_time - cs.start_time) / 3600.0,
        "devices": list(cs.devices),
        "rows": int(cs.rows.sum()),
        "anomalous_rows": int(cs.truth.label.sum()),
        "bin_hours": BIN_HOURS,
        "modes": modes,
    }
