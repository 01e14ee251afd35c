"""Quality of one mode's scores and alarms: AUC-PR/ROC, event-wise F1, false alarms, latency, per fault."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from flead.evaluation.episodes import episode_counts
from flead.evaluation.events import Runs, device_order, runs
from flead.evaluation.ranking import Ranked, auc_pr, auc_roc

__all__ = [
    "AFTER_END_ROWS",
    "NATURAL",
    "Truth",
    "alarms_after_end",
    "evaluate",
    "f1",
    "injected_macro",
    "per_device_auc_pr",
    "worst_fraction",
]

DAY = 86400.0
NATURAL = "natural_stuck"  # the generator's natural battery failure: a range rule carries it
AFTER_END_ROWS = 10  # rows after an event's end that must stay quiet


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

    def false_alarms(self, alarm: np.ndarray) -> int:
        """False-alarm episodes: 5-minute episodes of alarmed healthy rows (monotone in the threshold)."""
        return int(
            episode_counts(self.codes, self.time, alarm & ~self.label, len(self.names)).sum()
        )


def f1(precision: float, recall: float) -> float:
    """Harmonic mean, 0 when both are 0."""
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den else 0.0


def _event_metrics(t: Truth, alarm: np.ndarray) -> dict[str, float | None]:
    """Event-wise precision/recall/F1, point-wise and point-adjusted F1, false alarms, latency."""
    events = runs(t.codes, t.label, t.fault)
    detected = events.hits(alarm)
    false_alarms = t.false_alarms(alarm)
    true_alarms = int(episode_counts(t.codes, t.time, alarm & t.label, len(t.names)).sum())
    precision = _ratio(true_alarms, true_alarms + false_alarms)
    recall = _ratio(detected.sum(), len(events))
    tp = int((alarm & t.label).sum())
    p_point, r_point = _ratio(tp, alarm.sum()), _ratio(tp, t.label.sum())
    # point adjustment: a detected event counts as detected on all its rows
    cover = np.zeros(len(alarm) + 1, dtype=np.int64)
    np.add.at(cover, events.start[detected], 1)
    np.add.at(cover, events.stop[detected], -1)
    adjusted = alarm | (np.cumsum(cover)[:-1] > 0)
    tp_adj = int((adjusted & t.label).sum())
    first = events.first(alarm)[detected]
    delay = t.time[first] - t.time[events.start[detected]]
    after = alarms_after_end(t, events, alarm)
    return {
        "f1": f1(precision, recall),
        "event_precision": precision,
        "event_recall": recall,
        "events": len(events),
        "f1_point": f1(p_point, r_point),
        "f1_point_adjusted": f1(_ratio(tp_adj, adjusted.sum()), _ratio(tp_adj, t.label.sum())),
        "false_alarms": false_alarms,
        "true_alarm_episodes": true_alarms,
        "alarms_after_fault_end": float(after.mean()) if len(after) else None,
        "false_alarms_per_device_day": _ratio(false_alarms, t.device_days),
        "false_positive_rows_per_device_day": _ratio((alarm & ~t.label).sum(), t.device_days),
        "latency_seconds_median": float(np.median(delay)) if len(delay) else None,
        "latency_seconds_mean": float(np.mean(delay)) if len(delay) else None,
    }


def _per_fault(
    t: Truth, score: np.ndarray, alarm: np.ndarray, ranked: Ranked
) -> dict[str, dict[str, float | None]]:
    """Per fault type: AUC-PR of its rows against healthy rows, row recall and event recall."""
    out: dict[str, dict[str, float | None]] = {}
    healthy = ~t.label
    for kind in sorted(set(t.fault[t.label].tolist())):
        rows = t.label & (t.fault == kind)
        pick = rows | healthy
        events = runs(t.codes, rows)
        hit = events.hits(alarm)
        delay = t.time[events.first(alarm)[hit]] - t.time[events.start[hit]]
        after = alarms_after_end(t, events, alarm)
        out[kind] = {
            "auc_pr": ranked.auc_pr(rows, pick),
            "recall": float(alarm[rows].mean()),
            "event_recall": float(hit.mean()) if len(events) else None,
            "latency_seconds_median": float(np.median(delay)) if len(delay) else None,
            "alarms_after_fault_end": float(after.mean()) if len(after) else None,
            "rows": int(rows.sum()),
            "events": len(events),
        }
    return out


def alarms_after_end(
    t: Truth, events: Runs, alarm: np.ndarray, k: int = AFTER_END_ROWS
) -> np.ndarray:
    """Per event that its device's stream outlives: is a healthy row among the `k` rows after its
    end alarmed? (An alarm on a fault that follows at once is no echo of this one.)"""
    if not len(events):
        return np.zeros(0, dtype=bool)
    dev_end = np.searchsorted(t.codes, t.codes[events.start], side="right")  # codes are sorted
    stop = events.stop
    has_next = stop < dev_end
    end = np.minimum(stop + k, dev_end)
    return Runs(stop[has_next], end[has_next]).hits(alarm & ~t.label)


def injected_macro(per_fault: dict[str, dict[str, float | None]]) -> float | None:
    """Mean AUC-PR over the injected fault types (the natural failure left out)."""
    got = [v["auc_pr"] for k, v in per_fault.items() if k != NATURAL and v["auc_pr"] is not None]
    return float(np.mean(got)) if got else None


def _device_slices(codes: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each device's block of device-ordered positions."""
    bounds = [0, *(np.flatnonzero(np.diff(codes)) + 1).tolist(), len(codes)]
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def device_injected_macro(t: Truth, score: np.ndarray) -> dict[str, float]:
    """Per device with an injected fault: mean over its injected types of that type's AUC-PR
    against the device's healthy rows (the unit the bootstrap resamples)."""
    out: dict[str, float] = {}
    for a, b in _device_slices(t.codes):
        label, fault = t.label[a:b], t.fault[a:b]
        kinds = set(fault[label].tolist()) - {NATURAL}
        if not kinds:
            continue
        ranked = Ranked.of(score[a:b])
        values = []
        for kind in sorted(kinds):
            rows = label & (fault == kind)
            value = ranked.auc_pr(rows, rows | ~label)
            if value is not None:
                values.append(value)
        if values:
            out[t.names[int(t.codes[a])]] = float(np.mean(values))
    return out


def per_device_auc_pr(t: Truth, score: np.ndarray) -> dict[str, float]:
    """AUC-PR of each device that has at least one anomalous scored row."""
    out: dict[str, float] = {}
    for a, b in _device_slices(t.codes):
        value = auc_pr(t.label[a:b], score[a:b])
        if value is not None:
            out[t.names[int(t.codes[a])]] = value
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
    ranked = Ranked.of(s)  # one sort serves every AUC-PR of this mode's rows
    per_fault = _per_fault(t, s, alarm, ranked)
    unnatural = t.fault != NATURAL
    return {
        "auc_pr": ranked.auc_pr(t.label),
        "auc_roc": auc_roc(t.label, s),
        "auc_pr_injected_macro": injected_macro(per_fault),
        "auc_pr_excluding_natural": ranked.auc_pr(t.label, unnatural),
        **_event_metrics(t, alarm),
        "per_fault_type": per_fault,
        "device_auc_pr_injected_macro": device_injected_macro(t, s),
        "device_auc_pr": devices,
        "device_auc_pr_mean": float(np.mean(list(devices.values()))) if devices else None,
        "worst_10pct_device_auc_pr": worst_fraction(list(devices.values())),
        "alarm_rate": float(alarm.mean()) if len(alarm) else 0.0,
    }
