"""Several runs' metrics.json as one: seed means, per-device units and the claimed differences."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from flead.evaluation.bootstrap import Difference, paired_difference
from flead.evaluation.targets import BASELINES, FLEAD

__all__ = [
    "COLD",
    "COLUMNS",
    "DEVICE_KEY",
    "cell",
    "differences",
    "dig",
    "kinds",
    "mean_cold",
    "mean_modes",
    "modes_of",
]  # fmt: skip

COLUMNS = (
    ("AUC-PR", ("auc_pr",)),
    ("AUC-PR injected (macro)", ("auc_pr_injected_macro",)),
    ("AUC-PR excl. natural", ("auc_pr_excluding_natural",)),
    ("event F1", ("f1",)),
    ("false alarms / device-day", ("false_alarms_per_device_day",)),
    ("alarms after fault end", ("alarms_after_fault_end",)),
    ("natural stuck recall", ("per_fault_type", "natural_stuck", "recall")),
    ("rows/s", ("rows_per_s",)),
)
PER_FAULT = ("auc_pr", "recall", "event_recall", "latency_seconds_median", "alarms_after_fault_end")
COLD = ("auc_pr", "auc_pr_injected_macro", "auc_pr_excluding_natural", "event_recall",
        "false_alarms_per_device_day")  # fmt: skip
DEVICE_KEY = "device_auc_pr_injected_macro"


def dig(doc: Any, keys: Sequence[str]) -> float | None:
    for key in keys:
        doc = doc.get(key) if isinstance(doc, dict) else None
    return float(doc) if isinstance(doc, int | float) and not isinstance(doc, bool) else None


def cell(values: list[float | None], digits: int) -> str:
    got = [v for v in values if v is not None]
    if not got:
        return "–"
    mean, lo, hi = float(np.mean(got)), min(got), max(got)
    if digits == 0:
        return f"{mean:,.0f}"
    return (
        f"{mean:.{digits}f} ({lo:.{digits}f}–{hi:.{digits}f})"
        if len(got) > 1
        else f"{mean:.{digits}f}"
    )


def _mean(docs: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> float | None:
    got = [v for d in docs if (v := dig(d, keys)) is not None]
    return float(np.mean(got)) if got else None


def modes_of(docs: Sequence[Mapping[str, Any]]) -> list[str]:
    return list(docs[0]["modes"])


def kinds(docs: Sequence[Mapping[str, Any]]) -> list[str]:
    return sorted(
        {k for d in docs for m in d["modes"].values() for k in m.get("per_fault_type", {})}
    )


def mean_modes(docs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Seed-averaged numbers in the shape `check_targets` and `versus_baselines` read."""
    out: dict[str, Any] = {}
    for mode in modes_of(docs):
        base = ("modes", mode)
        entry: dict[str, Any] = {k[0]: _mean(docs, (*base, *k)) for _, k in COLUMNS if len(k) == 1}
        entry["per_fault_type"] = {
            kind: {f: _mean(docs, (*base, "per_fault_type", kind, f)) for f in PER_FAULT}
            for kind in kinds(docs)
        }
        out[mode] = entry
    return out


def mean_cold(docs: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    with_cold = [d for d in docs if d.get("cold_start")]
    if not with_cold:
        return None
    modes = list(with_cold[0]["cold_start"]["modes"])
    return {"modes": {m: {k: _mean(with_cold, ("cold_start", "modes", m, k)) for k in COLD}
                      for m in modes}}  # fmt: skip


def _units(docs: Sequence[Mapping[str, Any]], *path: str) -> dict[str, float]:
    """Per-device values at `path` of every run, keyed run:seed/device (the bootstrap's units)."""
    out: dict[str, float] = {}
    for i, d in enumerate(docs):
        seed = f"{i}:{d.get('run', {}).get('seed', '?')}"
        node: Any = d
        for key in path:
            node = node.get(key, {}) if isinstance(node, dict) else {}
        for dev, value in (node or {}).items():
            if isinstance(value, int | float):
                out[f"{seed}/{dev}"] = float(value)
    return out


def differences(docs: Sequence[Mapping[str, Any]]) -> list[tuple[str, Difference]]:
    """Every difference the README claims, as (name, mean and bootstrap interval over devices):
    cold start federated/personalized - local, full - no_network, FLEAD - best baseline."""
    modes = modes_of(docs)
    means = mean_modes(docs)
    out: list[tuple[str, Difference]] = []

    def add(name: str, a: dict[str, float], b: dict[str, float]) -> None:
        out.append((name, paired_difference(a, b)))

    cold = mean_cold(docs)
    for m in ("federated", "personalized", "centralized"):
        if cold and m in cold["modes"] and "local" in cold["modes"]:
            add(f"cold start: {m} - local", _units(docs, "cold_start", "modes", m, DEVICE_KEY),
                _units(docs, "cold_start", "modes", "local", DEVICE_KEY))  # fmt: skip
    dev = {m: _units(docs, "modes", m, DEVICE_KEY) for m in modes}
    for m in ("federated", "personalized"):
        if m in dev and "no_network" in dev:
            add(f"{m} - no_network", dev[m], dev["no_network"])
        if m in dev and "local" in dev:
            add(f"{m} - local", dev[m], dev["local"])
    baselines = [
        b for b in modes if b in BASELINES and means[b]["auc_pr_injected_macro"] is not None
    ]
    if baselines:
        best = max(baselines, key=lambda b: means[b]["auc_pr_injected_macro"])
        for m in modes:
            if m in FLEAD:
                add(f"{m} - best baseline ({best})", dev[m], dev[best])
    return out


def difference_rows(docs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """`differences` as JSON rows: name, mean, low, high (95 %), units, excludes_zero."""
    return [{"name": name, "mean": d.mean, "low": d.low, "high": d.high, "units": d.units,
             "excludes_zero": d.excludes_zero} for name, d in differences(docs)]  # fmt: skip
