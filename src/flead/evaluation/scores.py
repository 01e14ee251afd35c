"""Quality of one mode's scores and alarms: AUC-PR/ROC, event-wise F1, false alarms, latency, per fault."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from flead.evaluation.events import device_order, runs
from flead.evaluation.ranking import auc_pr, auc_roc

__all__ = ["Truth", "evaluate", "f1", "per_device_auc_pr", "worst_fraction"]

DAY = 86400.0


@dataclass(frozen=True)
class Truth:
    """The scored rows in device order (see `Truth.of`): who, when, and the ground truth."""

    order: np.ndarray  # device-ordered position -> row of the arrays `Truth.of` was given
    codes: np.ndarray  # int device code per position
    names: list[str]  # device id of each code
    time: np.ndarray
    label: np.ndarray  # bool
    fault: np.ndarray  # str, "" = healthy
    device_days: float

    @staticmethod
    def of(
        device: np.ndarray, time: np.ndarray, label: np.ndarray, fault: np.ndarray | None
    ) -> Truth:
        """Ground truth of the scored rows, put in device order once for every mode."""
        order = device_order(device, time)
        names, codes = np.unique(np.asarray(device).astype(str)[order], return_inverse=True)
        t = np.asarray(time, dtype=np.float64)[order]
        y = np.asarray(label).astype(bool)[order]
        kind = np.where(y, "anomaly", "") if fault is None else np.asarray(fault).astype(str)[order]
        first = np.full(len(names), np.inf)
        last = np.full(len(names), -np.inf)
        np.minimum.at(first, codes, t)
        np.maximum.at(last, codes, t)
        span = float(np.sum(np.maximum(last - first, 0.0))) if len(t) else 0.0
        return Truth(order, codes, list(names), t, y, kind, span / DAY)


def f1(precision: float, recall: float) -> float:
    """Harmonic mean, 0 when both are 0."""
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den else 0.0


def _event_metrics(t: Truth, alarm: np.ndarray) -> dict[str, float | None]:
    """Event-wise precision/recall/F1, point-wise and point-adjusted F1, false alarms, latency."""
    events = runs(t.codes, t.label, t.fault)
    alarms = runs(t.codes, alarm)
    detected = events.hits(alarm)
    true_alarm = alarms.hits(t.label)
    precision, recall = _ratio(true_alarm.sum(), len(alarms)), _ratio(detected.sum(), len(events))
    tp = int((alarm & t.label).sum())
    p_point, r_point = _ratio(tp, alarm.sum()), _ratio(tp, t.label.sum())
    adjusted = alarm.copy()  # point adjustment: a detected event counts as detected on all rows
    for a, b in zip(events.start[detected], events.stop[detected], strict=True):
        adjusted[a:b] = True
    tp_adj = int((adjusted & t.label).sum())
    first = events.first(alarm)[detected]
    delay = t.time[first] - t.time[events.start[detected]]
    false_alarms = int(len(alarms) - true_alarm.sum())
    return {
        "f1": f1(precision, recall),
        "event_precision": precision,
        "event_recall": recall,
        "events": len(events),
        "f1_point": f1(p_point, r_point),
        "f1_point_adjusted": f1(_ratio(tp_adj, adjusted.sum()), _ratio(tp_adj, t.label.sum())),
        "false_alarms": false_alarms,
        "false_alarms_per_device_day": _ratio(false_alarms, t.device_days),
        "false_positive_rows_per_device_day": _ratio((alarm & ~t.label).sum(), t.device_days),
        "latency_seconds_median": float(np.median(delay)) if len(delay) else None,
        "latency_seconds_mean": float(np.mean(delay)) if len(delay) else None,
    }


def _per_fault(
    t: Truth, score: np.ndarray, alarm: np.ndarray
) -> dict[str, dict[str, float | None]]:
    """Per fault type: AUC-PR of its rows against healthy rows, row recall and event recall."""
    out: dict[str, dict[str, float | None]] = {}
    healthy = ~t.label
    for kind in sorted(set(t.fault[t.label].tolist())):
        rows = t.label & (t.fault == kind)
        pick = rows | healthy
        events = runs(t.codes, rows)
        out[kind] = {
            "auc_pr": auc_pr(rows[pick], score[pick]),
            "recall": float(alarm[rows].mean()),
            "event_recall": float(events.hits(alarm).mean()) if len(events) else None,
            "rows": int(rows.sum()),
            "events": len(events),
        }
    return out


def per_device_auc_pr(t: Truth, score: np.ndarray) -> dict[str, float]:
    """AUC-PR of each device that has at least one anomalous scored row."""
    out: dict[str, float] = {}
    bounds = np.flatnonzero(np.diff(t.codes)) + 1
    for part in np.split(np.arange(len(t.codes)), bounds):
        if len(part) and t.label[part].any():
            value = auc_pr(t.label[part], score[part])
            if value is not None:
                out[t.names[int(t.codes[part[0]])]] = value
    return out


def worst_fraction(values: list[float], fraction: float = 0.1) -> float | None:
    """Mean of the lowest `fraction` of `values` (at least one value)."""
    if not values:
        return None
    k = max(1, math.ceil(fraction * len(values)))
    return float(np.mean(np.sort(values)[:k]))


def evaluate(t: Truth, score: np.ndarray, anomaly: np.ndarray) -> dict[str, object]:
    """Every metric of one mode; `score` and `anomaly` are per row of the arrays given to `Truth.of`."""
    s = np.asarray(score, dtype=np.float64)[t.order]
    alarm = np.asarray(anomaly, dtype=bool)[t.order]
    devices = per_device_auc_pr(t, s)
    return {
        "auc_pr": auc_pr(t.label, s),
        "auc_roc": auc_roc(t.label, s),
        **_event_metrics(t, alarm),
        "per_fault_type": _per_fault(t, s, alarm),
        "device_auc_pr": devices,
        "device_auc_pr_mean": float(np.mean(list(devices.values()))) if devices else None,
        "worst_10pct_device_auc_pr": worst_fraction(list(devices.values())),
        "alarm_rate": float(alarm.mean()) if len(alarm) else 0.0,
    }
